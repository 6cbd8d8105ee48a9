"""Jazz set: Weimar Jazz Database solos -> walking bass (real pitches), piano comping and horn guide tones (by rule
from the chord symbols) + Groove jazz drums (real, other recordings).

Source CSVs (``wjazzd_csv_mingus``): ``csv_melody`` (solo notes, onset and duration in seconds), ``csv_beats``
(one row per beat: bar, beat, onset, chord symbol at changes, bass pitch). Notes are placed on a 16th grid
interpolated between the annotated beats; bars start at the first beat 1. Solos with any bar not in 4/4, or
without bass pitches, are left out.
"""
from __future__ import annotations

import csv
import glob
import os
import re

import numpy as np

from ..common import ProgressFn, StopFn, check_stop, report
from . import DataError, WindowCollector, track_info
from . import drums as groove
from .chords import Chord, repeated
from .rolls import monophonic, notes_to_roll

ROOT = "wjazzd_csv_mingus/A_preprocessData/data/WjazzDBcsv"
DRUM_STYLES = ("jazz",)
PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
TENSION = {"9": 14, "9b": 13, "9#": 15, "11": 17, "11#": 18, "13": 21, "13b": 20}
CHARLESTON = ((0, 3), (6, 2))          # (step in bar, length): beat 1 and the "and" of 2
TRACKS = [
    track_info("Walking bass", 32, False, "real: WJazzD per-beat bass pitch of the same recording (one "
                                          "quarter note per beat; the rhythm is by rule)"),
    track_info("Piano comping", 0, False, "rule: rootless close voicing (3rd, 7th/6th, 9th or 5th, 13th in "
                                          "E3-D#4) of the WJazzD chord symbol, Charleston rhythm (beat 1 and "
                                          "the and of 2) plus every chord change"),
    track_info("Horns", 61, False, "rule: guide tones (3rd and 7th/6th in E4-D#5) of the WJazzD chord "
                                   "symbol, held, re-struck at each change and bar"),
    track_info("Drums", 0, True, "real: Groove MIDI jazz beats, recorded apart from these solos and paired "
                                 "with them at random (seeded), looped bar-aligned to the solo's length"),
]


def parse_chord(symbol: str) -> tuple[int, tuple[int, ...], int] | None:
    """(root pitch class, intervals, bass interval) of a WJazzD chord such as ``Bb-7``, ``Ebj7``, ``F79b``,
    ``Gm7b5``, ``C7alt``, ``Dsus7``, ``A-/G``; None for ``NC`` or anything unreadable."""
    m = re.match(r"^([A-G])([b#]?)(.*)$", symbol.strip())
    if not m:
        return None
    letter, acc, rest = m.groups()
    root = (PC[letter] + {"b": -1, "#": 1, "": 0}[acc]) % 12
    rest, _, slash = rest.partition("/")
    if rest.startswith("NC"):
        return None
    if rest.startswith("m7b5"):
        ivs, rest = [0, 3, 6, 10], rest[4:]
    elif rest.startswith("-"):
        ivs, rest = [0, 3, 7], rest[1:]
    elif rest.startswith("o7"):
        ivs, rest = [0, 3, 6, 9], rest[2:]
    elif rest.startswith("o"):
        ivs, rest = [0, 3, 6], rest[1:]
    elif rest.startswith("+"):
        ivs, rest = [0, 4, 8], rest[1:]
    elif rest.startswith("sus"):
        ivs, rest = [0, 5, 7], rest[3:]
    else:
        ivs = [0, 4, 7]
    for tok in re.findall(r"j7|7|6|alt|9[b#]?|11[b#]?|13[b#]?", rest):
        if tok == "j7":
            ivs.append(11)
        elif tok == "7":
            ivs.append(10)
        elif tok == "6":
            ivs.append(9)
        elif tok == "alt":
            ivs += [10, 13, 15]
        else:
            ivs.append(TENSION[tok])
    ivs = sorted(set(ivs), key=ivs.index)
    bass = 0
    if slash:
        b = parse_chord(slash)
        if b is not None:
            bass = (b[0] - root) % 12
    return root, tuple(ivs), bass


def rootless(ch: Chord, low: int = 52) -> list[int]:
    """Piano comping voicing: 3rd, 7th (or 6th), 9th (else 5th), 13th — each placed in [low, low + 12)."""
    ivs = ch.intervals
    third = next((i for i in ivs if i in (3, 4, 5)), 4)
    seventh = next((i for i in ivs if i in (9, 10, 11)), None)
    colour = next((i for i in ivs if i in (13, 14, 15)), next((i for i in ivs if i in (6, 7, 8)), 7))
    pcs = [third, colour] + ([seventh] if seventh is not None else [0]) + [i for i in ivs if i in (20, 21)]
    return sorted({low + (ch.root + i - low) % 12 for i in pcs})


def guide_tones(ch: Chord, low: int = 64) -> list[int]:
    ivs = ch.intervals
    third = next((i for i in ivs if i in (3, 4, 5)), 4)
    seventh = next((i for i in ivs if i in (9, 10, 11)), 7)
    return sorted({low + (ch.root + i - low) % 12 for i in (third, seventh)})


