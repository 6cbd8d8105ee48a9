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
