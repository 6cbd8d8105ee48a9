"""Folk set: Nottingham tunes (GPLv3), track 0 melody -> chords (real), bass (lowest chord note, by rule), a
second fiddle in harmony under the tune (by rule, from the real tune and chords) + Groove country/pop drums (real,
other recordings).

Only tunes whose time signatures are all 4/4, 2/2 or 2/4 are used (two 2/4 bars make one 4/4 bar); jigs (6/8),
waltzes (3/4) and others are skipped. The files put bar 1 at tick 0 (a pickup is preceded by rests).
"""
from __future__ import annotations

import glob
import os

import numpy as np

from ..common import ProgressFn, StopFn, check_stop, report
from . import DataError, WindowCollector, track_info
from . import drums as groove
from .rolls import monophonic, notes_to_roll, track_step_notes

ROOT = "nottingham/MIDI"
DRUM_STYLES = ("country", "pop")
TRACKS = [
    track_info("Chords", 21, False, "real: the tune's block chords (Nottingham chord track), played on accordion"),
    track_info("Bass", 32, False, "rule: the lowest note of each Nottingham chord, moved down by octaves into "
                                  "E1-D#2, with the chord's rhythm"),
    track_info("Harmony fiddle", 40, False, "rule: a second fiddle under the tune: for each tune note, the "
                                            "nearest tone of the sounding Nottingham chord a third to a sixth "
                                            "below it (3-9 semitones), held as long; a rest where there is none"),
    track_info("Drums", 0, True, "real: Groove MIDI country/pop beats, recorded apart from these tunes and paired "
                                 "with them at random (seeded), looped bar-aligned to the tune's length"),
]


def bass_from_chords(chords) -> list[tuple[int, int, int]]:
    """The lowest note of each chord onset, moved down by octaves into E1-D#2 (28-39)."""
    by_start: dict[int, tuple[int, int, int]] = {}
    for s, e, p in chords:
        if s not in by_start or p < by_start[s][2]:
            by_start[s] = (s, e, p)
    out = []
    for s, e, p in sorted(by_start.values()):
        while p > 39:
            p -= 12
        out.append((s, e, p))
    return monophonic(out)


def harmony_below(melody, chords, lowest: int = 3, highest: int = 9) -> list[tuple[int, int, int]]:
    """A harmony voice under a monophonic ``melody``: for each of its notes, the highest pitch at least ``lowest``
    and at most ``highest`` semitones below it whose pitch class is in the chord sounding at the note's start
    (as twin fiddles play: mostly thirds and sixths below the tune, always inside the harmony). No chord there,
    or no chord tone in that range: a rest. Step notes in, step notes out."""
    out = []
    for s, e, p in melody:
        pcs = {q % 12 for cs, ce, q in chords if cs <= s < ce}
        for q in range(p - lowest, p - highest - 1, -1):
            if q % 12 in pcs and q >= 0:
                out.append((s, e, q))
                break
    return out


def duple(song) -> bool:
    return all((ts.numerator, ts.denominator) in ((4, 4), (2, 2), (2, 4)) for ts in song.time_signatures)


def build(data_dir, progress: ProgressFn = None, should_stop: StopFn = None, stride_bars: int = 4,
          max_songs: int | None = None, seed: int = 0) -> tuple[WindowCollector, dict]:
    """8-bar windows of the duple-meter Nottingham tunes. Returns (collector, meta)."""
    from ...midi.io import MidiFileError, read_midi

    root = os.path.join(os.fspath(data_dir), ROOT)
    files = sorted(glob.glob(os.path.join(root, "*.mid")))
    if not files:
        raise DataError(f"No Nottingham MIDI files in {root}")
    if max_songs is not None:
        files = files[:max_songs]
    pool, pool_names = groove.load_pool(data_dir, DRUM_STYLES)
    rng = np.random.default_rng(seed)
    col = WindowCollector(n_tracks=len(TRACKS), stride_bars=stride_bars)
    skipped, drum_of = [], []
    for k, path in enumerate(files):
        check_stop(should_stop)
        report(progress, (k + 1) / len(files), f"folk {k + 1}/{len(files)}")
        name = os.path.basename(path)[:-4]
        try:
            song = read_midi(path)
        except MidiFileError as e:
            skipped.append(f"{name}: {e}")
            continue
        if not duple(song):
            skipped.append(f"{name}: not in 4/4, 2/2 or 2/4")
            continue
        if len(song.tracks) < 2 or song.ppq % 4:
            skipped.append(f"{name}: no chord track")
            continue
        mel = monophonic(track_step_notes(song.tracks[0], song.ppq))
        chords = track_step_notes(song.tracks[1], song.ppq)
        if not mel or not chords:
            skipped.append(f"{name}: empty melody or chords")
            continue
        bass = bass_from_chords(chords)
        n = max(e for part in (mel, chords) for _, e, _ in part)
        m, mo = notes_to_roll(mel, n)
        rolls = [notes_to_roll(x, n) for x in (chords, bass, harmony_below(mel, chords))]
        d, which = groove.loop_drums(pool, n, rng)
        col.add_song(f"Nottingham: {name}", m, mo, np.stack([r[0] for r in rolls] + [d]),
                     np.stack([r[1] for r in rolls] + [d]))
        drum_of.append(pool_names[which])
    source = {"folder": "nottingham", "licence": "GPLv3 (cleaned files)", "songs": len(col.titles)}
    notes = ("Duple-meter tunes only; repeats as written in the MIDI; original keys.")
    meta = groove.drummed_meta("folk", TRACKS, source, DRUM_STYLES, pool_names, drum_of, skipped, notes)
    return col, meta
