"""Build the Transformer's training cache from the real sets in ``../shared/data`` (run once, a few minutes on CPU).

``python -m deepcomposer_desktop.ml.transformer.data --data ../shared/data`` writes ``cache/transformer/data.npz``:
``tokens`` (uint16, every sequence concatenated), ``offsets`` (int64, n+1), ``split`` (0 train / 1 test, chosen per
piece so both views of a piece land on the same side), ``source`` (index into ``sources``) and ``names``.
Each piece gives two sequences: all its parts (melody first) and its melody alone, so one model serves both
``tracks="melody"`` and ``tracks="all"``. The trainer reads only this file (numpy), so it runs where mido is missing.

Sets used: Nottingham (melody + chords, GPLv3), POP909 (melody, bridge, piano; MIT repo), JSB chorales
(czhuang JSON, its own train/valid/test split; S/A/T/B), Weimar Jazz Database solos (wjazzd CSV, ODbL; solo +
the annotated walking-bass pitch per beat), folk ABC tunes from music21's corpus (O'Neill's 1850, Ryan's Mammoth,
Aird's Airs: melody only, read by ``ml/data/abc.py``; not the Essen folksongs, whose licence is non-commercial),
OpenScore Lieder (CC0: voice + piano) and the Hauptstimme orchestral main melodies (CC0: melody only); the last two
through the fast MusicXML reader, parsed once into ``build/score_json``. Repeats are never expanded.
"""
from __future__ import annotations

import argparse
import bisect
import csv
import glob
import json
import os
import re
import sys
import time
import zlib
from pathlib import Path

import numpy as np

from ..data.musicxml import PARSED_DIR
from . import tokens as T

SOURCES = ("nottingham", "pop909", "jsb", "wjazzd", "abc_folk", "lieder", "orchestra")
DEFAULT_CACHE = Path(__file__).resolve().parents[3] / "cache" / "transformer" / "data.npz"    # the project's
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


# --- notated sets: notes in quarter notes on a measure grid (ABC books, MusicXML scores) -------------------------
ABC_BOOKS = ("oneills1850", "ryansMammoth", "airdsAirs")      # not essenFolksong: non-commercial licence
LIEDER = "openscore_lieder/scores"
ORCHESTRA = "hauptstimme_orchestra/data"
SCORE_BPM = 100.0              # the MusicXML reader gives no tempo
FAM_KEYS, FAM_GUITAR, FAM_STRINGS, FAM_VOICE = 0, 3, 5, 6      # GM families (6 holds Choir Aahs / Voice Oohs)
_VOICE = re.compile(r"voice|voix|stimme|gesang|chant|canto|sopran|mezzo|alto|contralto|tenor|ténor|bariton|bass"
                    r"|solo|dessus|^[satb]\.?$", re.I)
_INSTRUMENT = re.compile(r"piano|klavier|clavier|harpsichord|cembalo|organ|orgue|orgel|guitar|harp|flute|flauto"
                         r"|traverso|oboe|clarinet|horn|violin|viola|bratsche|cello|recorder", re.I)
_ACCOMP = ((re.compile(r"piano|klavier|clavier|harpsichord|cembalo|organ|orgue|orgel", re.I), FAM_KEYS),
           (re.compile(r"guitar", re.I), FAM_GUITAR))
_REDUCTION = re.compile(r"practice|rehearsal", re.I)            # a piano reduction of the voices
_EPS = 1e-6


def _nominal(m) -> float:
    return m.beats * 4.0 / m.beat_type


def _grid_bars(measures, parts) -> list[list] | None:
    """Piece bars from a measure grid (``musicxml.Measure``) and per-slot notes ``(onset, dur, pitch)`` in quarters.

    Consecutive short measures that add up to at most one bar (a bar split around a repeat sign) become one bar; a
    short first bar (a pickup) is padded in front, as the Nottingham files do; a measure of whole bars (a missing
    bar line) is cut into bars. Returns None when a bar is longer than ``MAX_BAR_STEPS``.
    """
    spq = T.STEPS_PER_BEAT
    groups: list[tuple[float, int, int]] = []          # (start in quarters, steps, pad steps)
    i = 0
    while i < len(measures):
        m, j = measures[i], i + 1
        nominal, length = _nominal(m), m.length
        while length < nominal - _EPS and j < len(measures) and measures[j].length < _nominal(measures[j]) - _EPS \
                and length + measures[j].length < nominal + _EPS:
            length += measures[j].length
            j += 1
        k = length / nominal
        if k > 1 + _EPS and abs(k - round(k)) < _EPS:
            groups += [(m.offset + b * nominal, int(round(nominal * spq)), 0) for b in range(int(round(k)))]
        else:
            pad = int(round((nominal - length) * spq)) if not groups and length < nominal - _EPS else 0
            groups.append((m.offset, int(round(length * spq)) + pad, pad))
        i = j
    if any(steps > T.MAX_BAR_STEPS for _, steps, _ in groups):
        return None
    starts = [g[0] for g in groups]
    bars: list[list] = [[] for _ in groups]
    for slot, notes in enumerate(parts):
        for onset, dur, pitch in notes:
            b = bisect.bisect_right(starts, onset + _EPS) - 1
            if b < 0:
                continue
            start, steps, pad = groups[b]
            pos = int(round((onset - start) * spq)) + pad
            if pos >= steps:
                b, pos = b + 1, 0
                if b >= len(bars):
                    continue
            bars[b].append((pos, slot, int(pitch), max(1, int(round(dur * spq))), 80))
    return bars


