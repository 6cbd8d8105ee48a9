"""Symphony set: orchestral movements (Hauptstimme / OpenScore Orchestra, CC0) — the human-annotated main melody ->
low strings, high strings, woodwinds, brass + timpani, every note real. Also the ``strings`` set: OpenScore string
quartets (CC0), Violin 1 -> Violin 2, Viola, Cello.

Scores are read with the small MusicXML reader in ``musicxml.py`` (parsed once, kept as JSON under
``build/score_json``). Only stretches in 4/4, 2/2 or 2/4 are used (two 2/4 bars make one 4/4 bar); other meters are
skipped. Repeats are not expanded.
"""
from __future__ import annotations

import glob
import os
import re

import numpy as np

from ..common import ProgressFn, StopFn, check_stop, report
from . import DataError, WindowCollector, track_info
from .musicxml import PARSED_DIR, cached_score, duple_runs
from .rolls import monophonic, notes_to_roll

ORCHESTRA = "hauptstimme_orchestra/data"
QUARTETS = "openscore_string_quartets/scores"
FAMILIES = ("low strings", "high strings", "woodwinds", "brass")
# the woodwinds are learned as one part and played by register: bassoons below G3, clarinets to B4, flutes above
WOODWIND_SECTIONS = [{"name": "Bassoons", "program": 70, "from": 0}, {"name": "Clarinets", "program": 71, "from": 55},
                     {"name": "Flutes", "program": 73, "from": 72}]
TRACKS = [
    track_info("Low strings", 42, False, "real: cellos and double basses of the score"),
    track_info("High strings", 48, False, "real: violins and violas of the score"),
    dict(track_info("Woodwinds", 73, False, "real: flutes, oboes, clarinets, bassoons of the score"),
         sections=WOODWIND_SECTIONS),
    track_info("Brass & timpani", 61, False, "real: horns, trumpets, trombones, tuba and timpani of the score"),
]
QUARTET_TRACKS = [
    track_info("Violin 2", 40, False, "real: second violin of the quartet"),
    track_info("Viola", 41, False, "real: viola of the quartet"),
    track_info("Cello", 42, False, "real: cello of the quartet"),
]


def family(name: str) -> int | None:
    """Index into FAMILIES for an orchestral part name, or None (voices — "Bass" is the choir's —, harp,
    keyboard, percussion)."""
    n = name.lower()
    if re.search(r"bassoon|fagott|sarrusophone|flute|flauto|traverso|piccolo|oboe|english horn|cor anglais|clarinet|klarinette", n):
        return 2
    if re.search(r"horn|corno|trumpet|tromba|trombone|tuba|cornet|timpani|pauken", n):
        return 3
    if re.search(r"violin|viola|violine", n):
        return 1
    if re.search(r"cello|contrabass|double bass|kontrabass|violone|continuo", n):
        return 0
    return None


def run_notes(notes, start: float, end: float) -> list[tuple[int, int, int]]:
    """Step notes (16ths from ``start``) of quarter-note notes starting inside [start, end)."""
    out = []
    for onset, dur, pitch in notes:
        if start - 1e-6 <= onset < end - 1e-6:
            s = int(round((onset - start) * 4))
            e = max(s + 1, int(round((min(onset + dur, end) - start) * 4)))
            out.append((s, e, int(pitch)))
    return out


def _add_runs(col, title, runs, melody_notes, groups) -> int:
    """Add each run as a stretch of one song; ``groups`` are lists of note lists, one list per track."""
    added, first = 0, True
    for start, end in runs:
        mel = monophonic(run_notes(melody_notes, start, end))
        if not mel:
            continue
        n = int(round((end - start) * 4))
        m, mo = notes_to_roll(mel, n)
        taken = {(s, p) for s, _, p in mel}
        rolls, ons = [], []
        for parts in groups:
            notes = [x for part in parts for x in run_notes(part, start, end) if (x[0], x[2]) not in taken]
            r, o = notes_to_roll(notes, n)
            rolls.append(r)
            ons.append(o)
        added += col.add_song(title, m, mo, np.stack(rolls), np.stack(ons), same_song=not first)
        first = False
    return added


