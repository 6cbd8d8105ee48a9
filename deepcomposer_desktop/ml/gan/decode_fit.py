"""Choosing the decoding parameters (``decode.DecodeParams``) against real data, after training (numpy only).

Training and ``recalibrate`` use this; generation needs only ``decode``. ``calibrate`` sets each track's parameters
from generated probabilities and the real rolls of the same training melodies so that the track's empty-bar rate,
sounding-cell rate, polyphony, note density and note lengths match the real data (quantile matching plus a small
grid search; drums also get the real hit grid, ``phase_prior``, and gains per sixteenth, ``fit_phase_gain``;
pitched parts their pitch range, ``pitch_range``, and re-attack grid, ``strike_rates``). ``refine`` then fits them
all to every music figure of the model card (optionally also to each part's own texture: ``texture_figures``), and
may turn on a part's re-attack grid, legato or walk; ``fit`` does all this on the probabilities as generation
decodes them, with the per-bar logit noise of ``decode.vary`` that makes takes differ.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .decode import (PARAM_KEYS, STEPS_PER_BAR, VARIATION, DecodeParams, already_ranged, apply_prior,
                     bar_activity, bar_pc_rank, decode_track, fill_gaps, gate_bars, in_ranges, keep_range,
                     mix_drum_grid, note_lengths_per_cell, run_starts, top_k_mask, vary)

RANGE_MARGIN = 2        # semitones a part may go beyond the lowest / highest pitch of the real part it learned from


def pitch_range(real_frames: np.ndarray, shifts=None, margin: int = RANGE_MARGIN) -> tuple[int, int]:
    """(low, high) for a part from its real rolls (N, S, P) of windows moved by ``shifts`` (N,) (None: not moved),
    in the song's own key: the pitches it sounds there, widened by ``margin``; (0, 127) when it never sounds."""
    frames = np.asarray(real_frames)
    used = frames.reshape(len(frames), -1, frames.shape[-1]).any(axis=1)              # (N, P)
    if not used.any():
        return 0, 127
    back = np.zeros(len(frames), np.int64) if shifts is None else np.asarray(shifts, np.int64)
    pitch = np.arange(frames.shape[-1])[None, :] - back[:, None]                       # each pitch in the song's key
    return (max(0, int(pitch[used].min()) - margin), min(127, int(pitch[used].max()) + margin))


def with_ranges(params: DecodeParams, real: np.ndarray, is_drum, shifts=None) -> DecodeParams:
    """``params`` with every pitched track that has no range yet (0 .. 127) given its real part's range, from the
    real rolls (N, T, S, P) of windows moved by ``shifts``: a model file from before ranges, refitted."""
    low, high = list(params.low), list(params.high)
    for t, drum in enumerate(is_drum):
        if not drum and low[t] <= 0 and high[t] >= 127:
            low[t], high[t] = pitch_range(real[:, t], shifts)
    return replace(params, low=tuple(low), high=tuple(high))


