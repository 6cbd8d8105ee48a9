"""GAN training windows: from a genre cache (``ml.data.load_cache``) or a folder of MIDI files (custom genre).

Numpy only. Also: held-out split by song, key normalisation (melody to C major / A minor, drums untouched) and
cutting 8-bar windows into 2-bar ones for the DeepComposer baseline.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import numpy as np

from ..common import ProgressFn, StopFn
from ..metrics import estimate_key

STEPS_PER_BAR = 16
WINDOW_BARS = 8
SMALL_SET = 40           # fewer songs than this: the held-out songs are chosen to fit MAX_HELD (split_by_song)
MAX_HELD = 0.2           # at most this share of a small set's windows is held out


class GanDataError(ValueError):
    """Training data that cannot be used; the message says what is wrong in plain words."""


@dataclass
class GanData:
    """Windows of melody + accompaniment: bool rolls melody (N, S, 128), accomp (N, T, S, 128) and onsets."""

    melody: np.ndarray
    melody_on: np.ndarray
    accomp: np.ndarray
    accomp_on: np.ndarray
    song_id: np.ndarray
    meta: dict = field(default_factory=dict)
    shifts: np.ndarray | None = None     # semitones each window was moved to C major / A minor (normalise_keys)

    @property
    def tracks(self) -> list[dict]:
        return list(self.meta.get("tracks", []))

    @property
    def is_drum(self) -> np.ndarray:
        return np.array([bool(t.get("is_drum")) for t in self.tracks], dtype=bool)

    def __len__(self) -> int:
        return len(self.melody)

    def subset(self, idx) -> "GanData":
        idx = np.asarray(idx)
        return replace(self, melody=self.melody[idx], melody_on=self.melody_on[idx], accomp=self.accomp[idx],
                       accomp_on=self.accomp_on[idx], song_id=self.song_id[idx],
                       shifts=None if self.shifts is None else self.shifts[idx])


def load_cache_data(path) -> GanData:
    """A genre cache written by ``ml.data`` (raises GanDataError if missing or damaged)."""
    try:
        from ..data import DataError, load_cache
    except ImportError as exc:                          # pragma: no cover - the data package ships with the app
        raise GanDataError(f"The training-cache reader is missing ({exc})") from None
    try:
        mel, acc, om, oa, sid, meta = load_cache(path)
    except DataError as exc:
        raise GanDataError(str(exc)) from None
    if len(meta.get("tracks", [])) != acc.shape[1]:
        raise GanDataError(f"{path}: the cache names {len(meta.get('tracks', []))} tracks but holds {acc.shape[1]}")
    return GanData(mel, om & mel, acc, oa & acc, sid.astype(np.int64), meta)


def load_training_data(spec, melody_track: str | int | None = None, progress: ProgressFn = None,
                       should_stop: StopFn = None) -> GanData:
    """``spec`` is a ``.npz`` cache or a folder of MIDI files (:func:`load_midi_folder`)."""
    spec = os.fspath(spec)
    if os.path.isdir(spec):
        return load_midi_folder(spec, melody_track, progress, should_stop)
    if not os.path.exists(spec):
        raise GanDataError(f"No training data at {spec}: give a folder of MIDI files or a .npz cache")
    return load_cache_data(spec)


def load_midi_folder(folder, melody_track: str | int | None = None, progress: ProgressFn = None,
                     should_stop: StopFn = None) -> GanData:
    """A folder of MIDI files read as the Training studio reads it (``ml.data.folder.build_from_folder``: the same
    files accepted, the same roles). ``melody_track``: a track name, or its number counted from 1 (default: the
    guessed melody). ``meta["report"]`` is the reader's report (songs, bars, windows ...), ``meta["skipped"]`` its
    skipped files ([file, why]).
    Raises GanDataError (no usable window: its message names skipped files and why) and Cancelled."""
    from ..data import DataError
    from ..data.folder import build_from_folder
    if isinstance(melody_track, int) or (isinstance(melody_track, str) and melody_track.strip().isdigit()):
        if int(melody_track) < 1:
            raise GanDataError("Tracks are counted from 1: give the melody track's number from 1 up, or its name")
        melody_track = int(melody_track) - 1            # the reader counts from 0
    try:
        mel, acc, om, oa, sid, meta, rep = build_from_folder(folder, melody_track, progress, should_stop)
    except DataError as exc:
        raise GanDataError(str(exc)) from None
    return GanData(mel, om & mel, acc, oa & acc, sid.astype(np.int64),
                   dict(meta, report=rep, skipped=rep["skipped"]))


# --- held-out split ---------------------------------------------------------------------------------------------
def split_by_song(data: GanData, test_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, held-out indices), split by song so no song is on both sides.

    Uses the cache's own split (``meta["song_split"]``: "test" songs held out) when it has one; otherwise every
    song whose hashed id falls in the lowest ``test_fraction`` is held out. A small set (fewer than SMALL_SET songs,
    or one where that would hold out more than MAX_HELD of the windows) holds out whole songs, in a fixed order,
    up to MAX_HELD of the windows (:func:`_small_set_held`): at least one song when there are two or more, none
    when there is one.
    """
    sid = np.asarray(data.song_id)
    split = data.meta.get("song_split")
    if isinstance(split, list) and split and max(sid, default=-1) < len(split):
        test_songs = np.array([s == "test" for s in split], dtype=bool)
        held = test_songs[sid]
    else:
        h = (sid.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(1000)
        held = h < int(round(test_fraction * 1000))
        if len(np.unique(sid)) < SMALL_SET or held.mean() > MAX_HELD:
            return _small_set_held(sid, test_fraction)
    if held.all() or not held.any():
        held = np.zeros(len(sid), bool)
        held[:: max(2, int(round(1 / max(test_fraction, 1e-3))))] = True
    return np.nonzero(~held)[0], np.nonzero(held)[0]


def _small_set_held(sid: np.ndarray, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) indices of a small set: songs taken in a fixed scrambled order (not song 0 first) while
    they fit in MAX_HELD of the windows, until ``test_fraction`` of them is held out; when no song fits, the one
    with the fewest windows. One song: nothing held out."""
    songs, counts = np.unique(sid, return_counts=True)
    chosen: list = []
    if len(songs) >= 2:
        order = np.argsort((songs.astype(np.float64) + 1.0) * 0.6180339887498949 % 1.0, kind="stable")
        taken = 0
        for k in order:
            if taken >= test_fraction * len(sid):
                break
            if taken + counts[k] <= MAX_HELD * len(sid):
                chosen.append(songs[k])
                taken += counts[k]
        if not chosen:
            chosen = [songs[order[np.argmin(counts[order])]]]
    held = np.isin(sid, chosen)
    return np.nonzero(~held)[0], np.nonzero(held)[0]


# --- keys -------------------------------------------------------------------------------------------------------------
def key_shift(melody_roll: np.ndarray) -> int:
    """Semitones (-6..5) that move the melody's estimated key to C major or A minor (0 for an empty roll)."""
    key = estimate_key(melody_roll)
    if key is None:
        return 0
    tonic, minor = key
    major_tonic = (tonic + 3) % 12 if minor else tonic        # relative major
    return int((-major_tonic + 6) % 12 - 6)


def shift_pitches(roll: np.ndarray, semitones: int) -> np.ndarray:
    """Move a (..., 128) roll by ``semitones`` along the pitch axis; notes pushed out of 0-127 are dropped."""
    out = np.zeros_like(roll)
    if semitones > 0:
        out[..., semitones:] = roll[..., :-semitones]
    elif semitones < 0:
        out[..., :semitones] = roll[..., -semitones:]
    else:
        out[...] = roll
    return out


def normalise_keys(data: GanData) -> tuple[GanData, np.ndarray]:
    """Every window moved so its melody is in C major / A minor (drum tracks untouched); returns the shifts."""
    shifts = np.array([key_shift(m) for m in data.melody], dtype=np.int64)
    mel, mon = data.melody.copy(), data.melody_on.copy()
    acc, aon = data.accomp.copy(), data.accomp_on.copy()
    pitched = ~data.is_drum
    for i, s in enumerate(shifts):
        if s == 0:
            continue
        mel[i], mon[i] = shift_pitches(data.melody[i], s), shift_pitches(data.melody_on[i], s)
        acc[i, pitched] = shift_pitches(data.accomp[i, pitched], s)
        aon[i, pitched] = shift_pitches(data.accomp_on[i, pitched], s)
    return replace(data, melody=mel, melody_on=mon, accomp=acc, accomp_on=aon, shifts=shifts), shifts


def melody_median(data: GanData) -> int:
    """The median pitch of the melodies' sounding cells (the register a model trained on them expects)."""
    weights = data.melody.sum(axis=(0, 1)).astype(np.float64)
    return int(np.searchsorted(np.cumsum(weights) / max(weights.sum(), 1.0), 0.5)) if weights.any() else 69


def to_two_bars(data: GanData) -> GanData:
    """Cut every window into 2-bar windows (the DeepComposer baseline's input size); silent melodies dropped."""
    n, s = data.melody.shape[:2]
    w = 2 * STEPS_PER_BAR
    if s == w:
        return data
    if s % w:
        raise GanDataError(f"windows of {s} steps cannot be cut into 2-bar pieces")
    k = s // w
    mel = data.melody.reshape(n * k, w, 128)
    keep = mel.any(axis=(1, 2))
    t = data.accomp.shape[1]
    cut = lambda a: a.reshape(n, t, k, w, 128).transpose(0, 2, 1, 3, 4).reshape(n * k, t, w, 128)  # noqa: E731
    out = GanData(mel, data.melody_on.reshape(n * k, w, 128), cut(data.accomp), cut(data.accomp_on),
                  np.repeat(data.song_id, k), dict(data.meta, bars=2))
    return out.subset(np.nonzero(keep)[0])
