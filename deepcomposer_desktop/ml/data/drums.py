"""Real drum parts from Groove MIDI (Magenta, CC BY 4.0): human performances quantised to the 16th grid.

Groove's Roland kit notes are reduced to 9 GM drum notes (the mapping of the Groove MIDI paper). The drums are
recorded apart from any song: a builder pairs each song with one performance (chosen by a seeded RNG) and loops
it, bar-aligned, over the song's length.
"""
from __future__ import annotations

import csv
import os

import numpy as np

from . import PITCHES, STEPS_PER_BAR, DataError

GROOVE = "groove_midi/groove"
LICENCE = "CC BY 4.0"
# Groove MIDI paper, table 2: Roland TD-11 note -> canonical GM drum note
GM_REDUCE = {36: 36, 38: 38, 40: 38, 37: 38, 48: 50, 50: 50, 45: 47, 47: 47, 43: 43, 58: 43, 46: 46, 26: 46,
             42: 42, 22: 42, 44: 42, 49: 49, 55: 49, 57: 49, 52: 49, 51: 51, 59: 51, 53: 51}


def groove_rows(data_dir, styles, beat_type: str = "beat", meter: str = "4-4") -> list[dict]:
    """Rows of Groove's info.csv whose main style (before '/') is in ``styles``."""
    path = os.path.join(os.fspath(data_dir), GROOVE, "info.csv")
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise DataError(f"Cannot read the Groove MIDI index {path}: {e}") from None
    return [r for r in rows if r["style"].split("/")[0] in styles and r["beat_type"] == beat_type
            and r["time_signature"] == meter]


def quantise_drums(song, min_bars: int = 2) -> np.ndarray | None:
    """Bool (steps, 128) hits (one step each) of a one-kit Groove song, whole bars only; None when too short."""
    st = song.ppq / 4
    hits = []
    for t in song.tracks:
        for n in t.notes:
            p = GM_REDUCE.get(n.pitch)
            if p is not None:
                hits.append((int(round(n.start_tick / st)), p))
    if not hits:
        return None
    # whole bars, rounded: a lone hit on the downbeat after the last bar (a final crash) is dropped
    n_bars = (max(s for s, _ in hits) + 1 + STEPS_PER_BAR // 2) // STEPS_PER_BAR
    if n_bars < min_bars:
        return None
    roll = np.zeros((n_bars * STEPS_PER_BAR, PITCHES), dtype=bool)
    for s, p in hits:
        if s < roll.shape[0]:
            roll[s, p] = True
    return roll


def load_pool(data_dir, styles, progress=None) -> tuple[list[np.ndarray], list[str]]:
    """(rolls, names): every 4/4 Groove 'beat' performance of ``styles``, quantised."""
    from ...midi.io import MidiFileError, read_midi

    rows = groove_rows(data_dir, styles)
    rolls, names = [], []
    for i, r in enumerate(rows):
        try:
            song = read_midi(os.path.join(os.fspath(data_dir), GROOVE, r["midi_filename"]))
        except (MidiFileError, OSError):
            continue
        roll = quantise_drums(song)
        if roll is not None:
            rolls.append(roll)
            names.append(r["midi_filename"])
        if progress is not None:
            progress((i + 1) / len(rows), f"drums {i + 1}/{len(rows)}")
    if not rolls:
        raise DataError(f"No usable Groove MIDI performances for styles {', '.join(styles)}")
    return rolls, names


def loop_drums(pool: list[np.ndarray], n_steps: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """(roll (n_steps, 128), index): one performance from ``pool``, started at a random bar and looped."""
    k = int(rng.integers(len(pool)))
    roll = pool[k]
    bars = roll.shape[0] // STEPS_PER_BAR
    start = int(rng.integers(bars)) * STEPS_PER_BAR
    idx = (start + np.arange(n_steps)) % roll.shape[0]
    return roll[idx], k


def pool_meta(styles, names) -> dict:
    return {"folder": "groove_midi", "licence": LICENCE, "songs": len(names),
            "note": f"drum performances, styles {'/'.join(styles)}, 4/4 beats (no fills)"}


def drummed_meta(genre: str, tracks, source: dict, styles, pool_names, drum_of, skipped, notes: str) -> dict:
    """Cache metadata of a genre whose drums come from the Groove pool: the song source plus the drum source,
    which drum performance each song got, what was skipped and why."""
    return {"genre": genre, "tracks": tracks, "sources": [source, pool_meta(styles, pool_names)],
            "drums_per_song": drum_of, "skipped": skipped, "notes": notes}
