"""ml.metrics on hand-built piano rolls: each figure checked against a value worked out by hand."""
import math

import numpy as np
import pytest

from deepcomposer_desktop.ml import metrics as M


def roll(steps, notes):
    """notes: (pitch, start, length) -> bool (steps, 128)."""
    r = np.zeros((steps, 128), bool)
    for p, s, n in notes:
        r[s:s + n, p] = True
    return r


def onset_roll(steps, notes):
    o = np.zeros((steps, 128), bool)
    for p, s, _ in notes:
        o[s, p] = True
    return o


def test_empty_bar_rate():
    r = roll(64, [(60, 0, 4), (62, 40, 2)])          # bars 0 and 2 play, 1 and 3 are empty
    assert M.empty_bar_rate(r) == 0.5
    assert M.empty_bar_rate(np.zeros((32, 128))) == 1.0


def test_used_pitch_classes_counts_octaves_once():
    r = roll(32, [(60, 0, 4), (72, 4, 4), (64, 8, 4), (67, 16, 16)])   # bar 0: C, E -> 2; bar 1: G -> 1
    assert M.used_pitch_classes(r) == 1.5


def test_note_lengths_and_qualified_rate_with_onsets():
    notes = [(60, 0, 4), (60, 4, 2), (62, 8, 1), (64, 10, 3)]          # two touching C notes need onsets
    r, o = roll(16, notes), onset_roll(16, notes)
    assert sorted(M.note_lengths(r, o)) == [1, 2, 3, 4]
    assert M.qualified_note_rate(r, o) == 0.5
    assert sorted(M.note_lengths(r)) == [1, 3, 6]                      # without onsets the C notes merge
    assert math.isnan(M.qualified_note_rate(np.zeros((16, 128))))


def test_drum_pattern_rate():
    kick = [(36, s, 1) for s in (0, 4, 8, 12)]
    off = [(42, s, 1) for s in (1, 3)]
    r = roll(16, kick + off)
    assert M.drum_pattern_rate(r) == pytest.approx(4 / 6)


def test_polyphony_and_density():
    r = roll(32, [(60, 0, 16), (64, 0, 16), (67, 0, 8), (72, 20, 4)])
    # steps 0-7: 3 notes, 8-15: 2, 20-23: 1 -> (24 + 16 + 4) / 20
    assert M.polyphony(r) == pytest.approx(44 / 20)
    assert M.note_density(r) == 2.0


def test_estimate_key_not_always_c():
    # D major scale, tonic-heavy
    d_major = [62, 64, 66, 67, 69, 71, 73, 74, 62, 66, 69, 62]
    r = roll(48, [(p, i * 4, 4) for i, p in enumerate(d_major)])
    assert M.estimate_key(r) == (2, False)
    a_minor = [57, 59, 60, 62, 64, 65, 68, 69, 57, 60, 64, 57]
    r2 = roll(48, [(p, i * 4, 4) for i, p in enumerate(a_minor)])
    assert M.estimate_key(r2) == (9, True)
    assert M.estimate_key(np.zeros((16, 128))) is None


def test_in_scale_rate_against_melody_key():
    melody = roll(48, [(p, i * 4, 4) for i, p in enumerate([62, 64, 66, 67, 69, 71, 73, 74, 62, 66, 69, 62])])
    acc = roll(48, [(50, 0, 8), (54, 8, 8), (53, 16, 8), (57, 24, 8)])   # D, F#, F (out of D major), A
    assert M.in_scale_rate(acc, reference=melody) == 0.75
    assert M.in_scale_rate(acc, key=(1, False)) == 0.5                   # Db major: F# (=Gb) and F only
    with pytest.raises(ValueError):
        M.in_scale_rate(acc, key=(12, False))


def test_tonal_distance():
    c_major = roll(16, [(60, 0, 16), (64, 0, 16), (67, 0, 16)])
    c_major_low = roll(16, [(48, 0, 16), (52, 0, 16), (55, 0, 16)])
    f_sharp = roll(16, [(66, 0, 16), (70, 0, 16), (73, 0, 16)])
    assert M.tonal_distance(c_major, c_major_low) == pytest.approx(0.0, abs=1e-9)
    far = M.tonal_distance(c_major, f_sharp)
    g_major = roll(16, [(67, 0, 16), (71, 0, 16), (74, 0, 16)])
    near = M.tonal_distance(c_major, g_major)
    assert 0 < near < far
    assert math.isnan(M.tonal_distance(c_major, np.zeros((16, 128))))


def test_wrong_shapes_fail_fast():
    with pytest.raises(ValueError):
        M.empty_bar_rate(np.zeros((16, 127)))
    with pytest.raises(ValueError):
        M.empty_bar_rate(np.zeros((17, 128)))                 # not whole bars
    with pytest.raises(ValueError):
        M.polyphony(np.zeros((2, 16, 128)))
    with pytest.raises(ValueError):
        M.tonal_distance(np.zeros((16, 128)), np.zeros((32, 128)))
    with pytest.raises(ValueError):
        M.qualified_note_rate(np.zeros((16, 128)), onsets=np.zeros((8, 128)))
    with pytest.raises(ValueError):
        M.evaluate(np.zeros((16, 128)), np.zeros((16, 128)))


def test_evaluate_arrangement():
    mel = roll(32, [(72, i * 4, 4) for i in range(8)])
    bass = roll(32, [(36, 0, 16), (43, 16, 16)])
    chords = roll(32, [(60, 0, 16), (64, 0, 16), (67, 0, 16)])
    drums = roll(32, [(36, s, 1) for s in range(0, 32, 4)])
    acc = np.stack([bass, chords, drums])
    out = M.evaluate(mel, acc, is_drum=[False, False, True])
    assert set(out) == set(M.FIGURES)
    assert out["empty_bar_rate"] == pytest.approx(1 / 6)             # chords empty in bar 1
    assert out["drum_pattern_rate"] == 1.0
    assert out["qualified_note_rate"] == 1.0
    assert out["polyphony"] == pytest.approx(2.0)
    assert out["in_scale_rate"] == 1.0
    batch = M.evaluate_many(mel[None], acc[None], is_drum=[False, False, True])
    assert batch["note_density"] == pytest.approx(out["note_density"])


def test_relative_error():
    assert M.relative_error(1.1, 1.0) == pytest.approx(0.1)
    assert math.isnan(M.relative_error(1.0, 0.0))
