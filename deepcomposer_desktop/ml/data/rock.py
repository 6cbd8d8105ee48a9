"""Rock set: Rock Corpus (rs200) melody + harmonic analysis -> bass, rhythm guitar, keys (by rule) + Groove rock drums.

Real: the melody (``rs200_melody_nlt``: onset, pitch; no durations), the chords and their timing
(``rs200_harmony_clt``, by the same transcriber as the melody), the drums (Groove MIDI rock beats, other
recordings). Derived by rule: each melody note lasts until the next (at most a half note); bass, guitar and keys
play the analysed chords with fixed voicings and rhythms (see ``chords.py``). Songs with any bar not in 4/4 are
left out.
"""
from __future__ import annotations

import glob
import os
import re

import numpy as np

from ..common import ProgressFn, StopFn, check_stop, report
from . import STEPS_PER_BAR, DataError, WindowCollector, track_info
from . import drums as groove
from .chords import MAJOR, MINOR, Chord, bass_line, pad_part, power_voicing, repeated
from .rolls import notes_to_roll

ROOT = "rock_corpus_rs200/data/rock_corpus_v2-1"
DRUM_STYLES = ("rock",)
MAX_NOTE = 8            # steps: a melody note lasts until the next one, at most a half note
NOT_44 = re.compile(r"\[(\d+)/(\d+)\]")
TRACKS = [
    track_info("Bass", 33, False, "rule: the analysed chord's bass note (root, or the inversion's bass) in "
                                  "E1-D#2, struck on every beat and at each chord change"),
    track_info("Rhythm guitar", 29, False, "rule: power-chord voicing (root, fifth, octave, third from E2) of "
                                           "the analysed chord, struck on every eighth note"),
    track_info("Keys", 89, False, "rule: close root-position voicing (from G3) of the analysed chord, held, "
                                  "re-struck at each chord change and bar"),
    track_info("Drums", 0, True, "real: Groove MIDI rock beats, recorded apart from these songs and paired with "
                                 "them at random (seeded), looped bar-aligned to the song's length"),
]


def parse_roman(symbol: str) -> tuple[tuple[int, ...], int] | None:
    """(intervals above the root, bass interval) for a Rock Corpus roman numeral such as ``V7``, ``iih65``,
    ``IVd7``, ``viix42/V``, ``bVII64``; None when it is not a chord (``End``, ``Error``)."""
    head = symbol.split("/")[0]
    m = re.match(r"^[#b]*([IViv]+)(.*)$", head)
    if not m:
        return None
    numeral, suffix = m.groups()
    minor = numeral.islower()
    if "o" in suffix or "x" in suffix or "h" in suffix:
        triad = (0, 3, 6)
    elif "+" in suffix or "a" in suffix:
        triad = (0, 4, 8)
    elif "s4" in suffix:
        triad = (0, 5, 7)
    else:
        triad = MINOR if minor else MAJOR
    figs = re.findall(r"\d+", suffix.replace("s4", ""))
    fig = figs[0] if figs else ""
    seventh = None
    if fig in ("7", "65", "43", "42", "9", "11") or "d" in suffix:
        if "x" in suffix:
            seventh = 9
        elif minor or "h" in suffix or "d" in suffix or numeral.upper() not in ("I", "IV") or "/" in symbol:
            seventh = 10
        else:
            seventh = 11
    intervals = triad + ((seventh,) if seventh is not None else ())
    bass = {"6": 1, "65": 1, "64": 2, "43": 2, "42": 3}.get(fig, 0)
    if bass == 3 and seventh is None:
        bass = 0
    return intervals, intervals[bass] if bass < len(intervals) else 0


def read_chords(path) -> list[Chord]:
    """Chords of a ``.clt`` file on the 16th grid (4/4 bars); each lasts until the next or the ``End`` mark."""
    rows = []
    try:
        with open(path) as f:
            for line in f:
                cols = line.split()
                if len(cols) >= 3:
                    rows.append(cols)
    except OSError as e:
        raise DataError(f"Cannot read {path}: {e}") from None
    events = []
    for cols in rows:
        step = int(round(float(cols[1]) * STEPS_PER_BAR))
        parsed = parse_roman(cols[2]) if len(cols) >= 7 else None
        root = int(cols[6]) % 12 if parsed else None
        events.append((step, root, parsed))
    chords = []
    for k, (step, root, parsed) in enumerate(events):
        if parsed is None or k + 1 >= len(events):
            continue
        end = events[k + 1][0]
        if end > step:
            chords.append(Chord(step, end, root, parsed[0], parsed[1]))
    return chords


