"""Custom genres: a folder of the user's MIDI files -> the same 8-bar training windows as the genre caches.

The melody track is found per file (``core.analysis.guess_melody_index``) or named by the user (track name or
index); every other track goes to one of four accompaniment roles — drums, bass, harmony, other — by its GM
family, so any band layout becomes ``(N, 4, 128, 128)``. Only stretches in 4/4, 2/2 or 2/4 of at least 4 bars are
used (two 2/4 bars make one 4/4 bar), as the shipped builders do (``musicxml.duple_runs``); bars are counted from
each stretch's start. Both the Training studio and ``deepcomposer train gan --data FOLDER`` read folders here.
"""
from __future__ import annotations

import math
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
DUPLE_BARS = 4                          # a stretch in 4/4, 2/2 or 2/4 is used when it lasts this many 4/4 bars
DUPLE = {(4, 4), (2, 2), (2, 4)}
ONLY_DRUMS = "it has only drums: there is no melody to learn from"
NO_PARTS = "it has only a melody: there are no other parts to learn from"


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


def song_measures(song) -> list:
    """The song's bars as ``musicxml.Measure`` (offsets and lengths in quarter notes) from its time signatures, up to
    the bar of its last note; a bar cut short by the next time signature has its real (shorter) length."""
    from .musicxml import Measure
    sigs: dict[int, tuple[int, int]] = {0: (4, 4)}
    for ts in sorted(song.time_signatures, key=lambda ts: ts.tick):
        sigs[ts.tick] = (ts.numerator, ts.denominator)       # the last of several at one tick wins
    ticks = sorted(sigs)
    end = song.end_tick
    out = []
    for k, t0 in enumerate(ticks):
        if t0 >= end:
            break
        num, den = sigs[t0]
        length = song.ppq * 4 * num / den                     # ticks per bar
        t1 = ticks[k + 1] if k + 1 < len(ticks) else t0 + math.ceil((end - t0) / length - 1e-9) * length
        t = float(t0)
        while t < t1 - 1e-6:
            out.append(Measure(t / song.ppq, (min(t + length, t1) - t) / song.ppq, num, den))
            t += length
    return out


def duple_stretches(song, min_bars: int = DUPLE_BARS) -> list[tuple[int, int]]:
    """(start, end) ticks of the stretches in 4/4, 2/2 or 2/4 lasting at least ``min_bars`` 4/4 bars, each cut to
    whole 4/4 bars (``musicxml.duple_runs``, as the shipped symphony builder uses them)."""
    from .musicxml import duple_runs
    return [(int(round(a * song.ppq)), int(round(b * song.ppq)))
            for a, b in duple_runs(song_measures(song), min_bars)]


def _stretch_notes(track, ppq: int, start: int, end: int, drum: bool = False) -> list[tuple[int, int, int]]:
    """Step notes of ``track`` that start in the tick stretch [start, end), in steps from its start."""
    n = int(round((end - start) * 4 / ppq))
    out = []
    for s, e, p in track_step_notes(track, ppq, start):
        if 0 <= s < n:
            out.append((s, s + 1 if drum else min(e, n), p))
    return out


def _metre_problem(song) -> str:
    """Why a song has no stretch to learn from in 4/4 (its metres named)."""
    meters = sorted({(ts.numerator, ts.denominator) for ts in song.time_signatures} or {(4, 4)})
    names = ", ".join(f"{a}/{b}" for a, b in meters)
    if not set(meters) & DUPLE:
        return f"not in 4/4 (only {names})"
    if set(meters) <= DUPLE:
        return f"it is shorter than {DUPLE_BARS} bars"
    return f"not in 4/4 for {DUPLE_BARS} bars in a row anywhere (it is in {names})"


def _no_melody(song, melody_track) -> str:
    """Why no melody could be taken from ``song`` (``melody_track``: the user's choice, or None for a guess)."""
    if melody_track not in (None, ""):
        if isinstance(melody_track, int):
            return f"it has no track {melody_track + 1} with notes to use as the melody"
        return f"no melody track named '{melody_track}'"
    sounding = [t for t in song.tracks if t.notes]
    if sounding and all(t.is_drum for t in sounding):
        return ONLY_DRUMS
    return "no track with notes to use as the melody"


