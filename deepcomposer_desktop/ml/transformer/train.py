"""Time-budgeted, resumable training of the extend Transformer on the numpy token cache (see data.py).

``python -m deepcomposer_desktop.ml.transformer.train --minutes 6 --preset gpu --out runs/transformer`` (a run
folder: last.pt, best.pt, train.log) or ``deepcomposer train transformer --preset cpu [--name N]``, which installs
``transformer-N.pt`` (default ``my-extend``) in the user's model folder. Needs only numpy + torch (no MIDI
libraries), so it runs on the GPU machine from the carried ``cache/`` folder. Default paths are the project's
``cache/transformer/data.npz`` and ``runs/transformer``, wherever the command runs from.
Windows start at a bar line and keep the piece's header (metre, tempo, track families); augmentation at train
time: transposition by -6..+5 semitones and a tempo-token shift of -2..+2 bins (about +-25 %).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..common import ModelError, claim_model_path, is_midi_file, resolve_device
from . import tokens as T
from .data import DEFAULT_CACHE

PRESETS = {
    # name: (model args, training args)
    "tiny": (dict(n_layer=2, n_head=2, n_embd=32, block_size=128, dropout=0.0),
             dict(batch_size=4, lr=3e-3, minutes=0.1, eval_windows=8)),
    "cpu": (dict(n_layer=3, n_head=4, n_embd=128, block_size=256, dropout=0.0),
            dict(batch_size=8, lr=2e-3, minutes=4.0, eval_windows=32)),
    "gpu": (dict(n_layer=6, n_head=6, n_embd=240, block_size=1024, dropout=0.1),
            dict(batch_size=64, lr=1e-3, minutes=6.0, eval_windows=256)),
}
SOURCE_WEIGHTS = {"nottingham": 0.3, "pop909": 0.35, "jsb": 0.1, "wjazzd": 0.25}
PROJECT = Path(__file__).resolve().parents[3]
DEFAULT_RUN = PROJECT / "runs" / "transformer"
DEFAULT_NAME = "my-extend"        # `train transformer` without --name: never the shipped "extend"
CACHE_KEYS = ("tokens", "offsets", "split", "source", "sources")


class CacheError(ValueError):
    """A token cache that cannot be trained on; the message is for the user."""


@dataclass
class TrainConfig:
    preset: str = "cpu"
    cache: str = str(DEFAULT_CACHE)
    out: str = str(DEFAULT_RUN)
    name: str = "transformer"
    minutes: float = 4.0
    max_epochs: float | None = None
    batch_size: int = 16
    lr: float = 1.5e-3
    weight_decay: float = 0.1
    warmup_steps: int = 100
    eval_every_s: float = 60.0
    save_every_s: float = 60.0
    eval_windows: int = 64
    device: str = "auto"
    seed: int = 0
    threads: int = 1          # CPU threads (ignored on cuda)
    resume: bool = False
    slim: bool = False        # checkpoints in float16 without optimizer state (small files to copy back)
    model: dict = field(default_factory=dict)


class WindowSampler:
    """Random training windows: header + tokens from a random bar line, padded with PAD (ignored in the loss)."""

    def __init__(self, cache: dict, split: int, block: int, seed: int = 0) -> None:
        self.tokens = cache["tokens"]
        self.block = block
        offs, sel = cache["offsets"], np.flatnonzero(cache["split"] == split)
        srcs = [str(s) for s in cache["sources"]]
        self.seqs = []        # (start, end, header_len, bar_starts)
        weights = []
        counts = {}
        for i in sel:
            counts[int(cache["source"][i])] = counts.get(int(cache["source"][i]), 0) + int(offs[i + 1] - offs[i])
        for i in sel:
            a, b = int(offs[i]), int(offs[i + 1])
            bars = np.flatnonzero(self.tokens[a:b] == T.BAR)
            if len(bars) == 0:
                continue
            self.seqs.append((a, b, int(bars[0]), bars))
            src = int(cache["source"][i])
            weights.append(SOURCE_WEIGHTS.get(srcs[src], 0.1) * (b - a) / counts[src])
        if not self.seqs:
            which = {0: "training", 1: "held-out"}.get(split, f"split-{split}")
            raise CacheError(f"the token cache has no {which} pieces with bar lines")
        w = np.asarray(weights)
        self.p = w / w.sum()
        self.rng = np.random.default_rng(seed)

    def window(self, augment: bool = True, rng=None, seq: int | None = None) -> np.ndarray:
        rng = rng or self.rng
        if seq is None:
            seq = int(rng.choice(len(self.seqs), p=self.p))
        a, b, hl, bars = self.seqs[seq]
        start = a + int(bars[rng.integers(len(bars))])
        body = self.tokens[start:min(b, start + self.block + 1 - hl)]
        w = np.full(self.block + 1, T.PAD, dtype=np.int64)
        w[:hl] = self.tokens[a:a + hl]
        w[hl:hl + len(body)] = body
        if augment:
            is_pitch = (w >= T.PITCH0) & (w < T.DUR0)
            if is_pitch.any():
                lo, hi = int(w[is_pitch].min() - T.PITCH0), int(w[is_pitch].max() - T.PITCH0)
                k = int(np.clip(rng.integers(-6, 6), -lo, 127 - hi))
                w[is_pitch] += k
            t = int(w[2]) - T.TEMPO0
            if 0 <= t < T.N_TEMPO:
                w[2] = T.TEMPO0 + int(np.clip(t + rng.integers(-2, 3), 0, T.N_TEMPO - 1))
        return w

    def batch(self, n: int, augment: bool = True, rng=None) -> np.ndarray:
        rng = rng or self.rng
        seqs = rng.choice(len(self.seqs), size=n, p=self.p)
        return np.stack([self.window(augment, rng, int(i)) for i in seqs])      # (n, block + 1)


def _device(name: str):
    import torch
    return torch.device(resolve_device(name))


def loss_on(model, batch, device):
    """Mean cross-entropy over non-PAD targets for a (n, block+1) int array; returns (loss tensor, n_targets)."""
    import torch
    import torch.nn.functional as F
    x = torch.as_tensor(batch[:, :-1], device=device)
    y = torch.as_tensor(batch[:, 1:], device=device).clone()
    y[y == T.PAD] = -100
    logits = model(x)
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1), ignore_index=-100)
    return loss, int((y != -100).sum())


def evaluate(model, windows: np.ndarray, device, batch: int = 32) -> float:
    """Mean NLL per token (nats) on fixed held-out windows."""
    import torch
    model.eval()
    tot, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(windows), batch):
            loss, k = loss_on(model, windows[i:i + batch], device)
            tot += float(loss) * k
            n += k
    model.train()
    return tot / max(1, n)


def train(cfg: TrainConfig, log=print, should_stop=None, cache: dict | None = None) -> Path:
    """Train until ``cfg.minutes`` of wall time (or ``max_epochs``) pass; returns the path of the last checkpoint.

    Writes ``last.pt`` (with optimizer state, for --resume) every ``save_every_s`` and at the end, ``best.pt``
    (lowest held-out loss, weights only) and ``train.log``. ``cache``: the arrays of ``cfg.cache`` when already
    read. Raises ModelError (unknown device, no GPU), CacheError (no training or held-out pieces).
    """
    import torch

    from ..checkpoint import load_checkpoint, save_checkpoint
    from .data import load_cache
    from .model import MusicTransformer, TransformerConfig
    torch.manual_seed(cfg.seed)
    device = _device(cfg.device)
    if device.type == "cpu":
        torch.set_num_threads(max(1, cfg.threads))
        if cfg.preset == "gpu":     # a smoke test of the GPU recipe on a CPU: same model, tiny batches
            cfg.batch_size, cfg.eval_windows = min(cfg.batch_size, 2), min(cfg.eval_windows, 4)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    logf = open(out / "train.log", "a", buffering=1)

    def say(msg: str) -> None:
        log(msg)
        logf.write(msg + "\n")

    if cache is None:
        cache = load_cache(Path(cfg.cache))
    mcfg = TransformerConfig(**{**PRESETS[cfg.preset][0], **cfg.model})
    step, tokens_seen, elapsed_before, best = 0, 0, 0.0, float("inf")
    model = MusicTransformer(mcfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay,
                            fused=device.type == "cuda")
    if cfg.resume and (out / "last.pt").is_file():
        ck = load_checkpoint(out / "last.pt", "transformer")
        mcfg = TransformerConfig.from_dict(ck["model_args"])
        model = MusicTransformer(mcfg).to(device)
        model.load_state_dict({k: v.float() for k, v in ck["state_dict"].items()})
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
        if "optimizer" in ck.get("extra", {}):
            opt.load_state_dict(ck["extra"]["optimizer"])
        m = ck["meta"]
        step, tokens_seen, best = m.get("step", 0), m.get("tokens_seen", 0), m.get("best_val", float("inf"))
        elapsed_before = 60.0 * float(m.get("minutes") or 0.0)
        say(f"resumed from step {step}")
        if m.get("cache_tokens") != int(cache["offsets"][-1]):
            best = float("inf")               # another data set: its held-out windows differ, so does "best"
            say("the training cache changed since that checkpoint: the best model is tracked afresh")
    train_s = WindowSampler(cache, 0, mcfg.block_size, cfg.seed)
    test_s = WindowSampler(cache, 1, mcfg.block_size, cfg.seed + 1)
    eval_windows = test_s.batch(cfg.eval_windows, augment=False, rng=np.random.default_rng(1234))
    n_train_tokens = int(sum(b - a for a, b, _, _ in train_s.seqs))
    say(f"device {device}, model {model.num_params() / 1e6:.2f} M params {mcfg.to_dict()}, "
        f"train tokens {n_train_tokens:,}, budget {cfg.minutes} min")
    use_amp = device.type == "cuda"
    if use_amp:
        torch.backends.cuda.matmul.allow_tf32 = True
    budget = cfg.minutes * 60.0
    t0 = time.time()
    last_save = last_eval = t0
    meta_base = {"preset": cfg.preset, "cache": cfg.cache, "cache_tokens": int(cache["offsets"][-1]),
                 "train_config": asdict(cfg)}

    def weights() -> dict:
        sd = model.state_dict()
        return {k: v.half() for k, v in sd.items()} if cfg.slim else sd

    def save(final: bool = False) -> Path:
        meta = {**meta_base, "step": step, "tokens_seen": tokens_seen, "best_val": best,
                "minutes": (elapsed_before + time.time() - t0) / 60.0, "final": final}
        save_checkpoint(out / "last.pt", technique="transformer", name=cfg.name, model_args=mcfg.to_dict(),
                        state_dict=weights(), meta=meta, extra=None if cfg.slim else {"optimizer": opt.state_dict()})
        return out / "last.pt"

    model.train()
    while True:
        elapsed = time.time() - t0
        if elapsed >= budget or (should_stop is not None and should_stop()):
            break
        if cfg.max_epochs is not None and tokens_seen >= cfg.max_epochs * n_train_tokens:
            break
        frac = elapsed / budget
        lr = cfg.lr * min(1.0, (step + 1) / cfg.warmup_steps) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        batch = train_s.batch(cfg.batch_size)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            loss, n = loss_on(model, batch, device)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens_seen += n
        now = time.time()
        if step % 50 == 0:
            say(f"step {step} loss {float(loss.detach()):.4f} lr {lr:.2e} tokens {tokens_seen:,} {now - t0:.0f}s")
        if now - last_eval >= cfg.eval_every_s:
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                val = evaluate(model, eval_windows, device)
            say(f"step {step} val_nll_per_token {val:.4f}")
            if val < best:
                best = val
                save_checkpoint(out / "best.pt", technique="transformer", name=cfg.name, model_args=mcfg.to_dict(),
                                state_dict=weights(), meta={**meta_base, "step": step, "val": val})
            last_eval = now
        if now - last_save >= cfg.save_every_s:
            save()
            last_save = now
    val = evaluate(model, eval_windows, device)
    say(f"final step {step} val_nll_per_token {val:.4f} ({(time.time() - t0) / 60:.1f} min)")
    if val < best:
        best = val
        save_checkpoint(out / "best.pt", technique="transformer", name=cfg.name, model_args=mcfg.to_dict(),
                        state_dict=weights(), meta={**meta_base, "step": step, "val": val})
    path = save(final=True)
    logf.close()
    return path


def config_from(preset: str, **overrides) -> TrainConfig:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    cfg = TrainConfig(preset=preset, **PRESETS[preset][1])
    for k, v in overrides.items():
        if v is not None:
            setattr(cfg, k, v)
    return cfg


def read_cache(path) -> dict:
    """The token cache for the ``train`` command (a file, or a folder holding ``data.npz``); raises CacheError
    that says what ``--data`` takes when it is missing, a MIDI file, or not a token cache."""
    from .data import load_cache
    path = Path(path)
    if path.is_dir():
        path = path / "data.npz"
    build = "`python -m deepcomposer_desktop.ml.transformer.data --data ../shared/data`"
    if is_midi_file(path):
        raise CacheError(f"{path.name} is a MIDI file, not a training cache: --data takes the Transformer token "
                         f"cache (data.npz, or its folder) that {build} builds")
    if not path.is_file():
        raise CacheError(f"No token cache at {path}: build it with {build}")
    try:
        cache = load_cache(path)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise CacheError(f"{path} is not a Transformer token cache ({type(exc).__name__}): build one with "
                         f"{build}") from None
    missing = [k for k in CACHE_KEYS if k not in cache]
    if missing:
        raise CacheError(f"{path} is not a Transformer token cache (no {', '.join(missing)}): build one with {build}")
    return cache


def install(checkpoint, dest, name: str) -> Path:
    """Copy a training checkpoint to the model file ``dest`` (float16 weights, no optimizer state)."""
    from ..checkpoint import load_checkpoint, save_checkpoint
    ck = load_checkpoint(checkpoint, "transformer")
    sd = {k: v.half() if v.is_floating_point() else v for k, v in ck["state_dict"].items()}
    save_checkpoint(dest, technique="transformer", name=name, model_args=ck["model_args"], state_dict=sd,
                    meta=ck.get("meta", {}))
    return Path(dest)


def cli_train(args) -> int:
    """`deepcomposer train transformer [--name N] [--data CACHE.npz] [--out DIR] [--preset cpu|gpu|tiny] ...`

    Installs ``transformer-N.pt`` (N: ``--name``, default ``my-extend``) in ``--out`` (default: the user's model
    folder), from the run's best checkpoint (``transformer-N-run/``). Refuses to replace a model of that name unless
    ``--overwrite`` or ``--resume``, and to hide the shipped one unless ``--overwrite``. Ctrl+C stops as Cancel does.
    """
    from ...cli import CliError, refuse_unused
    from ..common import sigint_stops
    from ..registry import user_models_dir
    refuse_unused(args, {"technique", "name", "data", "out", "epochs", "lr", "batch_size", "resume", "overwrite",
                         "device", "preset", "minutes"}, "train transformer")
    preset = args.preset or "cpu"
    if preset not in PRESETS:
        raise CliError(f"Unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    name = args.name or DEFAULT_NAME
    out = Path(args.out) if args.out else user_models_dir()
    cache_path = Path(args.data or DEFAULT_CACHE)
    if cache_path.is_dir():
        cache_path = cache_path / "data.npz"
    try:
        device = resolve_device(args.device)
        cache = read_cache(cache_path)
        dest = claim_model_path("transformer", name, out, replace=getattr(args, "overwrite", False),
                                resume_from=out / f"transformer-{name}-run" / "last.pt" if args.resume else None)
    except (ModelError, CacheError) as exc:
        raise CliError(str(exc)) from None
    run = out / f"transformer-{name}-run"
    cfg = config_from(preset, cache=str(cache_path.resolve()), out=str(run), name=name,
                      lr=args.lr, batch_size=args.batch_size, device=device, resume=args.resume,
                      max_epochs=args.epochs, minutes=getattr(args, "minutes", None))
    try:
        with sigint_stops() as stop:          # Ctrl+C: as Cancel in the app (the run ends and saves)
            last = train(cfg, should_stop=stop, cache=cache)
        best = run / "best.pt"
        dest = install(best if best.is_file() else last, dest, name)
        if stop():
            raise CliError(f"Training stopped; the model so far is saved in {dest} (continue with --resume)")
    except (ModelError, CacheError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"Cannot write the model in {out}: {exc.strerror or exc}") from None
    print(f"wrote {dest}" + ("" if args.out else f"; the transformer model '{name}' is now in the list"))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="train the extend Transformer")
    p.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    p.add_argument("--cache", default=TrainConfig.cache)
    p.add_argument("--out", default=TrainConfig.out)
    p.add_argument("--name", default="transformer")
    p.add_argument("--minutes", type=float, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--eval-every", type=float, default=None, help="seconds between held-out evaluations")
    p.add_argument("--slim", action="store_true", help="float16 checkpoints without optimizer state")
    p.add_argument("--threads", type=int, default=1, help="CPU threads")
    a = p.parse_args(argv)
    cfg = config_from(a.preset, cache=a.cache, out=a.out, name=a.name, minutes=a.minutes, batch_size=a.batch_size,
                      lr=a.lr, device=a.device, resume=a.resume, eval_every_s=a.eval_every, save_every_s=a.eval_every,
                      slim=a.slim or None, threads=a.threads)
    try:
        train(cfg)
    except (ModelError, CacheError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