def phase_prior(real_onsets: np.ndarray) -> dict:
    """Per drum pitch, the share of bars with a hit on each of the 16 sixteenths (from real (N, S, P) onsets)."""
    n, s, _ = real_onsets.shape
    bars = n * (s // STEPS_PER_BAR)
    counts = real_onsets[:, : s // STEPS_PER_BAR * STEPS_PER_BAR].reshape(n, -1, STEPS_PER_BAR, 128).sum(axis=(0, 1))
    return {int(p): [float(x) for x in counts[:, p] / max(1, bars)] for p in np.nonzero(counts.sum(axis=0))[0]}


def strike_rates(real_frames: np.ndarray, real_onsets: np.ndarray) -> list[float] | None:
    """A pitched part's re-attack grid from real (N, S, P) rolls: at each sixteenth of the bar, the share of its
    sounding cells that begin a note there (a bass struck on every beat: 1 on the beats, 0 between). None when the
    part never sounds."""
    n, s, p = real_frames.shape
    whole = s // STEPS_PER_BAR * STEPS_PER_BAR
    f = real_frames[:, :whole].reshape(n, -1, STEPS_PER_BAR, p)
    o = (real_onsets & real_frames)[:, :whole].reshape(n, -1, STEPS_PER_BAR, p)
    sounding = f.sum(axis=(0, 1, 3))
    if not sounding.any():
        return None
    return [float(x) for x in o.sum(axis=(0, 1, 3)) / np.maximum(sounding, 1)]


def fit_phase_gain(probs: np.ndarray, real_hits: np.ndarray, p: dict) -> dict:
    """Gains {pitch: [16]} for a drum track decoded with ``p``: probabilities (N, S, P) and the real hits (N, S, P)
    of the same melodies. At each sixteenth, each drum's probabilities (after the hit grid and the bar gate) are cut
    at the quantile that lets through as many cells as the real drummer played there; the gain brings that cut to
    the track's threshold. Drums the real data never plays get no gain (they stay silent)."""
    x = gate_bars(mix_drum_grid(probs, None, p)[0], float(p["bar_gate"]))
    n, s, _ = x.shape
    whole = s // STEPS_PER_BAR * STEPS_PER_BAR
    xs = x[:, :whole].reshape(n, -1, STEPS_PER_BAR, x.shape[-1])
    rs = real_hits[:, :whole].reshape(n, -1, STEPS_PER_BAR, x.shape[-1])
    gains = {}
    for pitch in np.nonzero(rs.any(axis=(0, 1, 2)))[0]:
        row = []
        for ph in range(STEPS_PER_BAR):
            rate = float(rs[:, :, ph, pitch].mean())
            q = float(np.quantile(xs[:, :, ph, pitch], 1.0 - rate)) if rate > 0 else np.inf
            row.append(float(min(1e4, p["threshold"] / max(q, 1e-6))) if np.isfinite(q) else 0.0)
        gains[int(pitch)] = row
    return gains


# --- calibration --------------------------------------------------------------------------------------------------
def _polyphony_cap(real_frames: np.ndarray) -> int:
    """99th percentile of the notes sounding at once over steps where the track plays (at least 1)."""
    n = real_frames.sum(axis=-1).ravel()
    n = n[n > 0]
    return int(max(1, np.ceil(np.percentile(n, 99)))) if len(n) else 1


def _note_stats(frames: np.ndarray, onsets: np.ndarray) -> tuple[float, float]:
    """(notes per bar, share of notes >= 3 steps) over a batch of (N, S, P) rolls."""
    lengths = note_lengths_per_cell(frames, onsets)
    starts = (onsets & frames) | run_starts(frames)
    n_notes = starts.sum()
    bars = frames.shape[0] * frames.shape[1] / STEPS_PER_BAR
    if n_notes == 0:
        return 0.0, 0.0
    return float(n_notes / bars), float((lengths[starts] >= 3).mean())


def calibrate(frame_probs: np.ndarray, onset_probs: np.ndarray | None, real: np.ndarray, real_on: np.ndarray,
              is_drum=None, shifts=None) -> DecodeParams:
    """Parameters from generated probabilities (N, T, S, P) and the real rolls (N, T, S, P) of the same melodies,
    windows moved by ``shifts`` (N,) to C major / A minor (None: not moved)."""
    n_tracks = frame_probs.shape[1]
    drums = np.zeros(n_tracks, bool) if is_drum is None else np.asarray(is_drum, bool)
    cols = {k: [] for k in PARAM_KEYS}
    for t in range(n_tracks):
        r, ro = real[:, t], real_on[:, t] & real[:, t]
        k = _polyphony_cap(r)
        low, high = (0, 127) if drums[t] else pitch_range(r, shifts)
        p = keep_range(frame_probs[:, t], low, high, shifts)
        po = None if onset_probs is None else keep_range(onset_probs[:, t], low, high, shifts)
        prior = phase_prior(ro) if drums[t] and ro.any() else None
        if prior:
            p = apply_prior(p, prior)
            po = None if po is None else apply_prior(po, prior)
        # (1) empty bars: silence the least active bars in the real proportion
        real_bars = r.reshape(r.shape[0], -1, STEPS_PER_BAR, r.shape[-1]).any(axis=(2, 3))
        empty = float(1.0 - real_bars.mean())
        gate = float(np.quantile(bar_activity(p), empty)) if empty > 0 else 0.0
        pg = gate_bars(p, gate)
        pg = np.where(top_k_mask(pg, k), pg, 0.0)
        # (2) sounding cells in the real proportion
        rate = float(r.mean())
        th = float(np.clip(np.quantile(pg, 1.0 - rate), 0.01, 0.99)) if rate > 0 else 0.99
        # (3)-(5) gaps, onsets and shortest notes: the combination closest to the real density and note lengths,
        # searched on at most 64 windows (lengths computed once per gap and onset choice)
        d_real, q_real = _note_stats(r, ro)
        on_rate = float(ro.sum() / max(1, r.sum()))
        sub = slice(0, min(64, len(p)))
        frames0 = pg[sub] > th
        bars = frames0.shape[0] * frames0.shape[1] / STEPS_PER_BAR
        best, best_err = (0, 0.99, 1), np.inf
        on_choices = [0.99]
        if po is not None and frames0.any():
            on_choices += [float(np.quantile(po[sub][frames0], 1.0 - min(0.99, on_rate * m))) for m in (0.5, 1.0)]
        for gap in ((0,) if drums[t] else (0, 1, 2, 3)):
            f = fill_gaps(frames0, gap)
            for oth in on_choices:
                o = run_starts(f) if po is None else run_starts(f) | (f & (po[sub] > oth))
                lens = note_lengths_per_cell(f, o)[o & f]
                for min_len in ((1,) if drums[t] else (1, 2, 3, 4)):
                    kept = lens[lens >= min_len]
                    d = len(kept) / bars
                    q = float((kept >= 3).mean()) if len(kept) else 0.0
                    err = abs(np.log((d + 1e-3) / (d_real + 1e-3)))
                    if not drums[t]:
                        err += abs(q - q_real) / max(q_real, 0.05)
                    if err < best_err - 1e-9:
                        best, best_err = (gap, oth, min_len), err
        row = {"threshold": th, "onset_threshold": best[1], "max_poly": k, "bar_gate": gate, "fill_gap": best[0],
               "min_len": best[2], "prior": prior, "bar_pcs": 0 if drums[t] else 12, "prior_weight": 0.5,
               "phase_gain": None, "strike": None if drums[t] else strike_rates(r, ro), "strike_weight": 0.0,
               "legato": 0, "walk": 0, "tie": 0, "low": low, "high": high}
        if drums[t] and ro.any():
            row["phase_gain"] = fit_phase_gain(frame_probs[:, t], ro, row)
        for key in PARAM_KEYS:
            cols[key].append(row[key])
    return DecodeParams(**{k: tuple(v) for k, v in cols.items()})


# --- refinement against the music figures ---------------------------------------------------------------------------
REFINE_MARGIN = 0.10     # figures are pushed to within 10 % on the calibration windows, to keep 15 % on new melodies


TEXTURE_PREFIX = "track "
TEXTURE_TERMS = ("note_density", "used_pitch_classes", "polyphony", "qualified_note_rate")   # per part, as named


def texture_figures(rolls: np.ndarray, onsets: np.ndarray, is_drum, tracks=None) -> dict[str, float]:
    """Each pitched part's texture, means over the windows ``rolls`` / ``onsets`` (N, T, S, P): notes per bar,
    pitch classes per bar, notes at once and the share of notes at least 3 steps long, keyed
    ``'track <t> <figure>'``. The card's figures are means over the tracks, so a band can match them with its parts'
    roles swapped (a bass in half notes beside a busy piano, or broken into sixteenths); these keep each part to its
    real counterpart. ``tracks``: only these track indices (default: every pitched one)."""
    from .. import metrics as M
    out = {}
    for t, drum in enumerate(is_drum):
        if drum or (tracks is not None and t not in tracks):
            continue
        r, o = rolls[:, t], onsets[:, t]
        per_window = {"note_density": lambda i: M.note_density(r[i], o[i]),
                      "used_pitch_classes": lambda i: M.used_pitch_classes(r[i]),
                      "polyphony": lambda i: M.polyphony(r[i]),
                      "qualified_note_rate": lambda i: M.qualified_note_rate(r[i], o[i])}
        for term in TEXTURE_TERMS:
            out[f"{TEXTURE_PREFIX}{t} {term}"] = M.nanmean(per_window[term](i) for i in range(len(r)))
    return out


def _figure_loss(real: dict, figs: dict, texture: float = 0.0) -> float:
    """Sum over figures of the deviation from the real figure, plus a heavy charge above REFINE_MARGIN; the
    per-part texture figures (:func:`texture_figures`) count ``texture`` times as much as a card figure."""
    from .evaluate import deviation
    loss = 0.0
    for k, r in real.items():
        d = deviation(figs.get(k, float("nan")), r)
        if d != d and r == r:           # the real part has the figure, the fit none (e.g. no pitched note at all):
            d = 1.0                     # as far off as can be, not left out (silence must not be the best fit)
        if d == d:                                                       # not nan
            w = texture if k.startswith(TEXTURE_PREFIX) else 1.0
            loss += w * (d + 4.0 * max(0.0, d - REFINE_MARGIN))
    return loss


def _candidates(p: dict, drum: bool, poly_cap: int = 12) -> list[dict]:
    """Neighbours of one track's parameters: one parameter changed at a time. ``poly_cap``: the most notes at once
    the real part plays (a bass that never plays two notes together must not start to)."""
    out = []
    for f in (0.8, 0.9, 1.1, 1.25):
        out.append(dict(p, threshold=float(np.clip(p["threshold"] * f, 0.01, 0.99))))
    for f in (0.0, 0.8, 1.2, 1.5):
        if p["bar_gate"] > 0 or f == 0.0:
            out.append(dict(p, bar_gate=float(p["bar_gate"] * f)))
    if drum and p.get("phase_gain"):
        out.append(dict(p, phase_gain=None))                             # one threshold over the whole grid
    if drum and p.get("prior"):
        for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):        # with the threshold moved along: the level changes
            if abs(w - float(p.get("prior_weight", 0.5))) > 1e-6:
                for f in (0.7, 0.85, 1.0, 1.2, 1.4):
                    out.append(dict(p, prior_weight=w, threshold=float(np.clip(p["threshold"] * f, 0.01, 0.99))))
    if not drum:
        for k in (int(p["max_poly"]) - 1, int(p["max_poly"]) + 1):
            if 1 <= k <= min(12, poly_cap):
                out.append(dict(p, max_poly=k))
        for g in range(4):
            if g != int(p["fill_gap"]):
                out.append(dict(p, fill_gap=g))
        for m in range(1, 5):
            if m != int(p["min_len"]):
                out.append(dict(p, min_len=m))
        for f in (0.9, 1.1):
            out.append(dict(p, onset_threshold=float(np.clip(p["onset_threshold"] * f, 0.01, 0.995))))
        if int(p["max_poly"]) == 1:          # one note at a time: fragments of a wavering line join their note
            for n in (0, 2, 3, 4):
                if n != int(p.get("legato") or 0):
                    out.append(dict(p, legato=n))
        if p.get("strike"):                  # re-attack where the real part does; the onset level moves with it
            for w in (0.0, 0.5, 0.8):
                if abs(w - float(p.get("strike_weight") or 0.0)) > 1e-6:
                    for f in ((1.0,) if w == 0.0 else (0.5, 1.0, 2.0)):
                        out.append(dict(p, strike_weight=w,
                                        onset_threshold=float(np.clip(p["onset_threshold"] * f, 0.01, 0.995))))
        if int(p["max_poly"]) == 1:          # or the line walks: one note per eighth, quarter or half note (after
            for n in (0, 2, 4, 8):           # the grid: where both fit as well, the real part's grid is kept),
                for tie in ((0,) if n == 0 else (0, 1)):       # a kept pitch re-struck or held on
                    if (n, tie) != (int(p.get("walk") or 0), int(p.get("tie") or 0)):
                        out.append(dict(p, walk=n, tie=tie))
        if int(p.get("bar_pcs", 12)) > 0:                                # 0: a drum track
            for k in (1, 2, 3, 4, 5, 6, 12):           # with the threshold moved along: fewer cells pass the filter
                if k != int(p["bar_pcs"]):
                    for f in (0.7, 0.85, 1.0):
                        out.append(dict(p, bar_pcs=k, threshold=float(np.clip(p["threshold"] * f, 0.01, 0.99))))
    return out


def refine(params: DecodeParams, frame_probs: np.ndarray, onset_probs: np.ndarray | None, melody: np.ndarray,
           real: np.ndarray, real_on: np.ndarray, is_drum, rounds: int = 3, log=None,
           deadline: float | None = None, texture: float = 0.0,
           texture_tracks=None, should_stop=None, shifts=None) -> tuple[DecodeParams, dict]:
    """Coordinate search on each track's decoding parameters so that the figures of ``ml.metrics`` (all of them,
    as the model cards report them) come as close as possible to those of the real accompaniment of the same
    melodies. Inputs as :func:`calibrate` plus the melodies (N, S, P). Past ``deadline`` (a ``time.time()``
    value), or once ``should_stop()`` is true, the search stops where it is. ``texture`` > 0: each pitched part's
    own texture (:func:`texture_figures`; only the parts ``texture_tracks`` when given) counts too, with that
    weight. Returns (params, figures reached)."""
    import time
    from .. import metrics as M
    drums = [bool(x) for x in is_drum]
    n_tracks = frame_probs.shape[1]
    target = M.evaluate_many(melody, real, drums, real_on & real)
    if texture > 0:
        target.update(texture_figures(real, real_on & real, drums, texture_tracks))
    tracks = [params.track(t) for t in range(n_tracks)]
    for t in range(n_tracks):                   # older files: say which tracks are drums (they do not vote)
        if drums[t]:
            tracks[t]["bar_pcs"] = 0
    frame_probs, onset_probs = in_ranges(frame_probs, params, shifts), in_ranges(onset_probs, params, shifts)
    voters = np.array([not d for d in drums])
    rank = bar_pc_rank(frame_probs[:, voters]) if voters.any() else None
    caps = [_polyphony_cap(real[:, t]) for t in range(n_tracks)]

    def dec(t, p):
        return decode_track(frame_probs[:, t], None if onset_probs is None else onset_probs[:, t],
                            already_ranged(p), rank)

    def late():
        return (deadline is not None and time.time() > deadline) or (should_stop is not None and should_stop())

    def refit(t, p):                            # a drum track's gains follow its other parameters
        if drums[t] and p.get("phase_gain"):
            return dict(p, phase_gain=fit_phase_gain(frame_probs[:, t], real_on[:, t] & real[:, t], p))
        return p

    rolls = [dec(t, tracks[t]) for t in range(n_tracks)]

    def figures():
        fr = np.stack([r[0] for r in rolls], axis=1)
        on = np.stack([r[1] for r in rolls], axis=1)
        out = M.evaluate_many(melody, fr, drums, on)
        if texture > 0:
            out.update(texture_figures(fr, on, drums, texture_tracks))
        return out

    figs = figures()
    best = _figure_loss(target, figs, texture)
    for rnd in range(rounds):
        improved = False
        for t in range(n_tracks):
            for cand in _candidates(tracks[t], drums[t], caps[t]):
                if late():
                    break
                cand = refit(t, cand)
                keep = rolls[t]
                rolls[t] = dec(t, cand)
                f = figures()
                loss = _figure_loss(target, f, texture)
                if loss < best - 1e-6:
                    best, figs, tracks[t], improved = loss, f, cand, True
                else:
                    rolls[t] = keep
        if log:
            log(f"refine round {rnd + 1}: loss {best:.3f}")
        if not improved or late():
            break
    cols = {k: tuple(tp[k] for tp in tracks) for k in PARAM_KEYS}
    return DecodeParams(**cols), {"target": target, "reached": figs}


def fit(frame_probs: np.ndarray, onset_probs: np.ndarray | None, melody: np.ndarray, real: np.ndarray,
        real_on: np.ndarray, is_drum, refine_rounds: int = 0, log=None, variation: float = VARIATION,
        deadline: float | None = None, texture: float = 0.0, texture_tracks=None,
        start: DecodeParams | None = None, should_stop=None, shifts=None) -> DecodeParams:
    """:func:`calibrate` (or, given ``start``, a model file's own parameters), then (``refine_rounds`` > 0)
    :func:`refine`: what a model file's decoding comes from. Both see the generator's probabilities (N, T, S, P) as
    generation decodes them: with each window's take noise (:func:`vary`, seeded by the window's index).
    ``shifts``: how far each window was moved to C major / A minor (``GanData.shifts``), for the pitch ranges."""
    if variation > 0:
        frame_probs = np.stack([vary(x, k, variation, is_drum) for k, x in enumerate(frame_probs)])
    params = with_ranges(start, real, [bool(x) for x in is_drum], shifts) if start is not None \
        else calibrate(frame_probs, onset_probs, real, real_on, is_drum, shifts)
    if refine_rounds > 0:
        params, figs = refine(params, frame_probs, onset_probs, melody, real, real_on, is_drum, rounds=refine_rounds,
                              log=log, deadline=deadline, texture=texture, texture_tracks=texture_tracks,
                              should_stop=should_stop, shifts=shifts)
        if log:
            log(f"figures on the calibration windows: {figs}")
    return params
