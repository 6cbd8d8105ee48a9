"""Audition panel (pytest-qt): every genre generated on worker threads (tiny untrained GAN generators built with the
GAN model code, plus any shipped model), takes switched by click and by key while a real PlaybackEngine plays on
the silent output, keep + undo through a real QUndoStack, lock + regenerate, export."""
from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import Qt

from deepcomposer_desktop.audio.events import NOTE_ON
from deepcomposer_desktop.midi.io import read_midi
from deepcomposer_desktop.ui.audition import AuditionPanel
from deepcomposer_desktop.ui.commands import SongDocument
from tests.builders import song, track
from tests.test_audition import GENRES, tiny_model_dir, tiny_models  # noqa: F401  (fixtures)


def project_song():
    notes = [(60 + (i * 7) % 12, i * 240, 240, 90) for i in range(64)]           # 8 bars of eighth notes
    return song(track("Lead", notes, program=73), track("Pad", [(48, 0, 1920 * 8, 60)], program=89)).replace(
        title="Tune")


@pytest.fixture
def engine(soundfont):
    from deepcomposer_desktop.audio.engine import PlaybackEngine
    eng = PlaybackEngine(soundfont=soundfont, device="null")
    yield eng
    eng.close()


@pytest.fixture
def doc(qtbot):
    return SongDocument(project_song())


@pytest.fixture
def panel(qtbot, tiny_models, doc, engine):
    p = AuditionPanel(lambda: engine, lambda: doc.song, genres_getter=lambda: list(GENRES), max_workers=2)
    qtbot.addWidget(p)
    p.resize(900, 600)
    p.show()
    yield p
    p.shutdown()


def generate(qtbot, panel, takes=2):
    panel.takes_spin.setValue(takes)
    with qtbot.waitSignal(panel.audition_finished, timeout=120_000):
        qtbot.mouseClick(panel.generate_btn, Qt.LeftButton)
    assert not panel.errors, panel.errors


def song_note_ons(engine) -> int:
    ev = engine._sched.events
    return int(np.count_nonzero((ev["kind"] == NOTE_ON) & (ev["track"] >= 0)))


def wait_playing(qtbot, engine, past_tick):
    qtbot.waitUntil(lambda: engine.position_tick > past_tick, timeout=10_000)


def test_generate_all_installed_genres(qtbot, tiny_models, doc, engine):
    from deepcomposer_desktop.ml.gan.generate import available_genres
    genres = available_genres()                      # the tiny ones plus whatever models are shipped
    assert set(GENRES) <= set(genres)
    p = AuditionPanel(lambda: engine, lambda: doc.song, max_workers=2)
    qtbot.addWidget(p)
    p.show()
    generate(qtbot, p, takes=1)
    assert sorted(p.cards) == sorted((g, 1) for g in genres)
    for key, card in p.cards.items():
        card.roll.grab()                             # paints it (cards may be scrolled out of view)
        assert card.roll.notes_drawn() == p.takes[key].song.note_count > 0
        assert "in key" in card.metrics_label.text()
        assert [b.text().replace("&&", "&") for b in card.lock_buttons] == p.takes[key].instruments()
    assert "takes in" in p.status.text()
    p.shutdown()


def test_cards_appear_in_a_grid_genre_by_take(qtbot, panel):
    generate(qtbot, panel, takes=2)
    assert len(panel.cards) == len(GENRES) * 2
    for (genre, number), card in panel.cards.items():
        idx = panel.grid.indexOf(card)
        row, col, _, _ = panel.grid.getItemPosition(idx)
        assert (row, col) == (GENRES.index(genre), number - 1)
        assert card.take.song.tracks[0].name == "Lead" and len(card.take.song.tracks) == 5   # melody + band of 4