def _top_line(notes) -> list[tuple[float, float, int]]:
    """The highest note of each onset (a melody part's chords, divisi or ossia notes)."""
    best: dict[int, tuple[float, float, int]] = {}
    for onset, dur, pitch in notes:
        k = int(round(onset * T.STEPS_PER_BEAT))
        if k not in best or pitch > best[k][2]:
            best[k] = (onset, dur, int(pitch))
    return sorted(best.values())


def _skip(skipped, name: str, why: str) -> None:
    if skipped is not None:
        skipped.append(f"{name}: {why}")


def read_abc_folk(root: Path, skipped: list | None = None):
    """Folk tunes from music21's ABC books (melody only, played as fiddle tunes). ``skipped`` collects reasons."""
    from ..data.abc import read_book
    base = root / "music21_corpus_subset"
    for book in ABC_BOOKS:
        for path in sorted((base / book).glob("*.abc")):
            tunes, failed = read_book(path)
            for why in failed:
                _skip(skipped, f"abc/{book}/{path.stem}", why)
            for tune in tunes:
                name = f"abc/{book}/{path.stem}/{tune.number}"
                bars = _grid_bars(tune.measures, [tune.notes])
                if bars is None:
                    _skip(skipped, name, "a bar longer than 8 quarter notes")
                    continue
                piece = T.Piece(tune.meter, tune.bpm, [FAM_STRINGS], bars, True)
                yield name, _is_test(name), _trim_empty(piece)


def _accomp_family(part_name: str) -> int | None:
    return next((f for r, f in _ACCOMP if r.search(part_name)), None)


def _score_piece(score, melody, melody_family: int, accomp: list) -> T.Piece | None:
    """A Piece from a parsed score: ``melody`` notes (made monophonic) then ``(family, notes)`` parts; the metre
    is the first measure's. None when a bar is too long."""
    bars = _grid_bars(score.measures, [_top_line(melody)] + [notes for _, notes in accomp])
    if bars is None:
        return None
    m0 = score.measures[0]
    return T.Piece((m0.beats, m0.beat_type), SCORE_BPM, [melody_family] + [f for f, _ in accomp], bars, True)


def _scores(base: Path, prefix: str, pattern: str, skipped, parsed_dir):
    """(name, parsed score) for every MusicXML file matching ``pattern`` below ``base``; unreadable ones skipped."""
    from ..data import DataError
    from ..data.musicxml import cached_score
    for path in sorted(glob.glob(os.path.join(base, "**", pattern), recursive=True)):
        name = f"{prefix}/" + os.path.relpath(os.path.dirname(path), base)
        try:
            yield name, cached_score(path, parsed_dir)
        except (DataError, OSError) as e:
            _skip(skipped, name, str(e))


def read_lieder(root: Path, skipped: list | None = None, parsed_dir: str | None = PARSED_DIR):
    """OpenScore Lieder: the first voice part as melody (by name, else the first part that is neither keyboard nor
    guitar: a few scores name the voice after a playback instrument), keyboard and guitar parts as accompaniment;
    obbligato instruments, the other voices of part-songs and rehearsal pianos are left out. ``skipped`` collects
    reasons."""
    for name, score in _scores(root / LIEDER, "lieder", "*.mxl", skipped, parsed_dir):
        parts = [p for p in score.parts if p.notes]
        clean = [" ".join(p.name.split()) for p in parts]
        voice = next((p for p, n in zip(parts, clean) if _VOICE.search(n) and not _INSTRUMENT.search(n)), None)
        if voice is None:
            voice = next((p for p, n in zip(parts, clean) if _accomp_family(n) is None), None)
        if voice is None:
            _skip(skipped, name, "no voice part")
            continue
        accomp = [(_accomp_family(n), p.notes) for p, n in zip(parts, clean)
                  if p is not voice and _accomp_family(n) is not None and not _REDUCTION.search(n)]
        piece = _score_piece(score, voice.notes, FAM_VOICE, accomp[:T.MAX_TRACKS - 1])
        if piece is None:
            _skip(skipped, name, "a bar longer than 8 quarter notes")
            continue
        yield name, _is_test(name), _trim_empty(piece)


def read_orchestra(root: Path, skipped: list | None = None, parsed_dir: str | None = PARSED_DIR):
    """Hauptstimme: the human-annotated main melody of orchestral movements (melody only, as strings)."""
    for name, score in _scores(root / ORCHESTRA, "orchestra", "*_melody.mxl", skipped, parsed_dir):
        piece = _score_piece(score, [x for p in score.parts for x in p.notes], FAM_STRINGS, [])
        if piece is None:
            _skip(skipped, name, "a bar longer than 8 quarter notes")
            continue
        yield name, _is_test(name), _trim_empty(piece)


READERS = {"nottingham": read_nottingham, "pop909": read_pop909, "jsb": read_jsb, "wjazzd": read_wjazzd,
           "abc_folk": read_abc_folk, "lieder": read_lieder, "orchestra": read_orchestra}


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
