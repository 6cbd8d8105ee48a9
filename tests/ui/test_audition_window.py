"""The Audition and Jam panels in the real MainWindow (engine spy), as ui/panels.py installs them.
Keep a take -> one undo step in the window's own stack."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from deepcomposer_desktop.ui.audition import AuditionPanel
from deepcomposer_desktop.ui.jam import JamPanel
from tests.test_audition import GENRES, tiny_model_dir, tiny_models  # noqa: F401  (fixtures)


def wire(window):
    """The studio window installs both panels itself (ui/panels.py): check they are there and wired."""
    assert isinstance(window.audition, AuditionPanel) and isinstance(window.jam, JamPanel)
    assert window.findChild(QDockWidget, "AuditionDock") is not None


@pytest.fixture
def wired(window, tiny_models, qtbot):
    wire(window)
    window.audition.max_workers = 2
    window.audition.genres_getter = lambda: list(GENRES)      # only the tiny models (fast)
    window.jam.refresh_genres(list(GENRES))
    yield window
    window.audition.shutdown()
    window.jam.shutdown()


def test_keep_take_in_the_window_is_one_undo_step(qtbot, wired, spy_engine):
    w = wired
    before = w.song
    undo_count = w.doc.undo_stack.count()
    with qtbot.waitSignal(w.audition.audition_finished, timeout=120_000):
        w.audition.generate_all(takes=1)
    take = w.audition.takes[("jazz", 1)]
    qtbot.mouseClick(w.audition.cards[("jazz", 1)], Qt.LeftButton,
                     pos=w.audition.cards[("jazz", 1)].header.geometry().center())
    assert spy_engine.named("swap_song")[-1][0][0] is take.song          # the take plays through the engine
    qtbot.mouseClick(w.audition.cards[("jazz", 1)].buttons["keep"], Qt.LeftButton)
    assert w.doc.undo_stack.count() == undo_count + 1 and w.song.tracks == take.song.tracks
    assert [t.name for t in w.song.tracks][-4:] == ["Piano", "Guitar", "Bass", "Drums"]
    assert len(w.tracks.rows) == len(take.song.tracks)                     # the tracks panel followed
    w.undo_action.trigger()
    assert w.song == before


def test_the_audition_dock_has_one_scroll_area_the_panel_s_own(qtbot, wired):
    from PySide6.QtWidgets import QScrollArea
    dock = wired.findChild(QDockWidget, "AuditionDock")
    assert dock.widget() is wired.audition                   # no second scroll area (and scroll bar) around it
    assert [a for a in wired.audition.findChildren(QScrollArea)] == [wired.audition.card_area]


def test_jam_in_the_window_sets_the_loop_and_hears_the_keyboard(qtbot, wired, spy_engine):
    w = wired
    w.jam.bars_spin.setValue(1)
    assert w.jam.start()
    bar = w.song.bar_ticks
    assert w.playback.loop_enabled and w.playback.loop_range == (0, bar)
    assert w.transport.loop_btn.isChecked() and w.piano_roll.loop == (0, bar)
    w.keyboard.note_on.emit(64, 100)                                       # as the on-screen keyboard sends it
    w.keyboard.note_off.emit(64)
    assert [p.pitch for p in w.jam.session._played] == [64]
    w.jam.stop()
    assert not w.playback.loop_enabled and spy_engine.named("swap_song")[-1][0][0] is w.song


def test_takes_for_another_melody_are_not_kept(qtbot, wired):
    w = wired
    with qtbot.waitSignal(w.audition.audition_finished, timeout=120_000):
        w.audition.generate_all(takes=1)
    key = ("jazz", 1)
    melody = w.song.melody
    w.notes_edited(w.song.melody_index, melody.notes[2:], "Delete notes")     # the musician edits on
    edited, steps = w.song, w.doc.undo_stack.count()
    w.audition.keep(key)
    w.audition.keep_alternative(key)
    assert w.song is edited and w.doc.undo_stack.count() == steps
    assert "Generate all again" in w.audition.status.text()
    w.undo_action.trigger()                                   # the melody the takes were made from: Keep works
    w.audition.keep(key)
    assert w.song.tracks == w.audition.takes[key].song.tracks
    w.doc.undo_stack.setClean()
    assert w.open_path("greensleeves")                        # another song: the cards go
    assert not w.audition.takes and not w.audition.cards


def _play_take(qtbot, w, key):
    qtbot.mouseClick(w.audition.cards[key], Qt.LeftButton, pos=w.audition.cards[key].header.geometry().center())


def test_a_mixer_change_while_a_take_plays_waits_for_the_project(qtbot, wired, spy_engine):
    from deepcomposer_desktop.core.song import Track
    w = wired
    w.doc.apply(w.song.with_tracks(w.song.tracks + (Track("My chords"),)), "add a track")
    with qtbot.waitSignal(w.audition.audition_finished, timeout=120_000):
        w.audition.generate_all(takes=1)
    take = w.audition.takes[("jazz", 1)]
    spy_engine.play(0)
    _play_take(qtbot, w, ("jazz", 1))
    spy_engine.calls.clear()
    w.tracks.rows[1].mute_btn.click()                       # mute "My chords" in the project
    assert w.song.tracks[1].mute and not spy_engine.named("set_track_state")   # the take's track 1 is not touched
    assert w.audition.playing_key == ("jazz", 1)            # the take plays on
    w.audition.select_number(0)                             # 0: the project again, with its mute
    assert spy_engine.named("swap_song")[-1][0][0] is w.song
    assert ((1,), {"mute": True, "solo": False, "volume": 100, "pan": 64, "program": 0}) in \
        spy_engine.named("set_track_state")
    _play_take(qtbot, w, ("jazz", 1))
    w.doc.apply(w.song.with_tracks(w.song.tracks[:1]), "delete a track")    # a real edit: the project plays
    assert spy_engine.named("swap_song")[-1][0][0] is w.song and w.audition.playing_key is None
    assert spy_engine.named("swap_song")[-2][0][0] is take.song
    assert w.audition.status.text().startswith("The project plays again")     # it said "Playing jazz 1" on


def test_generate_all_while_a_take_plays_puts_the_project_back(qtbot, wired, spy_engine):
    w = wired
    with qtbot.waitSignal(w.audition.audition_finished, timeout=120_000):
        w.audition.generate_all(takes=1)
    spy_engine.play(0)
    _play_take(qtbot, w, ("rock", 1))
    with qtbot.waitSignal(w.audition.audition_finished, timeout=120_000):
        w.audition.generate_all(takes=1)                    # the old take used to play on, out of reach
    assert spy_engine.named("swap_song")[-1][0][0] is w.song and w.playback.guest is None


def test_a_regeneration_from_an_earlier_run_is_dropped(qtbot, wired):
    w = wired
    with qtbot.waitSignal(w.audition.audition_finished, timeout=120_000):
        w.audition.generate_all(takes=1)
    old = w.audition.takes[("rock", 1)]
    with qtbot.waitSignal(w.audition.audition_finished, timeout=120_000):
        w.audition.generate_all(takes=1)
    new = w.audition.takes[("rock", 1)]
    w.audition._regenerated.emit(old, None, w.audition._run_id - 1)        # arrives late, from the first run
    assert w.audition.takes[("rock", 1)] is new


def test_jam_mixer_changes_and_loop_range_and_keep_on_another_song(qtbot, wired, spy_engine):
    from deepcomposer_desktop.core.song import Track
    w = wired
    w.doc.apply(w.song.with_tracks(w.song.tracks + (Track("My chords"),)), "add a track")
    bar = w.song.bar_ticks
    w.piano_roll.set_loop(2 * bar, 4 * bar)                 # a range set in the ruler, looping off
    w.loop_changed(2 * bar, 4 * bar)
    assert w.playback.loop_range == (2 * bar, 4 * bar) and not w.playback.loop_enabled
    w.jam.bars_spin.setValue(1)
    assert w.jam.start()
    spy_engine.calls.clear()
    w.tracks.rows[1].mute_btn.click()                       # silenced the band's piano (its track 1)
    assert not spy_engine.named("set_track_state")
    w.jam.stop()
    assert w.playback.loop_range == (2 * bar, 4 * bar) and not w.playback.loop_enabled   # it was wiped
    assert not w.transport.loop_btn.isChecked()
    assert spy_engine.named("swap_song")[-1][0][0] is w.song
    w.jam.keep_btn.setEnabled(True)
    w.open_path("greensleeves")                             # another song: the old jam is not for it
    assert not w.jam.keep_btn.isEnabled() and getattr(w.jam, "_last", None) is None
