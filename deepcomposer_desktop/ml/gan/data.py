"""GAN training windows: from a genre cache (``ml.data.load_cache``) or a folder of MIDI files (custom genre).

Numpy only. Also: held-out split by song, key normalisation (melody to C major / A minor, drums untouched) and
cutting 8-bar windows into 2-bar ones for the DeepComposer baseline.
"""
from __future__ import annotations

import glob
import os
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from ..common import ProgressFn, StopFn, check_stop, report
from ..metrics import estimate_key

STEPS_PER_BAR = 16
WINDOW_BARS = 8


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
    """``spec`` is a ``.npz`` cache or a folder of ``.mid`` files."""
    spec = os.fspath(spec)
    if os.path.isdir(spec):
        return load_midi_folder(spec, melody_track, progress, should_stop)
    if not os.path.exists(spec):
        raise GanDataError(f"No training data at {spec}: give a folder of MIDI files or a .npz cache")
    return load_cache_data(spec)


# --- held-out split ---------------------------------------------------------------------------------------------
def split_by_song(data: GanData, test_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, held-out indices), split by song so no song is on both sides.

    Uses the cache's own split (``meta["song_split"]``: "test" songs held out) when it has one; otherwise every
    song whose hashed id falls in the lowest ``test_fraction`` is held out.
    """
    sid = np.asarray(data.song_id)
    split = data.meta.get("song_split")
    if isinstance(split, list) and split and max(sid, default=-1) < len(split):
        test_songs = np.array([s == "test" for s in split], dtype=bool)
        held = test_songs[sid]
    else:
        h = (sid.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(1000)
        held = h < int(round(test_fraction * 1000))
    if held.all() or not held.any():
        held = np.zeros(len(sid), bool)
        held[:: max(2, int(round(1 / max(test_fraction, 1e-3))))] = True
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


# --- a folder of MIDI files (custom genre) ------------------------------------------------------------------------
ROLES = ("Drums", "Bass", "Harmony", "Parts")


def _roles(song, melody_index: int) -> dict[str, list]:
    """Sort a song's non-melody tracks into drums / bass / harmony (the busiest other part) / the rest."""
    others = [t for i, t in enumerate(song.tracks) if i != melody_index and t.notes]
    roles: dict[str, list] = {r: [] for r in ROLES}
    roles["Drums"] = [t for t in others if t.is_drum]
    pitched = [t for t in others if not t.is_drum]
    basses = [t for t in pitched if t.program // 8 == 4]
    if not basses and pitched:
        low = min(pitched, key=lambda t: np.mean([n.pitch for n in t.notes]))
        if np.mean([n.pitch for n in low.notes]) < 52 and len(pitched) > 1:
            basses = [low]
    roles["Bass"] = basses
    rest = sorted([t for t in pitched if t not in basses], key=lambda t: -len(t.notes))
    roles["Harmony"] = rest[:1]
    roles["Parts"] = rest[1:]
    return roles


def load_midi_folder(folder: str, melody_track: str | int | None = None, progress: ProgressFn = None,
                     should_stop: StopFn = None) -> GanData:
    """Every ``.mid`` under ``folder`` cut into 8-bar windows (hop 4 bars). The melody is the track named
    ``melody_track`` (name or 1-based number) or else the one ``core.analysis`` guesses; the other tracks become
    up to four roles (drums, bass, harmony, other parts), each learned from the real notes."""
    from ...core.analysis import guess_melody_index
    from ...core.edits import rescale_song
    from ...core.grid import track_to_roll
    from ...midi.io import MidiFileError, read_midi
    files = sorted(glob.glob(os.path.join(folder, "**", "*.mid"), recursive=True)
                   + glob.glob(os.path.join(folder, "**", "*.midi"), recursive=True))
    if not files:
        raise GanDataError(f"No MIDI files (.mid) in {folder}")
    songs, programs, skipped = [], {r: Counter() for r in ROLES}, []
    for k, f in enumerate(files):
        check_stop(should_stop)
        report(progress, 0.5 * k / len(files), f"reading {os.path.basename(f)}")
        try:
            song = read_midi(f)
        except MidiFileError as exc:
            skipped.append(f"{os.path.basename(f)}: {exc}")
            continue
        if song.ppq % 4:
            song = rescale_song(song, 480)
        mi = _pick_melody(song, melody_track, guess_melody_index)
        if mi is None or not song.tracks[mi].notes:
            skipped.append(f"{os.path.basename(f)}: no melody track")
            continue
        roles = _roles(song, mi)
        for r, ts in roles.items():
            programs[r].update(t.program for t in ts)
        songs.append((os.path.basename(f), song, mi, roles))
    used = [r for r in ROLES if any(s[3][r] for s in songs)]
    if not songs or not used:
        raise GanDataError(f"None of the {len(files)} MIDI files in {folder} has a melody and other parts to learn "
                           f"from" + (f" ({skipped[0]})" if skipped else ""))
    mel, mon, acc, aon, sid, titles = [], [], [], [], [], []
    window = WINDOW_BARS * STEPS_PER_BAR
    for k, (title, song, mi, roles) in enumerate(songs):
        check_stop(should_stop)
        report(progress, 0.5 + 0.5 * k / len(songs), f"cutting {title}")
        n_steps = -(-song.end_tick // (song.ppq // 4))
        m, mo = track_to_roll(song.tracks[mi], song.ppq, 4, n_steps)
        a = np.zeros((len(used), n_steps, 128), bool)
        ao = np.zeros_like(a)
        for j, r in enumerate(used):
            for t in roles[r]:
                roll, on = track_to_roll(t, song.ppq, 4, n_steps)
                a[j] |= roll > 0
                ao[j] |= on
        for start in range(0, max(1, n_steps - 2 * STEPS_PER_BAR), 4 * STEPS_PER_BAR):
            mw = _pad(m[start:start + window] > 0, window)
            if mw.reshape(WINDOW_BARS, STEPS_PER_BAR, 128).any(axis=(1, 2)).sum() * 2 < WINDOW_BARS:
                continue
            mel.append(mw)
            mon.append(_pad(mo[start:start + window], window) & mw)
            acc.append(_pad(a[:, start:start + window], window, axis=1))
            aon.append(_pad(ao[:, start:start + window], window, axis=1) & acc[-1])
            sid.append(len(titles))
        titles.append(title)
    if not mel:
        raise GanDataError(f"No 8-bar stretch with a melody was found in {folder}")
    tracks = []
    for r in used:
        prog = programs[r].most_common(1)[0][0] if programs[r] else 0
        tracks.append({"name": r, "program": int(prog), "is_drum": r == "Drums",
                       "origin": f"real: {os.path.basename(os.path.abspath(folder))} ({r.lower()} parts)"})
    meta = {"genre": os.path.basename(os.path.abspath(folder)), "tracks": tracks, "songs": titles,
            "skipped": skipped, "bars": WINDOW_BARS, "steps_per_bar": STEPS_PER_BAR,
            "sources": [{"folder": os.path.abspath(folder), "licence": "as given by the user", "songs": len(titles)}]}
    return GanData(np.stack(mel), np.stack(mon), np.stack(acc), np.stack(aon), np.asarray(sid, np.int64), meta)


def _pick_melody(song, melody_track, guess) -> int | None:
    if melody_track is None or melody_track == "":
        return guess(song)
    if isinstance(melody_track, int) or str(melody_track).isdigit():
        i = int(melody_track) - 1
        return i if 0 <= i < len(song.tracks) else None
    for i, t in enumerate(song.tracks):
        if t.name.lower() == str(melody_track).lower():
            return i
    return None


def _pad(a: np.ndarray, n: int, axis: int = 0) -> np.ndarray:
    if a.shape[axis] >= n:
        return a
    pad = [(0, 0)] * a.ndim
    pad[axis] = (0, n - a.shape[axis])
    return np.pad(a, pad)
