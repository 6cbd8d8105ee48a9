"""A small, fast MusicXML reader for the score builders: parts -> sounding notes in quarter notes, plus measures.

Handles compressed ``.mxl``, divisions, chords, backup/forward, ties, grace notes (skipped) and transposing
instruments (``<transpose>``). Repeats are not expanded. Far faster than music21 for bulk conversion.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from xml.etree import ElementTree

from . import DataError

# parsed scores as JSON (~20 MB for all sets): kept out of cache/, which travels to the GPU machine
PARSED_DIR = os.path.join("build", "score_json")
STEP_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


@dataclass
class Measure:
    offset: float             # quarters from the start of the score
    length: float             # quarters actually filled (a pickup is shorter than its time signature)
    beats: int
    beat_type: int


@dataclass
class Part:
    name: str
    notes: list = field(default_factory=list)    # (onset quarters, duration quarters, midi pitch)


@dataclass
class Score:
    parts: list
    measures: list


def _xml_root(path):
    try:
        if str(path).lower().endswith(".mxl"):
            with zipfile.ZipFile(path) as z:
                names = [n for n in z.namelist() if not n.startswith("META-INF") and
                         n.lower().endswith((".xml", ".musicxml"))]
                if not names:
                    raise DataError(f"{path}: no MusicXML inside")
                data = z.read(names[0])
        else:
            with open(path, "rb") as f:
                data = f.read()
        return ElementTree.parse(io.BytesIO(data)).getroot()
    except (OSError, zipfile.BadZipFile, ElementTree.ParseError, KeyError) as e:
        raise DataError(f"Cannot read the score {path}: {e}") from None


def read_score(path) -> Score:
    """Every part's sounding notes and the measure grid (from the measures' furthest filled positions).

    Raises DataError for unreadable files or scores without parts.
    """
    root = _xml_root(path)
    if root.tag != "score-partwise":
        raise DataError(f"{path}: only partwise MusicXML is supported")
    names = {sp.get("id"): (sp.findtext("part-name") or "").strip() for sp in root.iter("score-part")}
    raw, extents, sigs = [], [], []
    for pi, part in enumerate(root.findall("part")):
        divisions, transpose, beats, beat_type = 1.0, 0, 4, 4
        notes, open_ties = [], {}
        for mi, measure in enumerate(part.findall("measure")):
            cursor = far = 0.0
            last_onset = 0.0
            for el in measure:
                if el.tag == "attributes":
                    divisions = float(el.findtext("divisions") or divisions)
                    t = el.find("time")
                    if t is not None and (t.findtext("beats") or "").isdigit():
                        beats, beat_type = int(t.findtext("beats")), int(t.findtext("beat-type") or 4)
                    tr = el.find("transpose")
                    if tr is not None:
                        transpose = int(float(tr.findtext("chromatic") or 0)) + \
                            12 * int(float(tr.findtext("octave-change") or 0))
                elif el.tag == "backup":
                    cursor -= float(el.findtext("duration") or 0) / divisions
                elif el.tag == "forward":
                    cursor += float(el.findtext("duration") or 0) / divisions
                    far = max(far, cursor)
                elif el.tag == "note":
                    if el.find("grace") is not None or el.find("cue") is not None:
                        continue
                    dur = float(el.findtext("duration") or 0) / divisions
                    if el.find("chord") is not None:
                        onset = last_onset
                    else:
                        onset = cursor
                        cursor += dur
                        last_onset = onset
                    far = max(far, cursor)
                    p = el.find("pitch")
                    if p is None or dur <= 0:
                        continue
                    midi = 12 * (int(p.findtext("octave") or 4) + 1) + STEP_PC.get(p.findtext("step") or "C", 0) \
                        + int(round(float(p.findtext("alter") or 0))) + transpose
                    ties = {t.get("type") for t in el.findall("tie")}
                    notes.append([mi, onset, dur, midi, "stop" in ties, "start" in ties])
            if pi == 0:
                extents.append(far)
                sigs.append((beats, beat_type))
            elif mi < len(extents):
                extents[mi] = max(extents[mi], far)
        raw.append((names.get(part.get("id"), ""), notes))
    if not raw:
        raise DataError(f"{path}: the score has no parts")
    measures, off = [], 0.0
    for (b, bt), ext in zip(sigs, extents):
        length = ext if ext > 0 else b * 4.0 / bt
        measures.append(Measure(off, length, b, bt))
        off += length
    parts = []
    for name, notes in raw:
        out, open_ties = [], {}
        for mi, onset, dur, midi, tie_stop, tie_start in notes:
            if mi >= len(measures) or not 0 <= midi < 128:
                continue
            t0 = measures[mi].offset + onset
            k = open_ties.pop(midi, None) if tie_stop else None
            if k is not None and abs(out[k][0] + out[k][1] - t0) < 1e-6:
                out[k][1] += dur
                idx = k
            else:
                out.append([t0, dur, midi])
                idx = len(out) - 1
            if tie_start:
                open_ties[midi] = idx
        parts.append(Part(name, sorted((a, b, c) for a, b, c in out)))
    return Score(parts, measures)


def duple_runs(measures, min_bars: int = 4) -> list[tuple[float, float]]:
    """(start, end) in quarters of runs of consecutive full measures of 2 or 4 quarter notes (4/4, 2/2, 2/4)
    lasting at least ``min_bars`` 4/4 bars; each run is cut to whole 4/4 bars."""
    runs, start, total = [], None, 0.0
    for m in list(measures) + [None]:
        nominal = m.beats * 4.0 / m.beat_type if m is not None else 0.0
        ok = m is not None and abs(m.length - nominal) < 1e-6 and nominal in (2.0, 4.0)
        if ok:
            if start is None:
                start, total = m.offset, 0.0
            total += m.length
        else:
            if start is not None and total >= 4 * min_bars:
                runs.append((start, start + 4.0 * int(total // 4)))
            start = None
    return runs


def cached_score(path, parsed_dir: str | None) -> Score:
    """``read_score`` through a JSON cache keyed by the file's path and size."""
    if parsed_dir is None:
        return read_score(path)
    key = hashlib.sha1(f"{os.path.abspath(path)}:{os.path.getsize(path)}".encode()).hexdigest()[:16]
    cpath = os.path.join(parsed_dir, key + ".json")
    try:
        with open(cpath) as f:
            d = json.load(f)
        return Score([Part(p["name"], [tuple(x) for x in p["notes"]]) for p in d["parts"]],
                     [Measure(*m) for m in d["measures"]])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    score = read_score(path)
    os.makedirs(parsed_dir, exist_ok=True)
    with open(cpath, "w") as f:
        json.dump({"parts": [{"name": p.name, "notes": p.notes} for p in score.parts],
                   "measures": [[m.offset, m.length, m.beats, m.beat_type] for m in score.measures]}, f)
    return score