def comping(chords) -> list[tuple[int, int, int]]:
    out = []
    for ch in chords:
        hits = {ch.start: 3}
        for s in range(ch.start - ch.start % 16, ch.end, 16):
            for off, length in CHARLESTON:
                if ch.start <= s + off < ch.end:
                    hits.setdefault(s + off, length)
        for s, length in sorted(hits.items()):
            for p in rootless(ch):
                out.append((s, min(s + length, ch.end), p))
    return out


def read_csv(path) -> list[dict]:
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError as e:
        raise DataError(f"Cannot read {path}: {e}") from None


def solo_parts(beats: list[dict], notes: list[dict]):
    """(melody, accomp step notes (bass, piano, horns), n_steps) of one solo, or a reason string to skip it."""
    sigs = {r.get("signature", "") for r in beats} - {""}
    if sigs - {"4/4"}:
        return f"meter {', '.join(sorted(sigs))}"
    try:
        first = next(i for i, r in enumerate(beats) if r["beat"] == "1")
    except StopIteration:
        return "no downbeat"
    pickup_chord = next((r["chord"] for r in reversed(beats[:first]) if r["chord"]), "")
    beats = beats[first:]
    t = np.array([float(r["onset"]) for r in beats])
    if len(t) < 16 or np.any(np.diff(t) <= 0):
        return "beats not increasing"
    if not any(r["bass_pitch"] for r in beats):
        return "no bass pitches"
    idx = np.arange(len(t), dtype=np.float64)

    def to_step(sec):
        sec = np.asarray(sec, dtype=np.float64)
        pos = np.interp(sec, t, idx)
        pos = np.where(sec > t[-1], idx[-1] + (sec - t[-1]) / (t[-1] - t[-2]), pos)
        pos = np.where(sec < t[0], (sec - t[0]) / (t[1] - t[0]), pos)
        return np.rint(pos * 4).astype(np.int64)

    on = np.array([float(r["onset"]) for r in notes])
    off = on + np.array([float(r["duration"]) for r in notes])
    pitches = [int(round(float(r["pitch"]))) for r in notes]
    s_on, s_off = to_step(on), to_step(off)
    melody = monophonic([(int(s), int(max(e, s + 1)), p) for s, e, p in zip(s_on, s_off, pitches) if s >= 0])
    n = len(beats) * 4
    bass = [(4 * i, 4 * i + 4, int(r["bass_pitch"])) for i, r in enumerate(beats) if r["bass_pitch"]]
    changes = []
    for i, r in enumerate(beats):
        chord = r["chord"] or (pickup_chord if i == 0 else "")   # a chord set in the pickup still holds
        if chord:
            changes.append((4 * i, parse_chord(chord)))
    if not changes:
        return "no chords"
    chords = []
    for k, (s, c) in enumerate(changes):
        e = changes[k + 1][0] if k + 1 < len(changes) else n
        if c is not None and e > s:
            chords.append(Chord(s, e, c[0], c[1], c[2]))
    piano = comping(chords)
    horns = repeated(chords, guide_tones, 10**6)
    return melody, (bass, piano, horns), max(n, max((e for _, e, _ in melody), default=0))


def build(data_dir, progress: ProgressFn = None, should_stop: StopFn = None, stride_bars: int = 4,
          max_songs: int | None = None, seed: int = 0) -> tuple[WindowCollector, dict]:
    """8-bar windows of the 4/4 WJazzD solos with real bass pitches. Returns (collector, meta)."""
    root = os.path.join(os.fspath(data_dir), ROOT)
    files = sorted(glob.glob(os.path.join(root, "csv_melody", "*.csv")))
    if not files:
        raise DataError(f"No Weimar Jazz Database solos in {root}/csv_melody")
    if max_songs is not None:
        files = files[:max_songs]
    pool, pool_names = groove.load_pool(data_dir, DRUM_STYLES)
    rng = np.random.default_rng(seed)
    col = WindowCollector(n_tracks=4, stride_bars=stride_bars)
    skipped, drum_of = [], []
    for k, path in enumerate(files):
        check_stop(should_stop)
        report(progress, (k + 1) / len(files), f"jazz {k + 1}/{len(files)}")
        name = os.path.basename(path)[:-4]
        try:
            beats = read_csv(os.path.join(root, "csv_beats", name + ".csv"))
            notes = read_csv(path)
            res = solo_parts(beats, notes) if beats and notes else "empty"
        except (DataError, KeyError, ValueError) as e:
            res = str(e)
        if isinstance(res, str):
            skipped.append(f"{name}: {res}")
            continue
        melody, parts, n = res
        m, mo = notes_to_roll(melody, n)
        rolls = [notes_to_roll(p, n) for p in parts]
        d, which = groove.loop_drums(pool, n, rng)
        col.add_song(f"WJazzD: {name.replace('_', ' ')}", m, mo, np.stack([r[0] for r in rolls] + [d]),
                     np.stack([r[1] for r in rolls] + [d]))
        drum_of.append(pool_names[which])
    source = {"folder": "wjazzd_csv_mingus", "licence": "ODbL 1.0 (Weimar Jazz Database)", "songs": len(col.titles)}
    notes = ("Melody = the improvised solo (quantised to 16ths; triplets and faster runs are rounded, "
             "of notes on one step the highest is kept). Original keys.")
    meta = groove.drummed_meta("jazz", TRACKS, source, DRUM_STYLES, pool_names, drum_of, skipped, notes)
    return col, meta
