"""Step-note helpers shared by the genre builders: notes on a 16th grid -> bool rolls, monophony, lowest voice.

A step note is ``(start_step, end_step, pitch)`` with ``end_step > start_step`` (end exclusive).
"""
from __future__ import annotations

import numpy as np

from ...core.song import Song, Track
from . import PITCHES


def notes_to_roll(notes, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(roll, onsets) bool (n_steps, 128) from step notes; notes outside [0, n_steps) are clipped."""
    roll = np.zeros((n_steps, PITCHES), dtype=bool)
    onsets = np.zeros((n_steps, PITCHES), dtype=bool)
    for s, e, p in notes:
        if not 0 <= p < PITCHES or e <= 0 or s >= n_steps:
            continue
        roll[max(s, 0):min(e, n_steps), p] = True
        if s >= 0:
            onsets[s, p] = True
    return roll, onsets


def monophonic(notes) -> list[tuple[int, int, int]]:
    """One note at a time: of notes starting together keep the highest; a note ends where the next one starts."""
    by_start: dict[int, tuple[int, int, int]] = {}
    for s, e, p in notes:
        if s not in by_start or p > by_start[s][2]:
            by_start[s] = (s, e, p)
    starts = sorted(by_start)
    out = []
    for k, s in enumerate(starts):
        _, e, p = by_start[s]
        if k + 1 < len(starts):
            e = min(e, starts[k + 1])
        out.append((s, max(e, s + 1), p))
    return out


def split_lowest_voice(notes, below: int = 60) -> tuple[list, list]:
    """(bass, rest): a note goes to the bass when it is below ``below`` and no lower note of ``notes`` sounds at
    its start step. The bass is then made monophonic (lowest wins where two start together)."""
    notes = sorted(notes)
    if not notes:
        return [], []
    n_steps = max(e for _, e, _ in notes) + 1
    low = np.full(n_steps, PITCHES, dtype=np.int64)
    for s, e, p in notes:
        seg = low[max(s, 0):e]
        np.minimum(seg, p, out=seg)
    bass, rest = [], []
    for s, e, p in notes:
        (bass if p < below and s >= 0 and low[s] >= p else rest).append((s, e, p))
    # monophonic with the lowest (not highest) of simultaneous starts
    inv = monophonic([(s, e, -p) for s, e, p in bass])
    mono = [(s, e, -p) for s, e, p in inv]
    kept = {(s, p) for s, _, p in mono}
    rest += [n for n in bass if (n[0], n[2]) not in kept]
    return mono, sorted(rest)


def track_step_notes(track: Track, ppq: int, offset_tick: int = 0, steps_per_beat: int = 4):
    """Step notes of ``track`` on a plain tick grid (``ppq / steps_per_beat`` ticks per step) from ``offset_tick``."""
    st = ppq / steps_per_beat
    out = []
    for n in track.notes:
        s = int(round((n.start_tick - offset_tick) / st))
        e = max(s + 1, int(round((n.end_tick - offset_tick) / st)))
        if e > 0:
            out.append((s, e, n.pitch))
    return out


def beat_step_notes(track: Track, beat_ticks: np.ndarray, first_downbeat: int, steps_per_beat: int = 4):
    """Step notes on a grid that follows measured beats: ``beat_ticks`` are the ticks of beats 0..K, the grid
    starts at beat ``first_downbeat``. Times between beats are interpolated; past the ends the grid goes on
    at the nearest beat spacing."""
    b = np.asarray(beat_ticks, dtype=np.float64)
    idx = np.arange(len(b), dtype=np.float64)
    ticks = np.array([[n.start_tick, n.end_tick] for n in track.notes], dtype=np.float64).reshape(-1, 2)
    pos = np.interp(ticks, b, idx)
    if len(b) >= 2:
        lo, hi = ticks < b[0], ticks > b[-1]
        pos[lo] = (ticks[lo] - b[0]) / (b[1] - b[0])
        pos[hi] = len(b) - 1 + (ticks[hi] - b[-1]) / (b[-1] - b[-2])
    steps = np.rint((pos - first_downbeat) * steps_per_beat).astype(np.int64)
    out = []
    for (s, e), n in zip(steps, track.notes):
        e = max(e, s + 1)
        if s >= 0:
            out.append((int(s), int(e), n.pitch))
    return out


def find_track(song: Song, *names: str) -> Track | None:
    """The first track whose name (case-insensitive) is one of ``names``."""
    wanted = {n.lower() for n in names}
    for t in song.tracks:
        if t.name.strip().lower() in wanted:
            return t
    return None
