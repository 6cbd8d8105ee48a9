"""Transformer extend figures: continuing 8 bars by 30 s on one CPU thread (melody and all tracks)."""
from __future__ import annotations

import time

from . import Figure


def _input_song():
    """8 bars of a built-in melody plus a simple two-note chord part (4/4, 110 BPM)."""
    from ..core.edits import slice_bars
    from ..core.song import Note, Track
    from ..samples import load_sample
    song = slice_bars(load_sample("ode_to_joy"), 0, 8)
    bar = song.bar_ticks
    chords = tuple(Note.make(p, b * bar, bar, 70) for b in range(8) for p in (48, 55))
    return song.with_tracks(song.tracks + (Track("Chords", 0, notes=chords),), melody_index=0)


def run(quick: bool) -> list[Figure]:
    import torch
    torch.set_num_threads(1)
    from ..core.timing import song_duration_seconds
    from ..ml.common import ModelError
    from ..ml.transformer.generate import extend, load_model
    song = _input_song()
    try:
        t0 = time.perf_counter()
        load_model()
        load_s = time.perf_counter() - t0
    except ModelError as exc:
        return [Figure(f"no Transformer model installed ({exc})", 0.0, "")]
    figs = [Figure("load the model (first use)", load_s, "s")]
    modes = ("melody",) if quick else ("melody", "all")
    for tracks in modes:
        t0 = time.perf_counter()
        out = extend(song, seconds=30.0, context_bars=8, tracks=tracks, seed=0)[0]
        dt = time.perf_counter() - t0
        added = song_duration_seconds(out) - song_duration_seconds(song)
        figs.append(Figure(f"extend 8 bars by 30 s, tracks={tracks}, 1 thread ({out.note_count - song.note_count}"
                           f" notes, +{added:.0f} s)", dt, "s", "<= 3 s"))
    return figs
