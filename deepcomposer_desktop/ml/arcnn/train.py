"""Train the AR-CNN on the chorale cache with DeepComposer's corruption scheme, time-budgeted and resumable.

Each step takes random 8-bar windows (beat-aligned offsets), transposes each by a random -6..+6 semitones, then
corrupts it the DeepComposer way: remove a uniform 0-100 % of the sounding cells and switch on 1-1.5 % of the
silent ones. The network sees the corrupted roll and is trained with

* DeepComposer's loss on the toggle head: KL(target || softmax over all cells), where the target is the XOR of
  corrupted and clean rolls normalised to sum to one - i.e. "which cell should be flipped next", exactly the
  distribution the Gibbs-like sampler draws from; plus
* a per-cell Bernoulli NLL (binary cross-entropy vs the clean roll, summed over pitches = nats per frame) on the
  note head. It is the denoising objective of Coconet (Huang et al. 2017); it gives calibrated note probabilities
  for the frame-level NLL figure, which the toggle softmax cannot, and regularises the shared trunk.

``python -m deepcomposer_desktop.ml.arcnn.train --out DIR --minutes M [--device cuda] [--resume]`` writes
``DIR/last.pt`` (with optimizer state, for ``--resume``), ``DIR/best.pt`` (lowest validation loss) and
``DIR/train.log``. ``deepcomposer train arcnn [--name N]`` installs ``arcnn-N.pt`` (default ``my-bach``) in the
user's model folder; the name ``bach`` (the shipped model ``generate`` uses) needs ``--overwrite``.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
import zipfile
from dataclasses import asdict, replace
from pathlib import Path

from ..common import (Cancelled, ModelError, ProgressFn, StopFn, check_stop, claim_model_path, is_midi_file, report,
                      resolve_device)
from .config import ArcnnConfig, TrainConfig
from .data import DEFAULT_OUT, load_cache, windows, eval_windows

DEFAULT_NAME = "my-bach"          # `train arcnn` without --name: never the shipped "bach" (that needs --overwrite)

PRESETS = {
    "tiny": (ArcnnConfig(steps=32, low_pitch=43, n_pitches=48, levels=3, filters=8, max_filters=32, dropout=0.1),
             TrainConfig(batch_size=8, minutes=0.5, eval_every=50)),
    "cpu": (ArcnnConfig(), TrainConfig(batch_size=8, minutes=5.0, eval_every=50, lr=1e-3)),
    "default": (ArcnnConfig(), TrainConfig()),
    # the shipped arcnn-bach recipe (7.4 min on one H200)
    "gpu": (ArcnnConfig(), TrainConfig(batch_size=128, lr=1e-3, eval_every=500)),
    # proposed, not yet run: a quarter of the examples lose whole beats (teaches the net to fill gaps)
    "gpu-gaps": (ArcnnConfig(), TrainConfig(batch_size=128, lr=1e-3, eval_every=500, block_prob=0.25)),
}


def _device(name: str):
    import torch
    return torch.device(resolve_device(name))


def corrupt(clean, gen, tcfg: TrainConfig):
    """DeepComposer's corruption of a bool batch ``(batch, steps, pitches)`` -> corrupted bool batch (same shape).

    Per example: each sounding cell is dropped with probability r ~ U(remove_lo, remove_hi); each silent cell is
    switched on with probability a ~ U(add_lo, add_hi). With ``block_prob`` > 0 that share of the examples drops
    whole beats (4 steps, every pitch) with probability r instead of single cells: DeepComposer's cell-wise
    removal never shows the net a gap in all voices at once, so it cannot learn to fill one.
    """
    import torch
    b, steps = clean.shape[0], clean.shape[1]
    dev = clean.device
    r = torch.rand(b, 1, 1, generator=gen, device=dev) * (tcfg.remove_hi - tcfg.remove_lo) + tcfg.remove_lo
    a = torch.rand(b, 1, 1, generator=gen, device=dev) * (tcfg.add_hi - tcfg.add_lo) + tcfg.add_lo
    u = torch.rand(clean.shape, generator=gen, device=dev)
    drop = u < r
    if tcfg.block_prob > 0 and steps % 4 == 0:
        beats = torch.rand(b, steps // 4, generator=gen, device=dev) < r[:, :, 0]          # (b, beats)
        beat_drop = beats.repeat_interleave(4, dim=1).unsqueeze(2).expand_as(clean)
        use = torch.rand(b, 1, 1, generator=gen, device=dev) < tcfg.block_prob
        drop = torch.where(use, beat_drop, drop)
    return torch.where(clean, ~drop, u < a)


def losses(logits, corrupted, clean):
    """(toggle_loss, note_loss) averaged over the batch. logits ``(batch, 2, steps, pitches)``."""
    import torch
    from torch.nn import functional as F
    b = logits.shape[0]
    toggle = logits[:, 0].float().reshape(b, -1)
    target = (corrupted ^ clean).reshape(b, -1).float()
    target = target / target.sum(dim=1, keepdim=True).clamp_min(1.0)
    toggle_loss = -(target * torch.log_softmax(toggle, dim=1)).sum(dim=1).mean()
    note = logits[:, 1].float()
    note_loss = F.binary_cross_entropy_with_logits(note, clean.float(), reduction="none").sum(dim=2).mean()
    return toggle_loss, note_loss


class _Batcher:
    """Random transposed windows from the training chorales, kept on the training device."""

    def __init__(self, chorales, cfg: ArcnnConfig, tcfg: TrainConfig, device, gen):
        import torch
        roll, starts = windows(chorales, cfg.steps)
        self.roll = torch.as_tensor(roll, device=device)                 # (N, 128) bool
        self.starts = torch.as_tensor(starts, device=device)
        self.arange_t = torch.arange(cfg.steps, device=device)
        self.arange_p = torch.arange(cfg.n_pitches, device=device)
        self.cfg, self.tcfg, self.gen, self.device = cfg, tcfg, gen, device

    def __len__(self) -> int:
        return len(self.starts)

    def batch(self, b: int):
        import torch
        i = torch.randint(len(self.starts), (b,), generator=self.gen, device=self.device)
        rows = self.starts[i][:, None] + self.arange_t                   # (b, steps)
        win = self.roll[rows]                                            # (b, steps, 128)
        k = self.tcfg.transpose
        shift = torch.randint(-k, k + 1, (b,), generator=self.gen, device=self.device)
        cols = (self.cfg.low_pitch + self.arange_p[None, :] - shift[:, None]).clamp(0, 127)   # (b, pitches)
        return torch.gather(win, 2, cols[:, None, :].expand(b, self.cfg.steps, self.cfg.n_pitches))


def _valid_set(chorales, cfg: ArcnnConfig, tcfg: TrainConfig, device, max_windows: int = 256):
    """Fixed (clean, corrupted) validation batches: untransposed windows, corruption from a fixed seed."""
    import torch
    wins, _ = eval_windows(chorales, cfg.steps)
    wins = wins[:max_windows, :, cfg.low_pitch:cfg.low_pitch + cfg.n_pitches]
    clean = torch.as_tensor(wins, device=device)
    gen = torch.Generator(device=device)
    gen.manual_seed(12345)
    return clean, corrupt(clean, gen, replace(tcfg, block_prob=0.0))    # DeepComposer's scheme: comparable runs


def evaluate_loss(model, clean, corrupted, batch: int = 64) -> tuple[float, float]:
    import torch
    model.eval()
    tl = nl = 0.0
    with torch.inference_mode():
        for s in range(0, len(clean), batch):
            c, x = clean[s:s + batch], corrupted[s:s + batch]
            t, n = losses(model(x.float()), x, c)
            tl += float(t) * len(c)
            nl += float(n) * len(c)
    model.train()
    return tl / len(clean), nl / len(clean)


def train(cfg: ArcnnConfig, tcfg: TrainConfig, out_dir: str | Path, cache: str | Path | dict = DEFAULT_OUT,
          device: str = "auto", resume: bool = False, name: str = "bach", log=print,
          progress: ProgressFn = None, should_stop: StopFn = None, save_optimizer: bool = True,
          half: bool = False) -> Path:
    """Train for ``tcfg.minutes`` of wall time (and at most ``tcfg.max_steps`` steps if set); returns best.pt.

    ``cache`` is the cache file (or its folder), or what :func:`load_cache` read from it.
    Raises FileNotFoundError (no cache), ModelError (unknown device, no GPU), Cancelled (should_stop). Checkpoints
    are written every
    ``tcfg.eval_every`` steps, so a killed run still leaves ``last.pt`` and ``best.pt``. ``save_optimizer``
    keeps Adam's state in ``last.pt`` (exact resume, 3x the size); ``half`` stores weights as float16.
    """
    import torch

    from ..checkpoint import load_checkpoint, save_checkpoint
    from .model import build_model, count_parameters

    dev = _device(device)
    if dev.type == "cpu":
        torch.set_num_threads(1)
    else:
        torch.backends.cudnn.benchmark = True
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(tcfg.seed)
    gen = torch.Generator(device=dev)
    gen.manual_seed(tcfg.seed)
    data = cache if isinstance(cache, dict) else load_cache(cache)
    batcher = _Batcher(data["train"], cfg, tcfg, dev, gen)
    v_clean, v_corrupt = _valid_set(data["valid"], cfg, tcfg, dev)
    model = build_model(cfg).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    step, best, elapsed_before = 0, math.inf, 0.0
    last_path, best_path = out / "last.pt", out / "best.pt"
    if resume and last_path.is_file():
        ck = load_checkpoint(last_path, "arcnn")
        cfg = ArcnnConfig.from_dict(ck["model_args"])
        model = build_model(cfg).to(dev)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ck["state_dict"].items()})
        opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
        if "extra" in ck and "optimizer" in ck["extra"]:
            opt.load_state_dict(ck["extra"]["optimizer"])
        step = int(ck["meta"].get("step", 0))
        best = float(ck["meta"].get("best_valid", math.inf))
        elapsed_before = float(ck["meta"].get("train_seconds", 0.0))
        log(f"resumed from {last_path} at step {step}")
    log(f"arcnn: {count_parameters(model):,} parameters, {len(batcher):,} training windows, device {dev}, "
        f"config {json.dumps(cfg.to_dict())}, train {json.dumps(asdict(tcfg))}")
    use_amp = tcfg.amp and dev.type == "cuda"
    budget = tcfg.minutes * 60.0
    t0 = time.monotonic()

    def save(path: Path, with_opt: bool, meta_extra: dict) -> None:
        meta = {"step": step, "best_valid": best, "train_seconds": elapsed_before + time.monotonic() - t0,
                "train_config": asdict(tcfg), "data": "jsb_chorales_czhuang 16th, train split", **meta_extra}
        sd = model.state_dict()
        if half:
            sd = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in sd.items()}
        save_checkpoint(path, technique="arcnn", name=name, model_args=cfg.to_dict(), state_dict=sd,
                        meta=meta, extra={"optimizer": opt.state_dict()} if with_opt and save_optimizer else None)

    def checkpoint() -> None:
        nonlocal best
        vt, vn = evaluate_loss(model, v_clean, v_corrupt)
        improved = vt + vn < best
        if improved:
            best = vt + vn
        info = {"valid_toggle": vt, "valid_note": vn}
        save(last_path, True, info)
        if improved:
            save(best_path, False, info)
        log(f"step {step} valid toggle {vt:.4f} note {vn:.4f}{' *' if improved else ''} "
            f"({time.monotonic() - t0:.0f} s)")

    model.train()
    run_steps = 0
    sum_t = sum_n = 0.0
    n_avg = 0
    while True:
        elapsed = time.monotonic() - t0
        if elapsed >= budget or (tcfg.max_steps and run_steps >= tcfg.max_steps):
            break
        try:
            check_stop(should_stop)
        except Cancelled:
            checkpoint()
            raise
        frac = min(1.0, elapsed / budget) if budget > 0 else 1.0
        lr = tcfg.lr * min(1.0, (run_steps + 1) / 100) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        clean = batcher.batch(tcfg.batch_size)
        x = corrupt(clean, gen, tcfg)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=use_amp):
            logits = model(x.float())
        tl, nl = losses(logits, x, clean)
        loss = tl + tcfg.bce_weight * nl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        run_steps += 1
        sum_t = sum_t + tl.detach()           # stays on the device: no sync per step
        sum_n = sum_n + nl.detach()
        n_avg += 1
        if step % 50 == 0:
            avg_t, avg_n = float(sum_t) / n_avg, float(sum_n) / n_avg
            sum_t = sum_n = 0.0
            n_avg = 0
            log(f"step {step} train toggle {avg_t:.4f} note {avg_n:.4f} lr {lr:.2e}")
            report(progress, frac, f"step {step}: loss {avg_t + avg_n:.3f}")
        if step % tcfg.eval_every == 0:
            checkpoint()
    checkpoint()
    if not best_path.is_file():
        save(best_path, False, {})
    return best_path


def export(checkpoint: str | Path, dest: str | Path, name: str = "bach", half: bool = True) -> Path:
    """Copy a training checkpoint to a shippable model file (weights in float16, no optimizer state)."""
    import torch

    from ..checkpoint import load_checkpoint, save_checkpoint
    ck = load_checkpoint(checkpoint, "arcnn")
    sd = {k: (v.to(torch.float16) if half and v.is_floating_point() else v) for k, v in ck["state_dict"].items()}
    save_checkpoint(dest, technique="arcnn", name=name, model_args=ck["model_args"], state_dict=sd, meta=ck["meta"])
    return Path(dest)


def read_cache(path) -> dict:
    """:func:`load_cache` for the ``train`` command: a missing, foreign or damaged file is a ModelError that says
    what ``--data`` takes."""
    path = Path(path)
    build = "`python -m deepcomposer_desktop.ml.arcnn.data`"
    if is_midi_file(path):
        raise ModelError(f"{path.name} is a MIDI file, not a training cache: --data takes the AR-CNN chorale cache "
                         f"(chorales.npz, or its folder) that {build} builds")
    try:
        data = load_cache(path)
    except FileNotFoundError as exc:
        raise ModelError(str(exc)) from None
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{path} is not an AR-CNN training cache ({type(exc).__name__}): --data takes the "
                         f"chorales.npz that {build} builds") from None
    if not data["train"] or not data["valid"]:
        raise ModelError(f"The training cache {path} holds no training or no validation chorales; build it again "
                         f"with {build}")
    return data


def cli_train(args) -> int:
    """`deepcomposer train arcnn [--preset tiny|cpu|default|gpu] [--data CACHE] [--out DIR] [--name N] ...`

    Installs ``arcnn-N.pt`` (N: ``--name``, default ``my-bach``) in ``--out`` (default: the user's model folder),
    with the run's checkpoints in ``arcnn-N-run/``. Refuses to replace a model of that name unless ``--overwrite``
    or ``--resume``, and to hide the shipped one unless ``--overwrite``. Ctrl+C stops as Cancel does.
    """
    from ...cli import CliError, refuse_unused
    from ..common import sigint_stops
    from ..registry import user_models_dir
    refuse_unused(args, {"technique", "name", "data", "out", "epochs", "lr", "batch_size", "resume", "overwrite",
                         "device", "preset", "minutes"}, "train arcnn")
    preset = args.preset or "default"
    if preset not in PRESETS:
        raise CliError(f"Unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    cfg, tcfg = PRESETS[preset]
    tcfg = replace(tcfg)
    if args.batch_size:
        tcfg.batch_size = args.batch_size
    if args.lr:
        tcfg.lr = args.lr
    name = args.name or DEFAULT_NAME
    out = Path(args.out) if args.out else user_models_dir()
    try:
        device = resolve_device(args.device)
        data = read_cache(args.data or DEFAULT_OUT)
        dest = claim_model_path("arcnn", name, out, replace=getattr(args, "overwrite", False),
                                resume_from=out / f"arcnn-{name}-run" / "last.pt" if args.resume else None)
    except ModelError as exc:
        raise CliError(str(exc)) from None
    if args.epochs:
        n = len(windows(data["train"], cfg.steps)[1])
        tcfg.max_steps = max(1, args.epochs * n // tcfg.batch_size)
        tcfg.minutes = max(tcfg.minutes, 24 * 60.0)
    if getattr(args, "minutes", None):
        tcfg.minutes = args.minutes
    run_dir = out / f"arcnn-{name}-run"
    try:
        with sigint_stops() as stop:          # Ctrl+C: as Cancel in the app (the model so far is kept)
            best = train(cfg, tcfg, run_dir, cache=data, device=device, resume=args.resume, name=name,
                         should_stop=stop)
        dest = export(best, dest, name)
    except Cancelled:
        if (run_dir / "best.pt").is_file():
            export(run_dir / "best.pt", dest, name)
        raise CliError("Training stopped; the model so far is saved (continue with --resume)") from None
    except ModelError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"Cannot write the model in {out}: {exc.strerror or exc}") from None
    print(f"wrote {dest}" + ("" if args.out else f"; the arcnn model '{name}' is now in the list"))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Train the AR-CNN (time-budgeted).")
    ap.add_argument("--out", required=True)
    ap.add_argument("--cache", default=str(DEFAULT_OUT))
    ap.add_argument("--preset", default="default", choices=sorted(PRESETS))
    ap.add_argument("--minutes", type=float, default=None)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--no-optimizer-state", action="store_true", help="smaller last.pt (resume restarts Adam)")
    ap.add_argument("--half", action="store_true", help="store weights as float16")
    args = ap.parse_args(argv)
    cfg, tcfg = PRESETS[args.preset]
    tcfg = replace(tcfg)
    for k in ("minutes", "max_steps", "batch_size", "lr", "seed"):
        if getattr(args, k) is not None:
            setattr(tcfg, k, getattr(args, k))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logf = open(out / "train.log", "a", buffering=1)

    def log(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        logf.write(line + "\n")

    try:
        train(cfg, tcfg, out, cache=args.cache, device=args.device, resume=args.resume, log=log,
              save_optimizer=not args.no_optimizer_state, half=args.half)
    except (ModelError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
