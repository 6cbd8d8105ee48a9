"""Music metrics as pure numpy functions on binary piano rolls (MuseGAN-style), shared by every technique.

A track roll is ``(steps, 128)`` (True/ >0 = sounding), an arrangement is ``(tracks, steps, 128)``. Bars are
``steps_per_bar`` steps (16 = sixteenth notes in 4/4). ``onsets`` (same shape, optional) splits repeated notes
that touch. Every function raises ``ValueError`` on a roll of the wrong shape; figures over nothing are ``nan``.
"""
from __future__ import annotations

import math

import numpy as np

N_PITCHES = 128
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10, 11)        # natural minor plus the raised leading tone (harmonic minor)
# Krumhansl-Kessler key profiles (same as core.analysis)
_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


# --- shape checks -------------------------------------------------------------------------------------------------
def _track(roll, name: str = "roll") -> np.ndarray:
    a = np.asarray(roll)
    if a.ndim != 2 or a.shape[1] != N_PITCHES:
        raise ValueError(f"{name} must have shape (steps, 128), got {a.shape}")
    return a > 0


def _tracks(rolls, name: str = "rolls") -> np.ndarray:
    a = np.asarray(rolls)
    if a.ndim != 3 or a.shape[2] != N_PITCHES:
        raise ValueError(f"{name} must have shape (tracks, steps, 128), got {a.shape}")
    return a > 0


