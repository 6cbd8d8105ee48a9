"""Chorale set: Bach chorales, soprano -> alto, tenor, bass (all four voices are real notes).

Main source: ``jsb_chorales_czhuang/Jsb16thSeparated.json`` (382 chorales, 4 voices per sixteenth step, -1 =
silence, standard train/valid/test split). That source has no bar lines and does not tell held from repeated
notes, so each chorale is looked up in music21's corpus (``music21_corpus_subset/bach``, MusicXML): where the
same chorale is found, its bar lines place bar 1 (the pickup ends bar 0) and its note starts mark repeated notes;
chorales found to be in 3/4 are left out. A separate 2-bar set reproduces AWS DeepComposer's own training data
(``jsb_aws_deepcomposer_midi/gan/original_midi``, 229 two-bar MIDI snippets) for the baseline.
"""
from __future__ import annotations

import glob
import json
import os

import numpy as np

from ..common import ProgressFn, StopFn, check_stop, report
from . import PITCHES, STEPS_PER_BAR, DataError, WindowCollector, pack, save_cache, track_info
from .musicxml import PARSED_DIR, cached_score

CZHUANG = "jsb_chorales_czhuang/Jsb16thSeparated.json"
MUSIC21_BACH = "music21_corpus_subset/bach"
MATCH = 0.9                     # share of (step, voice) pitches that must agree to call two chorales the same
AWS = "jsb_aws_deepcomposer_midi/gan/original_midi"
CHOIR = 52                      # GM "Choir Aahs"
SPLITS = ("train", "valid", "test")

TRACKS = [
    track_info("Alto", CHOIR, False, "real: JSB chorales (czhuang), alto voice"),
    track_info("Tenor", CHOIR, False, "real: JSB chorales (czhuang), tenor voice"),
    track_info("Bass", CHOIR, False, "real: JSB chorales (czhuang), bass voice"),
]
SOURCES = [{"folder": "jsb_chorales_czhuang", "licence": "none stated; the music is public domain",
            "songs": 0}]


