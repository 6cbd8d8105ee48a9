"""Build the Transformer's training cache from the real sets in ``../shared/data`` (run once, ~2-4 min on CPU).

``python -m deepcomposer_desktop.ml.transformer.data --data ../shared/data`` writes ``cache/transformer/data.npz``:
``tokens`` (uint16, every sequence concatenated), ``offsets`` (int64, n+1), ``split`` (0 train / 1 test, chosen per
piece so both views of a piece land on the same side), ``source`` (index into ``sources``) and ``names``.
Each piece gives two sequences: all its parts (melody first) and its melody alone, so one model serves both
``tracks="melody"`` and ``tracks="all"``. The trainer reads only this file (numpy), so it runs where mido is missing.

Sets used: Nottingham (melody + chords, GPLv3), POP909 (melody, bridge, piano; MIT repo), JSB chorales
(czhuang JSON, its own train/valid/test split; S/A/T/B), Weimar Jazz Database solos (wjazzd CSV, ODbL; solo +
the annotated walking-bass pitch per beat). MusicXML sets (lieder, orchestral melodies, folk ABC) are skipped:
music21 parsing is too slow for this build.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import zlib
from pathlib import Path

import numpy as np

from . import tokens as T

SOURCES = ("nottingham", "pop909", "jsb", "wjazzd")
DEFAULT_CACHE = Path("cache/transformer/data.npz")
TEST_PERCENT = 6


def _is_test(name: str) -> bool:
    return zlib.crc32(name.encode()) % 100 < TEST_PERCENT


def _two_views(piece: T.Piece) -> list[list[int]]:
    """Token lists for the whole piece and (if it has several parts) for its melody alone."""
    full = T.encode_piece(piece)
    if len(piece.families) == 1:
        return [full]
    mel = T.Piece(piece.meter, piece.bpm, piece.families[:1],
                  [[n for n in bar if n[1] == 0] for bar in piece.bars], piece.ended)
    return [full, T.encode_piece(mel)]


def _trim_empty(piece: T.Piece) -> T.Piece:
    """Drop leading and trailing empty bars."""
    bars = piece.bars
    while bars and not bars[-1]:
        bars = bars[:-1]
    while bars and not bars[0]:
        bars = bars[1:]
    piece.bars = bars
    return piece


# --- readers: each yields (name, is_test, Piece) ----------------------------------------------------------------
def read_nottingham(root: Path):
    from ...midi.io import MidiFileError, read_midi
    for path in sorted((root / "nottingham" / "MIDI").glob("*.mid")):
        try:
            song = read_midi(path)
        except (MidiFileError, ValueError):
            continue
        slots = [i for i, t in enumerate(song.tracks) if t.notes][:2]
        if not slots:
            continue
        piece = T.song_to_piece(song, slots)
        piece.ended = True
        yield f"nottingham/{path.stem}", _is_test(path.stem), _trim_empty(piece)


def _pop909_downbeat(folder: Path):
    """(first downbeat in seconds, beats per bar) from POP909's beat_midi.txt."""
    rows = np.loadtxt(folder / "beat_midi.txt", ndmin=2)
    down = np.flatnonzero(rows[:, 2] > 0.5)
    if len(down) < 2:
        return float(rows[0, 0]) if len(rows) else 0.0, 4
    gaps = np.diff(down)
    bpb = int(np.bincount(gaps).argmax())
    return float(rows[down[0], 0]), bpb if 2 <= bpb <= 7 else 4


def read_pop909(root: Path):
    from ...core.edits import shift_track
    from ...core.song import TimeSignature
    from ...core.timing import TempoMap
    from ...midi.io import MidiFileError, read_midi
    for folder in sorted((root / "pop909" / "POP909").glob("[0-9][0-9][0-9]")):
        try:
            song = read_midi(folder / f"{folder.name}.mid")
            t0, bpb = _pop909_downbeat(folder)
        except (MidiFileError, ValueError, OSError):
            continue
        bar_ticks = bpb * song.ppq
        first = int(round(TempoMap.of(song).seconds_to_tick(t0)))
        offset = first % bar_ticks
        names = {t.name.upper(): i for i, t in enumerate(song.tracks)}
        order = [names[n] for n in ("MELODY", "BRIDGE", "PIANO") if n in names and song.tracks[names[n]].notes]
        if not order or order[0] != names.get("MELODY"):
            continue
        tracks = tuple(shift_track(t, bar_ticks - offset) if offset else t for t in song.tracks)
        song = song.replace(tracks=tracks, time_signatures=(TimeSignature(0, bpb, 4),), melody_index=order[0])
        piece = T.song_to_piece(song, order)
        piece.ended = True
        yield f"pop909/{folder.name}", _is_test(folder.name), _trim_empty(piece)


