"""What the Training studio shows before training: a folder of MIDI files scanned file by file, built-in data sets.

No Qt, no torch (runs on a worker thread). The per-file melody choice can be fixed by the user; ``build_data``
then builds the training windows with those choices (through ``ml.data.folder.build_from_folder``).
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .ml.common import ProgressFn, StopFn, check_stop, report

TOKEN = "dcd-training-melody"          # the chosen melody track is renamed to this in a scratch copy
CACHE_DIRS = (Path(__file__).resolve().parents[1] / "cache" / "gan",
              Path(__file__).resolve().parents[1] / "cache" / "gan_extra")


@dataclass(frozen=True)
class FileInfo:
    """One MIDI file: ``tracks`` are labels for a menu, ``melody`` the guessed melody track (None: none usable),
    ``problem`` why the file cannot be used ("" when fine)."""
    path: str
    tracks: tuple = ()
    melody: int | None = None
    problem: str = ""


@dataclass
class FolderScan:
    folder: str
    files: list = field(default_factory=list)
    report: dict = field(default_factory=dict)     # ml.data.folder report (songs, bars, windows, instruments …)
    error: str = ""                                # no usable window at all (the message says why)


def scan_folder(folder, overrides: dict | None = None, progress: ProgressFn = None,
                should_stop: StopFn = None) -> FolderScan:
    """Every MIDI file's tracks and guessed melody, plus what the training would get (with ``overrides``).

    When no file is usable (``error`` set), each file's ``problem`` says why. Raises DataError for a missing folder
    or one without MIDI files; Cancelled on stop.
    """
    from .core.gm import program_name
    from .midi.io import MidiFileError, read_midi
    from .ml.data import DataError
    from .ml.data.folder import pick_melody, require_midi_files
    folder = os.fspath(folder)
    files = require_midi_files(folder)
    scan = FolderScan(folder)
    for k, path in enumerate(files):
        check_stop(should_stop)
        report(progress, 0.5 * k / len(files), f"reading {os.path.basename(path)}")
        rel = os.path.relpath(path, folder)
        try:
            song = read_midi(path)
        except MidiFileError as exc:
            scan.files.append(FileInfo(rel, problem=str(exc)))
            continue
        labels = tuple(f"{i + 1}. {t.name or 'track'} ({program_name(t.program, t.is_drum)}, {len(t.notes)} notes)"
                       for i, t in enumerate(song.tracks))
        mi = pick_melody(song, None)
        scan.files.append(FileInfo(rel, labels, mi, "" if mi is not None else "no track to use as the melody"))
    try:
        *_, rep = build_data(folder, overrides or {}, progress=lambda f, m: report(progress, 0.5 + f / 2, m),
                             should_stop=should_stop)
        scan.report = rep
    except DataError as exc:
        scan.error = str(exc)                        # its message names five skipped files at most: each row says
        why_not = dict(exc.skipped)                  # its own reason
        scan.files = [f if f.problem else dataclasses.replace(f, problem=why_not.get(f.path, "")) for f in scan.files]
    report(progress, 1.0, "done")
    return scan


def build_data(folder, overrides: dict | None = None, out=None, progress: ProgressFn = None,
               should_stop: StopFn = None):
    """``build_from_folder`` with the user's melody track per file (``overrides``: relative path -> track index).

    Returns the same tuple (arrays, meta, report); writes the cache to ``out`` when given. Raises DataError.
    """
    from .midi.io import MidiFileError, read_midi, write_midi
    from .ml.data import save_cache
    from .ml.data.folder import build_from_folder, midi_files, pick_melody
    folder = os.fspath(folder)
    if not overrides:
        return build_from_folder(folder, None, progress, should_stop, out=None if out is None else os.fspath(out))
    with tempfile.TemporaryDirectory(prefix="dcd-train-") as tmp:
        names = {}
        for path in midi_files(folder):
            check_stop(should_stop)
            rel = os.path.relpath(path, folder)
            dst = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            try:
                song = read_midi(path)
            except MidiFileError:
                shutil.copyfile(path, dst)                  # skipped again, with the reader's reason
                continue
            mi = overrides.get(rel)
            if mi is None or not 0 <= int(mi) < len(song.tracks):
                mi = pick_melody(song, None)
            if mi is None:
                shutil.copyfile(path, dst)
                continue
            mi = int(mi)
            names[rel] = song.tracks[mi].name or f"track {mi + 1}"
            write_midi(song.replace_track(mi, dataclasses.replace(song.tracks[mi], name=TOKEN)), dst)
        mel, acc, om, oa, sid, meta, rep = build_from_folder(tmp, TOKEN, progress, should_stop)
    meta = json.loads(json.dumps(meta).replace(json.dumps(tmp)[1:-1], json.dumps(folder)[1:-1]))
    meta["genre"] = os.path.basename(os.path.normpath(folder))
    meta["melody_track"] = None
    rep["melody"] = {f: names.get(f, n) for f, n in rep.get("melody", {}).items()}
    rep["skipped"] = [[f, "no track with notes to use as the melody" if TOKEN in why else why]
                      for f, why in rep.get("skipped", [])]
    if out is not None:
        save_cache(os.fspath(out), mel, acc, om, oa, sid, meta)
    return mel, acc, om, oa, sid, meta, rep


def builtin_datasets() -> list[tuple[str, Path]]:
    """(genre, cache path) of the genre caches built from the shared data (``ml.data.build``)."""
    out = []
    for d in CACHE_DIRS:
        if d.is_dir():
            out += [(p.stem, p) for p in sorted(d.glob("*.npz")) if "_" not in p.stem]
    return out


def describe_cache(path) -> dict:
    """Songs, windows, bars and tracks of a cache without unpacking its rolls; raises DataError if unreadable."""
    import numpy as np

    from .core.gm import program_name
    from .ml.data import DataError
    try:
        with np.load(os.fspath(path), allow_pickle=False) as z:
            n = int(z["song_id"].shape[0])
            songs = len(set(z["song_id"].tolist()))
            meta = json.loads(str(z["meta"]))
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"The data set {path} cannot be read ({exc})") from None
    tracks = meta.get("tracks", [])
    return {"songs": songs, "windows": n, "bars": n * int(meta.get("bars", 8)),
            "instruments": {t.get("name", "?"): [program_name(int(t.get("program", 0)), bool(t.get("is_drum")))]
                            for t in tracks},
            "sources": [s.get("folder", "") + (f" ({s['licence']})" if s.get("licence") else "")
                        for s in meta.get("sources", [])]}
