"""ABC reader: pitches, key signatures and accidentals, lengths, broken rhythm, tuplets, ties, chords, bar grid."""
from pathlib import Path

import pytest

from deepcomposer_desktop.ml.data.abc import (AbcError, key_signature, parse_meter, parse_tempo, parse_tune,
                                              read_book, split_tunes)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def tune(body: str, header: str = "M:4/4\nL:1/8\nK:C") -> object:
    return parse_tune(f"X:1\nT:Test\n{header}\n{body}")


def pitches(t) -> list[int]:
    return [p for _, _, p in t.notes]


def test_pitches_octaves_and_key_signature():
    t = tune("C D E F G A B c | c' C, B,, z", "M:4/4\nL:1/4\nK:C")
    assert pitches(t) == [60, 62, 64, 65, 67, 69, 71, 72, 84, 48, 47]
    assert pitches(tune("F f c B", "L:1/4\nK:D")) == [66, 78, 73, 71]
    assert pitches(tune("B E A D", "L:1/4\nK:Bb")) == [70, 63, 69, 62]


def test_accidentals_last_to_the_bar_line_in_their_octave():
    t = tune("^F F f =F | F _B B __B | ^^C =C", "L:1/4\nK:G")
    #            ^F  F (still ^)  f (other octave: key's F#)  =F | F# Bb Bb Bbb | C## C
    assert pitches(t) == [66, 66, 78, 65, 66, 70, 70, 69, 62, 60]


@pytest.mark.parametrize("spec,expected", [
    ("G", {"F": 1}), ("Am", {}), ("E Minor", {"F": 1}), ("Gm", {"B": -1, "E": -1}), ("A Dorian", {"F": 1}),
    ("Dmix", {"F": 1}), ("Amix", {"F": 1, "C": 1}), ("Glyd", {"F": 1, "C": 1}), ("Bphr", {"F": 1}),
    ("Bloc", {}), ("Ebmaj", {"B": -1, "E": -1, "A": -1}), ("F#m", {"F": 1, "C": 1, "G": 1}),
    ("D =c", {"F": 1, "C": 0}), ("none", {}), ("HP", {}), ("Hp", {"F": 1, "C": 1}),
    ("G clef=treble", {"F": 1}),
])
def test_key_signatures_with_modes(spec, expected):
    assert key_signature(spec) == expected


def test_metres_and_tempi():
    assert parse_meter("C") == (4, 4) and parse_meter("C|") == (2, 2) and parse_meter(" 6/8 ") == (6, 8)
    assert parse_meter("2+3/8") == (5, 8)
    with pytest.raises(AbcError):
        parse_meter("none")
    assert parse_tempo("1/4=120") == 120 and parse_tempo("3/8=120") == 180 and parse_tempo("1/2=100") == 200
    assert parse_tempo('"Allegro" 1/4=96') == 96 and parse_tempo("80") == 80 and parse_tempo('"Slow"') is None
    assert tune("C", "M:6/8\nK:C").bpm == 120          # default
    assert tune("C", "M:6/8\nQ:3/8=60\nK:C").bpm == 90


def test_lengths_with_unit_eighth():
    t = tune("C2 D/2 E/ F// G3/2 A3/ B c4 |")
    assert [d for _, d, _ in t.notes] == [1.0, 0.25, 0.25, 0.125, 0.75, 0.75, 0.5, 2.0]
    assert [o for o, _, _ in t.notes] == [0, 1, 1.25, 1.5, 1.625, 2.375, 3.125, 3.625]


def test_default_unit_length_follows_the_metre():
    assert tune("C", "M:2/4\nK:C").notes[0][1] == 0.25         # 2/4 < 3/4: L = 1/16
    assert tune("C", "M:6/8\nK:C").notes[0][1] == 0.5          # L = 1/8
    assert tune("C", "M:C|\nK:C").notes[0][1] == 0.5


def test_broken_rhythm():
    t = tune("A>B c<d e>>f |")
    assert [d for _, d, _ in t.notes] == [0.75, 0.25, 0.25, 0.75, 0.875, 0.125]
    assert [o for o, _, _ in t.notes] == [0, 0.75, 1.0, 1.25, 2.0, 2.875]


