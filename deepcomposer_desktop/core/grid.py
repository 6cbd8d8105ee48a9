"""Song <-> piano-roll arrays for the models (numpy only, no torch).

A roll is ``(steps, 128)`` per track: 0 = silent, >0 = sounding. ``onsets`` marks where a note starts so that
repeated notes survive the round trip. Steps are ``steps_per_beat`` per quarter note (4 = sixteenth notes).
"""
from __future__ import annotations

import numpy as np

from .song import Note, Song, SongError, Track


def step_ticks(ppq: int, steps_per_beat: int) -> int:
    if steps_per_beat <= 0 or ppq % steps_per_beat:
        raise SongError(f"PPQ {ppq} cannot be divided into {steps_per_beat} steps per beat")
    return ppq // steps_per_beat


def track_to_roll(track: Track, ppq: int, steps_per_beat: int = 4, n_steps: int | None = None,
                  start_tick: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(roll, onsets): uint8 velocity roll ``(n_steps, 128)`` and bool onset roll of the same shape.

    Notes are rounded to the nearest step; a note always covers at least one step.
    """
    st = step_ticks(ppq, steps_per_beat)
    if n_steps is None:
        n_steps = max(0, -(-(track.end_tick - start_tick) // st))
    roll = np.zeros((n_steps, 128), dtype=np.uint8)
    onsets = np.zeros((n_steps, 128), dtype=bool)
    for n in track.notes:
        s = int(round((n.start_tick - start_tick) / st))
        e = max(s + 1, int(round((n.end_tick - start_tick) / st)))
        if e <= 0 or s >= n_steps:
            continue
        s0, e0 = max(s, 0), min(e, n_steps)
        roll[s0:e0, n.pitch] = n.velocity
        if s >= 0:
            onsets[s, n.pitch] = True
    return roll, onsets


def roll_to_notes(roll: np.ndarray, ppq: int, steps_per_beat: int = 4, onsets: np.ndarray | None = None,
                  velocity: int | None = None, start_tick: int = 0) -> list[Note]:
    """Notes from a ``(steps, 128)`` roll. A note starts where the cell turns on, or at an onset inside a run.

    Raises SongError on a roll of the wrong shape.
    """
    roll = np.asarray(roll)
    if roll.ndim != 2 or roll.shape[1] != 128:
        raise SongError(f"A piano roll must have shape (steps, 128), got {roll.shape}")
    st = step_ticks(ppq, steps_per_beat)
    on = roll > 0
    if onsets is not None:
        onsets = np.asarray(onsets, dtype=bool) & on
    notes = []
    n_steps = on.shape[0]
    for pitch in np.nonzero(on.any(axis=0))[0]:
        col = on[:, pitch]
        starts = col & ~np.concatenate(([False], col[:-1]))
        if onsets is not None:
            starts |= onsets[:, pitch]
        idx = np.nonzero(starts)[0]
        for k, s in enumerate(idx):
            e = s + 1
            limit = idx[k + 1] if k + 1 < len(idx) else n_steps
            while e < limit and col[e]:
                e += 1
            v = velocity if velocity is not None else int(roll[s, pitch]) if roll.dtype != bool else 100
            v = int(min(127, max(1, v if v > 1 or roll.dtype == bool else 100)))
            notes.append(Note(start_tick=start_tick + int(s) * st, pitch=int(pitch), duration_tick=int(e - s) * st,
                              velocity=v))
    notes.sort()
    return notes


def song_to_rolls(song: Song, steps_per_beat: int = 4, n_steps: int | None = None) -> np.ndarray:
    """Binary rolls for every track: bool ``(tracks, steps, 128)``."""
    st = step_ticks(song.ppq, steps_per_beat)
    if n_steps is None:
        n_steps = -(-song.end_tick // st)
    if not song.tracks:
        return np.zeros((0, n_steps, 128), dtype=bool)
    return np.stack([track_to_roll(t, song.ppq, steps_per_beat, n_steps)[0] > 0 for t in song.tracks])
