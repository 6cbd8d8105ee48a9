"""Jam panel (pytest-qt): a real PlaybackEngine on the silent output loops; notes are injected as the keyboard
would send them; the band (tiny untrained GAN) answers and is swapped in while the loop keeps playing."""
from __future__ import annotations

import pytest

from deepcomposer_desktop.jam import PHRASE_NAME
from deepcomposer_desktop.ui.commands import SongDocument
from deepcomposer_desktop.ui.jam import JamPanel
from tests.builders import song, track
from tests.test_audition import GENRES, tiny_model_dir, tiny_models  # noqa: F401  (fixtures)
from tests.ui.test_audition import engine, soundfont  # noqa: F401  (fixtures)

BAR = 1920


def fast_song():
    # 240 bpm: a 1-bar loop is one second, so a few passes are quick
    return song(track("Lead", [(60, 0, 480, 90)], program=0), bpm=240).replace(title="Jam")


@pytest.fixture
def doc():
    return SongDocument(fast_song())


def make_panel(qtbot, engine, doc, loop=None, **kw):
    p = JamPanel(lambda: engine, lambda: doc.song, loop_getter=(lambda: loop), genres_getter=lambda: list(GENRES),
                 **kw)
    qtbot.addWidget(p)
    p.show()
    return p


def test_jam_loop_answers_injected_notes_while_playing(qtbot, tiny_models, engine, doc):
    engine.set_loop(0, BAR)                      # what the window does when its loop is on
    p = make_panel(qtbot, engine, doc, loop=(0, BAR))
    p.genre_box.setCurrentText("jazz")
    with qtbot.waitSignal(p.jam_changed):
        p.start_btn.click()
    assert p.running and engine.is_playing and p.start_btn.text() == "Stop jam"
    assert engine._song.tracks[0].name == PHRASE_NAME and not engine._song.tracks[0].notes   # pass 0: no band
    s = p.session

    def play_phrase():
        for pitch in (60, 64, 67, 72):
            p.note_on(pitch, 100)
            qtbot.wait(60)
            p.note_off(pitch)
    qtbot.waitUntil(lambda: engine.position_tick < BAR // 4, timeout=5000)
    play_phrase()
    qtbot.waitUntil(lambda: s.swaps >= 1, timeout=20_000)
    band_song = engine._song
    assert band_song is s.last_song and engine.is_playing
    assert band_song.tracks[0].name == PHRASE_NAME and band_song.tracks[0].mute
    assert [n.pitch for n in band_song.tracks[0].notes] == [60, 64, 67, 72]
    assert [t.name for t in band_song.tracks[1:]] == ["Piano", "Guitar", "Bass", "Drums"]
    assert all(n.end_tick <= BAR for t in band_song.tracks for n in t.notes)
    assert 0 <= engine.position_tick < BAR                                 # still looping the bar
    assert "ms" in p.timing.text() and p.keep_btn.isEnabled()
    # keep: one undo step holding the phrase and the band
    p.band_kept.connect(doc.apply)
    p.keep_btn.click()
    assert doc.undo_stack.count() == 1 and len(doc.song.tracks) == 1 + 1 + 4
    kept = doc.song
    with qtbot.waitSignal(p.jam_changed):
        p.start_btn.click()
    assert not p.running and engine._song is kept                          # the project plays again
    doc.undo_stack.undo()
    assert len(doc.song.tracks) == 1


def test_jam_without_a_loop_sets_its_own_and_removes_it(qtbot, tiny_models, engine, doc):
    loops = []
    p = make_panel(qtbot, engine, doc, loop=None)
    p.loop_setter = lambda a, b: loops.append((a, b))
    p.bars_spin.setValue(2)
    assert p.start()
    assert loops == [(0, 2 * BAR)] and p.session.length == 2 * BAR
    p.stop()
    assert loops[-1] == (None, None)


def test_jam_refuses_a_loop_that_is_too_long(qtbot, tiny_models, engine, doc):
    p = make_panel(qtbot, engine, doc, loop=(0, 12 * BAR))
    p.start_btn.click()
    assert not p.running and not p.start_btn.isChecked()
    assert "up to 8 bars" in p.status.text()


def test_no_genre_installed_disables_start(qtbot, engine, doc):
    p = JamPanel(lambda: engine, lambda: doc.song, genres_getter=lambda: [])
    qtbot.addWidget(p)
    assert not p.start_btn.isEnabled()