def _file_windows(song, mi: int, stretches, stride_bars: int):
    """The windows of one file's duple stretches (one song, in a collector of its own), the bars they span and the
    (role, index, track) of every part with notes there."""
    col = WindowCollector(n_tracks=len(ROLES), stride_bars=stride_bars)
    others = [(i, t, role_of(t)) for i, t in enumerate(song.tracks) if i != mi and t.notes]
    used, bars = set(), 0
    for a, b in stretches:
        n = int(round((b - a) * 4 / song.ppq))
        mel = monophonic(_stretch_notes(song.tracks[mi], song.ppq, a, b))
        if not mel:
            continue
        parts = [[] for _ in ROLES]
        for i, t, r in others:
            notes = _stretch_notes(t, song.ppq, a, b, drum=t.is_drum)
            used.update([i] if notes else [])
            parts[r] += notes
        m, mo = notes_to_roll(mel, n)
        rolls = [notes_to_roll(p, n) for p in parts]
        col.add_song("", m, mo, np.stack([r[0] for r in rolls]), np.stack([r[1] for r in rolls]),
                     same_song=bool(col.titles))
        bars += -(-n // 16)
    return col, bars, [(r, i, t) for i, t, r in others if i in used]


def build_from_folder(folder, melody_track=None, progress: ProgressFn = None, should_stop: StopFn = None,
                      stride_bars: int = 4, out: str | None = None):
    """``(melody, accomp, onsets_melody, onsets_accomp, song_id, meta, report)`` from every MIDI file in ``folder``.

    Arrays are bool as from ``load_cache`` (accomp has the 4 ROLES as tracks). ``melody_track``: see
    :func:`pick_melody` (an int is a 0-based track index). ``report`` is a dict for the UI: files, skipped
    ([file, why]), melody (file -> chosen track), and of the files whose windows are used only: songs, bars,
    windows, tracks (role -> source track names), instruments (role -> GM names). ``out``: also write the cache there.
    Raises DataError (its ``skipped`` says why for each file) when the folder is missing or yields no usable window,
    a folder of melodies without other parts included; raises Cancelled on stop.
    """
    from ...core.edits import rescale_song
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
            song = rescale_song(song, 480)               # a grid of 16ths either way
        mi = pick_melody(song, melody_track)
        if mi is None or not song.tracks[mi].notes or song.tracks[mi].is_drum:
            skipped.append([rel, _no_melody(song, melody_track)])
            continue
        stretches = duple_stretches(song)
        if not stretches:
            skipped.append([rel, _metre_problem(song)])
            continue
        chosen[rel] = song.tracks[mi].name or f"track {mi + 1}"
        got, got_bars, parts = _file_windows(song, mi, stretches, stride_bars)
        if not parts:
            skipped.append([rel, NO_PARTS])
            continue
        if not len(got):
            skipped.append([rel, "the melody is silent in too many bars (or the file is shorter than 4 bars)"])
            continue
        col.titles.append(os.path.splitext(rel)[0])      # the file's windows, as one more song
        for name in ("mel", "acc", "om", "oa"):
            getattr(col, name).extend(getattr(got, name))
        col.sid.extend([len(col.titles) - 1] * len(got))
        bars += got_bars
        for r, i, t in parts:
            role_tracks[ROLES[r]][t.name or f"track {i + 1}"] += 1
            role_programs[ROLES[r]][t.program] += 1
    report(progress, 1.0, f"{len(col)} training windows from {len(col.titles)} files")
    if not len(col):
        why = "; ".join(f"{f}: {w}" for f, w in skipped[:5])
        head = (f"None of the {len(files)} MIDI files in {folder} has a melody and other parts to learn from"
                if skipped and all(w == NO_PARTS for _, w in skipped) else f"No usable 8-bar stretches in {folder}")
        raise DataError(head + (f" ({why})" if why else ""), skipped)
    tracks = []
    for r in ROLES:
        prog = role_programs[r].most_common(1)[0][0] if role_programs[r] else DEFAULT_PROGRAM[r]
        tracks.append(track_info(r, 0 if r == "Drums" else prog, r == "Drums",
                                 f"real: {folder} ({', '.join(n for n, _ in role_tracks[r].most_common(4)) or 'none'})"))
    meta = {"genre": os.path.basename(os.path.normpath(folder)), "tracks": tracks,
            "sources": [{"folder": folder, "licence": "the user's own files", "songs": len(col.titles)}],
            "melody_track": melody_track, "bars": 8, "steps_per_bar": 16, "songs": list(col.titles)}
    rep = {"songs": len(col.titles), "files": len(files), "skipped": skipped, "bars": bars, "windows": len(col),
           "tracks": {r: dict(role_tracks[r]) for r in ROLES},
           "instruments": {r: (["Drum kit"] if role_programs[r] else []) if r == "Drums" else
                           [PROGRAM_NAMES[p] for p, _ in role_programs[r].most_common()] for r in ROLES},
           "melody": chosen}
    mel_p, acc_p, om_p, oa_p, sid = col.arrays()
    if out is not None:
        save_cache(out, mel_p, acc_p, om_p, oa_p, sid, meta)
    return unpack(mel_p), unpack(acc_p), unpack(om_p), unpack(oa_p), sid, meta, rep
