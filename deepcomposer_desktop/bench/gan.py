"""GAN figures: time per 8-bar accompaniment on one CPU thread, for each installed genre (or a tiny stand-in)."""
from __future__ import annotations

import time

from . import Figure


def _melody(bars: int):
    from ..core.song import Note, Song, Track
    tune = [64, 64, 65, 67, 67, 65, 64, 62, 60, 60, 62, 64, 64, 62, 62, 60]
    notes = [Note.make(tune[i % len(tune)], i * 480, 480) for i in range(bars * 4)]
    return Song(tracks=(Track("Melody", 0, False, tuple(notes)),))


def run(quick: bool) -> list[Figure]:
    import torch
    torch.set_num_threads(1)
    from ..ml.gan.generate import accompany, available_genres, model_for_genre
    genres = available_genres()
    figures = []
    if not genres:
        return [Figure("no GAN models installed", 0.0, "", "")]
    reps = 2 if quick else 5
    for genre in genres[:2] if quick else genres:
        t0 = time.perf_counter()
        model_for_genre(genre)
        load = time.perf_counter() - t0
        song = _melody(8)
        accompany(song, genre)                                  # warm-up
        t0 = time.perf_counter()
        for k in range(reps):
            accompany(song, genre, seed=k)
        per = (time.perf_counter() - t0) / reps
        figures.append(Figure(f"{genre}: load model (first time)", load, "s"))
        figures.append(Figure(f"{genre}: 8-bar accompaniment, 1 CPU thread", per, "s", "< 1 s"))
        if genre == genres[0]:
            song = _melody(32)
            t0 = time.perf_counter()
            accompany(song, genre)
            figures.append(Figure(f"{genre}: 32-bar accompaniment (7 windows), 1 thread",
                                  time.perf_counter() - t0, "s"))
    return figures
