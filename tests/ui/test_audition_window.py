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
