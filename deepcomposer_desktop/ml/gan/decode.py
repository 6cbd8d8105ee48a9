"""From generator probabilities to note rolls (numpy only).

Ours: a cell sounds when its frame probability passes the track's threshold and is among the track's
``max_poly`` likeliest pitches at that step; a note starts where a run begins or where the onset probability
passes the onset threshold. Thresholds are calibrated after training so that each track's sounding-cell and
onset rates on training melodies match the real data (quantile matching), and ``max_poly`` is the real
99th-percentile polyphony. The DeepComposer baseline keeps its own rule: tanh output > 0, runs merged.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class DecodeParams:
    """Per-track thresholds and polyphony caps, stored in the model file's metadata."""

    threshold: tuple = ()
    onset_threshold: tuple = ()
    max_poly: tuple = ()

    def to_dict(self) -> dict:
        return {k: [float(x) if k != "max_poly" else int(x) for x in v] for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict | None) -> "DecodeParams":
        d = d or {}
        return cls(tuple(d.get("threshold", ())), tuple(d.get("onset_threshold", ())), tuple(d.get("max_poly", ())))

    @classmethod
    def plain(cls, n_tracks: int, max_poly: int = 128) -> "DecodeParams":
        return cls((0.5,) * n_tracks, (0.5,) * n_tracks, (max_poly,) * n_tracks)


def top_k_mask(probs: np.ndarray, k: int) -> np.ndarray:
    """Bool mask of the ``k`` largest values along the last axis (pitch)."""
    if k >= probs.shape[-1]:
        return np.ones(probs.shape, bool)
    if k <= 0:
        return np.zeros(probs.shape, bool)
    kth = np.partition(probs, -k, axis=-1)[..., -k][..., None]
    return probs >= kth


def _polyphony_cap(real_frames: np.ndarray) -> int:
    """99th percentile of the notes sounding at once over steps where the track plays (at least 1)."""
    n = real_frames.sum(axis=-1).ravel()
    n = n[n > 0]
    return int(max(1, np.ceil(np.percentile(n, 99)))) if len(n) else 1


def calibrate(frame_probs: np.ndarray, onset_probs: np.ndarray | None, real: np.ndarray,
              real_on: np.ndarray) -> DecodeParams:
    """Thresholds from generated probabilities (N, T, S, P) and the real rolls of the same melodies."""
    n_tracks = frame_probs.shape[1]
    thr, othr, cap = [], [], []
    for t in range(n_tracks):
        k = _polyphony_cap(real[:, t])
        p = frame_probs[:, t]
        p = np.where(top_k_mask(p, k), p, 0.0)
        rate = float(real[:, t].mean())
        th = float(np.quantile(p, 1.0 - rate)) if rate > 0 else 1.0
        th = float(np.clip(th, 0.02, 0.98))
        thr.append(th)
        cap.append(k)
        if onset_probs is None:
            othr.append(0.5)
            continue
        active = p > th
        on_rate = float(real_on[:, t].sum() / max(1, real[:, t].sum()))
        po = onset_probs[:, t][active]
        othr.append(float(np.clip(np.quantile(po, 1.0 - on_rate), 0.02, 0.98)) if len(po) and on_rate > 0 else 0.5)
    return DecodeParams(tuple(thr), tuple(othr), tuple(cap))


def run_starts(frames: np.ndarray) -> np.ndarray:
    """Onsets implied by a frame roll (..., S, P): the first step of every run."""
    prev = np.zeros_like(frames)
    prev[..., 1:, :] = frames[..., :-1, :]
    return frames & ~prev


def decode(frame_probs: np.ndarray, onset_probs: np.ndarray | None, params: DecodeParams,
           min_steps: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(frames, onsets) bool (T, S, P) from probabilities (T, S, P); notes shorter than ``min_steps`` dropped."""
    n_tracks = frame_probs.shape[0]
    frames = np.zeros(frame_probs.shape, bool)
    for t in range(n_tracks):
        p = frame_probs[t]
        frames[t] = (p > params.threshold[t]) & top_k_mask(p, int(params.max_poly[t]))
    onsets = run_starts(frames)
    if onset_probs is not None:
        for t in range(n_tracks):
            onsets[t] |= frames[t] & (onset_probs[t] > params.onset_threshold[t])
    if min_steps > 1:
        frames, onsets = drop_short_notes(frames, onsets, min_steps)
    return frames, onsets


def drop_short_notes(frames: np.ndarray, onsets: np.ndarray, min_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove notes (runs split at onsets) shorter than ``min_steps`` from (T, S, P) rolls."""
    frames, onsets = frames.copy(), onsets.copy()
    n_tracks, s, _ = frames.shape
    for t in range(n_tracks):
        for p in np.nonzero(frames[t].any(axis=0))[0]:
            col, on = frames[t, :, p], onsets[t, :, p]
            starts = np.nonzero(on)[0]
            for i, st in enumerate(starts):
                end = st + 1
                limit = starts[i + 1] if i + 1 < len(starts) else s
                while end < limit and col[end]:
                    end += 1
                if end - st < min_steps:
                    col[st:end] = False
                    on[st] = False
    return frames, onsets