def test_switching_takes_while_playing_swaps_the_events_in_time(qtbot, panel, engine, doc):
    generate(qtbot, panel, takes=2)
    engine.set_song(doc.song)
    engine.play(0)
    wait_playing(qtbot, engine, 960)
    old_events = engine._sched.events
    before = engine.position_tick
    card = panel.cards[("jazz", 2)]
    qtbot.mouseClick(card, Qt.LeftButton, pos=card.header.geometry().center())
    after = engine.position_tick
    assert panel.playing_key == ("jazz", 2) and engine.is_playing
    assert engine._song is card.take.song
    assert engine._sched.events is not old_events
    assert song_note_ons(engine) == card.take.song.note_count                # the new arrangement's notes
    assert before <= after < before + 960                                    # no jump (<= 1 s of playing)
    # keys: 1 = first genre (rock): take 1, then its take 2; 0 = the project again
    qtbot.keyClick(panel, Qt.Key_1)
    assert panel.playing_key == ("rock", 1) and engine._song is panel.takes[("rock", 1)].song
    qtbot.keyClick(panel, Qt.Key_1)
    assert panel.playing_key == ("rock", 2)
    pos = engine.position_tick
    qtbot.keyClick(panel, Qt.Key_0)
    assert panel.playing_key is None and engine._song is doc.song
    assert engine.position_tick >= pos and engine.is_playing
    assert song_note_ons(engine) == doc.song.note_count


def test_switch_at_the_next_bar_line(qtbot, panel, engine, doc):
    generate(qtbot, panel, takes=1)
    engine.set_song(doc.song)
    engine.play(0)
    wait_playing(qtbot, engine, 100)
    panel.at_bar.setChecked(True)
    swaps = []
    real = engine.swap_song

    def spy(s):
        swaps.append(engine.position_tick)
        real(s)
    engine.swap_song = spy
    start = engine.position_tick
    panel.select(("pop", 1))
    assert panel.pending_switch == ("pop", 1) and engine._song is doc.song   # waits for the bar line
    qtbot.waitUntil(lambda: panel.playing_key == ("pop", 1), timeout=10_000)
    assert len(swaps) == 1 and swaps[0] > start and engine._song is panel.takes[("pop", 1)].song


def test_keep_take_is_one_undo_step(qtbot, panel, doc):
    panel.take_kept.connect(doc.apply)
    generate(qtbot, panel, takes=1)
    original = doc.song
    card = panel.cards[("rock", 1)]
    qtbot.mouseClick(card.buttons["keep"], Qt.LeftButton)
    assert doc.undo_stack.count() == 1 and doc.undo_stack.undoText() == "Keep rock 1"
    # the project's own tracks stay as they are (Pad too); the band comes after them
    assert doc.song.tracks == original.tracks + card.take.band and doc.song.title == "Tune"
    assert card.buttons["keep"].text() == "Kept ✓"
    doc.undo_stack.undo()
    assert doc.song == original
    doc.undo_stack.redo()
    assert doc.song.tracks == original.tracks + card.take.band
    qtbot.mouseClick(panel.cards[("jazz", 1)].buttons["keep"], Qt.LeftButton)   # another Keep: its band instead
    assert doc.song.tracks == original.tracks + panel.cards[("jazz", 1)].take.band


def test_keep_after_an_undo_or_a_mixer_change_replaces_the_band_in_the_song(qtbot, panel, doc):
    from dataclasses import replace
    panel.take_kept.connect(doc.apply)
    generate(qtbot, panel, takes=1)
    original = doc.song
    band = {g: panel.takes[(g, 1)].band for g in GENRES}
    panel.keep(("rock", 1))
    panel.keep(("jazz", 1))
    doc.undo_stack.undo()                                     # rock's band is back in the song
    panel.keep(("pop", 1))
    assert doc.song.tracks == original.tracks + band["pop"]  # it replaces rock's band: no band stacked on another
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.song == original
    panel.keep(("jazz", 1))
    drums = len(doc.song.tracks) - 1
    doc.apply_track(drums, replace(doc.song.tracks[drums], mute=True, volume=60), "Mute Drums")   # the mixer
    doc.apply_track(0, replace(doc.song.tracks[0], mute=True), "Mute Lead")
    panel.keep(("rock", 1))
    assert doc.song.tracks[2:] == band["rock"] and doc.song.tracks[0].mute     # one band, the project's own kept
    assert [t.name for t in doc.song.tracks].count("Drums") == 1


