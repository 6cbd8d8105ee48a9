"""GAN training sets: per-genre 8-bar piano-roll windows, cached as packed ``.npz`` files (numpy only, no torch).

A cache ``cache/gan/<genre>.npz`` holds ``melody`` (N, 128, 16) and ``accomp`` (N, T, 128, 16) — bool rolls of
8 bars x 16 steps x 128 pitches packed along the pitch axis with ``np.packbits`` —, the matching
``onsets_melody`` / ``onsets_accomp`` (note starts), ``song_id`` (N,) int32 and ``meta`` (a 0-d str array of JSON:
genre, bars, steps_per_bar, tracks with their origin, sources with licences, song titles).
Builders live in the sibling modules (one per genre) and share :class:`WindowCollector`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

BARS = 8
STEPS_PER_BAR = 16
WINDOW = BARS * STEPS_PER_BAR        # 128 steps of sixteenth notes
PITCHES = 128
PACKED = PITCHES // 8                # 16 bytes per step after packbits


class DataError(ValueError):
    """A data folder or cache that cannot be used; the message says what is wrong in plain words. ``skipped``:
    every file passed over and why ([file, why] pairs), when a folder had nothing usable."""

    def __init__(self, message: str, skipped=()) -> None:
        super().__init__(message)
        self.skipped = [list(x) for x in skipped]


def pack(roll: np.ndarray) -> np.ndarray:
    """bool (..., 128) -> uint8 (..., 16)."""
    return np.packbits(np.asarray(roll, dtype=bool), axis=-1)


def unpack(packed: np.ndarray) -> np.ndarray:
    """uint8 (..., 16) -> bool (..., 128)."""
    return np.unpackbits(np.asarray(packed, dtype=np.uint8), axis=-1, count=PITCHES).astype(bool)


def _packed(a: np.ndarray, ndim_bool: int, name: str, steps: int) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == bool or (a.ndim == ndim_bool and a.shape[-1] == PITCHES):
        a = pack(a.astype(bool))
    if a.dtype != np.uint8 or a.ndim != ndim_bool or a.shape[-1] != PACKED or a.shape[-2] != steps:
        raise DataError(f"{name} has shape {a.shape} / {a.dtype}; expected {ndim_bool} axes ending in "
                        f"({steps}, {PITCHES}) bool or ({steps}, {PACKED}) packed")
    return a


def save_cache(path, melody, accomp, onsets_melody, onsets_accomp, song_id, meta: dict) -> int:
    """Write a cache (``np.savez_compressed``); rolls may be bool or already packed. Returns the file size in bytes.

    ``meta["bars"] * meta["steps_per_bar"]`` (default 8 x 16) is the window length. Raises DataError when the
    shapes do not agree.
    """
    steps = int(meta.get("bars", BARS)) * int(meta.get("steps_per_bar", STEPS_PER_BAR))
    mel = _packed(melody, 3, "melody", steps)
    acc = _packed(accomp, 4, "accomp", steps)
    om = _packed(onsets_melody, 3, "onsets_melody", steps)
    oa = _packed(onsets_accomp, 4, "onsets_accomp", steps)
    sid = np.asarray(song_id, dtype=np.int32)
    n = mel.shape[0]
    if acc.shape[0] != n or om.shape != mel.shape or oa.shape != acc.shape or sid.shape != (n,):
        raise DataError(f"cache arrays disagree: melody {mel.shape}, accomp {acc.shape}, onsets {om.shape} / "
                        f"{oa.shape}, song_id {sid.shape}")
    tracks = meta.get("tracks", [])
    if len(tracks) != acc.shape[1]:
        raise DataError(f"meta names {len(tracks)} tracks but accomp has {acc.shape[1]}")
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.npz"
    np.savez_compressed(tmp, melody=mel, accomp=acc, onsets_melody=om, onsets_accomp=oa, song_id=sid,
                        meta=np.array(json.dumps(meta)))
    os.replace(tmp, path)
    return os.path.getsize(path)


def load_cache(path):
    """``(melody, accomp, onsets_melody, onsets_accomp, song_id, meta)`` with bool rolls and ``meta`` a dict.

    melody / onsets_melody: bool (N, 128, 128); accomp / onsets_accomp: bool (N, T, 128, 128); song_id int32 (N,).
    Raises DataError for a missing or damaged file.
    """
    try:
        with np.load(os.fspath(path), allow_pickle=False) as z:
            mel, acc = z["melody"], z["accomp"]
            om, oa = z["onsets_melody"], z["onsets_accomp"]
            sid = z["song_id"].astype(np.int32)
            meta = json.loads(str(z["meta"]))
    except FileNotFoundError:
        raise DataError(f"No training cache at {path}: build it with "
                        f"'python -m deepcomposer_desktop.ml.data.build --genre GENRE'") from None
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"The training cache {path} is damaged ({e}); build it again") from None
    return unpack(mel), unpack(acc), unpack(om), unpack(oa), sid, meta


def track_info(name: str, program: int, is_drum: bool, origin: str) -> dict:
    """One entry of ``meta["tracks"]``; origin is ``"real: <source>"`` or ``"rule: <how>"``."""
    return {"name": name, "program": int(program), "is_drum": bool(is_drum), "origin": origin}


@dataclass
class WindowCollector:
    """Cuts whole songs (step rolls at 16 steps per bar) into 8-bar windows and keeps them packed.

    ``stride_bars`` is the hop between windows; a window whose melody is silent in more than half its bars is
    dropped. Songs are numbered in the order they are added (their index into ``titles``).
    """

    n_tracks: int
    stride_bars: int = 4
    max_windows_per_song: int | None = None
    titles: list = field(default_factory=list)
    mel: list = field(default_factory=list)
    acc: list = field(default_factory=list)
    om: list = field(default_factory=list)
    oa: list = field(default_factory=list)
    sid: list = field(default_factory=list)

    def add_song(self, title: str, melody: np.ndarray, melody_onsets: np.ndarray, accomp: np.ndarray,
                 accomp_onsets: np.ndarray, same_song: bool = False) -> int:
        """melody (S, 128), accomp (T, S, 128) bool rolls from bar 1 beat 1. Returns the windows kept.

        ``same_song=True`` adds another stretch of the previous song (same song_id, no new title)."""
        melody = np.asarray(melody, dtype=bool)
        accomp = np.asarray(accomp, dtype=bool)
        s = melody.shape[0]
        if accomp.shape != (self.n_tracks, s, PITCHES) or melody.shape != (s, PITCHES):
            raise DataError(f"song '{title}': melody {melody.shape} / accomp {accomp.shape} do not fit "
                            f"{self.n_tracks} tracks")
        melody_onsets = np.asarray(melody_onsets, dtype=bool) & melody
        accomp_onsets = np.asarray(accomp_onsets, dtype=bool) & accomp
        same_song = same_song and bool(self.titles)
        song = len(self.titles) - 1 if same_song else len(self.titles)
        kept = 0
        hop = self.stride_bars * STEPS_PER_BAR
        for start in range(0, max(s, 1), hop):
            if self.max_windows_per_song is not None and \
                    kept + (self.sid.count(song) if same_song else 0) >= self.max_windows_per_song:
                break
            m = _window(melody, start)
            bars_on = m.reshape(BARS, STEPS_PER_BAR, PITCHES).any(axis=(1, 2)).sum()
            if bars_on * 2 < BARS:
                continue
            self.mel.append(pack(m))
            self.om.append(pack(_window(melody_onsets, start)))
            self.acc.append(pack(_window(accomp, start, axis=1)))
            self.oa.append(pack(_window(accomp_onsets, start, axis=1)))
            self.sid.append(song)
            kept += 1
        if not same_song:
            self.titles.append(title)
        return kept

    def __len__(self) -> int:
        return len(self.mel)

    def arrays(self):
        """Packed ``(melody, accomp, onsets_melody, onsets_accomp, song_id)``."""
        if not self.mel:
            raise DataError("No usable 8-bar windows were found in the data")
        return (np.stack(self.mel), np.stack(self.acc), np.stack(self.om), np.stack(self.oa),
                np.asarray(self.sid, dtype=np.int32))

    def save(self, path, meta: dict) -> int:
        meta = dict(meta, bars=BARS, steps_per_bar=STEPS_PER_BAR, songs=list(self.titles))
        return save_cache(path, *self.arrays(), meta)


def _window(roll: np.ndarray, start: int, axis: int = 0) -> np.ndarray:
    """``WINDOW`` steps of ``roll`` from ``start`` along ``axis``, zero-padded past the end."""
    sl = [slice(None)] * roll.ndim
    sl[axis] = slice(start, start + WINDOW)
    part = roll[tuple(sl)]
    if part.shape[axis] == WINDOW:
        return part
    pad = [(0, 0)] * roll.ndim
    pad[axis] = (0, WINDOW - part.shape[axis])
    return np.pad(part, pad)
