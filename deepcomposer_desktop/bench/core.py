"""Core figures: MIDI import/export speed and fuzz-free round trips on a large synthetic file."""
from __future__ import annotations

import random
import time

from . import Figure


def big_song(n_events: int = 500_000, tracks: int = 8):
    """A synthetic song with about ``n_events`` MIDI events (two per note; no two notes of one pitch overlap, as
    in a file)."""
    from ..core.edits import untangle_notes
    from ..core.song import Note, Song, Track
    rng = random.Random(1)
    per = n_events // 2 // tracks
    out = []
    for t in range(tracks):
        notes, tick = [], 0
        for _ in range(per):
            tick += rng.choice((0, 60, 120, 240))
            notes.append(Note(start_tick=tick, pitch=rng.randint(36, 96), duration_tick=rng.choice((60, 120, 480)),
                              velocity=rng.randint(40, 120)))
        out.append(Track(name=f"Part {t + 1}", program=t * 8, notes=untangle_notes(notes)))
    return Song(tracks=tuple(out))


def run(quick: bool) -> list[Figure]:
    from ..midi.io import midi_bytes, read_midi
    n = 50_000 if quick else 500_000
    song = big_song(n)
    t0 = time.perf_counter()
    data = midi_bytes(song)
    t1 = time.perf_counter()
    back = read_midi(data)
    t2 = time.perf_counter()
    assert back.note_count == song.note_count
    return [Figure(f"export MIDI, {n:,} events", (t1 - t0), "s"),
            Figure(f"import MIDI, {n:,} events ({len(data) // 1024} KiB)", (t2 - t1), "s", "seconds, off GUI thread")]