def _bars(on: np.ndarray, steps_per_bar: int) -> np.ndarray:
    """(bars, steps_per_bar, 128) view of a (steps, 128) roll; the step count must be whole bars."""
    if steps_per_bar <= 0:
        raise ValueError(f"steps_per_bar must be positive, got {steps_per_bar}")
    if on.shape[0] % steps_per_bar:
        raise ValueError(f"{on.shape[0]} steps is not a whole number of {steps_per_bar}-step bars")
    return on.reshape(on.shape[0] // steps_per_bar, steps_per_bar, N_PITCHES)


def _onsets(on: np.ndarray, onsets) -> np.ndarray:
    """Steps where a note starts: the cell turns on, or an explicit onset inside a held run."""
    starts = on & ~np.concatenate([np.zeros((1, N_PITCHES), bool), on[:-1]], axis=0)
    if onsets is not None:
        o = np.asarray(onsets)
        if o.shape != on.shape:
            raise ValueError(f"onsets must have the roll's shape {on.shape}, got {o.shape}")
        starts |= (o > 0) & on
    return starts


def note_lengths(roll, onsets=None) -> np.ndarray:
    """Length in steps of every note in a ``(steps, 128)`` roll (int array, any order)."""
    on = _track(roll)
    starts = _onsets(on, onsets)
    lengths = []
    for p in np.nonzero(on.any(axis=0))[0]:
        col, st = on[:, p], np.nonzero(starts[:, p])[0]
        # a note runs from its start to the next start or the first silent step, whichever comes first
        off = np.nonzero(~col)[0]
        for k, s in enumerate(st):
            nxt = st[k + 1] if k + 1 < len(st) else on.shape[0]
            i = np.searchsorted(off, s)
            end = off[i] if i < len(off) else on.shape[0]
            lengths.append(min(nxt, end) - s)
    return np.asarray(lengths, dtype=np.int64)


# --- per-track figures ----------------------------------------------------------------------------------------------
def empty_bar_rate(roll, steps_per_bar: int = 16) -> float:
    """Share of bars in which the track plays nothing (0..1)."""
    bars = _bars(_track(roll), steps_per_bar)
    if len(bars) == 0:
        return math.nan
    return float(np.mean(~bars.any(axis=(1, 2))))


def used_pitch_classes(roll, steps_per_bar: int = 16) -> float:
    """Mean number of distinct pitch classes (0..12) per non-empty bar."""
    bars = _bars(_track(roll), steps_per_bar)
    pcs = bars.any(axis=1)                                    # (bars, 128)
    pc = np.zeros((len(bars), 12), bool)
    for c in range(12):
        pc[:, c] = pcs[:, c::12].any(axis=1)
    counts = pc.sum(axis=1)
    used = counts[counts > 0]
    return float(used.mean()) if len(used) else math.nan


def qualified_note_rate(roll, onsets=None, min_steps: int = 3) -> float:
    """Share of notes at least ``min_steps`` steps long (3 sixteenths = a dotted eighth; MuseGAN's QN)."""
    lengths = note_lengths(roll, onsets)
    return float(np.mean(lengths >= min_steps)) if len(lengths) else math.nan


def drum_pattern_rate(roll, onsets=None, steps_per_bar: int = 16) -> float:
    """Share of drum onsets that fall on the eighth-note grid (even sixteenth steps).

    MuseGAN counts notes in "8- or 16-beat patterns"; on a 16-step bar every onset is on the 16th grid, so the
    stricter eighth grid is the informative half. Real rock/pop drums score ~0.8-0.95, random hits ~0.5.
    """
    on = _track(roll)
    _bars(on, steps_per_bar)
    starts = _onsets(on, onsets)
    t = np.nonzero(starts)[0]
    if len(t) == 0:
        return math.nan
    grid = max(1, steps_per_bar // 8)
    return float(np.mean(t % grid == 0))


def polyphony(roll) -> float:
    """Mean number of pitches sounding at once, over the steps where anything sounds."""
    on = _track(roll)
    n = on.sum(axis=1)
    n = n[n > 0]
    return float(n.mean()) if len(n) else math.nan


def note_density(roll, onsets=None, steps_per_bar: int = 16) -> float:
    """Notes started per bar."""
    on = _track(roll)
    bars = _bars(on, steps_per_bar)
    if len(bars) == 0:
        return math.nan
    return float(_onsets(on, onsets).sum() / len(bars))


# --- keys and tonality ------------------------------------------------------------------------------------------------
def chroma(roll) -> np.ndarray:
    """Duration-weighted pitch-class histogram (12,) of a ``(steps, 128)`` roll."""
    on = _track(roll)
    per_pitch = on.sum(axis=0).astype(float)
    return np.array([per_pitch[c::12].sum() for c in range(12)])


def _key_profiles() -> np.ndarray:
    """(24, 12): the Krumhansl-Kessler profiles rotated to every tonic (tonic-major order: C, C minor, C#, ...),
    centred and scaled to unit length, so a correlation is one dot product."""
    rows = [np.roll(profile, tonic) for tonic in range(12) for profile in (_KK_MAJOR, _KK_MINOR)]
    p = np.array(rows, dtype=float)
    p -= p.mean(axis=1, keepdims=True)
    return p / np.linalg.norm(p, axis=1, keepdims=True)


_PROFILES = None


def estimate_key(roll) -> tuple[int, bool] | None:
    """(tonic pitch class 0-11, is_minor) by Krumhansl-Schmuckler on the roll's chroma; None for an empty roll."""
    global _PROFILES
    hist = chroma(roll)
    if hist.sum() == 0:
        return None
    if np.count_nonzero(hist) < 2:                       # one pitch class: its best home key
        pc = int(np.argmax(hist))
        scores = [float(np.roll(profile, tonic)[pc]) for tonic in range(12) for profile in (_KK_MAJOR, _KK_MINOR)]
    else:
        if _PROFILES is None:
            _PROFILES = _key_profiles()
        h = hist - hist.mean()
        norm = float(np.linalg.norm(h))
        if norm == 0:
            return 0, False
        scores = (_PROFILES @ (h / norm)).tolist()
    best, best_r = (0, False), -2.0
    for i, r in enumerate(scores):
        if math.isfinite(r) and r > best_r + 1e-12:
            best, best_r = (i // 2, bool(i % 2)), r
    return best


def scale_mask(tonic: int, minor: bool) -> np.ndarray:
    """Bool (12,) of the pitch classes in the key's scale (harmonic-minor leading tone included for minor)."""
    mask = np.zeros(12, bool)
    for d in (MINOR_SCALE if minor else MAJOR_SCALE):
        mask[(tonic + d) % 12] = True
    return mask


def in_scale_rate(roll, key: tuple[int, bool] | None = None, reference=None, onsets=None) -> float:
    """Share of notes whose pitch class lies in the scale of ``key`` = (tonic, is_minor).

    Without ``key`` the key is estimated from ``reference`` (e.g. the melody), else from the roll itself.
    """
    on = _track(roll)
    if key is None:
        key = estimate_key(reference if reference is not None else on)
        if key is None:
            return math.nan
    tonic, minor = key
    if not 0 <= int(tonic) < 12:
        raise ValueError(f"key tonic must be a pitch class 0-11, got {tonic}")
    starts = _onsets(on, onsets)
    pitches = np.nonzero(starts)[1]
    if len(pitches) == 0:
        return math.nan
    return float(np.mean(scale_mask(int(tonic), bool(minor))[pitches % 12]))


def _tonal_matrix() -> np.ndarray:
    """Harte, Sandler & Gasser (2006) 6x12 projection of chroma onto fifths, minor and major thirds circles."""
    r1, r2, r3 = 1.0, 1.0, 0.5
    k = np.arange(12)
    return np.stack([r1 * np.sin(k * 7 * np.pi / 6), r1 * np.cos(k * 7 * np.pi / 6),
                     r2 * np.sin(k * 3 * np.pi / 2), r2 * np.cos(k * 3 * np.pi / 2),
                     r3 * np.sin(k * 2 * np.pi / 3), r3 * np.cos(k * 2 * np.pi / 3)])


_TONAL = _tonal_matrix()


def tonal_centroids(roll, steps_per_bar: int = 16) -> np.ndarray:
    """(bars, 6) tonal centroid per bar (NaN rows for empty bars)."""
    bars = _bars(_track(roll), steps_per_bar)
    per_pitch = bars.sum(axis=1).astype(float)                 # (bars, 128)
    ch = np.stack([per_pitch[:, c::12].sum(axis=1) for c in range(12)], axis=1)   # (bars, 12)
    tot = ch.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        ch = ch / tot
    return ch @ _TONAL.T


def tonal_distance(roll_a, roll_b, steps_per_bar: int = 16) -> float:
    """Mean per-bar Euclidean distance between the tonal centroids of two tracks (bars where both play).

    0 = the same harmony; unrelated keys reach ~1.5-2. Raises ValueError if the rolls differ in length.
    """
    a, b = _track(roll_a, "roll_a"), _track(roll_b, "roll_b")
    if a.shape != b.shape:
        raise ValueError(f"tonal_distance needs rolls of equal shape, got {a.shape} and {b.shape}")
    ca, cb = tonal_centroids(a, steps_per_bar), tonal_centroids(b, steps_per_bar)
    d = np.linalg.norm(ca - cb, axis=1)
    d = d[np.isfinite(d)]
    return float(d.mean()) if len(d) else math.nan


# --- whole arrangements ---------------------------------------------------------------------------------------------
FIGURES = ("empty_bar_rate", "used_pitch_classes", "qualified_note_rate", "drum_pattern_rate",
           "tonal_distance_tracks", "tonal_distance_melody", "in_scale_rate", "polyphony", "note_density")


def nanmean(values) -> float:
    """Mean of the values that are numbers (None and nan left out); nan when none are."""
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=float)
    return float(v.mean()) if len(v) else math.nan


def evaluate(melody, accomp, is_drum=None, onsets=None, steps_per_bar: int = 16) -> dict[str, float]:
    """Every figure for one arrangement: ``melody`` (steps, 128), ``accomp`` (tracks, steps, 128).

    Per-track figures are averaged over the pitched accompaniment tracks (drum-pattern rate over the drum tracks);
    tonal distances pair the pitched accompaniment tracks with each other and with the melody; the in-scale rate
    uses the key estimated from the melody.
    """
    mel = _track(melody, "melody")
    acc = _tracks(accomp, "accomp")
    if acc.shape[1] != mel.shape[0]:
        raise ValueError(f"melody has {mel.shape[0]} steps but the accompaniment has {acc.shape[1]}")
    n = acc.shape[0]
    drums = np.zeros(n, bool) if is_drum is None else np.asarray(is_drum, bool)
    if drums.shape != (n,):
        raise ValueError(f"is_drum must have one flag per track ({n}), got shape {drums.shape}")
    if onsets is not None:
        onsets = np.asarray(onsets)
        if onsets.shape != acc.shape:
            raise ValueError(f"onsets must have the accompaniment's shape {acc.shape}, got {onsets.shape}")
    ons = [None if onsets is None else onsets[i] for i in range(n)]
    pitched = [i for i in range(n) if not drums[i]]
    key = estimate_key(mel)
    out = {
        "empty_bar_rate": nanmean(empty_bar_rate(acc[i], steps_per_bar) for i in range(n)),
        "used_pitch_classes": nanmean(used_pitch_classes(acc[i], steps_per_bar) for i in pitched),
        "qualified_note_rate": nanmean(qualified_note_rate(acc[i], ons[i]) for i in pitched),
        "drum_pattern_rate": nanmean(drum_pattern_rate(acc[i], ons[i], steps_per_bar) for i in range(n) if drums[i]),
        "tonal_distance_tracks": nanmean(tonal_distance(acc[i], acc[j], steps_per_bar)
                                          for k, i in enumerate(pitched) for j in pitched[k + 1:]),
        "tonal_distance_melody": nanmean(tonal_distance(acc[i], mel, steps_per_bar) for i in pitched),
        "in_scale_rate": nanmean(in_scale_rate(acc[i], key, onsets=ons[i]) for i in pitched) if key else math.nan,
        "polyphony": nanmean(polyphony(acc[i]) for i in pitched),
        "note_density": nanmean(note_density(acc[i], ons[i], steps_per_bar) for i in range(n)),
    }
    return out


def evaluate_many(melodies, accomps, is_drum=None, onsets=None, steps_per_bar: int = 16) -> dict[str, float]:
    """Mean of :func:`evaluate` over a batch: ``melodies`` (N, steps, 128), ``accomps`` (N, tracks, steps, 128)."""
    mel = np.asarray(melodies)
    acc = np.asarray(accomps)
    if mel.ndim != 3 or acc.ndim != 4 or len(mel) != len(acc):
        raise ValueError(f"expected melodies (N, steps, 128) and accomps (N, tracks, steps, 128), "
                         f"got {mel.shape} and {acc.shape}")
    rows = [evaluate(mel[i], acc[i], is_drum, None if onsets is None else onsets[i], steps_per_bar)
            for i in range(len(mel))]
    return {k: nanmean(r[k] for r in rows) for k in FIGURES}


def relative_error(value: float, reference: float) -> float:
    """|value - reference| / |reference| (nan when either is nan or the reference is 0)."""
    if math.isnan(value) or math.isnan(reference) or reference == 0:
        return math.nan
    return abs(value - reference) / abs(reference)