def test_keep_several_as_alternatives(qtbot, panel, doc):
    panel.alternative_kept.connect(doc.apply)
    generate(qtbot, panel, takes=1)
    qtbot.mouseClick(panel.cards[("rock", 1)].buttons["alternative"], Qt.LeftButton)
    qtbot.mouseClick(panel.cards[("jazz", 1)].buttons["alternative"], Qt.LeftButton)
    names = [t.name for t in doc.song.tracks]
    assert names[:2] == ["Lead", "Pad"] and "rock 1: Bass" in names and "jazz 1: Drums" in names
    assert len(names) == 2 + 8 and all(t.mute for t in doc.song.tracks[2:])
    assert doc.undo_stack.count() == 2
    doc.undo_stack.undo()
    assert len(doc.song.tracks) == 6


def test_lock_a_track_and_regenerate_the_others_while_it_plays(qtbot, panel, engine, doc):
    generate(qtbot, panel, takes=1)
    engine.set_song(doc.song)
    engine.play(0)
    key = ("jazz", 1)
    panel.select(key)
    card = panel.cards[key]
    old = card.take
    qtbot.mouseClick(card.lock_buttons[2], Qt.LeftButton)                  # lock the bass
    assert card.locked() == {2} and card.lock_buttons[2].text() == "■ Bass"
    qtbot.mouseClick(card.buttons["regenerate"], Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.takes[key].generation == 1, timeout=60_000)
    new = panel.takes[key]
    assert new.band[2] == old.band[2] and new.band[0] != old.band[0]
    assert card.take is new and card.locked() == {2}
    assert engine._song is new.song                                          # the playing take follows
    assert "regenerated" in panel.status.text()


def test_export_each_take_and_all_in_one(qtbot, panel, tmp_path):
    generate(qtbot, panel, takes=2)
    paths = panel.export_all(tmp_path / "takes", "per-take")
    assert len(paths) == 6 and all(p.is_file() for p in paths) and paths[0].name == "Tune-rock-1.mid"
    one = panel.export_all(tmp_path / "all.mid", "sequence")
    assert read_midi(one[0]).note_count == sum(t.song.note_count for t in panel.takes.values())
    assert panel.export_take(("pop", 2), tmp_path / "pop2.mid")
    assert read_midi(tmp_path / "pop2.mid").note_count == panel.takes[("pop", 2)].song.note_count


def test_results_of_a_replaced_run_are_ignored(qtbot, panel):
    panel.generate_all(takes=2)
    panel.generate_all(takes=1)                      # the first run is cancelled and replaced
    with qtbot.waitSignal(panel.audition_finished, timeout=120_000):
        pass
    time.sleep(0.2)
    qtbot.wait(50)
    assert sorted(panel.cards) == sorted((g, 1) for g in GENRES)


def test_no_melody_is_reported_not_crashed(qtbot, tiny_models, engine):
    empty = song(track("Lead"))
    p = AuditionPanel(lambda: engine, lambda: empty, genres_getter=lambda: list(GENRES))
    qtbot.addWidget(p)
    assert not p.generate_all()
    assert "no notes" in p.status.text()


def test_a_project_edit_ends_the_audition_highlight(qtbot, panel, doc, engine):
    doc.song_changed.connect(panel.project_changed)
    generate(qtbot, panel, takes=1)
    panel.select(("rock", 1))
    assert panel.cards[("rock", 1)].styleSheet().count("#4fa3ff") == 1
    with qtbot.waitSignal(panel.arrangement_changed) as sig:
        doc.apply(doc.song.replace(title="Edited"), "Rename")
    assert sig.args == [None] and panel.playing_key is None
    assert "#4fa3ff" not in panel.cards[("rock", 1)].styleSheet()


