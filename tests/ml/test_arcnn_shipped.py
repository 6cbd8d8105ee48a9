"""The shipped Bach AR-CNN (skipped when models/arcnn-bach.pt is absent): musical checks on real output."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from deepcomposer_desktop.core.edits import transpose  # noqa: E402
from deepcomposer_desktop.ml import metrics as M  # noqa: E402
from deepcomposer_desktop.samples import load_sample  # noqa: E402

MODEL = Path(__file__).resolve().parents[2] / "models" / "arcnn-bach.pt"
pytestmark = pytest.mark.skipif(not MODEL.is_file(), reason="no shipped AR-CNN model")


@pytest.mark.parametrize("semitones", [3, 6])          # E-flat and F-sharp major
def test_added_notes_follow_a_non_c_key(semitones):
    from deepcomposer_desktop.ml.arcnn.generate import enhance
    song = load_sample("ode_to_joy")
    song = song.replace_track(0, transpose(song.tracks[0], semitones))
    out = enhance(song, 0, iterations=40, seed=0, model=MODEL)
    before = {(n.start_tick, n.pitch) for n in song.tracks[0].notes}
    added = [n.pitch for n in out.notes if (n.start_tick, n.pitch) not in before]
    assert len(added) >= 10
    in_key = np.mean(M.scale_mask(semitones % 12, False)[np.asarray(added) % 12])
    assert in_key >= 0.75, f"only {in_key:.0%} of the added notes are in the key"


def test_notes_it_leaves_whole_stay_as_played_when_it_adds_the_same_pitch_right_after():
    from deepcomposer_desktop.ml.arcnn.generate import enhance
    song = load_sample("ode_to_joy")             # notes longer than their 16th cells: 648 ticks at 480 PPQ
    out = enhance(song, 0, 100, 0, 500, 1.0, seed=1)
    played = {(n.start_tick, n.pitch, n.duration_tick) for n in song.tracks[0].notes}
    kept = {(n.start_tick, n.pitch, n.duration_tick) for n in out.notes}
    assert played <= kept                                  # 3 were cut to 600 / 840 ticks by an added neighbour
    assert len(out.notes) > len(song.tracks[0].notes)


def test_added_notes_move_off_the_kept_ones():
    from deepcomposer_desktop.core.song import Note
    from deepcomposer_desktop.ml.arcnn.generate import _clear_of
    kept = [Note.make(60, 0, 648)]
    new = [Note.make(60, 600, 240), Note.make(60, 720, 120), Note.make(60, 480, 120), Note.make(62, 600, 240)]
    assert [(n.start_tick, n.duration_tick) for n in _clear_of(new, kept)] == [(648, 192), (720, 120), (600, 240)]
