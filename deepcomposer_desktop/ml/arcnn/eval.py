"""Evaluate an AR-CNN checkpoint: frame-level NLL on the JSB test split and the shared metrics of enhanced
outputs vs the chorales themselves.

* Frame-level NLL (nats per 16th-note frame): every test frame is hidden (all its cells off) and predicted from
  the rest of its 8-bar window by the note head (independent Bernoulli per pitch, summed over the 64 modelled
  pitches; the other 64 are never used by the chorales). To keep it cheap, frames 16 steps (one bar) apart are
  hidden together: 16 passes per window. This is a pseudo-likelihood (each frame given its context, like
  Coconet's frame-wise evaluation), not the sequential NLL of RNN models.
  A harder variant hides whole beats (4 consecutive frames in every bar) so held notes can't just be copied.
* Metrics (``ml.metrics``): the soprano line of the first 8 bars of test chorales is enhanced; pitch classes per
  bar, polyphony, in-scale rate (key estimated from the whole 4-voice passage), qualified-note rate and note
  density of the result are set beside the soprano alone and the real 4-voice chorale.

``python -m deepcomposer_desktop.ml.arcnn.eval --model models/arcnn-bach.pt [--inputs 12] [--json out.json]``
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np

from ...core.grid import roll_to_notes, track_to_roll
from ...core.song import Song, Track
from .. import metrics as M
from .data import DEFAULT_OUT, eval_windows, load_cache

METRICS = ("used_pitch_classes", "polyphony", "in_scale_rate", "qualified_note_rate", "note_density")


def frame_nll(model, cfg, chorales, stride: int = 16, block: int = 1, batch: int = 16, progress=None) -> float:
    """Mean NLL in nats per frame of ``chorales`` (bool ``(steps, 128)`` each) under the note head.

    Each pass hides ``block`` consecutive frames in every ``stride`` (block=1: single frames; block=4: whole
    beats, so held notes cannot simply be copied from the neighbouring frames)."""
    import torch
    from torch.nn import functional as F
    wins, first = eval_windows(chorales, cfg.steps)
    wins = wins[:, :, cfg.low_pitch:cfg.low_pitch + cfg.n_pitches]
    total, frames = 0.0, 0
    phase = np.arange(cfg.steps)
    with torch.inference_mode():
        for wi in range(len(wins)):
            clean = torch.as_tensor(wins[wi])                      # (steps, pitches)
            n_phase = stride // block
            for r0 in range(0, n_phase, batch):
                rs = list(range(r0, min(n_phase, r0 + batch)))
                hide = torch.as_tensor(np.stack([(phase % stride) // block == r for r in rs]))   # (b, steps)
                x = clean.unsqueeze(0).repeat(len(rs), 1, 1) & ~hide.unsqueeze(2)
                logits = model(x.float())[:, 1]                    # (b, steps, pitches)
                nll = F.binary_cross_entropy_with_logits(logits, clean.float().expand_as(logits),
                                                         reduction="none").sum(dim=2)     # (b, steps)
                count = hide & (torch.as_tensor(phase) >= int(first[wi])).unsqueeze(0)
                total += float(nll[count].sum())
                frames += int(count.sum())
            if progress:
                progress(wi + 1, len(wins))
    return total / max(1, frames)


def soprano(roll: np.ndarray) -> np.ndarray:
    """The top voice of a chorale roll (bool ``(steps, 128)``)."""
    out = np.zeros_like(roll)
    for t in range(len(roll)):
        p = np.nonzero(roll[t])[0]
        if len(p):
            out[t, p[-1]] = True
    return out


def roll_metrics(roll: np.ndarray, key) -> dict[str, float]:
    return {"used_pitch_classes": M.used_pitch_classes(roll), "polyphony": M.polyphony(roll),
            "in_scale_rate": M.in_scale_rate(roll, key), "qualified_note_rate": M.qualified_note_rate(roll),
            "note_density": M.note_density(roll)}


def enhanced_metrics(model_pair, chorales, n_inputs: int = 12, settings=None, log=print) -> dict[str, dict]:
    """{row name: mean metrics} for the soprano, each enhance setting, and the real chorales (first 8 bars)."""
    from .generate import enhance
    settings = settings or {"enhanced (defaults: batched x8)": {}}
    rows: dict[str, list[dict]] = {"soprano input": [], "JSB chorales (4 voices)": []}
    rows.update({k: [] for k in settings})
    timing = {k: 0.0 for k in settings}
    picked = [c for c in chorales if len(c) >= 128][:n_inputs]
    for i, c in enumerate(picked):
        full = c[:128]
        key = M.estimate_key(full)
        sop = soprano(full)
        rows["soprano input"].append(roll_metrics(sop, key))
        rows["JSB chorales (4 voices)"].append(roll_metrics(full, key))
        song = Song(tracks=(Track(name="Soprano", notes=tuple(roll_to_notes(sop.astype(np.uint8) * 90, 480))),))
        for name, kw in settings.items():
            t0 = time.process_time()
            tr = enhance(song, 0, model=model_pair, seed=i, **kw)
            timing[name] += time.process_time() - t0
            out = track_to_roll(tr, 480, 4, 128)[0] > 0
            rows[name].append(roll_metrics(out, key))
        log(f"  input {i + 1}/{len(picked)} done")
    result = {}
    for name, rs in rows.items():
        result[name] = {m: float(np.nanmean([r[m] for r in rs])) for m in METRICS}
        if name in timing:
            result[name]["cpu_seconds_per_input"] = timing[name] / max(1, len(picked))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Evaluate an AR-CNN model")
    ap.add_argument("--model", default="models/arcnn-bach.pt")
    ap.add_argument("--cache", default=str(DEFAULT_OUT))
    ap.add_argument("--inputs", type=int, default=12, help="test chorales to enhance for the metrics")
    ap.add_argument("--no-nll", action="store_true")
    ap.add_argument("--compare-exact", action="store_true", help="also run the one-toggle-per-pass sampler")
    ap.add_argument("--json", default=None)
    ap.add_argument("--limit", type=int, default=0, help="NLL on the first N test chorales only (0: all)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    from .generate import load_model
    pair = load_model(args.model)
    data = load_cache(args.cache)
    out: dict = {"model": args.model}
    if not args.no_nll:
        t0 = time.time()
        test = data["test"][:args.limit] if args.limit else data["test"]
        out["test_frame_nll"] = frame_nll(*pair, test)
        out["test_chorales"] = len(test)
        print(f"test frame NLL {out['test_frame_nll']:.4f} nats/frame ({time.time() - t0:.0f} s)", flush=True)
        out["test_beat_nll"] = frame_nll(*pair, test, block=4)
        print(f"test NLL with whole beats hidden {out['test_beat_nll']:.4f} nats/frame", flush=True)
    settings = {"enhanced (defaults: batched x8)": {},
                "enhanced (add 300 %, 400 iterations, batched x8)": {"max_add_pct": 300.0, "iterations": 400}}
    if args.compare_exact:
        settings["enhanced (defaults, exact 1 per pass)"] = {"toggles_per_pass": 1}
        settings["enhanced (defaults, batched x4)"] = {"toggles_per_pass": 4}
    out["metrics"] = enhanced_metrics(pair, data["test"], args.inputs, settings)
    for name, row in out["metrics"].items():
        print(f"{name:<50} " + " ".join(f"{k}={v:.3f}" for k, v in row.items()), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1, default=lambda v: None if isinstance(v, float) and math.isnan(v) else v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
