"""Training cache for the AR-CNN: JSB chorales (16th-note grid, standard split) as binary piano rolls.

``python -m deepcomposer_desktop.ml.arcnn.data [--data ../shared/data] [--out cache/arcnn]`` writes
``chorales.npz`` (a few hundred KiB): per split a bool roll ``(total_steps, 128)`` of every chorale end to end
and ``<split>_offsets`` (chorale boundaries). numpy only; the training loop (train.py) reads just this file, so the
GPU machine needs neither music21 nor the raw data.

The music21 copy of the Bach chorales is deliberately NOT added: it holds the same ~400 chorales as JSB, so it
would leak JSB's test chorales into training unless deduplicated against the split.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

SPLITS = ("train", "valid", "test")
JSB_FILE = "jsb_chorales_czhuang/jsb-chorales-16th.json"
DEFAULT_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
DEFAULT_OUT = Path(__file__).resolve().parents[3] / "cache" / "arcnn"
CACHE_NAME = "chorales.npz"


def chorale_roll(frames: list[list[float]]) -> np.ndarray:
    """One chorale (a list of 16th-note frames, each a list of sounding MIDI pitches) as bool ``(steps, 128)``."""
    roll = np.zeros((len(frames), 128), dtype=bool)
    for t, frame in enumerate(frames):
        for p in frame:
            p = int(round(p))
            if 0 <= p < 128:
                roll[t, p] = True
    return roll


def build_cache(data_dir: str | Path = DEFAULT_DATA, out_dir: str | Path = DEFAULT_OUT) -> Path:
    """Read the JSB JSON and write ``out_dir/chorales.npz``; returns its path. Raises FileNotFoundError."""
    src = Path(data_dir) / JSB_FILE
    if not src.is_file():
        raise FileNotFoundError(f"JSB chorales not found at {src}")
    with open(src) as fh:
        raw = json.load(fh)
    arrays = {}
    for split in SPLITS:
        rolls = [chorale_roll(c) for c in raw[split]]
        arrays[f"{split}_roll"] = np.concatenate(rolls, axis=0)
        arrays[f"{split}_offsets"] = np.cumsum([0] + [len(r) for r in rolls]).astype(np.int64)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / CACHE_NAME
    np.savez_compressed(path, **arrays, source=np.array(JSB_FILE))
    return path


def load_cache(path: str | Path = DEFAULT_OUT / CACHE_NAME) -> dict[str, list[np.ndarray]]:
    """{split: [bool (steps, 128) per chorale]} from a cache file (or a folder holding ``chorales.npz``)."""
    path = Path(path)
    if path.is_dir():
        path = path / CACHE_NAME
    if not path.is_file():
        raise FileNotFoundError(f"No AR-CNN training cache at {path}: run "
                                "`python -m deepcomposer_desktop.ml.arcnn.data` first")
    with np.load(path) as z:
        out = {}
        for split in SPLITS:
            roll, off = z[f"{split}_roll"], z[f"{split}_offsets"]
            out[split] = [roll[off[i]:off[i + 1]] for i in range(len(off) - 1)]
    return out


def windows(chorales: list[np.ndarray], steps: int, stride: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """All training windows: (padded concatenated roll ``(N, 128)``, window start rows ``(W,)``).

    Chorales shorter than ``steps`` are zero-padded; starts advance by ``stride`` steps (4 = on the beat).
    """
    parts, starts, pos = [], [], 0
    for c in chorales:
        n = max(len(c), steps)
        padded = np.zeros((n, 128), dtype=bool)
        padded[:len(c)] = c
        parts.append(padded)
        starts.extend(range(pos, pos + n - steps + 1, stride))
        pos += n
    return np.concatenate(parts, axis=0), np.asarray(starts, dtype=np.int64)


def eval_windows(chorales: list[np.ndarray], steps: int) -> np.ndarray:
    """Non-overlapping windows covering every step once (the last one aligned to the chorale's end):
    bool ``(W, steps, 128)`` plus, per window, the first step not already covered by the previous one."""
    out, first = [], []
    for c in chorales:
        if len(c) < steps:
            w = np.zeros((steps, 128), dtype=bool)
            w[:len(c)] = c
            out.append(w)
            first.append(0)
            continue
        s = 0
        while s < len(c):
            w0 = min(s, len(c) - steps)
            out.append(c[w0:w0 + steps])
            first.append(s - w0)
            s += steps
    return np.stack(out), np.asarray(first, dtype=np.int64)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="the shared data folder")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="cache folder")
    args = ap.parse_args(argv)
    try:
        path = build_cache(args.data, args.out)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    data = load_cache(path)
    for split in SPLITS:
        steps = sum(len(c) for c in data[split])
        print(f"{split}: {len(data[split])} chorales, {steps} steps")
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
