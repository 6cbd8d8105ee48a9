"""The shipped GAN genres (skipped when a model file is absent): each part plays in its own register, whatever the
melody's key or octave, and the chorale's voices keep their order."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from deepcomposer_desktop.core.edits import transpose  # noqa: E402
from deepcomposer_desktop.samples import load_sample  # noqa: E402

MODELS = Path(__file__).resolve().parents[2] / "models"
GENRES = ("chorale", "pop", "rock", "jazz", "symphony", "folk")


@pytest.mark.parametrize("genre", GENRES)
def test_every_part_stays_in_its_real_register_in_any_key_and_octave(genre):
    from deepcomposer_desktop.ml.gan.generate import accompany, load_model
    path = MODELS / f"gan-{genre}.pt"
    if not path.is_file():
        pytest.skip(f"no shipped {genre} model")
    model = load_model(path)
    ranges = {name: (lo, hi) for t, lo, hi in zip(model.tracks, model.decode.low, model.decode.high)
              if not t.get("is_drum") for name in [t["name"]] + [s["name"] for s in t.get("sections", [])]}
    assert all(0 < lo and hi < 127 for lo, hi in ranges.values())          # every pitched part has its range
    melody = load_sample("ode_to_joy")
    for semitones in (-19, 6, 17):                     # far down, F sharp, far up: the band stays where it plays
        song = melody.replace_track(0, transpose(melody.tracks[0], semitones))
        out, = accompany(song, genre, seed=1)
        for track in out.tracks[1:]:
            if track.is_drum:
                continue
            lo, hi = ranges[track.name]
            assert all(lo <= n.pitch <= hi for n in track.notes), (genre, semitones, track.name)
        whole = {part["name"] for part in model.tracks}                   # a section may be empty, a part not
        assert all(t.notes for t in out.tracks[1:] if t.name in whole), (genre, semitones)


def test_the_symphony_woodwinds_play_on_the_instruments_of_their_register():
    from deepcomposer_desktop.ml.gan.generate import accompany
    if not (MODELS / "gan-symphony.pt").is_file():
        pytest.skip("no shipped symphony model")
    out, = accompany(load_sample("ode_to_joy"), "symphony", seed=1)
    band = {t.name: t for t in out.tracks[1:]}
    assert list(band) == ["Low strings", "High strings", "Flutes", "Clarinets", "Bassoons", "Brass & timpani"]
    assert [band[n].program for n in ("Flutes", "Clarinets", "Bassoons")] == [73, 71, 70]
    assert band["Flutes"].notes and all(n.pitch >= 72 for n in band["Flutes"].notes)
    assert band["Clarinets"].notes and all(55 <= n.pitch < 72 for n in band["Clarinets"].notes)
    assert band["Bassoons"].notes and all(n.pitch < 55 for n in band["Bassoons"].notes)


def test_the_chorale_voices_keep_their_order():
    from deepcomposer_desktop.core.grid import track_to_roll
    from deepcomposer_desktop.ml.gan.generate import accompany
    if not (MODELS / "gan-chorale.pt").is_file():
        pytest.skip("no shipped chorale model")
    crossed = shared = 0
    for name in ("ode_to_joy", "twinkle_twinkle"):
        out, = accompany(load_sample(name), "chorale", seed=2)
        song = out
        tenor, bass = (track_to_roll(t, song.ppq, 4, 256)[0] > 0 for t in song.tracks[-2:])
        top_bass = np.where(bass.any(1), 127 - bass[:, ::-1].argmax(1), -1)
        low_tenor = np.where(tenor.any(1), tenor.argmax(1), -1)
        both = (top_bass >= 0) & (low_tenor >= 0)
        shared += both.sum()
        crossed += (both & (low_tenor < top_bass)).sum()
    assert shared > 50 and crossed / shared < 0.15          # it was 0.82 with the voices' heads swapped
