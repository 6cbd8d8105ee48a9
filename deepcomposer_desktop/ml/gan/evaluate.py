"""Metrics for the model cards: generated accompaniment of held-out melodies vs the real data and the baseline.

``python -m deepcomposer_desktop.ml.gan.evaluate --cache cache/gan/rock.npz --model models/gan-rock.pt
--model base.pt [--limit 120] [--json out.json]`` prints a markdown table: one column per model and one for the
real accompaniment of the same held-out melodies, with each figure's deviation from the real one.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from .. import metrics as M
from .data import GanData, load_training_data, split_by_song

LABELS = {"empty_bar_rate": "empty-bar rate", "used_pitch_classes": "pitch classes per bar",
          "qualified_note_rate": "qualified-note rate (>= 3 steps)", "drum_pattern_rate": "drum-pattern rate",
          "tonal_distance_tracks": "tonal distance between tracks", "tonal_distance_melody": "tonal distance to melody",
          "in_scale_rate": "in-scale rate (melody's key)", "polyphony": "polyphony", "note_density": "notes per bar"}


def held_out(data: GanData, limit: int | None = None, seed: int = 0) -> np.ndarray:
    """Indices of held-out windows (by song), at most ``limit``, chosen reproducibly."""
    _, idx = split_by_song(data)
    if limit is not None and len(idx) > limit:
        idx = np.sort(np.random.default_rng(seed).choice(idx, limit, replace=False))
    return idx


def real_figures(data: GanData, idx) -> dict[str, float]:
    return M.evaluate_many(data.melody[idx], data.accomp[idx], data.is_drum, data.accomp_on[idx])


REFERENCE_LABEL = "real training songs (reference)"


def reference_figures(data: GanData, n: int = 100, seed: int = 0) -> dict[str, float]:
    """The same figures on ``n`` real windows of the *training* songs: how far another sample of real music from
    the same collection lands from the held-out songs (the spread that the ±15 % target sits in)."""
    train, _ = split_by_song(data)
    idx = np.sort(np.random.default_rng(seed).choice(train, min(n, len(train)), replace=False))
    return real_figures(data, idx)


def generated_figures(model, data: GanData, idx, seed: int = 0) -> dict[str, float]:
    """Figures of ``model``'s accompaniment (``generate.GanModel``) for the melodies ``data.melody[idx]``."""
    from .generate import accompany_rolls
    frames, onsets = [], []
    for k, i in enumerate(idx):
        f, o = accompany_rolls(model, data.melody[i], data.melody_on[i], seed=seed + k)
        frames.append(f)
        onsets.append(o)
    return M.evaluate_many(data.melody[idx], np.stack(frames), model.is_drum, np.stack(onsets))


ZERO_SLACK = 0.02      # where the real figure is below 0.02 (e.g. almost no empty bars) a relative error means
                       # little: there the target is an absolute difference of at most 0.02


def deviation(value: float, real: float) -> float:
    """Relative deviation from the real figure; where the real figure is below ZERO_SLACK, |value - real| /
    ZERO_SLACK * 0.15, so that the same 15 % bar means "within 0.02"."""
    if math.isnan(value) or math.isnan(real):
        return math.nan
    if abs(real) < ZERO_SLACK:
        return abs(value - real) / ZERO_SLACK * 0.15
    return M.relative_error(value, real)


def within(value: float, real: float, tolerance: float = 0.15) -> bool | None:
    """True when ``value`` is within ``tolerance`` (relative) of ``real``; None when either is undefined."""
    err = deviation(value, real)
    return None if math.isnan(err) else err <= tolerance


def markdown_table(real: dict, models: dict[str, dict], tolerance: float = 0.15) -> str:
    """Rows = figures; columns = real data then each model with its relative deviation (ok when within)."""
    head = "| figure | real data | " + " | ".join(models) + " |"
    rows = [head, "|" + "---|" * (2 + len(models))]
    for k in M.FIGURES:
        r = real.get(k, math.nan)
        if math.isnan(r) and all(math.isnan(m.get(k, math.nan)) for m in models.values()):
            continue
        cells = []
        for m in models.values():
            v = m.get(k, math.nan)
            err = deviation(v, r)
            ok = " ok" if err <= tolerance else ""
            mark = "" if math.isnan(err) else f" ({v - r:+.3f}{ok})" if abs(r) < ZERO_SLACK else \
                f" ({'+' if v >= r else '-'}{err * 100:.0f} %{ok})"
            cells.append(("n/a" if math.isnan(v) else f"{v:.3f}") + mark)
        rows.append(f"| {LABELS[k]} | {'n/a' if math.isnan(r) else f'{r:.3f}'} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def score(real: dict, figures: dict, tolerance: float = 0.15) -> tuple[int, int, float]:
    """(figures within tolerance, figures compared, mean relative error) of one model against the real data."""
    errs = [deviation(figures.get(k, math.nan), real.get(k, math.nan)) for k in M.FIGURES]
    errs = [e for e in errs if not math.isnan(e)]
    return sum(e <= tolerance for e in errs), len(errs), float(np.mean(errs)) if errs else math.nan


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m deepcomposer_desktop.ml.gan.evaluate", description=__doc__.split("\n")[0])
    ap.add_argument("--cache", required=True, help="genre cache (.npz) or MIDI folder with the real data")
    ap.add_argument("--model", action="append", default=[], help="model file (repeat); label=path to name it")
    ap.add_argument("--limit", type=int, default=100, help="held-out windows to use")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--reference", action="store_true",
                    help="add a column for real windows of the training songs (the natural spread of real music)")
    a = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    from .generate import load_model
    data = load_training_data(a.cache)
    idx = held_out(data, a.limit, a.seed)
    real = real_figures(data, idx)
    models = {REFERENCE_LABEL: reference_figures(data, a.limit, a.seed)} if a.reference else {}
    for spec in a.model:
        label, _, path = spec.rpartition("=")
        label = label or path.rsplit("/", 1)[-1].removesuffix(".pt")
        models[label] = generated_figures(load_model(path), data, idx, a.seed)
    print(f"{len(idx)} held-out windows from {len(set(data.song_id[idx].tolist()))} songs of {a.cache}\n")
    print(markdown_table(real, models))
    for label, fig in models.items():
        ok, n, err = score(real, fig)
        print(f"\n{label}: {ok}/{n} figures within 15 % of the real data, mean deviation {err * 100:.1f} %")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"windows": len(idx), "real": real, "models": models}, fh, indent=1,
                      default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
