"""Fixes in the studio window, each driven through the real widgets: velocity lane, draw length, computer keys and
the tracks they play on, octave shift, time signature, current track, track names, undo steps, previews, glides,
the pan dial and the last tick a song holds."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionSlider

from deepcomposer_desktop.core.song import MAX_TICK, Note, Song, Track

L = Qt.LeftButton


def at(window, tick, pitch) -> QPoint:
    return QPoint(*window.piano_roll.coords.point(tick, pitch))


def show_notes(window, notes, names=("Mel",), pitch=60):
    window.doc.load(Song(tracks=tuple(Track(name=n, notes=tuple(notes) if i == 0 else ()) for i, n in
                                      enumerate(names)), title="T"))
    pr = window.piano_roll
    pr.coords.scroll_x = 0.0
    pr.coords.center_on_pitch(pitch, pr.view.viewport().height())
    pr.view.update_scrollbars()
    return pr


def drag(widget, a: QPoint, b: QPoint, steps: int = 3) -> None:
    QTest.mousePress(widget, L, Qt.NoModifier, a)
    for k in range(1, steps + 1):
        QTest.mouseMove(widget, a + (b - a) * k / steps)
    QTest.mouseRelease(widget, L, Qt.NoModifier, b)


def handle(slider) -> QPoint:
    opt = QStyleOptionSlider()
    slider.initStyleOption(opt)
    return slider.style().subControlRect(QStyle.CC_Slider, opt, QStyle.SC_SliderHandle, slider).center()


def sounding(spy_engine) -> list[tuple[int, int]]:
    """(pitch, track) turned on and not off again."""
    held: dict[tuple[int, int], int] = {}
    for name, a, _ in spy_engine.calls:
        if name == "live_note_on":
            held[(a[0], a[2])] = held.get((a[0], a[2]), 0) + 1
        elif name == "live_note_off" and held.get((a[0], a[1])):
            held[(a[0], a[1])] -= 1
    return sorted(k for k, v in held.items() if v)


def roll_focus(window, qtbot):
    window.piano_roll.view.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.piano_roll.view)
    return window.piano_roll.view


def test_a_velocity_drag_held_while_delete_removes_its_notes_edits_nothing(window, qtbot):
    pr = show_notes(window, [Note(i * 480, 60 + i, 240, 100) for i in range(6)])
    pr.set_selection([4, 5])
    p = QPoint(*pr.lane.point_for(5, 50))
    QTest.mousePress(pr.lane, L, Qt.NoModifier, p)
    QTest.keyClick(roll_focus(window, qtbot), Qt.Key_Delete)      # the notes under the drag go
    QTest.mouseRelease(pr.lane, L, Qt.NoModifier, p)              # IndexError: stale note indices
    assert [n.velocity for n in window.song.tracks[0].notes] == [100] * 4
    assert window.doc.undo_stack.undoText() == "Delete notes"
    p = QPoint(*pr.lane.point_for(3, 30))
    QTest.mousePress(pr.lane, L, Qt.NoModifier, p)
    window.undo_action.trigger()                                    # other notes under the drag again
    QTest.mouseRelease(pr.lane, L, Qt.NoModifier, p)
    assert [n.velocity for n in window.song.tracks[0].notes] == [100] * 6 and window.doc.undo_stack.canRedo()


def test_a_resize_dragged_past_the_start_leaves_new_notes_a_real_length(window):
    pr = show_notes(window, [Note(960, 60, 480)])
    assert pr.snap == 120
    edge = at(window, 1440, 60) - QPoint(2, 0)
    drag(pr.view.viewport(), edge, at(window, 200, 60))            # past the note's start: clamped to the snap
    assert window.song.tracks[0].notes == (Note(960, 60, 120),)
    assert pr.draw_length() == 120                                  # it remembered 1 tick
    QTest.mouseClick(pr.view.viewport(), L, Qt.NoModifier, at(window, 2880, 67))
    assert [n.duration_tick for n in window.song.tracks[0].notes if n.pitch == 67] == [120]


def test_a_computer_key_let_go_with_ctrl_down_or_in_a_name_field_ends_its_note(window, spy_engine, qtbot):
    kb = window.keyboard
    roll = roll_focus(window, qtbot)
    QTest.keyPress(roll, Qt.Key_A)
    QTest.keyPress(roll, Qt.Key_Control, Qt.ControlModifier)
    QTest.keyRelease(roll, Qt.Key_A, Qt.ControlModifier)
    QTest.keyRelease(roll, Qt.Key_Control)
    assert sounding(spy_engine) == [] and not kb.is_lit(48)
    spy_engine.calls.clear()
    QTest.keyClick(roll, Qt.Key_A)                                  # not swallowed as "still down"
    assert [n for n, *_ in spy_engine.calls] == ["live_note_on", "live_note_off"]
    QTest.keyPress(roll, Qt.Key_A)
    QTest.keyPress(roll, Qt.Key_Tab)
    name = window.tracks.rows[0].name_edit
    QTest.mouseClick(name, L)
    QTest.keyRelease(name, Qt.Key_A)
    QTest.keyRelease(name, Qt.Key_Tab)
    assert sounding(spy_engine) == [] and not kb.is_lit(48) and not kb.sustain
    assert name.text() == window.song.tracks[0].name                # nothing typed into the field


def test_note_off_and_pedal_up_go_to_the_track_they_started_on(window, spy_engine, qtbot):
    window.add_track()
    roll = roll_focus(window, qtbot)
    spy_engine.calls.clear()
    QTest.keyPress(roll, Qt.Key_A)
    QTest.keyPress(roll, Qt.Key_Tab)
    window.tracks.rows[1].melody_btn.click()                        # the input track changes while both are held
    assert window.song.melody_index == 1
    roll = roll_focus(window, qtbot)
    QTest.keyRelease(roll, Qt.Key_A)
    QTest.keyRelease(roll, Qt.Key_Tab)
    assert spy_engine.named("live_note_off") == [((48, 0), {})]
    assert spy_engine.named("set_sustain") == [((True, 0), {}), ((False, 0), {})]
    QTest.keyClick(roll, Qt.Key_S)                                  # new notes go to the new input track
    assert spy_engine.named("live_note_on")[-1][0][2] == 1 and sounding(spy_engine) == []


def test_octave_up_at_the_top_keeps_a_c_lowest_and_the_label_right(window, spy_engine, qtbot):
    roll = roll_focus(window, qtbot)
    for _ in range(3):
        QTest.keyClick(roll, Qt.Key_X)
    assert window.keyboard.lowest == 72 and window.octave_label.text().strip() == "C5–C9"
    spy_engine.calls.clear()
    for k in (Qt.Key_A, Qt.Key_W):
        QTest.keyClick(roll, k)
    assert [a[0] for a, _ in spy_engine.named("live_note_on")] == [72, 73]
    for _ in range(2):
        QTest.keyClick(roll, Qt.Key_Z)
    assert window.keyboard.lowest == 48 and window.octave_label.text().strip() == "C3–C7"


def test_a_time_signature_change_its_undo_and_redo_reach_the_engine(window, spy_engine):
    def engine_metre():
        return spy_engine.named("set_song")[-1][0][0].time_signatures[0].numerator
    window.transport.ts_num.setValue(3)
    assert engine_metre() == 3
    window.doc.undo_stack.undo()
    assert engine_metre() == 4
    window.doc.undo_stack.redo()
    assert engine_metre() == 3


def test_deleting_or_duplicating_a_track_above_keeps_the_roll_on_its_track(window):
    window.doc.load(Song(tracks=tuple(Track(name=n, notes=(Note(i * 480, 60 + i, 240),)) for i, n in
                                      enumerate(["Piano", "Bass", "Strings", "Lead"]))))
    window.set_current_track(2)
    st, pr = window.doc.undo_stack, window.piano_roll
    window.tracks.rows[0].del_btn.click()
    assert pr.track.name == "Strings" and window.current_track == 1 and window.tracks.current == 1
    st.undo()
    assert pr.track.name == "Strings" and window.current_track == 2
    st.redo()
    assert pr.track.name == "Strings"
    st.undo()
    window.tracks.rows[0].dup_btn.click()
    assert pr.track.name == "Strings" and window.current_track == 3
    window.tracks.rows[3].dup_btn.click()                           # the edited track itself: it stays on it
    assert pr.track is window.song.tracks[3] and pr.track.name == "Strings"


def test_a_name_being_typed_is_dropped_when_undo_shows_another_track_in_its_row(window, qtbot):
    window.doc.load(Song(tracks=tuple(Track(name=n) for n in ("Piano", "Bass", "Strings"))))
    window.tracks.rows[0].del_btn.click()
    row = window.tracks.rows[1]
    QTest.mouseClick(row.name_edit, L)
    row.name_edit.selectAll()
    QTest.keyClicks(row.name_edit, "Violins")                       # for "Strings", not committed
    window.undo_action.trigger()                                    # "Piano" comes back above: row 1 is "Bass"
    assert row.name_edit.text() == "Bass"
    QTest.keyClick(row.name_edit, Qt.Key_Return)
    assert [t.name for t in window.song.tracks] == ["Piano", "Bass", "Strings"]
    row0 = window.tracks.rows[0]                                    # a track edited meanwhile keeps the typing
    QTest.mouseClick(row0.name_edit, L)
    row0.name_edit.selectAll()
    QTest.keyClicks(row0.name_edit, "Keys")
    row0.mute_btn.click()
    QTest.keyClick(row0.name_edit, Qt.Key_Return)
    assert window.song.tracks[0].name == "Keys" and window.song.tracks[0].mute


def test_separate_tempo_and_volume_edits_are_separate_undo_steps(window, qtbot):
    st, box = window.doc.undo_stack, window.transport.tempo
    for bpm in ("90", "140"):                                       # typed + Enter, twice
        box.lineEdit().selectAll()
        QTest.keyClicks(box, bpm)
        QTest.keyClick(box, Qt.Key_Return)
    assert window.song.tempos[0].bpm == 140.0
    st.undo()
    assert window.song.tempos[0].bpm == 90.0
    for _ in range(3):                                              # arrow key steps in a row: one step
        QTest.keyClick(box, Qt.Key_Up)
    assert window.song.tempos[0].bpm == 93.0
    st.undo()
    assert window.song.tempos[0].bpm == 90.0
    st.redo()
    vol = window.tracks.rows[0].volume
    for dx in (10, 20):                                             # two drags of the slider
        h = handle(vol)
        drag(vol, h, h - QPoint(dx, 0))
    second = window.song.tracks[0].volume
    st.undo()
    assert second < window.song.tracks[0].volume < 100
    st.undo()
    assert window.song.tracks[0].volume == 100


def test_clicking_a_roll_note_does_not_cut_a_held_key_of_its_pitch(window, spy_engine, qtbot):
    pr = show_notes(window, [Note(0, 48, 480)], pitch=48)
    roll = roll_focus(window, qtbot)
    spy_engine.calls.clear()
    QTest.keyPress(roll, Qt.Key_A)                                  # holds C3 (48)
    QTest.mouseClick(pr.view.viewport(), L, Qt.NoModifier, at(window, 100, 48))    # selects it and previews it
    qtbot.wait(400)
    assert spy_engine.named("live_note_off") == [] and window.keyboard.is_lit(48)     # the preview cut it
    QTest.keyRelease(roll, Qt.Key_A)
    assert sounding(spy_engine) == [] and not window.keyboard.is_lit(48)


def test_a_glide_that_slips_off_the_keys_and_back_plays_on(window, spy_engine):
    kb = window.keyboard
    r = kb.key_rects()

    def move(pos):
        QApplication.sendEvent(kb, QMouseEvent(QEvent.MouseMove, QPointF(pos), kb.mapToGlobal(QPointF(pos)),
                                               Qt.NoButton, L, Qt.NoModifier))

    def pt(p):
        return QPoint(int(r[p].center().x()), int(r[p].bottom() - 5))
    QTest.mousePress(kb, L, Qt.NoModifier, pt(48))
    move(pt(50))
    move(QPoint(pt(50).x(), kb.height() + 10))                      # just below the keys
    move(pt(52))
    move(pt(53))
    QTest.mouseRelease(kb, L, Qt.NoModifier, pt(53))
    assert [a[0] for a, _ in spy_engine.named("live_note_on")] == [48, 50, 52, 53]
    assert sounding(spy_engine) == []


def test_double_clicking_the_pan_dial_centres_it_in_one_undo_step(window, qtbot):
    dial, st = window.tracks.rows[0].pan, window.doc.undo_stack
    dial.setValue(20)
    steps = st.count()
    spot = QPoint(4, dial.height() // 2)                            # off centre: the first click turns it there
    QTest.mousePress(dial, L, Qt.NoModifier, spot)
    QTest.mouseRelease(dial, L, Qt.NoModifier, spot)
    QTest.mouseDClick(dial, L, Qt.NoModifier, spot)
    assert dial.value() == 64 and window.song.tracks[0].pan == 64
    assert st.count() == steps + 1
    st.undo()
    assert window.song.tracks[0].pan == 20 and dial.value() == 20


def test_the_roll_ends_at_the_last_tick_a_song_holds(window):
    pr = show_notes(window, [Note(0, 60, 480), Note(MAX_TICK - 2000, 62, 480)], pitch=62)
    pr.zoom_x(1e9)
    bar = pr.view.horizontalScrollBar()
    bar.setValue(bar.maximum())
    vp = pr.view.viewport()
    assert pr.coords.x_to_tick(vp.width()) <= MAX_TICK + 1
    edge = at(window, MAX_TICK - 1520, 62) - QPoint(1, 0)
    drag(vp, edge, QPoint(vp.width() - 2, edge.y()))                # resize out to the view's right edge
    assert window.song.tracks[0].notes[-1].end_tick <= MAX_TICK
    QTest.mouseClick(vp, L, Qt.NoModifier, QPoint(vp.width() - 2, edge.y() - 30))   # SongError: start past it
    notes = window.song.tracks[0].notes
    assert len(notes) == 3 and all(n.end_tick <= MAX_TICK for n in notes)


def test_moves_copies_and_quantizing_near_the_last_tick_end_notes_by_it(window, qtbot, tmp_path):
    from deepcomposer_desktop.midi.io import read_midi
    pr = show_notes(window, [Note(0, 60, 480), Note(MAX_TICK - 580, 62, 480)], pitch=62)
    pr.set_selection([1])
    roll = roll_focus(window, qtbot)
    QTest.keyClick(roll, Qt.Key_Right)                              # a 120-tick nudge with 100 left: it ends there
    assert window.song.tracks[0].notes[-1] == Note(MAX_TICK - 480, 62, 480)
    QTest.keyClick(roll, Qt.Key_D, Qt.ControlModifier)              # no room for a copy after it: nothing
    assert len(window.song.tracks[0].notes) == 2
    path = tmp_path / "far.mid"
    assert window.export_midi(str(path)) and len(read_midi(str(path)).tracks[0].notes) == 2   # it opens again
    pr = show_notes(window, [Note(MAX_TICK - 10, 64, 10)], pitch=64)
    pr.select_all()
    QTest.keyClick(roll_focus(window, qtbot), Qt.Key_Q)             # the nearest grid line would end it past
    assert window.song.tracks[0].notes[0].end_tick <= MAX_TICK
    pr = show_notes(window, [Note(MAX_TICK - 3000, 60, 1000)])
    pr.zoom_x(1e9)
    bar = pr.view.horizontalScrollBar()
    bar.setValue(bar.maximum())
    vp = pr.view.viewport()
    grab = at(window, MAX_TICK - 2800, 60) + QPoint(0, 2)
    drag(vp, grab, QPoint(vp.width() - 2, grab.y()))                # dragged right as far as the view goes
    assert window.doc.undo_stack.undoText() == "Move notes"
    assert window.song.tracks[0].notes[0].end_tick == MAX_TICK


def test_escape_in_a_track_name_field_cancels_the_rename(window, qtbot):
    row, st = window.tracks.rows[0], window.doc.undo_stack
    before, steps = window.song.tracks[0].name, st.count()
    QTest.mouseClick(row.name_edit, L)
    row.name_edit.selectAll()
    QTest.keyClicks(row.name_edit, "Oops")
    QTest.keyClick(row.name_edit, Qt.Key_Escape)
    assert row.name_edit.text() == before
    roll_focus(window, qtbot)                                       # leaving the field commits nothing
    assert window.song.tracks[0].name == before and st.count() == steps
    QTest.mouseClick(row.name_edit, L)
    row.name_edit.selectAll()
    QTest.keyClicks(row.name_edit, "Lead")
    QTest.keyClick(row.name_edit, Qt.Key_Return)                    # a rename after it still commits
    assert window.song.tracks[0].name == "Lead" and st.count() == steps + 1


def pedal_keyboard(window, qtbot, monkeypatch):
    """A MIDI keyboard (FakeMidiSystem) on the window's own MIDI input: returns send(message), read at once."""
    import deepcomposer_desktop.ui.midi_input as midi_input
    from deepcomposer_desktop.midi.devices import FakeMidiSystem, MidiInputManager, PortBackend
    port = "Keys:Keys MIDI 1 20:0"
    system = FakeMidiSystem([port])
    monkeypatch.setattr(midi_input, "MidiInputManager", lambda last_port=None: MidiInputManager(
        PortBackend(system.factory), last_port=last_port))
    qtbot.waitUntil(lambda: window.midi is not None)
    window.midi.shutdown()
    window.start_midi()
    window.midi.drain_timer.stop()
    window.midi.poll_timer.stop()

    def send(msg):
        system.send(port, msg)
        window.midi.drain()
    return send