def test_the_generate_button_cancels_a_running_audition(qtbot, panel):
    panel.max_workers = 1
    panel.takes_spin.setValue(8)
    qtbot.mouseClick(panel.generate_btn, Qt.LeftButton)
    assert panel.is_running() and panel.generate_btn.text() == "Cancel"
    qtbot.mouseClick(panel.generate_btn, Qt.LeftButton)
    assert not panel.is_running() and panel.generate_btn.text() == "Generate all genres"
    assert "Cancelled" in panel.status.text()
    panel.run.wait(timeout=60)
    qtbot.wait(100)
    assert len(panel.takes) < len(GENRES) * 8                      # the rest never ran


def test_a_song_every_genre_refuses_says_why_without_offering_cards(qtbot, tiny_models, engine):
    from deepcomposer_desktop.core.song import TimeSignature
    waltz = project_song().replace(time_signatures=(TimeSignature(0, 3, 4),))
    p = AuditionPanel(lambda: engine, lambda: waltz, genres_getter=lambda: list(GENRES), max_workers=2)
    qtbot.addWidget(p)
    try:
        with qtbot.waitSignal(p.audition_finished, timeout=120_000):
            assert p.generate_all(1)
        assert p.status.text().startswith("No takes: ") and "3/4" in p.status.text()
        assert "Click a card" not in p.status.text()                   # there is none to click
    finally:
        p.shutdown()


def test_the_panel_fits_a_narrow_dock_cards_in_one_column_scrolled_down_only(qtbot, panel):
    generate(qtbot, panel, takes=2)
    panel.resize(300, 700)
    qtbot.wait(50)
    assert panel.width() <= 300                                       # nothing forces a wider dock
    area = panel.card_area
    assert area.horizontalScrollBarPolicy() == Qt.ScrollBarAlwaysOff and area.columns == 1
    width = area.viewport().width()
    for key, card in panel.cards.items():                             # one column, genre by genre, take by take
        row, col, _, _ = panel.grid.getItemPosition(panel.grid.indexOf(card))
        assert (row, col) == (GENRES.index(key[0]) * 2 + key[1] - 1, 0)
        assert card.mapTo(area.widget(), card.rect().topRight()).x() < width
        for chip in card.lock_buttons:                                # the instrument chips wrap inside the card
            assert chip.mapTo(card, chip.rect().topRight()).x() < card.width()
    controls = (panel.generate_btn, panel.takes_spin, panel.at_bar, panel.project_btn, panel.export_btn)
    assert all(c.mapTo(panel, c.rect().topRight()).x() < panel.width() for c in controls)
    assert len({c.y() for c in (panel.generate_btn, panel.export_btn)}) == 2     # the controls take two rows
    panel.resize(900, 600)
    qtbot.wait(50)
    assert area.columns >= 2 and panel.export_btn.y() == panel.generate_btn.y()  # wide: one row, takes side by side
    card = panel.cards[("jazz", 2)]
    assert panel.grid.getItemPosition(panel.grid.indexOf(card))[:2] == (GENRES.index("jazz"), 1)


def test_a_card_says_its_figures_and_instruments_in_words(qtbot):
    from deepcomposer_desktop.audition import Take
    from deepcomposer_desktop.ui.audition_cards import TakeCard
    s = song(track("Lead", [(72, 0, 480, 90)]), track("Brass & timpani", [(48, 0, 480, 90)], program=61))
    take = Take("symphony", 1, 0, s, 1, {"in_scale_rate": 0.97, "polyphony": 1.8})
    card = TakeCard(take, "6")
    qtbot.addWidget(card)
    assert card.metrics_label.text() == "in key 97% · 1.8 notes at once"
    assert card.metrics_label.toolTip() == "In the melody's key: 97%\nNotes at once, each part: 1.8"
    assert card.lock_buttons[0].text() == "Brass && timpani"         # shown as "Brass & timpani", not "Brass_timpani"
