"""Transformer cache readers for notated sets (folk ABC, lieder, orchestral melodies): bar grid and real files."""
import itertools
from pathlib import Path

import pytest

from deepcomposer_desktop.ml.data.abc import parse_tune
from deepcomposer_desktop.ml.data.musicxml import Measure
from deepcomposer_desktop.ml.transformer import data as D
from deepcomposer_desktop.ml.transformer import tokens as T

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_new_sources_are_appended_after_the_old_ones():
    assert D.SOURCES[:4] == ("nottingham", "pop909", "jsb", "wjazzd")
    assert set(D.SOURCES) == set(D.READERS)


def test_pickup_is_padded_in_front_and_split_bars_are_joined():
    # 4/4: a one-beat pickup, a full bar, a bar split by a repeat sign (3 + 1 beats), a full bar, a short last bar
    ms = [Measure(0, 1, 4, 4), Measure(1, 4, 4, 4), Measure(5, 3, 4, 4), Measure(8, 1, 4, 4), Measure(9, 4, 4, 4),
          Measure(13, 2, 4, 4)]
    notes = [(0, 1, 60), (1, 4, 62), (5, 3, 64), (8, 1, 65), (9, 2, 67), (13, 2, 69)]
    bars = D._grid_bars(ms, [notes])
    assert [[n[:4] for n in b] for b in bars] == [[(36, 0, 60, 12)], [(0, 0, 62, 48)],
                                                  [(0, 0, 64, 36), (36, 0, 65, 12)], [(0, 0, 67, 24)],
                                                  [(0, 0, 69, 24)]]


def test_a_measure_of_whole_bars_is_cut_and_a_too_long_bar_rejected():
    bars = D._grid_bars([Measure(0, 6, 3, 4)], [[(0, 1, 60), (3, 1, 62), (5.5, 0.5, 64)]])
    assert [[n[:3] for n in b] for b in bars] == [[(0, 0, 60)], [(0, 0, 62), (30, 0, 64)]]
    assert D._grid_bars([Measure(0, 9, 4, 4)], [[(0, 1, 60)]]) is None          # 9 quarters > 96 steps


def test_abc_tune_to_piece_round_trips_through_tokens():
    t = parse_tune("X:1\nM:6/8\nL:1/8\nK:G\nD|G2A B>cd|(3efg f e2 d|[gb]3- b2z|]")
    bars = D._grid_bars(t.measures, [t.notes])
    piece = T.Piece(t.meter, t.bpm, [D.FAM_STRINGS], bars, True)
    assert bars[0][0][:3] == (30, 0, 62)                # the pickup D sits on the last eighth of a 6/8 bar
    assert bars[3][0][2:4] == (83, 30)                  # the tied chord keeps its top note, 3/8 + 2/8 long
    toks = T.encode_piece(piece)
    back = T.decode(toks)
    assert back.meter == (6, 8) and back.families == [D.FAM_STRINGS] and T.encode_piece(back) == toks
    assert sorted(n[:4] for n in back.bars[1]) == sorted(n[:4] for n in bars[1])


def test_top_line_keeps_the_highest_note_of_each_onset():
    assert D._top_line([(0, 1, 60), (0, 1, 67), (1, 1, 62), (1.0000001, 1, 59)]) == [(0, 1, 67), (1, 1, 62)]


READERS = [("abc_folk", "music21_corpus_subset/oneills1850", D.FAM_STRINGS),
           ("lieder", "openscore_lieder/scores", D.FAM_VOICE),
           ("orchestra", "hauptstimme_orchestra/data", D.FAM_STRINGS)]


@pytest.mark.parametrize("source,folder,melody_family", READERS)
def test_real_pieces_encode_and_decode(source, folder, melody_family, tmp_path):
    if not (DATA / folder).is_dir():
        pytest.skip("no shared data")
    reader = D.READERS[source]
    kwargs = {} if source == "abc_folk" else {"parsed_dir": str(tmp_path)}
    pieces = list(itertools.islice(reader(DATA, **kwargs), 3))
    assert len(pieces) == 3
    for name, is_test, piece in pieces:
        assert name.startswith(source.split("_")[0]) and isinstance(is_test, bool)
        assert len(piece.bars) >= 2 and piece.families[0] == melody_family and piece.ended
        notes = [n for bar in piece.bars for n in bar]
        assert any(n[1] == 0 for n in notes)                       # the melody is slot 0
        assert all(0 <= n[0] < T.MAX_BAR_STEPS and 0 <= n[2] < 128 and n[3] >= 1 for n in notes)
        assert all(n[1] < len(piece.families) for n in notes)
        for bar in piece.bars:                                     # the melody is one line
            starts = [n[0] for n in bar if n[1] == 0]
            assert len(starts) == len(set(starts))
        toks = T.encode_piece(piece)
        back = T.decode(toks)
        assert len(back.bars) == len(piece.bars) and back.families == piece.families and back.ended
        assert toks[1] == T.METER0 + T.meter_index(*piece.meter)      # (4, 2) is the 'other' metre
        assert T.encode_piece(back)[2:] == toks[2:]
        for view in D._two_views(piece):
            assert max(view) < T.VOCAB_SIZE