def pedals_down(spy_engine) -> list[int]:
    """The tracks whose sustain pedal is down on the synth."""
    last = {}
    for (on, track), _ in spy_engine.named("set_sustain"):
        last[track] = on
    return sorted(t for t, on in last.items() if on)


def test_the_sustain_button_keyboard_and_synth_pedal_agree_whichever_pedal_moves(window, spy_engine, qtbot,
                                                                                 monkeypatch):
    send = pedal_keyboard(window, qtbot, monkeypatch)
    down, up = [0xB0, 64, 127], [0xB0, 64, 0]
    window.doc.load(Song(tracks=(Track("A"), Track("B")), title="T"))

    def agree(on):
        assert window.sustain_btn.isChecked() is on and window.keyboard.sustain is on
        assert bool(pedals_down(spy_engine)) is on
    window.sustain_btn.click()                                      # latched on A
    window.tracks.rows[1].melody_btn.click()                        # the MIDI keyboard plays B now
    send(down)
    agree(True)
    send(up)                                                        # A's pedal was left down
    agree(False)
    send(down)
    window.sustain_btn.click()                                      # the button lifts the keyboard's pedal
    agree(False)
    send(up)
    agree(False)
    roll = roll_focus(window, qtbot)
    QTest.keyPress(roll, Qt.Key_Tab)
    send(down)
    send(up)
    agree(False)
    QTest.keyRelease(roll, Qt.Key_Tab)
    agree(False)
    send(down)
    QTest.keyClick(roll, Qt.Key_Tab)                                # Tab down and up lifts it too
    agree(False)
    send(up)
    agree(False)


