"""Jam panel (pytest-qt): a real PlaybackEngine on the silent output loops; notes are injected as the keyboard
would send them; the band (tiny untrained GAN) answers and is swapped in while the loop keeps playing."""
from __future__ import annotations

import pytest

from deepcomposer_desktop.jam import PHRASE_NAME
from deepcomposer_desktop.ui.commands import SongDocument
from deepcomposer_desktop.ui.jam import JamPanel, timing_text
from tests.builders import song, track
from tests.test_audition import GENRES, tiny_model_dir, tiny_models  # noqa: F401  (fixtures)
from tests.ui.test_audition import engine  # noqa: F401  (fixture)

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
    assert p.timing.text().startswith("The band answered in ") and p.keep_btn.isEnabled()
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


@pytest.mark.parametrize("own_loop", [True, False])
def test_start_while_the_song_plays_past_the_loop_moves_into_it_and_the_band_answers(qtbot, tiny_models, engine,
                                                                                    own_loop):
    long = song(track("Lead", [(60 + i % 5, i * 480, 480, 90) for i in range(32)]), bpm=240).replace(title="Long")
    doc = SongDocument(long)
    engine.set_song(long)
    engine.play(5 * BAR)                                        # the song plays on, past the jam's 1-bar loop
    qtbot.waitUntil(lambda: engine.position_tick > 5 * BAR, timeout=5000)
    if own_loop:
        p = make_panel(qtbot, engine, doc, loop=None)
        p.bars_spin.setValue(1)
    else:
        engine.set_loop(0, BAR)
        p = make_panel(qtbot, engine, doc, loop=(0, BAR))
    assert p.start()
    assert engine.is_playing and 0 <= engine.position_tick < BAR            # at once in the loop, not silent
    s = p.session
    qtbot.waitUntil(lambda: engine.position_tick < BAR // 4, timeout=5000)
    for pitch in (60, 64, 67):
        p.note_on(pitch, 100)
        qtbot.wait(60)
        p.note_off(pitch)
    qtbot.waitUntil(lambda: s.swaps >= 1, timeout=20_000)                     # the band answers
    assert engine.is_playing and 0 <= engine.position_tick < BAR
    p.stop()


def test_the_panel_reads_top_down_in_a_narrow_dock_and_times_in_plain_words(qtbot, engine, doc):
    p = make_panel(qtbot, engine, doc)
    p.resize(300, 700)
    qtbot.wait(20)
    assert p.width() <= 300                                            # nothing forces the dock wider
    for b in (p.start_btn, p.keep_btn):                                # both buttons whole, on their own row
        assert b.isVisible() and b.mapTo(p, b.rect().topRight()).x() < p.width()
    assert p.start_btn.y() > p.genre_box.y() and p.keep_btn.y() == p.start_btn.y()
    assert p.status.y() < p.start_btn.geometry().bottom() + 30         # the words under the buttons, not mid-panel
    assert p.timing.wordWrap() and p.timing.y() <= p.status.geometry().bottom() + 30
    assert timing_text(0.171, 2.0, 1) == "The band answered in 0.2 s (it has 2 s). 1 answer came late."
    assert timing_text(0.02, 1.5) == "The band answered in under 0.1 s (it has 1.5 s)."
