"""The studio window end to end: real clicks and key presses on the real widgets, checking the Song."""
from __future__ import annotations

from PySide6.QtCore import QPoint, Qt

from deepcomposer_desktop.core.song import Note


def test_opens_with_a_sample_melody_and_space_toggles_play(window, spy_engine, qtbot):
    assert window.song.note_count > 10
    assert spy_engine.named("set_song")[-1][0][0] is window.song      # the engine got the song
    assert not window.playback.is_playing
    qtbot.keyClick(window, Qt.Key_Space)
    assert window.playback.is_playing and spy_engine.named("play")
    qtbot.waitUntil(lambda: window.transport.play_btn.text() == "Pause")
    qtbot.keyClick(window, Qt.Key_Space)
    assert not window.playback.is_playing and spy_engine.named("pause")


def test_playhead_follows_engine_position(window, spy_engine, qtbot):
    spy_engine.forced_position = 960
    window.playback.play()
    qtbot.waitUntil(lambda: window.piano_roll.playhead == 960, timeout=2000)
    assert window.transport.position.text().strip().startswith("1.3.000")


def test_mute_click_undo_redo(window, spy_engine, qtbot):
    row = window.tracks.rows[0]
    qtbot.mouseClick(row.mute_btn, Qt.LeftButton)
    assert window.song.tracks[0].mute
    assert ((0,), {"mute": True}) in spy_engine.named("set_track_state")
    assert window.isWindowModified()
    qtbot.keyClick(window, Qt.Key_Z, Qt.ControlModifier)
    assert not window.song.tracks[0].mute and not row.mute_btn.isChecked()
    qtbot.keyClick(window, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert window.song.tracks[0].mute and row.mute_btn.isChecked()


def test_solo_volume_drag_is_one_undo_step(window, qtbot):
    row = window.tracks.rows[0]
    qtbot.mouseClick(row.solo_btn, Qt.LeftButton)
    assert window.song.tracks[0].solo
    steps = window.doc.undo_stack.count()
    from PySide6.QtWidgets import QStyle, QStyleOptionSlider
    opt = QStyleOptionSlider()
    row.volume.initStyleOption(opt)
    grip = row.volume.style().subControlRect(QStyle.CC_Slider, opt, QStyle.SC_SliderHandle, row.volume).center()
    qtbot.mousePress(row.volume, Qt.LeftButton, pos=grip)
    for dx in (5, 10, 15, 20):          # a slider drag: many values, one step
        qtbot.mouseMove(row.volume, grip - QPoint(dx, 0))
    qtbot.mouseRelease(row.volume, Qt.LeftButton, pos=grip - QPoint(20, 0))
    assert window.song.tracks[0].volume < 90
    assert window.doc.undo_stack.count() == steps + 1
    window.doc.undo_stack.undo()
    assert window.song.tracks[0].volume == 100


def test_draw_a_note_in_the_piano_roll_then_undo(window, qtbot):
    pr = window.piano_roll
    if not hasattr(pr, "coords"):
        import pytest
        pytest.skip("piano roll not available")
    before = window.song.tracks[0].notes
    tick = 2 * window.song.ppq          # beat 3 of bar 1, two octaves above the melody: an empty spot
    pr.set_snap(window.song.ppq)
    pr.coords.center_on_pitch(72, pr.view.viewport().height())
    pr.view.update()
    x, y = pr.coords.point(tick + 10, 72)
    assert 0 < x < pr.view.viewport().width() and 0 < y < pr.view.viewport().height()
    qtbot.mouseClick(pr.view.viewport(), Qt.LeftButton, pos=QPoint(x, y))
    after = window.song.tracks[0].notes
    added = set(after) - set(before)
    assert len(added) == 1
    (note,) = added
    assert note.pitch == 72 and note.start_tick == tick
    window.undo_action.trigger()
    assert window.song.tracks[0].notes == before


def test_add_duplicate_delete_and_melody_marker(window, qtbot):
    n = len(window.song.tracks)
    qtbot.mouseClick(window.tracks.add_button, Qt.LeftButton)
    assert len(window.song.tracks) == n + 1
    qtbot.mouseClick(window.tracks.rows[0].dup_btn, Qt.LeftButton)
    assert len(window.song.tracks) == n + 2
    assert window.song.tracks[1].notes == window.song.tracks[0].notes
    qtbot.mouseClick(window.tracks.rows[1].melody_btn, Qt.LeftButton)
    assert window.song.melody_index == 1
    qtbot.mouseClick(window.tracks.rows[0].del_btn, Qt.LeftButton)
    assert len(window.song.tracks) == n + 1 and window.song.melody_index == 0
    for _ in range(4):
        window.doc.undo_stack.undo()
    assert len(window.song.tracks) == n


def test_program_tempo_and_time_signature_are_undoable(window, qtbot):
    row = window.tracks.rows[0]
    row.program_box.setCurrentIndex(40)
    row.program_box.activated.emit(40)
    assert window.song.tracks[0].program == 40
    window.transport.tempo.setValue(140.0)
    assert window.song.tempos[0].bpm == 140.0
    window.transport.ts_num.setValue(3)
    assert (window.song.time_signatures[0].numerator, window.song.time_signatures[0].denominator) == (3, 4)
    for _ in range(3):
        window.doc.undo_stack.undo()
    assert window.song.tracks[0].program == 0 and window.song.tempos[0].bpm == 110.0
    assert window.transport.tempo.value() == 110.0


def test_the_tempo_box_shows_any_tempo_a_song_can_have(window):
    from deepcomposer_desktop.core.song import TempoChange
    for bpm in (480.0, 12.0):                               # it showed 400 and 20
        window.doc.load(window.song.replace(tempos=(TempoChange(0, bpm),)))
        assert window.transport.tempo.value() == bpm and window.song.tempos[0].bpm == bpm


def test_an_instrument_for_a_drum_track_is_one_step_to_undo(window, qtbot):
    row = window.tracks.rows[0]
    kit = row.program_box.findData(-1)
    row.program_box.setCurrentIndex(kit)
    row.program_box.activated.emit(kit)
    drums, steps = window.song.tracks[0], window.doc.undo_stack.count()
    assert drums.is_drum
    bass = window.tracks.rows[0].program_box.findData(33)
    window.tracks.rows[0].program_box.setCurrentIndex(bass)
    window.tracks.rows[0].program_box.activated.emit(bass)
    t = window.song.tracks[0]
    assert (t.is_drum, t.program) == (False, 33) and window.doc.undo_stack.count() == steps + 1
    window.doc.undo_stack.undo()
    assert window.song.tracks[0] == drums                  # not a melodic track with the old program


def test_record_from_computer_keys_into_the_input_track(window, spy_engine, qtbot):
    before = window.song.melody.notes
    spy_engine.forced_position = 0
    window.transport.count_in.setCurrentIndex(2)
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    assert window.playback.recording is not None
    assert ((True,), {}) in spy_engine.named("set_metronome") and ((2,), {}) in spy_engine.named("set_count_in")
    window.keyboard.setFocus()
    spy_engine.forced_position = 50_000
    qtbot.keyPress(window.keyboard, Qt.Key_A)
    spy_engine.forced_position = 50_480
    qtbot.keyRelease(window.keyboard, Qt.Key_A)
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    added = set(window.song.melody.notes) - set(before)
    assert added == {Note.make(window.keyboard.lowest, 50_000, 480, window.keyboard.velocity)}
    window.undo_action.trigger()
    assert window.song.melody.notes == before


def test_space_plays_the_sample_through_the_real_engine(make_window, qtbot):
    import pytest
    engine_mod = pytest.importorskip("deepcomposer_desktop.audio.engine")
    engine = engine_mod.PlaybackEngine()
    try:
        if getattr(engine, "output", None) is None:
            pytest.skip(f"no synth here: {engine.problem}")
        w = make_window(engine=engine)
        qtbot.keyClick(w, Qt.Key_Space)
        assert engine.is_playing
        qtbot.waitUntil(lambda: w.piano_roll.playhead and w.piano_roll.playhead > 0, timeout=5000)
        qtbot.keyClick(w, Qt.Key_Space)
        assert not engine.is_playing
    finally:
        engine.close()


def test_ctrl_a_then_delete_clears_the_track_in_one_undo_step(window, qtbot):
    if not hasattr(window.piano_roll, "selected_indices"):
        import pytest
        pytest.skip("piano roll not available")
    before = window.song.tracks[0].notes
    window.piano_roll.setFocus()
    qtbot.keyClick(window, Qt.Key_A, Qt.ControlModifier)
    assert len(window.piano_roll.selected_indices()) == len(before)
    qtbot.keyClick(window, Qt.Key_Delete)
    assert window.song.tracks[0].notes == ()
    qtbot.keyClick(window, Qt.Key_Z, Qt.ControlModifier)
    assert window.song.tracks[0].notes == before


def test_shortcuts_are_bound(window):
    from PySide6.QtGui import QKeySequence
    bound = {a.shortcut().toString() for a in window.actions()} | \
        {s.toString() for a in window.actions() for s in a.shortcuts()}
    for keys in ("Space", "Ctrl+Z", "Ctrl+Shift+Z", "Del", "Ctrl+A", "Ctrl+S", "Ctrl+O", "Ctrl+E"):
        assert QKeySequence(keys).toString() in bound, keys


def test_track_colours_follow_duplicate_delete_undo_and_reach_the_roll(window, qtbot):
    from PySide6.QtGui import QColor
    window.tracks.set_color(0, QColor("#123456"))
    qtbot.mouseClick(window.tracks.add_button, Qt.LeftButton)
    qtbot.mouseClick(window.tracks.rows[0].dup_btn, Qt.LeftButton)
    colors = window.tracks.colors()
    assert len(colors) == 3 and colors[0] == "#123456" and colors[1] != colors[2]
    qtbot.mouseClick(window.tracks.rows[0].del_btn, Qt.LeftButton)
    assert window.tracks.colors() == colors[1:]
    window.undo_action.trigger()
    assert window.tracks.colors() == colors
    window.undo_action.trigger()
    assert window.tracks.colors()[0] == "#123456" and len(window.tracks.colors()) == 2
    window.set_current_track(0)
    if hasattr(window.piano_roll, "track_color"):
        assert window.piano_roll.track_color().name() == "#123456"


def test_tool_strip_switches_the_roll_tool(window, qtbot):
    if not hasattr(window, "tool_buttons"):
        import pytest
        pytest.skip("piano roll not available")
    qtbot.mouseClick(window.tool_buttons["select"], Qt.LeftButton)
    assert window.piano_roll.tools.tool == "select"
    qtbot.mouseClick(window.tool_buttons["draw"], Qt.LeftButton)
    assert window.piano_roll.tools.tool == "draw"


def test_a_drum_track_cannot_be_the_melody(window):
    from deepcomposer_desktop.core.song import Note, Track
    drums = Track("Drums", 0, True, (Note.make(36, 0, 120),))
    window.doc.apply(window.song.with_tracks(window.song.tracks + (drums,)), "Add drums")
    before = window.song
    window.tracks.rows[-1].melody_btn.click()
    assert window.song is before and window.song.melody_index == 0
    assert not window.tracks.rows[-1].melody_btn.isChecked() and window.tracks.rows[0].melody_btn.isChecked()
    assert "drum track" in window.statusBar().currentMessage()


def test_an_edit_restyles_only_the_track_rows_whose_look_changed(window, monkeypatch):
    from deepcomposer_desktop.core.song import Note, Track
    from deepcomposer_desktop.ui.tracks import TrackRow
    many = tuple(Track(f"T{i}", notes=(Note.make(60, 0, 480),)) for i in range(30))
    window.doc.apply(window.song.with_tracks(many), "30 tracks")
    styled = []
    real = TrackRow.setStyleSheet
    monkeypatch.setattr(TrackRow, "setStyleSheet", lambda self, css: styled.append(self.index) or real(self, css))
    window.doc.apply(window.song.replace_track(5, window.song.tracks[5].with_notes((Note.make(62, 0, 480),))),
                     "edit a note")                          # each row was restyled: ~1 s per edit at 120 tracks
    assert styled == []
    before = window.tracks.current
    window.tracks.set_current(7)                            # the current row's frame moves: those two rows
    assert set(styled) == {before, 7}
    window.tracks.rows[3].mute_btn.click()
    assert window.tracks.rows[3].mute_btn.isChecked() and window.song.tracks[3].mute


def test_a_name_being_typed_when_its_track_goes_away_is_dropped(window, qtbot):
    n = len(window.song.tracks)
    qtbot.mouseClick(window.tracks.add_button, Qt.LeftButton)
    row = window.tracks.rows[n]
    row.name_edit.setFocus()
    row.name_edit.selectAll()
    qtbot.keyClicks(row.name_edit, "Bass")                  # typed, no Enter yet
    window.undo_action.trigger()                            # the row goes: editingFinished raised IndexError
    row.name_edit.editingFinished.emit()
    assert len(window.song.tracks) == n and all(t.name != "Bass" for t in window.song.tracks)


def test_the_name_field_always_ends_up_showing_the_tracks_name(window, qtbot):
    row = window.tracks.rows[0]
    name = window.song.tracks[0].name
    row.name_edit.setFocus()
    row.name_edit.selectAll()
    qtbot.keyClicks(row.name_edit, "Lead")
    qtbot.keyClick(row.name_edit, Qt.Key_Return)
    assert window.song.tracks[0].name == "Lead"
    window.undo_action.trigger()                            # focus still in the field: it kept showing "Lead"
    assert window.song.tracks[0].name == name and row.name_edit.text() == name
    row.name_edit.selectAll()
    qtbot.keyClicks(row.name_edit, " ")
    qtbot.keyClick(row.name_edit, Qt.Key_Return)            # a blank name is refused: the field showed " "
    assert window.song.tracks[0].name == name and row.name_edit.text() == name


def test_the_slowest_tempo_the_box_offers_is_one_a_song_can_hold(window):
    from deepcomposer_desktop.core.song import MIN_BPM
    box = window.transport.tempo
    box.setValue(box.minimum())                              # it offered 1 BPM, which a MIDI file cannot hold
    assert box.minimum() >= MIN_BPM and window.song.tempos[0].bpm >= MIN_BPM
    box.setValue(3.58)                                       # the slowest, as typed (with one decimal: 3.6)
    assert window.song.tempos[0].bpm == 3.58


def test_a_song_with_a_pickup_bar_shows_and_changes_its_own_metre(window):
    from deepcomposer_desktop.core.song import TimeSignature
    window.doc.load(window.song.replace(time_signatures=(TimeSignature(0, 1, 4), TimeSignature(480, 4, 4))))
    assert window.transport.ts_num.value() == 4                        # not the pickup's 1/4
    window.set_time_signature(3, 4)
    assert window.song.time_signatures == (TimeSignature(0, 1, 4), TimeSignature(480, 3, 4))   # the pickup stays
    assert window.song.bar_start_tick(2) == 480 + 1440
    window.doc.undo_stack.undo()
    assert window.song.time_signatures[1] == TimeSignature(480, 4, 4)
