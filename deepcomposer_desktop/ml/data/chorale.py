"""Chorale set: Bach chorales, soprano -> alto, tenor, bass (all four voices are real notes).

Main source: ``jsb_chorales_czhuang/Jsb16thSeparated.json`` (382 chorales, 4 voices per sixteenth step, -1 =
silence, standard train/valid/test split). A separate 2-bar set reproduces AWS DeepComposer's own training data
(``jsb_aws_deepcomposer_midi/gan/original_midi``, 229 two-bar MIDI snippets) for the baseline.
"""
from __future__ import annotations

import glob
import json
import os

import numpy as np

from ..common import ProgressFn, StopFn, check_stop, report
from . import PITCHES, STEPS_PER_BAR, DataError, WindowCollector, pack, save_cache, track_info

CZHUANG = "jsb_chorales_czhuang/Jsb16thSeparated.json"
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


def build(data_dir, progress: ProgressFn = None, should_stop: StopFn = None, stride_bars: int = 4,
          max_songs: int | None = None) -> tuple[WindowCollector, dict]:
    """8-bar windows of the czhuang chorales. Returns (collector, meta); ``meta["song_split"]`` gives each
    song's split (train / valid / test) so the held-out split stays the standard one.

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
    col = WindowCollector(n_tracks=3, stride_bars=stride_bars)
    split_of = []
    for k, (split, i, seq) in enumerate(songs):
        check_stop(should_stop)
        rolls, onsets = voice_rolls(seq)
        col.add_song(f"JSB chorale {split} {i}", rolls[0], onsets[0], rolls[1:], onsets[1:])
        split_of.append(split)
        report(progress, (k + 1) / len(songs), f"chorale {k + 1}/{len(songs)}")
    meta = {"genre": "chorale", "tracks": TRACKS,
            "sources": [dict(SOURCES[0], songs=len(songs))],
            "song_split": split_of,
            "notes": "Bars are counted from the first step of each chorale (pickups are not aligned to "
                     "bar 1); held and repeated notes are not told apart in the source."}
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