def read_jsb(root: Path):
    data = json.loads((root / "jsb_chorales_czhuang" / "jsb-chorales-16th.json").read_text())
    step = T.STEPS_PER_BEAT // 4
    for split in ("train", "valid", "test"):
        for k, chorale in enumerate(data[split]):
            # chorale: list of 16th-note steps, each a list of pitches (S, A, T, B order, highest first)
            notes = []
            held: dict[int, tuple[int, int]] = {}      # voice -> (pitch, start step)
            for s, chord in enumerate(chorale + [[]]):
                voices = sorted((int(p) for p in chord), reverse=True)[:4]
                for v in range(4):
                    p = voices[v] if v < len(voices) else None
                    if v in held and held[v][0] != p:
                        pitch, start = held.pop(v)
                        notes.append((start, v, pitch, s - start))
                    if p is not None and v not in held:
                        held[v] = (p, s)
            bars = [[] for _ in range(-(-len(chorale) // 16))]
            for start, v, pitch, dur in notes:
                bars[start // 16].append(((start % 16) * step, v, pitch, dur * step, 80))
            piece = T.Piece((4, 4), 96.0, [0, 0, 0, 0], bars, True)
            yield f"jsb/{split}{k}", split == "test", _trim_empty(piece)


def read_wjazzd(root: Path):
    base = root / "wjazzd_csv_mingus" / "A_preprocessData" / "data" / "WjazzDBcsv"
    for path in sorted((base / "csv_melody").glob("*.csv")):
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        if not rows:
            continue
        try:
            num, den = int(rows[0]["num"]), int(rows[0]["denom"])
            first_bar = min(int(r["bar"]) for r in rows)
            beatdur = float(np.median([float(r["beatdur"]) for r in rows]))
        except (KeyError, ValueError):
            continue
        spb = T.STEPS_PER_BEAT * 4 // den          # steps per beat of this metre
        bar_steps = num * spb
        if bar_steps > T.MAX_BAR_STEPS or beatdur <= 0:
            continue
        bars: dict[int, list] = {}
        for r in rows:
            try:
                b = int(r["bar"]) - first_bar
                pos = int(round((int(r["beat"]) - 1 + (int(r["tatum"]) - 1) / max(1, int(r["division"]))) * spb))
                dur = max(1, int(round(float(r["duration"]) / beatdur * spb)))
                pitch = int(round(float(r["pitch"])))
            except (KeyError, ValueError):
                continue
            if pos >= bar_steps:
                b, pos = b + 1, pos - bar_steps
            if 0 <= pitch < 128 and b >= 0:
                bars.setdefault(b, []).append((pos, 0, pitch, dur, 80))
        fams = [8]                                   # reeds (most WJazzD solos are saxophone)
        beats = base / "csv_beats" / path.name
        if beats.is_file():
            with open(beats, newline="") as fh:
                for r in csv.DictReader(fh):
                    try:
                        b, beat, p = int(r["bar"]) - first_bar, int(r["beat"]), int(float(r["bass_pitch"]))
                    except (KeyError, ValueError):
                        continue
                    if b >= 0 and 0 < p < 128 and 1 <= beat <= num:
                        bars.setdefault(b, []).append(((beat - 1) * spb, 1, p, spb, 80))
            if any(n[1] == 1 for bar in bars.values() for n in bar):
                fams = [8, 4]                        # + bass
        n_bars = max(bars) + 1 if bars else 0
        piece = T.Piece((num, den), 60.0 / beatdur * den / 4, fams, [bars.get(b, []) for b in range(n_bars)], True)
        yield f"wjazzd/{path.stem}", _is_test(path.stem), _trim_empty(piece)


READERS = {"nottingham": read_nottingham, "pop909": read_pop909, "jsb": read_jsb, "wjazzd": read_wjazzd}


def build(data_root: Path, out: Path = DEFAULT_CACHE, sources=SOURCES, log=print) -> dict:
    """Read every source, tokenise, write the cache; returns a summary dict."""
    seqs, split, source, names = [], [], [], []
    summary = {}
    for si, src in enumerate(SOURCES):
        if src not in sources:
            continue
        t0, n_pieces, n_tok = time.time(), 0, 0
        for name, is_test, piece in READERS[src](data_root):
            if len(piece.bars) < 2:
                continue
            for k, toks in enumerate(_two_views(piece)):
                seqs.append(np.asarray(toks, dtype=np.uint16))
                split.append(1 if is_test else 0)
                source.append(si)
                names.append(name + ("" if k == 0 else "#melody"))
                n_tok += len(toks)
            n_pieces += 1
        summary[src] = {"pieces": n_pieces, "tokens": n_tok}
        log(f"{src}: {n_pieces} pieces, {n_tok:,} tokens ({time.time() - t0:.0f} s)")
    if not seqs:
        raise SystemExit(f"No training data found under {data_root}")
    offsets = save_cache(out, seqs, split, source, names)
    summary["total_tokens"] = int(offsets[-1])
    summary["bytes"] = out.stat().st_size
    log(f"wrote {out} ({summary['bytes'] / 2**20:.1f} MiB, {offsets[-1]:,} tokens, {len(seqs)} sequences)")
    return summary


def save_cache(out: Path, seqs, split, source, names) -> np.ndarray:
    """Write token sequences (lists/arrays of ids) with their split (0/1), source index and name; returns offsets."""
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(s) for s in seqs])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, tokens=np.concatenate([np.asarray(s, dtype=np.uint16) for s in seqs]),
                        offsets=offsets, split=np.asarray(split, np.uint8), source=np.asarray(source, np.uint8),
                        names=np.asarray(names), sources=np.asarray(SOURCES), vocab_size=np.int64(T.VOCAB_SIZE))
    return offsets


def load_cache(path: Path = DEFAULT_CACHE) -> dict:
    """The cache as numpy arrays (see module docstring)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"No training cache at {path}: run python -m deepcomposer_desktop.ml.transformer.data")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data", help="the shared data folder")
    p.add_argument("--out", default=str(DEFAULT_CACHE))
    p.add_argument("--sources", default=",".join(SOURCES), help="comma-separated subset of " + ",".join(SOURCES))
    args = p.parse_args(argv)
    root = Path(args.data)
    if not root.is_dir():
        print(f"data folder {root} not found", file=sys.stderr)
        return 2
    build(root, Path(args.out), tuple(args.sources.split(",")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