def read_melody(path) -> list[tuple[int, int, int]]:
    """Step notes of an ``.nlt`` melody: onsets in measures (4/4), durations by rule (until the next, <= 8)."""
    ons = []
    try:
        with open(path) as f:
            for line in f:
                cols = line.split()
                if len(cols) >= 3:
                    ons.append((int(round(float(cols[1]) * STEPS_PER_BAR)), int(cols[2])))
    except (OSError, ValueError) as e:
        raise DataError(f"Cannot read {path}: {e}") from None
    ons.sort()
    out = []
    for k, (s, p) in enumerate(ons):
        if k + 1 < len(ons) and ons[k + 1][0] == s:
            continue                                  # two onsets on one step: keep the later line
        nxt = ons[k + 1][0] if k + 1 < len(ons) else s + MAX_NOTE
        out.append((s, max(s + 1, min(nxt, s + MAX_NOTE)), p))
    return out


def only_44(*paths) -> bool:
    for p in paths:
        try:
            with open(p, errors="replace") as f:
                if any(m != ("4", "4") for m in NOT_44.findall(f.read())):
                    return False
        except OSError:
            continue
    return True


def rule_parts(chords, n_steps: int):
    """(rolls (3, S, 128), onsets): bass, rhythm guitar, keys from the chord list."""
    bass = bass_line(chords, every=4, low=28)
    guitar = repeated(chords, lambda ch: power_voicing(ch, 40), every=2)
    keys = pad_part(chords, low=55)
    parts = [notes_to_roll(x, n_steps) for x in (bass, guitar, keys)]
    return np.stack([p[0] for p in parts]), np.stack([p[1] for p in parts])


def build(data_dir, progress: ProgressFn = None, should_stop: StopFn = None, stride_bars: int = 4,
          max_songs: int | None = None, seed: int = 0) -> tuple[WindowCollector, dict]:
    """8-bar windows of the all-4/4 rs200 songs with a melody transcription. Returns (collector, meta)."""
    root = os.path.join(os.fspath(data_dir), ROOT)
    mels = sorted(glob.glob(os.path.join(root, "rs200_melody_nlt", "*.nlt")))
    if not mels:
        raise DataError(f"No Rock Corpus melodies in {root}/rs200_melody_nlt")
    if max_songs is not None:
        mels = mels[:max_songs]
    pool, pool_names = groove.load_pool(data_dir, DRUM_STYLES)
    rng = np.random.default_rng(seed)
    col = WindowCollector(n_tracks=4, stride_bars=stride_bars)
    skipped, drum_of = [], []
    for k, mpath in enumerate(mels):
        check_stop(should_stop)
        report(progress, (k + 1) / len(mels), f"rock {k + 1}/{len(mels)}")
        base = os.path.basename(mpath)[:-4]
        song, who = base.rsplit("_", 1)
        hars = [os.path.join(root, "rs200_harmony", f"{song}_{w}.har") for w in ("dt", "tdc")]
        if not only_44(os.path.join(root, "rs200_melody", base + ".mel"), *hars):
            skipped.append(f"{base}: not all in 4/4")
            continue
        clt = os.path.join(root, "rs200_harmony_clt", f"{song}_{who}.clt")
        if not os.path.exists(clt):
            clt = next((c for c in glob.glob(os.path.join(root, "rs200_harmony_clt", f"{song}_*.clt"))), clt)
        try:
            mel, chords = read_melody(mpath), read_chords(clt)
        except DataError as e:
            skipped.append(f"{base}: {e}")
            continue
        if not mel or not chords:
            skipped.append(f"{base}: no melody or no chords")
            continue
        n = max(mel[-1][1], chords[-1].end)
        m, mo = notes_to_roll(mel, n)
        acc, acco = rule_parts(chords, n)
        d, which = groove.loop_drums(pool, n, rng)
        col.add_song(f"Rock Corpus: {song.replace('_', ' ')} ({who})", m, mo,
                     np.concatenate([acc, d[None]]), np.concatenate([acco, d[None]]))
        drum_of.append(pool_names[which])
    source = {"folder": "rock_corpus_rs200", "licence": "not stated (research corpus, Temperley & de Clercq)",
              "songs": len(col.titles)}
    notes = ("Melody onsets and chords are real transcriptions; melody durations and every pitched "
             "accompaniment part are derived by rule. Original keys.")
    meta = groove.drummed_meta("rock", TRACKS, source, DRUM_STYLES, pool_names, drum_of, skipped, notes)
    return col, meta
