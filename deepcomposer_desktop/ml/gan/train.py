"""Train a GAN genre: WGAN-GP (+ our reconstruction term), time- or epoch-bounded, resumable, GPU/DDP-aware.

``deepcomposer train gan --name my-genre --data FOLDER|cache.npz`` (see ``cli_train``), or for scripted runs
``python -m deepcomposer_desktop.ml.gan.train --data X --name N [--preset P] [--minutes M] [--out DIR]``.
With ``WORLD_SIZE`` set (``torchrun``) every rank trains on its own batches and gradients are averaged with
``torch.distributed.all_reduce`` (plain all-reduce, because DDP's reducer does not support the gradient
penalty's double backward); rank 0 writes the files. Files in ``--out``: ``gan-<name>.pt`` (the model),
``gan-<name>.state`` (critic + optimisers, for ``--resume``), ``gan-<name>.log``, ``gan-<name>-samples/``.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ...model_files import NAME_RE
from ..common import (Cancelled, ModelError, ProgressFn, StopFn, check_stop, claim_model_path, is_midi_file, report,
                      resolve_device)
from .config import ARCH_PRESETS, PRESETS, GanArch, TrainConfig, deepcomposer_arch
from .data import (GanData, GanDataError, load_training_data, melody_median, normalise_keys, split_by_song,
                   to_two_bars)

REFINE_ROUNDS = 2         # final save: coordinate-search rounds fitting the decoding to the music figures
FIT_SHARE, FIT_MAX_S = 0.15, 120.0   # a run with a time budget keeps this much of it for that fit


def _distributed() -> tuple[int, int, int]:
    """(rank, world size, local rank); initialises torch.distributed when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0
    import torch
    import torch.distributed as dist
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0"))


def _average_grads(module, world: int) -> None:
    if world <= 1:
        return
    import torch.distributed as dist
    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world