def voice_rolls(steps: list) -> tuple[np.ndarray, np.ndarray]:
    """(rolls, onsets): bool (4, S, 128) each from a list of S ``[s, a, t, b]`` pitch steps (-1 = silent).

    The source does not tell a held note from a repeated one: a note starts where the pitch changes or after
    a rest, so repeated notes are merged into one longer note.
    """
    arr = np.asarray(steps, dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise DataError(f"a chorale must have 4 voices per step, got shape {arr.shape}")
    s = arr.shape[0]
    rolls = np.zeros((4, s, PITCHES), dtype=bool)
    onsets = np.zeros((4, s, PITCHES), dtype=bool)
    for v in range(4):
        p = arr[:, v]
        ok = (p >= 0) & (p < PITCHES)
        idx = np.nonzero(ok)[0]
        rolls[v, idx, p[idx]] = True
        prev = np.concatenate(([-1], p[:-1]))
        start = ok & (p != prev)
        idx = np.nonzero(start)[0]
        onsets[v, idx, p[idx]] = True
    return rolls, onsets


def score_grid(score):
    """(pitches (S, 4) with -1 for silence, onsets (S, 4), pad, meters, aligned) of an S/A/T/B music21 chorale, or
    None. ``pad`` = steps to put before the first note so that bar 1 starts at a bar line; ``aligned`` = every full
    measure then starts on a multiple of 16 steps."""
    names = [p.name.strip().lower() for p in score.parts]
    idx = [names.index(v) if v in names else None for v in ("soprano", "alto", "tenor", "bass")]
    if None in idx or not score.measures:
        return None
    last = score.measures[-1]
    n = int(round((last.offset + last.length) * 4))
    grid = np.full((n, 4), -1, dtype=np.int64)
    onsets = np.zeros((n, 4), dtype=bool)
    for v, pi in enumerate(idx):
        for onset, dur, pitch in score.parts[pi].notes:
            s = int(round(onset * 4))
            e = max(s + 1, int(round((onset + dur) * 4)))
            if s < n:
                grid[s:e, v] = np.maximum(grid[s:e, v], pitch)
                onsets[s, v] = True
    pad = (STEPS_PER_BAR - int(round(score.measures[0].length * 4))) % STEPS_PER_BAR
    full = [m for m in score.measures if abs(m.length - m.beats * 4.0 / m.beat_type) < 1e-6]
    aligned = all((int(round(m.offset * 4)) + pad) % STEPS_PER_BAR == 0 for m in full)
    meters = {(m.beats, m.beat_type) for m in score.measures}
    return grid, onsets, pad, meters, aligned


def load_music21(data_dir, parsed_dir=PARSED_DIR, should_stop: StopFn = None) -> list:
    """``score_grid`` of every S/A/T/B chorale in music21's corpus (an empty list when the folder is absent)."""
    out = []
    for path in sorted(glob.glob(os.path.join(os.fspath(data_dir), MUSIC21_BACH, "*.mxl"))):
        check_stop(should_stop)
        try:
            g = score_grid(cached_score(path, parsed_dir))
        except (DataError, OSError):
            continue
        if g is not None:
            out.append((os.path.basename(path)[:-4],) + g)
    return out


def match(steps: np.ndarray, grids: list):
    """The music21 grid entry that agrees with ``steps`` (S, 4) on at least MATCH of its cells, or None."""
    best, best_agree = None, MATCH
    for entry in grids:
        g = entry[1]
        if abs(len(g) - len(steps)) > STEPS_PER_BAR:
            continue
        n = min(len(g), len(steps))
        agree = float((g[:n] == steps[:n]).mean())
        if agree >= best_agree:
            best, best_agree = entry, agree
    return best


def build(data_dir, progress: ProgressFn = None, should_stop: StopFn = None, stride_bars: int = 4,
          max_songs: int | None = None, parsed_dir: str | None = PARSED_DIR) -> tuple[WindowCollector, dict]:
    """8-bar windows of the czhuang chorales. Returns (collector, meta); ``meta["song_split"]`` gives each
    song's split (train / valid / test) so the held-out split stays the standard one; ``meta["aligned"]`` says
    per song whether music21's bar lines and note starts were used.

    Raises DataError when the JSON file is missing or malformed.
    """
    path = os.path.join(os.fspath(data_dir), CZHUANG)
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise DataError(f"Cannot read the Bach chorales at {path}: {e}") from None
    songs = [(split, i, seq) for split in SPLITS for i, seq in enumerate(data.get(split, []))]
    if max_songs is not None:
        songs = songs[:max_songs]
    report(progress, 0.0, "reading music21's chorales")
    grids = load_music21(data_dir, parsed_dir, should_stop)
    col = WindowCollector(n_tracks=3, stride_bars=stride_bars)
    split_of, aligned, skipped, used = [], [], [], set()
    for k, (split, i, seq) in enumerate(songs):
        check_stop(should_stop)
        report(progress, (k + 1) / len(songs), f"chorale {k + 1}/{len(songs)}")
        title = f"JSB chorale {split} {i}"
        rolls, onsets = voice_rolls(seq)
        found = match(np.asarray(seq, dtype=np.int64), grids) if grids else None
        if found is not None:
            name, g, g_on, pad, meters, ok = found
            if meters != {(4, 4)} or not ok:
                skipped.append(f"{title} (= {name}): in {', '.join(f'{a}/{b}' for a, b in sorted(meters))}"
                               if meters != {(4, 4)} else f"{title} (= {name}): irregular bars")
                continue
            n = min(len(g), rolls.shape[1])
            v, t = np.nonzero(g_on[:n].T)                 # music21's note starts where the pitch agrees
            keep = g[t, v] == np.asarray(seq, dtype=np.int64)[t, v]
            onsets[v[keep], t[keep], g[t[keep], v[keep]]] = True
            rolls = np.pad(rolls, ((0, 0), (pad, 0), (0, 0)))
            onsets = np.pad(onsets, ((0, 0), (pad, 0), (0, 0)))
            title += f" (= {name})"
            used.add(name)
        col.add_song(title, rolls[0], onsets[0], rolls[1:], onsets[1:])
        split_of.append(split)
        aligned.append(found is not None)
    sources = [dict(SOURCES[0], songs=len(split_of))]
    if used:
        sources.append({"folder": "music21_corpus_subset", "licence": "BSD-3 (music21 corpus)", "songs": len(used),
                        "note": "bar lines and note starts only, for the chorales found there"})
    meta = {"genre": "chorale", "tracks": TRACKS, "sources": sources, "song_split": split_of,
            "aligned": aligned, "skipped": skipped,
            "notes": "Chorales found in music21's corpus have real bar lines (bar 1 = first full bar) and real "
                     "repeated notes; the others count bars from their first note and merge repeated notes "
                     "(the czhuang source has neither). Chorales in 3/4 are left out where known."}
    return col, meta


def build_aws_2bar(data_dir):
    """AWS DeepComposer's 229 two-bar S/A/T/B snippets as packed 2-bar windows (32 steps), pitches as in the files.

    Returns (melody, accomp, onsets_melody, onsets_accomp, song_id, meta) ready for ``save_cache``.
    """
    from ...midi.io import MidiFileError, read_midi
    from ...core.grid import track_to_roll

    folder = os.path.join(os.fspath(data_dir), AWS)
    files = sorted(glob.glob(os.path.join(folder, "*.mid")),
                   key=lambda f: int("".join(c for c in os.path.basename(f) if c.isdigit()) or 0))
    if not files:
        raise DataError(f"No MIDI files in {folder}")
    steps = 2 * STEPS_PER_BAR
    mel, acc, om, oa, titles, skipped = [], [], [], [], [], []
    for f in files:
        try:
            song = read_midi(f)
        except MidiFileError as e:
            skipped.append(f"{os.path.basename(f)}: {e}")
            continue
        if len(song.tracks) != 4 or song.ppq % 4:
            skipped.append(f"{os.path.basename(f)}: {len(song.tracks)} tracks")
            continue
        rs = [track_to_roll(t, song.ppq, 4, steps) for t in song.tracks]
        mel.append(pack(rs[0][0] > 0))
        om.append(pack(rs[0][1]))
        acc.append(pack(np.stack([r[0] > 0 for r in rs[1:]])))
        oa.append(pack(np.stack([r[1] for r in rs[1:]])))
        titles.append(os.path.basename(f))
    tracks = [dict(t, origin=f"real: AWS DeepComposer JSB snippets, {t['name'].lower()} voice") for t in TRACKS]
    meta = {"genre": "chorale_aws2bar", "bars": 2, "steps_per_bar": STEPS_PER_BAR, "tracks": tracks,
            "sources": [{"folder": "jsb_aws_deepcomposer_midi", "licence": "MIT-0", "songs": len(titles)}],
            "songs": titles, "skipped": skipped,
            "notes": "Exactly AWS DeepComposer's sample-GAN training set; pitches are as in the files "
                     "(about two octaves above the sung range)."}
    return (np.stack(mel), np.stack(acc), np.stack(om), np.stack(oa),
            np.arange(len(titles), dtype=np.int32), meta)


def save_aws_2bar(data_dir, path) -> int:
    *arrays, meta = build_aws_2bar(data_dir)
    return save_cache(path, *arrays, meta)