def build(data_dir, progress: ProgressFn = None, should_stop: StopFn = None, stride_bars: int = 4,
          max_songs: int | None = None, parsed_dir: str | None = PARSED_DIR,
          ) -> tuple[WindowCollector, dict]:
    """Orchestral movements with their annotated main melody. Returns (collector, meta)."""
    root = os.path.join(os.fspath(data_dir), ORCHESTRA)
    mels = sorted(glob.glob(os.path.join(root, "**", "*_melody.mxl"), recursive=True))
    if not mels:
        raise DataError(f"No annotated orchestral scores in {root}")
    if max_songs is not None:
        mels = mels[:max_songs]
    col = WindowCollector(n_tracks=4, stride_bars=stride_bars)
    skipped, unused = [], set()
    for k, mpath in enumerate(mels):
        check_stop(should_stop)
        report(progress, k / len(mels), f"symphony {k + 1}/{len(mels)}")
        spath = mpath[: -len("_melody.mxl")] + ".mxl"
        name = os.path.relpath(os.path.dirname(mpath), root).replace("_", " ")
        try:
            score, melody = cached_score(spath, parsed_dir), cached_score(mpath, parsed_dir)
        except (DataError, OSError) as e:
            skipped.append(f"{name}: {e}")
            continue
        if len(score.measures) != len(melody.measures):
            skipped.append(f"{name}: melody and score have different bar counts")
            continue
        groups = [[] for _ in FAMILIES]
        for p in score.parts:
            f = family(p.name)
            if f is None:
                unused.add(p.name)
            else:
                groups[f].append(p.notes)
        runs = duple_runs(score.measures)
        if not runs:
            skipped.append(f"{name}: no stretch in 4/4, 2/2 or 2/4")
            continue
        mel_notes = [x for p in melody.parts for x in p.notes]
        if _add_runs(col, name, runs, mel_notes, groups) == 0:
            skipped.append(f"{name}: no usable 8-bar window")
    report(progress, 1.0, "symphony done")
    meta = {"genre": "symphony", "tracks": TRACKS,
            "sources": [{"folder": "hauptstimme_orchestra", "licence": "CC0 (scores), MIT (repository)",
                         "songs": len(col.titles)}],
            "skipped": skipped, "parts_not_used": sorted(unused),
            "notes": "Melody = the human-annotated Hauptstimme (main melody), made monophonic; accompaniment "
                     "notes that duplicate a melody note (same pitch and start) are removed. Only 4/4, 2/2 and "
                     "2/4 stretches; original keys; repeats not expanded."}
    return col, meta


def build_strings(data_dir, progress: ProgressFn = None, should_stop: StopFn = None, stride_bars: int = 4,
                  max_songs: int | None = None, parsed_dir: str | None = PARSED_DIR,
                  ) -> tuple[WindowCollector, dict]:
    """String quartets: Violin 1 (melody) -> Violin 2, Viola, Cello. Returns (collector, meta)."""
    root = os.path.join(os.fspath(data_dir), QUARTETS)
    files = sorted(glob.glob(os.path.join(root, "**", "*.mxl"), recursive=True))
    if not files:
        raise DataError(f"No string quartet scores in {root}")
    if max_songs is not None:
        files = files[:max_songs]
    col = WindowCollector(n_tracks=3, stride_bars=stride_bars)
    skipped = []
    for k, path in enumerate(files):
        check_stop(should_stop)
        report(progress, k / len(files), f"quartet {k + 1}/{len(files)}")
        name = os.path.relpath(os.path.dirname(path), root).replace("_", " ")
        try:
            score = cached_score(path, parsed_dir)
        except (DataError, OSError) as e:
            skipped.append(f"{name}: {e}")
            continue
        if len(score.parts) != 4:
            skipped.append(f"{name}: {len(score.parts)} parts, not 4")
            continue
        runs = duple_runs(score.measures)
        v1, *others = [p.notes for p in score.parts]
        if not runs or _add_runs(col, name, runs, v1, [[o] for o in others]) == 0:
            skipped.append(f"{name}: no usable 8-bar window in 4/4, 2/2 or 2/4")
    report(progress, 1.0, "quartets done")
    meta = {"genre": "strings", "tracks": QUARTET_TRACKS,
            "sources": [{"folder": "openscore_string_quartets", "licence": "CC0", "songs": len(col.titles)}],
            "skipped": skipped,
            "notes": "Melody = Violin 1 (the top line, made monophonic: double stops keep the top note); Violin 1 "
                     "is not always the tune. Only 4/4, 2/2 and 2/4 stretches; original keys."}
    return col, meta