def _keep_going(go: bool, world: int, device) -> bool:
    """Every rank stops together: one rank out of time stops them all (else the others wait forever)."""
    if world <= 1:
        return go
    import torch
    import torch.distributed as dist
    flag = torch.tensor([0.0 if go else 1.0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return flag.item() == 0.0


def prepare_data(data: GanData, arch: GanArch) -> GanData:
    """What the architecture trains on: key-normalised windows (ours) or 2-bar pieces (DeepComposer)."""
    if arch.kind == "deepcomposer":
        data = to_two_bars(data)
    if arch.key_normalise:
        data, _ = normalise_keys(data)
    if data.melody.shape[1] != arch.steps:
        raise GanDataError(f"the data has {data.melody.shape[1]}-step windows, the model needs {arch.steps}")
    return data


def train_gan(data: GanData, arch: GanArch, cfg: TrainConfig, out_dir, name: str, device: str = "auto",
              resume: bool = False, progress: ProgressFn = None, should_stop: StopFn = None,
              log=None, compact: bool = False, keep_state: bool = True, deadline: float | None = None,
              init_from=None) -> Path:
    """Train on ``data`` (already prepared with :func:`prepare_data`); returns the model file's path. ``log`` takes
    each log line (else printed); given one, or a time budget, the losses are logged every 2 s (else 10 s).

    Raises ModelError (bad device, resume file that does not fit) and Cancelled (the model so far is saved).
    """
    import torch
    rank, world, local_rank = _distributed()
    device = resolve_device(device)
    if device == "cuda" and world > 1:
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(local_rank)
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    from ..checkpoint import load_checkpoint, save_checkpoint
    from .model import build_critic, build_generator
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path, state_path = out_dir / f"gan-{name}.pt", out_dir / f"gan-{name}.state"
    log_file = open(out_dir / f"gan-{name}.log", "a") if rank == 0 else None

    def say(msg: str) -> None:
        if rank != 0:
            return
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        log_file.write(line + "\n")
        log_file.flush()
        (log or print)(line)

    torch.manual_seed(cfg.seed * 1000 + rank)
    rng = np.random.default_rng(cfg.seed * 1000 + rank)
    G = build_generator(arch).to(device)
    D = build_critic(arch, G).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    n = len(data)
    if n == 0:
        raise GanDataError("No training windows")
    to = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)  # noqa: E731
    mel, mon, acc, aon = to(data.melody), to(data.melody_on), to(data.accomp), to(data.accomp_on)
    it, elapsed_before = 0, 0.0
    if init_from and not (resume and state_path.exists()):
        say(init_generator(G, init_from, data.tracks))
    if resume and state_path.exists():
        st = load_checkpoint(state_path, "gan")
        if GanArch.from_dict(st["model_args"]) != arch:
            raise ModelError(f"{state_path.name} was trained with another architecture; start afresh without "
                             f"--resume or use another --out folder")
        G.load_state_dict(st["state_dict"])
        ex = st["extra"]
        D.load_state_dict(ex["critic"])
        opt_g.load_state_dict(ex["opt_g"])
        opt_d.load_state_dict(ex["opt_d"])
        it, elapsed_before = int(ex["iteration"]), float(ex.get("elapsed", 0.0))
        say(f"resumed {name} at iteration {it}")
    per_epoch = max(1, math.ceil(n / cfg.batch_size / world))
    total = cfg.epochs * per_epoch
    if cfg.max_iterations:
        total = min(total, cfg.max_iterations)
    budget = cfg.minutes * 60.0 if cfg.minutes > 0 else math.inf
    if deadline is not None:                 # an absolute end time (wall clock) wins over the minutes
        budget = min(budget, max(1e-3, deadline - time.time()))
    end = time.time() + budget               # the whole run, the final decoding fit included, ends by then
    if budget < math.inf and arch.kind == "unet":
        budget -= min(FIT_MAX_S, FIT_SHARE * budget)
    say(f"training gan-{name}: {arch.kind}, {sum(p.numel() for p in G.parameters()):,} generator parameters, "
        f"{n} windows, batch {cfg.batch_size} x {world} rank(s), {cfg.update_ratio} critic steps, lr {cfg.lr}, "
        f"up to {total} iterations ({cfg.epochs} epochs)" + (f" or {cfg.minutes:g} min" if budget < math.inf
                                                          else "") + f" on {device}")

    def batch():
        idx = torch.from_numpy(rng.integers(0, n, cfg.batch_size)).to(device)
        return (mel[idx].float(), mon[idx].float(), acc[idx].float(), aon[idx].float())

    def gradient_penalty(real, fake, fr, on):
        eps = torch.rand(real.shape[0], 1, 1, 1, device=device)
        inter = (eps * real + (1 - eps) * fake).requires_grad_(True)
        score = D(inter, fr, on)
        g, = torch.autograd.grad(score.sum(), inter, create_graph=True)
        return ((g.flatten(1).norm(dim=1) - 1.0) ** 2).mean()

    def save(final: bool = False, refine: bool = False) -> None:
        if rank != 0:
            return
        if refine and arch.kind == "unet":
            say("fitting the decoding to the music figures of the training data")
        meta = _model_meta(G, arch, cfg, data, it, per_epoch, device, refine_rounds=REFINE_ROUNDS if refine else 0,
                           refine_deadline=end if end < math.inf else None, should_stop=should_stop)
        if refine:
            check_stop(should_stop)       # stopped during the fit: the caller saves the model without it
        from .quant import quantize
        sd = quantize(G.state_dict()) if compact else G.state_dict()
        save_checkpoint(model_path, technique="gan", name=name, model_args=arch.to_dict(), state_dict=sd,
                        meta=meta)
        if keep_state:
            save_checkpoint(state_path, technique="gan", name=name, model_args=arch.to_dict(),
                            state_dict=G.state_dict(), meta={"iteration": it},
                            extra={"critic": D.state_dict(), "opt_g": opt_g.state_dict(),
                                   "opt_d": opt_d.state_dict(), "iteration": it,
                                   "elapsed": elapsed_before + time.time() - t0})
        _write_samples(model_path, data, out_dir / f"gan-{name}-samples", it // per_epoch, cfg.samples, say)
        say(f"saved {model_path.name} at iteration {it} (epoch {it / per_epoch:.1f})" + (" [final]" if final else ""))

    t0 = last_log = last_ckpt = time.time()
    it0 = it
    last_ckpt_epoch = it // per_epoch
    stats: dict[str, float] = {}
    ours = arch.kind == "unet"
    try:
        while _keep_going(it < total and (time.time() - t0 < budget or it == it0), world, device):
            check_stop(should_stop)
            G.train()
            D.train()
            adversarial = cfg.adv_weight > 0 and cfg.update_ratio > 0
            zero = torch.zeros((), device=device)
            d_real = d_fake = gp = loss_adv = zero
            for _ in range(cfg.update_ratio if adversarial else 0):
                fr, on, a, ao = batch()
                with torch.no_grad():
                    fake = G.fake_for_critic(G(fr, on, G.sample_z(fr.shape[0], device=device)))
                real = G.real_for_critic(fr, a, ao)
                d_real, d_fake = D(real, fr, on).mean(), D(fake, fr, on).mean()
                gp = gradient_penalty(real, fake, fr, on)
                loss_d = d_fake - d_real + cfg.gp_weight * gp
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                _average_grads(D, world)
                opt_d.step()
            fr, on, a, ao = batch()
            out = G(fr, on, G.sample_z(fr.shape[0], device=device))
            if adversarial:
                loss_adv = -D(G.fake_for_critic(out), fr, on).mean()
            loss_g = cfg.adv_weight * loss_adv
            rec = torch.zeros((), device=device)
            if ours and cfg.recon_weight > 0:
                bce = torch.nn.functional.binary_cross_entropy_with_logits
                rec = bce(out[:, :, 0], a) + 0.5 * bce(out[:, :, 1], ao)
                loss_g = loss_g + cfg.recon_weight * rec
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            _average_grads(G, world)
            opt_g.step()
            it += 1
            for k, v in (("w", (d_real - d_fake).item()), ("gp", gp.item()), ("adv", loss_adv.item()),
                         ("rec", rec.item())):
                stats[k] = 0.9 * stats.get(k, v) + 0.1 * v
            now = time.time()
            if now - last_log > (2.0 if budget < math.inf or log is not None else 10.0) or it == total:
                rate = (it - it0) / max(1e-6, now - t0)
                eta = min((total - it) / max(rate, 1e-9), budget - (now - t0))
                say(f"it {it}/{total} epoch {it / per_epoch:.1f} wdist {stats['w']:.3f} gp {stats['gp']:.3f} "
                    f"adv {stats['adv']:.3f} rec {stats['rec']:.4f} | {rate:.1f} it/s, ETA {_fmt(eta)}")
                last_log = now
            report(progress, max(it / total, (now - t0) / max(budget, 1e-3) if budget < math.inf else 0.0),
                   f"epoch {(it - 1) // per_epoch + 1}, iteration {it}")     # the epoch this step belongs to
            if (it // per_epoch - last_ckpt_epoch >= cfg.checkpoint_every or it == it0 + 1
                    or now - last_ckpt > cfg.checkpoint_seconds):
                save()
                last_ckpt, last_ckpt_epoch = time.time(), it // per_epoch
        save(final=True, refine=True)     # the decoding fit ends as soon as should_stop() is true
    except Cancelled:
        save(final=True)                  # at once: no refinement when the user stops (resume does it)
        raise
    if log_file:
        log_file.close()
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
        dist.destroy_process_group()
    return model_path


def _match_tracks(new_tracks: list[dict], old_tracks: list[dict]) -> list[int]:
    """For each new track, the old track whose head it starts from: drums from drums, a bass from a bass,
    otherwise the pitched tracks in order."""
    def is_bass(t):
        return "bass" in t["name"].lower() or int(t.get("program", 0)) // 8 == 4
    old_pitched = [i for i, t in enumerate(old_tracks) if not t.get("is_drum")]
    old_drums = [i for i, t in enumerate(old_tracks) if t.get("is_drum")] or old_pitched
    old_bass = [i for i in old_pitched if is_bass(old_tracks[i])]
    others = [i for i in old_pitched if i not in old_bass] or old_pitched
    out, k = [], 0
    for t in new_tracks:
        if t.get("is_drum"):
            out.append(old_drums[0])
        elif is_bass(t) and old_bass:
            out.append(old_bass[0])
        else:
            out.append(others[k % len(others)])
            k += 1
    return out


def init_generator(G, path, tracks: list[dict]) -> str:
    """Start ``G`` from another genre's model: every shared layer copied, each track's head from the matching
    track of that model (see :func:`_match_tracks`). Returns a line for the log."""
    import torch
    from ..checkpoint import load_checkpoint
    from .quant import dequantize
    payload = load_checkpoint(path, "gan")
    src = dequantize(payload["state_dict"])
    old_tracks = payload["meta"]["tracks"]
    mapping = _match_tracks(tracks, old_tracks)
    hc = G.arch.head_channels
    dst = G.state_dict()
    for k, v in dst.items():
        if k.startswith("head.0."):                        # (hc * T, c0, 3, 3): hc rows per track
            v = torch.cat([src[k][i * hc:(i + 1) * hc] for i in mapping])
        elif k.startswith("head.2."):                      # (2T, hc, 1, 1): 2 rows per track
            v = torch.cat([src[k][2 * i:2 * i + 2] for i in mapping])
        elif k in src and src[k].shape == v.shape:
            v = src[k]
        else:
            raise ModelError(f"{os.path.basename(str(path))} does not fit this architecture ({k})")
        dst[k] = v
    G.load_state_dict(dst)
    names = ", ".join(f"{t['name']}<-{old_tracks[i]['name']}" for t, i in zip(tracks, mapping))
    return f"generator initialised from {os.path.basename(str(path))} ({names})"


def _fmt(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s"


def _model_meta(G, arch: GanArch, cfg: TrainConfig, data: GanData, it: int, per_epoch: int, device: str,
                refine_rounds: int = 0, refine_deadline: float | None = None, should_stop: StopFn = None) -> dict:
    """Builtins only: tracks, calibrated decode thresholds, where the data came from, how it was trained.

    ``refine_rounds`` (the final save): the decoding is then also fitted to every music figure (``decode_fit.refine``),
    which stops searching at ``refine_deadline`` (the end of a run's time budget) or once ``should_stop()``."""
    import torch
    from .decode import VARIATION, DecodeParams
    from .decode_fit import fit
    decode = DecodeParams.plain(arch.n_tracks)
    if arch.kind == "unet":
        G.eval()
        # checkpoints calibrate on a few windows; the final fit (refine) looks at more, to carry over to new melodies
        k = min(len(data), 384 if str(device).startswith("cuda") else 64 if refine_rounds else 32)
        idx = np.random.default_rng(0).choice(len(data), k, replace=False)
        pf, po = [], []
        with torch.no_grad():
            for s in range(0, k, 64):
                j = idx[s:s + 64]
                fr = torch.from_numpy(data.melody[j]).float().to(device)
                on = torch.from_numpy(data.melody_on[j]).float().to(device)
                f, o = G.probabilities(G(fr, on, G.sample_z(len(j), device=device)))
                pf.append(f.cpu().numpy())
                po.append(o.cpu().numpy())
        pf, po = np.concatenate(pf), np.concatenate(po)
        decode = fit(pf, po, data.melody[idx], data.accomp[idx], data.accomp_on[idx], data.is_drum, refine_rounds,
                     deadline=refine_deadline, should_stop=should_stop,   # Pause / Cancel end the fit at once
                     shifts=None if data.shifts is None else data.shifts[idx])
        G.train()
    src = data.meta
    return {"tracks": [dict(t) for t in data.tracks], "decode": decode.to_dict(), "decode_refined": refine_rounds > 0,
            "decode_noise": VARIATION if arch.kind == "unet" else 0.0,
            "genre": src.get("genre", ""), "sources": src.get("sources", []), "melody_median": melody_median(data),
            "train": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
            "iterations": it, "epochs": round(it / per_epoch, 2), "train_windows": len(data),
            "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def _write_samples(model_path: Path, data: GanData, folder: Path, epoch: int, count: int, say) -> None:
    """A few accompaniments of training melodies as MIDI (or .npz rolls where mido is missing)."""
    if count <= 0:
        return
    try:
        from .generate import accompany_rolls, load_model
        model = load_model(model_path)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            from ...midi.io import write_midi
        except ImportError:
            write_midi = None
        for k in range(min(count, len(data))):
            frames, onsets = accompany_rolls(model, data.melody[k], data.melody_on[k], seed=k)
            path = folder / f"epoch{epoch:04d}-{k + 1}"
            if write_midi is None:
                np.savez_compressed(str(path) + ".npz", melody=data.melody[k], frames=frames, onsets=onsets)
                continue
            write_midi(_rolls_to_song(data.melody[k], data.melody_on[k], frames, onsets, model.tracks),
                       str(path) + ".mid")
    except Exception as exc:  # samples are a convenience: never stop training for them
        say(f"could not write samples: {type(exc).__name__}: {exc}")


def _rolls_to_song(melody, melody_on, frames, onsets, tracks):
    from ...core.grid import roll_to_notes
    from ...core.song import Song, Track
    out = [Track("Melody", 0, False, tuple(roll_to_notes(melody, 480, 4, onsets=melody_on, velocity=90)))]
    for i, t in enumerate(tracks):
        out.append(Track(t["name"], int(t["program"]), bool(t["is_drum"]),
                         tuple(roll_to_notes(frames[i], 480, 4, onsets=onsets[i], velocity=80)),
                         channel=9 if t["is_drum"] else None))
    return Song(tracks=tuple(out))


# --- entry points ---------------------------------------------------------------------------------------------------
def read_training_data(data_spec, melody_track=None, progress: ProgressFn = None, should_stop: StopFn = None):
    """A folder of MIDI files or a .npz cache -> GanData; a lone MIDI file is refused with what to do instead."""
    if is_midi_file(data_spec):
        raise GanDataError(f"{os.path.basename(os.fspath(data_spec))} is a MIDI file, not a training cache: train on "
                           "a folder of MIDI files (put it in a folder, with more songs like it) or on a .npz cache "
                           "built by `python -m deepcomposer_desktop.ml.data.build`")
    report(progress, 0.0, "reading the training data")
    return load_training_data(data_spec, melody_track, progress, should_stop)


def run_training(data_spec, name: str, out_dir, preset: str | None = None, overrides: dict | None = None,
                 device: str = "auto", resume: bool = False, melody_track=None, progress: ProgressFn = None,
                 should_stop: StopFn = None, log=None, keep_state: bool = True,
                 deadline: float | None = None, init_from=None) -> Path:
    """Load ``data_spec`` (cache or MIDI folder, or GanData already read), hold out songs, and train; returns the
    model file."""
    if not NAME_RE.match(name or ""):
        raise ModelError("Name the model with lower-case letters, digits, '-' or '_' (e.g. my-genre)")
    preset = preset or "default"
    if preset not in PRESETS:
        raise ModelError(f"Unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    cfg = PRESETS[preset].with_overrides(**(overrides or {}))
    data = data_spec if isinstance(data_spec, GanData) else \
        read_training_data(data_spec, melody_track, progress, should_stop)
    train_idx, _ = split_by_song(data)
    steps = data.melody.shape[1]
    if preset == "deepcomposer":
        arch = deepcomposer_arch(data.accomp.shape[1])
    else:
        if steps != 128:
            raise GanDataError(f"our GAN trains on 8-bar windows; this data has {steps // 16}-bar windows "
                               f"(use --preset deepcomposer for 2-bar data)")
        arch = GanArch(n_tracks=data.accomp.shape[1], **ARCH_PRESETS.get(preset, {}))
    train = prepare_data(data.subset(train_idx), arch)
    return train_gan(train, arch, cfg, out_dir, name, device=device, resume=resume, progress=progress,
                     should_stop=should_stop, log=log, compact=True,
                     keep_state=keep_state, deadline=deadline, init_from=init_from)


def cli_train(args) -> int:
    """``deepcomposer train gan --name my-genre --data FOLDER|cache.npz [--epochs --lr --update-ratio
    --batch-size --resume --device --preset --out]``."""
    from ...cli import CliError, end_progress_line, progress_printer
    from ..common import sigint_stops
    from ..registry import user_models_dir
    if not args.name or not args.data:
        raise CliError("train gan needs --name (e.g. my-genre) and --data (a folder of MIDI files or a cache)")
    if args.resume and getattr(args, "start_from", None):
        raise CliError("--start-from: not used with --resume (the run continues from its own checkpoint)")
    try:
        device = resolve_device(args.device)
    except ModelError as exc:
        raise CliError(str(exc)) from None
    preset = args.preset or ("default" if device.startswith("cuda") else "laptop")
    overrides = {"epochs": args.epochs, "lr": args.lr, "update_ratio": args.update_ratio,
                 "batch_size": args.batch_size, "minutes": getattr(args, "minutes", None)}
    out = Path(args.out) if args.out else user_models_dir()
    state = out / f"gan-{args.name}.state"
    if args.resume and state.is_file() and (out / f"gan-{args.name}.pt").is_file():
        # the saved run's recipe (and, unless --preset, the preset its architecture came from); flags given win
        from dataclasses import fields

        from ..checkpoint import load_checkpoint
        try:
            saved = load_checkpoint(out / f"gan-{args.name}.pt", "gan")
        except ModelError as exc:
            raise CliError(str(exc)) from None
        recipe = (saved.get("meta") or {}).get("train") or {}
        names = {f.name for f in fields(TrainConfig)}
        overrides = {**{k: tuple(v) if isinstance(v, list) else v for k, v in recipe.items() if k in names},
                     **{k: v for k, v in overrides.items() if v is not None}}
        if not args.preset:
            arch = saved.get("model_args") or {}
            preset = next((p for p in ("tiny", "small") if list(arch.get("channels", ())) ==
                           list(ARCH_PRESETS[p]["channels"])), "deepcomposer" if arch.get("kind") == "deepcomposer"
                          else preset)
        taken = [f"{k.replace('_', ' ')} {recipe[k]:g}" for k in ("epochs", "lr", "update_ratio", "batch_size",
                                                                   "minutes")
                 if getattr(args, k, None) is None and isinstance(recipe.get(k), (int, float))
                 and (k != "minutes" or recipe[k] > 0)]
        if taken:
            print(f"Resuming with the saved run's settings: {', '.join(taken)}"
                  + ("" if args.preset else f", preset {preset}") + " (give a flag again to change one)", flush=True)
    init_from = None
    if getattr(args, "start_from", None):
        from ..registry import find_model
        try:
            init_from = str(find_model("gan", args.start_from).path)
        except ModelError as exc:
            raise CliError(str(exc)) from None
    if device == "cpu":
        from ..common import limit_threads
        limit_threads()
    try:
        claim_model_path("gan", args.name, out, replace=getattr(args, "overwrite", False),
                         resume_from=state if args.resume else None)
    except ModelError as exc:
        raise CliError(str(exc)) from None
    progress = progress_printer(50, every=1.0)
    try:
        data = read_training_data(args.data, getattr(args, "melody_track", None), progress)
        _print_folder_report(data)
        with sigint_stops() as stop:          # Ctrl+C: as Cancel in the app (the model so far is saved)
            path = run_training(data, args.name, out, preset, overrides, device, args.resume, progress=progress,
                                should_stop=stop, init_from=init_from)
    except (ModelError, GanDataError) as exc:
        raise CliError(str(exc)) from None
    except Cancelled:
        raise CliError("Training stopped; the model so far is saved (continue with --resume)") from None
    end_progress_line()
    print(f"Model written to {path}" + ("" if args.out else f"; the genre '{args.name}' is now in the list"))
    if not len(split_by_song(data)[1]):
        print("warning: no model card written (one song: none is held out to measure the model on; train on two "
              "songs or more for a card)", file=sys.stderr)
        return 0
    print("Measuring it on the held-out songs for its model card ...", flush=True)
    from .card import write_trained_card
    try:
        card = write_trained_card(path, data, _command(args, preset, device), source=os.fspath(args.data))
    except (OSError, ModelError, ValueError) as exc:
        print(f"warning: no model card written ({exc})", file=sys.stderr)
    else:
        print(f"Model card written to {card}")
    return 0


def _print_folder_report(data: GanData) -> None:
    """What was read from a folder of MIDI files, as the Training studio shows it: songs, bars, windows, and every
    skipped file with the reason (nothing for a cache)."""
    rep = data.meta.get("report")
    if not rep:
        return
    from ...cli import end_progress_line
    end_progress_line()
    songs, n = f"{rep['songs']} song{'' if rep['songs'] == 1 else 's'}", len(rep["skipped"])
    print(f"Read {songs} of {rep['files']} files, {rep['bars']} bars, {rep['windows']} 8-bar pieces to learn from"
          + (f"; {n} file{'' if n == 1 else 's'} skipped:" if n else "."))
    for f, why in rep["skipped"]:
        print(f"  {f}: {why}")
    sys.stdout.flush()


def _command(args, preset: str, device: str) -> str:
    """The ``deepcomposer train gan`` command line that trained a model, as its card records it."""
    import shlex
    words = ["deepcomposer", "train", "gan", "--name", args.name, "--data", os.fspath(args.data), "--preset", preset,
             "--device", device]
    for opt in ("epochs", "lr", "update_ratio", "batch_size", "minutes", "melody_track", "start_from"):
        value = getattr(args, opt, None)
        if value is not None:
            words += ["--" + opt.replace("_", "-"), str(value)]
    return shlex.join(words + (["--resume"] if args.resume else []))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m deepcomposer_desktop.ml.gan.train", description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--preset", default="default", choices=sorted(PRESETS))
    ap.add_argument("--minutes", type=float, default=None)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--update-ratio", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--recon-weight", type=float, default=None)
    ap.add_argument("--adv-weight", type=float, default=None, help="0: train with the reconstruction term only")
    ap.add_argument("--init", default=None, help="start the generator from this model file (another genre)")
    ap.add_argument("--max-iterations", type=int, default=None)
    ap.add_argument("--samples", type=int, default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--no-state", action="store_true", help="do not write the resume file (saves disk)")
    ap.add_argument("--checkpoint-seconds", type=float, default=None)
    ap.add_argument("--deadline", type=float, default=None, help="stop training at this time.time() value")
    a = ap.parse_args(argv)
    import torch
    torch.set_num_threads(a.threads)
    overrides = {"minutes": a.minutes, "epochs": a.epochs, "batch_size": a.batch_size, "lr": a.lr,
                 "update_ratio": a.update_ratio, "recon_weight": a.recon_weight, "adv_weight": a.adv_weight,
                 "max_iterations": a.max_iterations,
                 "samples": a.samples, "checkpoint_seconds": a.checkpoint_seconds}
    try:
        run_training(a.data, a.name, a.out, a.preset, overrides, a.device, a.resume, keep_state=not a.no_state,
                     deadline=a.deadline, init_from=a.init)
    except (ModelError, GanDataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