def test_triplets_and_general_tuplets():
    t = tune("(3abc d2 (3:2:3CDE F2 |")
    durs = [round(d, 6) for _, d, _ in t.notes]
    assert durs == [round(1 / 3, 6)] * 3 + [1.0] + [round(1 / 3, 6)] * 3 + [1.0]
    assert t.measures[0].length == pytest.approx(4.0)
    t = tune("(3(A2G2F2) D6 |", "M:4/4\nL:1/8\nK:C")           # a slur inside a tuplet
    assert [round(d, 6) for _, d, _ in t.notes] == [round(2 / 3, 6)] * 3 + [3.0]


def test_ties_merge_same_pitch_across_bar_lines_and_carry_the_accidental():
    t = tune("c4- c4 | ^F4- | F2 G-A |", "M:4/4\nL:1/8\nK:C")
    assert t.notes[0] == (0, 4.0, 72)
    assert t.notes[1] == (4.0, 3.0, 66)                # ^F tied into the next bar keeps its sharp
    assert pitches(t)[2:] == [67, 69]                  # a "tie" between different pitches is just two notes


def test_chords_keep_the_top_note_and_the_first_length():
    t = tune("[CEG]2 [G,B,D]/ [ce]3/2 z |", "M:4/4\nL:1/4\nK:C")
    assert pitches(t) == [67, 62, 76]
    assert [d for _, d, _ in t.notes] == [2.0, 0.5, 1.5]


def test_decorations_grace_notes_strings_and_comments_are_skipped():
    t = tune('"Am" ~A .B {cd}c Tc !trill!d +fermata+e uf vg % a comment with notes abc\n'
             'w: some lyr-ics here\n"^annot"a2 |]')
    assert pitches(t) == [69, 71, 72, 72, 74, 76, 77, 79, 81]


def test_inline_fields_change_key_metre_and_length():
    t = tune("F [K:G] F | [M:3/4] [L:1/4] F G A |", "M:2/4\nL:1/8\nK:C")
    assert pitches(t) == [65, 66, 66, 67, 69]
    assert t.measures[1].beats == 3 and t.measures[1].length == pytest.approx(3.0)
    assert t.notes[-1][1] == 1.0


def test_pickup_bar_lines_and_repeats_read_straight_through():
    t = tune("GA|:B2c2 d2e2|1 f8:|2 g8|]", "M:C\nL:1/8\nK:C")
    assert [(m.offset, m.length) for m in t.measures] == [(0, 1.0), (1.0, 4.0), (5.0, 4.0), (9.0, 4.0)]
    assert len(t.notes) == 8


def test_only_the_first_voice_is_read():
    t = parse_tune("X:1\nM:4/4\nL:1/4\nV:1\nV:2\nK:C\n[V:1] C D E F|\n[V:2] x4|\n[V:1] G A B c|")
    assert pitches(t) == [60, 62, 64, 65, 67, 69, 71, 72]
    assert [m.offset for m in t.measures] == [0, 4.0]


def test_line_continuation_and_multi_bar_rest():
    t = tune("C8 |\\\nZ2 | D8 |")
    assert [m.offset for m in t.measures] == [0, 4.0, 8.0, 12.0]
    assert t.notes[-1] == (12.0, 4.0, 62)


def test_book_split_and_malformed_tunes_skipped():
    book = ("% a book header\nX:1\nT:One\nM:2/4\nK:D\nAB|d2\n\nsome prose between tunes\n\n"
            "X:2\nT:No key\nM:2/4\nAB|\n\n"
            "X:3\nT:Bad chord\nK:G\n[ceg|\n\n"
            "X:4\nT:No notes\nK:G\nz4|\n\n"
            "X:5\nT:Two\nM:3/4\nK:Am\nE3|]")
    assert len(split_tunes(book)) == 5
    tunes, failed = read_book(book)
    assert [t.title for t in tunes] == ["One", "Two"]
    assert len(failed) == 3 and all(msg.startswith("X:") for msg in failed)
    assert pitches(tunes[1]) == [64]


@pytest.mark.skipif(not (DATA / "music21_corpus_subset" / "oneills1850").is_dir(), reason="no shared data")
def test_a_real_book_parses():
    tunes, failed = read_book(DATA / "music21_corpus_subset" / "oneills1850" / "0001-0050.abc")
    assert len(tunes) >= 45 and len(failed) <= 2
    for t in tunes:
        assert t.notes and t.measures and all(0 < p < 128 for _, _, p in t.notes)
        assert t.meter in ((2, 4), (3, 4), (4, 4), (6, 8), (9, 8), (2, 2), (12, 8), (3, 8), (6, 4))