def test_letting_go_of_a_tab_pressed_in_a_text_field_keeps_a_latched_pedal(window, spy_engine, qtbot):
    window.sustain_btn.click()
    name = window.tracks.rows[0].name_edit
    name.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is name)
    QTest.keyPress(name, Qt.Key_Tab)                                # moves the focus on: not the pedal
    QTest.keyRelease(roll_focus(window, qtbot), Qt.Key_Tab)
    assert window.sustain_btn.isChecked() and window.keyboard.sustain and pedals_down(spy_engine) == [0]


def test_a_take_goes_back_into_its_track_when_undo_brings_the_track_back(window, spy_engine, qtbot):
    window.doc.load(Song(tracks=(Track("Lead"), Track("Bass")), title="T"))
    window.transport.count_in.setCurrentIndex(0)
    spy_engine.forced_position = 0
    qtbot.mouseClick(window.transport.record_btn, L)               # into Lead
    window.hardware_note_on(60, 100)
    window.tracks.rows[0].del_btn.click()                           # oops ...
    window.undo_action.trigger()                                    # ... back again
    spy_engine.forced_position = 480
    window.hardware_note_off(60)
    spy_engine.forced_position = 960
    qtbot.mouseClick(window.transport.record_btn, L)
    assert [(t.name, len(t.notes)) for t in window.song.tracks] == [("Lead", 1), ("Bass", 0)]
