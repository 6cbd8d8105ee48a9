"""Custom genres: a folder of the user's MIDI files -> the same 8-bar training windows as the genre caches.

The melody track is found per file (``core.analysis.guess_melody_index``) or named by the user (track name or
index); every other track goes to one of four accompaniment roles — drums, bass, harmony, other — by its GM
family, so any band layout becomes ``(N, 4, 128, 128)``. Bars are counted from the file's tick 0 in 4/4.
"""
from __future__ import annotations

import os
from collections import Counter

import numpy as np

from ...core.analysis import guess_melody_index
from ...core.gm import PROGRAM_NAMES
from ..common import ProgressFn, StopFn, check_stop, report
from . import DataError, WindowCollector, save_cache, track_info, unpack
from .rolls import monophonic, notes_to_roll, track_step_notes

ROLES = ("Drums", "Bass", "Harmony", "Other")
DEFAULT_PROGRAM = {"Drums": 0, "Bass": 33, "Harmony": 0, "Other": 48}
HARMONY_FAMILIES = {0, 2, 3, 5, 6, 11}     # piano, organ, guitar, strings, ensemble, synth pad
MIDI_EXT = (".mid", ".midi", ".kar")


def role_of(track) -> int:
    """Index into ROLES for a (non-melody) track."""
    if track.is_drum:
        return 0
    name = track.name.lower()
    if track.program // 8 == 4 or ("bass" in name and "drum" not in name and "bassoon" not in name):
        return 1
    if track.program // 8 in HARMONY_FAMILIES:
        return 2
    return 3


def pick_melody(song, melody_track) -> int | None:
    """Index of the melody: the user's track (index, or name — exact, then contained, case-insensitive) or a guess.

    Returns None when the user's choice is not in this file.
    """
    if melody_track is None or melody_track == "":
        return guess_melody_index(song)
    if isinstance(melody_track, int) or (isinstance(melody_track, str) and melody_track.isdigit()):
        i = int(melody_track)
        return i if 0 <= i < len(song.tracks) else None
    want = str(melody_track).strip().lower()
    for exact in (True, False):
        for i, t in enumerate(song.tracks):
            n = t.name.strip().lower()
            if (n == want) if exact else (want in n):
                return i
    return None


def midi_files(folder) -> list[str]:
    out = []
    for root, _, files in os.walk(folder):
        out += [os.path.join(root, f) for f in files if f.lower().endswith(MIDI_EXT)]
    return sorted(out)


def require_midi_files(folder) -> list[str]:
    """The MIDI files under ``folder``; raises DataError when it is missing or holds none."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise DataError(f"The folder {folder} does not exist")
    files = midi_files(folder)
    if not files:
        raise DataError(f"There are no MIDI files (.mid) in {folder}")
    return files


def build_from_folder(folder, melody_track=None, progress: ProgressFn = None, should_stop: StopFn = None,
                      stride_bars: int = 4, out: str | None = None):
    """``(melody, accomp, onsets_melody, onsets_accomp, song_id, meta, report)`` from every MIDI file in ``folder``.

    Arrays are bool as from ``load_cache`` (accomp has the 4 ROLES as tracks). ``report`` is a dict for the UI:
    songs, skipped ([file, why]), bars, windows, tracks (role -> source track names), instruments
    (role -> GM names), melody (file -> chosen track). ``out``: also write the cache there.
    Raises DataError when the folder is missing or yields no usable window; raises Cancelled on stop.
    """
    from ...midi.io import MidiFileError, read_midi

    folder = os.fspath(folder)
    files = require_midi_files(folder)
    col = WindowCollector(n_tracks=len(ROLES), stride_bars=stride_bars)
    skipped, chosen, bars = [], {}, 0
    role_tracks = {r: Counter() for r in ROLES}
    role_programs = {r: Counter() for r in ROLES}
    for k, path in enumerate(files):
        check_stop(should_stop)
        report(progress, k / len(files), f"reading {os.path.basename(path)}")
        rel = os.path.relpath(path, folder)
        try:
            song = read_midi(path)
        except MidiFileError as e:
            skipped.append([rel, str(e)])
            continue
        if song.ppq % 4:
            skipped.append([rel, f"its resolution ({song.ppq} ticks per beat) cannot be split into 16ths"])
            continue
        meters = {(ts.numerator, ts.denominator) for ts in song.time_signatures}
        if meters and not meters & {(4, 4), (2, 2), (2, 4)}:
            skipped.append([rel, "not in 4/4 (only " + ", ".join(f"{a}/{b}" for a, b in sorted(meters)) + ")"])
            continue
        mi = pick_melody(song, melody_track)
        if mi is None or not song.tracks[mi].notes or song.tracks[mi].is_drum:
            skipped.append([rel, f"no melody track named '{melody_track}'" if melody_track not in (None, "")
                            else "no track with notes to use as the melody"])
            continue
        mel = monophonic(track_step_notes(song.tracks[mi], song.ppq))
        parts = [[] for _ in ROLES]
        for i, t in enumerate(song.tracks):
            if i == mi or not t.notes:
                continue
            r = role_of(t)
            notes = track_step_notes(t, song.ppq)
            if t.is_drum:
                notes = [(s, s + 1, p) for s, _, p in notes]
            parts[r] += notes
            role_tracks[ROLES[r]][t.name or f"track {i + 1}"] += 1
            role_programs[ROLES[r]][t.program] += 1
        n = max((e for part in [mel] + parts for _, e, _ in part), default=0)
        m, mo = notes_to_roll(mel, n)
        rolls = [notes_to_roll(p, n) for p in parts]
        kept = col.add_song(os.path.splitext(rel)[0], m, mo, np.stack([r[0] for r in rolls]),
                            np.stack([r[1] for r in rolls]))
        if kept == 0:
            skipped.append([rel, "the melody is silent in too many bars (or the file is shorter than 4 bars)"])
        chosen[rel] = song.tracks[mi].name or f"track {mi + 1}"
        bars += -(-n // 16)
    report(progress, 1.0, f"{len(col)} training windows from {len(chosen)} files")
    if not len(col):
        why = "; ".join(f"{f}: {w}" for f, w in skipped[:5])
        raise DataError(f"No usable 8-bar stretches in {folder}" + (f" ({why})" if why else ""), skipped)
    tracks = []
    for r in ROLES:
        prog = role_programs[r].most_common(1)[0][0] if role_programs[r] else DEFAULT_PROGRAM[r]
        tracks.append(track_info(r, 0 if r == "Drums" else prog, r == "Drums",
                                 f"real: {folder} ({', '.join(n for n, _ in role_tracks[r].most_common(4)) or 'none'})"))
    meta = {"genre": os.path.basename(os.path.normpath(folder)), "tracks": tracks,
            "sources": [{"folder": folder, "licence": "the user's own files", "songs": len(col.titles)}],
            "melody_track": melody_track, "bars": 8, "steps_per_bar": 16, "songs": list(col.titles)}
    rep = {"songs": len(chosen), "files": len(files), "skipped": skipped, "bars": bars, "windows": len(col),
           "tracks": {r: dict(role_tracks[r]) for r in ROLES},
           "instruments": {r: (["Drum kit"] if role_programs[r] else []) if r == "Drums" else
                           [PROGRAM_NAMES[p] for p, _ in role_programs[r].most_common()] for r in ROLES},
           "melody": chosen}
    mel_p, acc_p, om_p, oa_p, sid = col.arrays()
    if out is not None:
        save_cache(out, mel_p, acc_p, om_p, oa_p, sid, meta)
    return unpack(mel_p), unpack(acc_p), unpack(om_p), unpack(oa_p), sid, meta, rep
