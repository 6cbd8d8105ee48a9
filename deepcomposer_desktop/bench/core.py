"""Core figures: MIDI import/export speed and fuzz-free round trips on a large synthetic file; the channel plan of
an export with more parts than channels (it runs on the GUI thread)."""
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


def turns_song(tracks: int = 100, notes: int = 5000, per_group: int = 10):
    """``tracks`` parts of ``notes`` notes each that take turns note by note: groups of ``per_group`` parts sound
    together, the groups taking turns note by note; half-way the parts form new groups (as the parts of a medley's
    songs would), so a part meets every other part of its two groups and no one else."""
    from ..core.song import Note, Song, Track
    groups = tracks // per_group
    out = []
    for t in range(tracks):
        first, second = t % groups, (t // groups) % groups
        out.append(Track(name=f"Part {t + 1}", program=t % 128, notes=tuple(
            Note(start_tick=(k * groups + (first if k < notes // 2 else second)) * 120, pitch=40 + (t * 7 + k) % 48,
                 duration_tick=110) for k in range(notes))))
    return Song(tracks=tuple(out))


def run(quick: bool) -> list[Figure]:
    from ..midi.channels import assign_channels, channel_turns
    from ..midi.io import midi_bytes, read_midi
    n = 50_000 if quick else 500_000
    song = big_song(n)
    t0 = time.perf_counter()
    data = midi_bytes(song)
    t1 = time.perf_counter()
    back = read_midi(data)
    t2 = time.perf_counter()
    assert back.note_count == song.note_count
    figures = [Figure(f"export MIDI, {n:,} events", (t1 - t0), "s"),
               Figure(f"import MIDI, {n:,} events ({len(data) // 1024} KiB)", (t2 - t1), "s",
                      "seconds, off GUI thread")]
    parts, notes = (40, 1_000) if quick else (100, 5_000)
    shared = turns_song(parts, notes)
    t0 = time.perf_counter()
    channel_turns(shared.tracks, assign_channels(shared.tracks))
    t1 = time.perf_counter()
    return figures + [Figure(f"channel plan, {parts} tracks x {notes:,} notes taking turns", t1 - t0, "s",
                             "< 1 s (GUI thread)")]
