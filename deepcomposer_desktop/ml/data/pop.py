"""Pop set: POP909 MELODY -> piano, bass (the piano's lowest voice), strings (BRIDGE) + Groove pop/funk/soul drums.

Only songs that ``index.xlsx`` marks as duple meter with plain (non-triplet) quavers are kept, i.e. 4/4 — the
time signatures inside the MIDI files are unreliable. Bars follow ``beat_midi.txt`` (its third column marks the
downbeats of 4-beat bars); notes are placed on a 16th grid interpolated between the annotated beats.
"""
from __future__ import annotations

import os
import re
import zipfile
from xml.etree import ElementTree

import numpy as np

from ..common import ProgressFn, StopFn, check_stop, report
from . import DataError, WindowCollector, track_info
from . import drums as groove
from .rolls import beat_step_notes, find_track, monophonic, notes_to_roll, split_lowest_voice

ROOT = "pop909/POP909"
DRUM_STYLES = ("pop", "funk", "soul")
TRACKS = [
    track_info("Piano", 0, False, "real: POP909 PIANO track without the notes moved to the bass"),
    track_info("Bass", 33, False, "rule: lowest voice of the real POP909 PIANO part (a piano note below C4 with "
                                  "no lower piano note sounding at its start), made monophonic"),
    track_info("Strings", 48, False, "real: POP909 BRIDGE track (the arranger's counter-melody, played by "
                                     "strings here)"),
    track_info("Drums", 0, True, "real: Groove MIDI pop/funk/soul beats, recorded apart from these songs and "
                                 "paired with them at random (seeded), looped bar-aligned to the song's length"),
]


def read_index(path) -> list[dict]:
    """Rows of POP909's index.xlsx as dicts (header row keys); reads the sheet XML directly (no openpyxl)."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    try:
        with zipfile.ZipFile(path) as z:
            shared = []
            if "xl/sharedStrings.xml" in z.namelist():
                root = ElementTree.fromstring(z.read("xl/sharedStrings.xml"))
                shared = ["".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t"))
                          for si in root.findall("m:si", ns)]
            sheet = ElementTree.fromstring(z.read("xl/worksheets/sheet1.xml"))
    except (OSError, KeyError, zipfile.BadZipFile, ElementTree.ParseError) as e:
        raise DataError(f"Cannot read the POP909 index {path}: {e}") from None
    table = []
    for row in sheet.iter(f"{{{ns['m']}}}row"):
        cells = {}
        for c in row.findall("m:c", ns):
            col = re.sub(r"\d", "", c.get("r", ""))
            if c.get("t") == "inlineStr":
                val = "".join(t.text or "" for t in c.iter(f"{{{ns['m']}}}t"))
            else:
                v = c.find("m:v", ns)
                val = "" if v is None else v.text or ""
                if c.get("t") == "s" and val.isdigit() and int(val) < len(shared):
                    val = shared[int(val)]
            cells[col] = val
        table.append(cells)
    if not table:
        return []
    header = table[0]
    return [{header[k]: v for k, v in r.items() if k in header} for r in table[1:]]


def read_beats(path) -> tuple[np.ndarray, np.ndarray]:
    """(times in seconds, is-4/4-downbeat) from a POP909 ``beat_midi.txt``."""
    try:
        arr = np.loadtxt(path, ndmin=2)
    except (OSError, ValueError) as e:
        raise DataError(f"Cannot read beats {path}: {e}") from None
    if arr.shape[0] < 8 or arr.shape[1] < 3:
        raise DataError(f"Too few beats in {path}")
    return arr[:, 0], arr[:, 2] > 0.5


def song_rolls(song, beat_sec: np.ndarray, downbeat: np.ndarray):
    """(melody, melody onsets, accomp (3, S, 128), accomp onsets) for the pitched POP909 parts, or None."""
    from ...core.timing import TempoMap

    mel_t, piano_t = find_track(song, "MELODY"), find_track(song, "PIANO")
    if mel_t is None or piano_t is None or not mel_t.notes or not np.any(downbeat):
        return None
    beat_ticks = TempoMap.of(song).seconds_to_ticks(np.maximum(beat_sec, 0.0))
    if np.any(np.diff(beat_ticks) <= 0):
        return None
    first = int(np.argmax(downbeat))
    mel = monophonic(beat_step_notes(mel_t, beat_ticks, first))
    bass, piano = split_lowest_voice(beat_step_notes(piano_t, beat_ticks, first))
    bridge_t = find_track(song, "BRIDGE")
    bridge = beat_step_notes(bridge_t, beat_ticks, first) if bridge_t is not None else []
    n = max((e for part in (mel, bass, piano, bridge) for _, e, _ in part), default=0)
    if n == 0:
        return None
    m, mo = notes_to_roll(mel, n)
    parts = [notes_to_roll(x, n) for x in (piano, bass, bridge)]
    return m, mo, np.stack([p[0] for p in parts]), np.stack([p[1] for p in parts])


def build(data_dir, progress: ProgressFn = None, should_stop: StopFn = None, stride_bars: int = 4,
          max_songs: int | None = None, seed: int = 0) -> tuple[WindowCollector, dict]:
    """8-bar windows of the 4/4 POP909 songs with Groove drums. Returns (collector, meta)."""
    from ...midi.io import MidiFileError, read_midi

    root = os.path.join(os.fspath(data_dir), ROOT)
    rows = read_index(os.path.join(root, "index.xlsx"))
    keep = [r for r in rows if r.get("num_beats_per_measure") == "2" and r.get("num_quavers_per_beat") == "2"]
    if max_songs is not None:
        keep = keep[:max_songs]
    if not keep:
        raise DataError(f"No 4/4 songs listed in {root}/index.xlsx")
    pool, pool_names = groove.load_pool(data_dir, DRUM_STYLES)
    rng = np.random.default_rng(seed)
    col = WindowCollector(n_tracks=4, stride_bars=stride_bars)
    skipped, drum_of = [], []
    for k, r in enumerate(keep):
        check_stop(should_stop)
        sid = str(r.get("song_id", "")).zfill(3)
        folder = os.path.join(root, sid)
        try:
            song = read_midi(os.path.join(folder, f"{sid}.mid"))
            beats, down = read_beats(os.path.join(folder, "beat_midi.txt"))
            parts = song_rolls(song, beats, down)
        except (MidiFileError, DataError, OSError) as e:
            skipped.append(f"{sid}: {e}")
            continue
        if parts is None:
            skipped.append(f"{sid}: no melody/piano or no downbeats")
            continue
        m, mo, acc, acco = parts
        d, which = groove.loop_drums(pool, m.shape[0], rng)
        acc = np.concatenate([acc, d[None]])
        acco = np.concatenate([acco, d[None]])
        col.add_song(f"POP909 {sid} {r.get('name', '')} - {r.get('artist', '')}", m, mo, acc, acco)
        drum_of.append(pool_names[which])
        report(progress, (k + 1) / len(keep), f"pop {k + 1}/{len(keep)}")
    source = {"folder": "pop909", "licence": "MIT (repository); the songs are copyrighted", "songs": len(col.titles)}
    notes = ("4/4 songs only (index.xlsx: 2 beats per measure, 2 quavers per beat); bars from "
             "beat_midi.txt downbeats; original keys.")
    meta = groove.drummed_meta("pop", TRACKS, source, DRUM_STYLES, pool_names, drum_of, skipped, notes)
    return col, meta
