"""AR-CNN "enhance": add and remove notes of one track by Gibbs-like sampling on a 16th-note piano roll.

Each iteration the network scores every cell of an 8-bar window; one cell is drawn from softmax(logits / T) among
the cells still allowed by the caps and flipped (AWS DeepComposer's sampler). ``toggles_per_pass`` > 1 is the
faster batched variant: one network pass draws that many distinct cells at once (Gumbel top-k = sampling without
replacement from the same distribution) before re-scoring. Longer inputs are enhanced 8 bars at a time, the last
window aligned to the end so that it always sees 8 bars of context. The caps count 16th-note cells of the piano
roll as DeepComposer does (a quarter note is 4 cells): at most ``max_add_pct`` % of the input's cells are added
and at most ``max_remove_pct`` % of them removed, in every window and so in the whole track.
Runs on the caller's (worker) thread; torch is imported on use.
"""
from __future__ import annotations

import math
import re
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from ...core.grid import roll_to_notes, track_to_roll
from ...core.song import Song, SongError, Track
from ..common import ModelError, ProgressFn, StopFn, check_stop, report, too_long
from .config import STEPS_PER_BEAT, ArcnnConfig

DEFAULT_MODEL = "bach"
DEFAULT_TOGGLES_PER_PASS = 8        # the batched sampler: 100 iterations = 13 network passes (see the card)
_WORK_PPQ = 480
_lock = threading.Lock()
_models: dict[tuple[str, float], tuple[object, ArcnnConfig]] = {}


def load_model(path: str | Path | None = None):
    """(model, config) from a checkpoint (default: the installed ``arcnn-bach`` model), cached per file.

    Raises ModelError when the file is missing, damaged, refused, or not an AR-CNN model.
    """
    from ..checkpoint import load_checkpoint
    from .model import build_model
    if path is None:
        from ..registry import find_model
        path = find_model("arcnn", DEFAULT_MODEL).path
    path = Path(path)
    try:
        key = (str(path.resolve()), path.stat().st_mtime)
    except OSError:
        raise ModelError(f"Model file {path.name} not found") from None
    with _lock:
        if key in _models:
            return _models[key]
    ck = load_checkpoint(path, "arcnn")
    try:
        cfg = ArcnnConfig.from_dict(ck["model_args"])
        model = build_model(cfg)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ck["state_dict"].items()})
    except (TypeError, ValueError, KeyError, RuntimeError, AttributeError) as exc:
        raise ModelError(f"{path.name} does not fit this version's AR-CNN ({type(exc).__name__})") from None
    model.eval()
    with _lock:
        _models[key] = (model, cfg)
    return model, cfg


def _octave_shift(pitches: np.ndarray, cfg: ArcnnConfig) -> int:
    """Whole octaves to move the track by so that as many of its pitches as possible fall in the model's range
    (0 when they all fit already)."""
    best, best_key = 0, None
    for k in range(-10, 11):
        s = 12 * k
        inside = int(np.sum((pitches + s >= cfg.low_pitch) & (pitches + s <= cfg.high_pitch)))
        key = (-inside, abs(k))
        if best_key is None or key < best_key:
            best, best_key = s, key
    return best


def sample_window(model, window: np.ndarray, original: np.ndarray, editable: np.ndarray, max_add: int,
                  max_remove: int, iterations: int, temperature: float, gen, toggles_per_pass: int = 1,
                  on_pass=None, should_stop: StopFn = None) -> tuple[np.ndarray, int, int]:
    """Run the sampler on one window. All arrays are bool ``(steps, pitches)`` in model coordinates.

    ``window``: the current roll (context included); ``original``: the input's cells; ``editable``: cells that may
    change. Returns (new window, cells added, original cells removed). Raises Cancelled via ``should_stop``.
    """
    import torch
    cur = torch.as_tensor(window.copy())
    orig = torch.as_tensor(original)
    edit = torch.as_tensor(editable)
    n_p = cur.shape[1]
    added = removed = done = 0
    with torch.inference_mode():
        while done < iterations:
            check_stop(should_stop)
            allowed = edit.clone()
            if added >= max_add:
                allowed &= cur | orig                       # no new cells
            if removed >= max_remove:
                allowed &= ~(cur & orig)                    # no more original cells off
            n_allowed = int(allowed.sum())
            if n_allowed == 0:
                break
            logits = model(cur.float().unsqueeze(0))[0, 0].double() / temperature   # (steps, pitches)
            flat = logits.masked_fill(~allowed, -math.inf).flatten()
            k = min(toggles_per_pass, iterations - done, n_allowed)
            if k == 1:
                idx = torch.multinomial(torch.softmax(flat, 0), 1, generator=gen)
            else:
                u = torch.rand(flat.shape, generator=gen, dtype=torch.float64).clamp_(1e-12, 1 - 1e-12)
                idx = torch.topk(flat - torch.log(-torch.log(u)), k).indices
            for i in idx.tolist():
                t, p = divmod(i, n_p)
                on, was = bool(cur[t, p]), bool(orig[t, p])
                done += 1
                if on and was:
                    if removed >= max_remove:
                        continue
                    removed += 1
                elif on:
                    added -= 1
                elif not was:
                    if added >= max_add:
                        continue
                    added += 1
                else:
                    removed -= 1
                cur[t, p] = not on
            if on_pass is not None:
                on_pass(done)
    return cur.numpy(), added, removed


def _enhanced_name(name: str) -> str:
    m = re.fullmatch(r"(.*) \(enhanced(?: (\d+))?\)", name)
    if m:
        return f"{m.group(1)} (enhanced {int(m.group(2) or 1) + 1})"
    return f"{name} (enhanced)"


def enhance(song: Song, track_index: int, max_add_pct: float = 50.0, max_remove_pct: float = 20.0,
            iterations: int = 100, temperature: float = 1.0, seed: int = 0, progress: ProgressFn = None,
            should_stop: StopFn = None, *, model=None, toggles_per_pass: int = DEFAULT_TOGGLES_PER_PASS) -> Track:
    """A new track: ``song.tracks[track_index]`` with notes added and removed by the AR-CNN, on the 16th grid.

    ``max_add_pct`` / ``max_remove_pct``: caps as % of the input's 16th-note cells (0-1000 / 0-100);
    ``iterations``: sampled toggles per 8-bar window; ``temperature`` > 0 ("creative risk"); ``model``: a
    checkpoint path or a ``(model, config)`` pair (default: the installed Bach model); ``toggles_per_pass``: 1 =
    DeepComposer's exact one-cell-per-pass sampler, more = the faster batched variant.
    Raises SongError (bad track or settings), ModelError (no usable model), Cancelled (should_stop).
    The song is not modified.
    """
    if not song.tracks:
        raise SongError("The song has no tracks to enhance")
    if isinstance(track_index, bool) or not isinstance(track_index, int) or not 0 <= track_index < len(song.tracks):
        raise SongError(f"There is no track number {track_index + 1 if isinstance(track_index, int) else track_index}"
                        f" (the song has {len(song.tracks)})")
    track = song.tracks[track_index]
    if track.is_drum:
        raise SongError(f"Track {track.name!r} is a drum track; enhance adds and removes pitched notes")
    if not track.notes:
        raise SongError(f"Track {track.name!r} has no notes to enhance")
    problem = too_long(song, track.end_tick, "AR-CNN enhance")
    if problem:
        raise SongError(problem)
    for label, v, hi in (("Notes to add", max_add_pct, 1000.0), ("Notes to remove", max_remove_pct, 100.0)):
        if not isinstance(v, (int, float)) or not 0.0 <= float(v) <= hi:
            raise SongError(f"{label} must be between 0 and {hi:g} %, got {v!r}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or not 0 <= iterations <= 100_000:
        raise SongError(f"Sampling iterations must be a whole number from 0 to 100000, got {iterations!r}")
    if not isinstance(temperature, (int, float)) or not 0.01 <= float(temperature) <= 100.0:
        raise SongError(f"Creative risk (temperature) must be between 0.01 and 100, got {temperature!r}")
    if not isinstance(toggles_per_pass, int) or toggles_per_pass < 1:
        raise SongError(f"toggles_per_pass must be a positive whole number, got {toggles_per_pass!r}")

    import torch

    from ..common import limit_threads
    limit_threads()
    net, cfg = model if isinstance(model, tuple) else load_model(model)
    report(progress, 0.0, "Enhancing")

    ppq = song.ppq if song.ppq % STEPS_PER_BEAT == 0 else _WORK_PPQ
    work = track if ppq == song.ppq else _rescale(track, song.ppq, ppq)
    st = ppq // STEPS_PER_BEAT
    bar_ticks = song.bar_ticks * ppq // song.ppq
    bar_steps = bar_ticks // st if bar_ticks % st == 0 and bar_ticks >= st else 16
    steps_used = -(-work.end_tick // st)
    n_steps = max(bar_steps, -(-steps_used // bar_steps) * bar_steps)
    vel, onsets = track_to_roll(work, ppq, STEPS_PER_BEAT, n_steps)     # (steps, 128)
    on = vel > 0
    default_vel = int(np.median([n.velocity for n in work.notes]))

    shift = _octave_shift(np.nonzero(on.any(axis=0))[0], cfg)
    cols = np.arange(cfg.n_pitches) + cfg.low_pitch - shift                 # MIDI pitch of each model column
    valid = (cols >= 0) & (cols < 128)
    sub = np.zeros((n_steps, cfg.n_pitches), dtype=bool)                    # (steps, model pitches)
    sub[:, valid] = on[:, cols[valid]]
    orig_sub = sub.copy()

    gen = torch.Generator().manual_seed(int(seed))
    T = cfg.steps
    chunks = list(range(0, n_steps, T))
    for ci, c0 in enumerate(chunks):
        c1 = min(c0 + T, n_steps)
        w0 = c0 if c0 + T <= n_steps else max(0, n_steps - T)
        w1 = min(w0 + T, n_steps)
        window = np.zeros((T, cfg.n_pitches), dtype=bool)
        original = np.zeros_like(window)
        editable = np.zeros_like(window)
        window[:w1 - w0] = sub[w0:w1]
        original[:w1 - w0] = orig_sub[w0:w1]
        editable[c0 - w0:c1 - w0] = True
        n_orig = int(orig_sub[c0:c1].sum())
        max_add = int(math.floor(max_add_pct / 100.0 * n_orig + 1e-9))
        max_remove = int(math.floor(max_remove_pct / 100.0 * n_orig + 1e-9))

        def on_pass(done: int, ci=ci) -> None:
            report(progress, (ci + done / max(1, iterations)) / len(chunks),
                   f"Enhancing bars {c0 // bar_steps + 1}-{-(-c1 // bar_steps)}")

        out, _, _ = sample_window(net, window, original, editable, max_add, max_remove, iterations,
                                  float(temperature), gen, toggles_per_pass, on_pass, should_stop)
        sub[c0:c1] = out[c0 - w0:c1 - w0]

    new_on = on.copy()
    new_on[:, cols[valid]] = sub[:, valid]
    notes = _merge_changes(list(zip(work.notes, track.notes)), on, new_on, vel, onsets, ppq, default_vel, song.ppq)
    result = replace(track, name=_enhanced_name(track.name), notes=notes, mute=False, solo=False)
    report(progress, 1.0, "Done")
    return result


def _merge_changes(original, on: np.ndarray, new_on: np.ndarray, vel: np.ndarray, onsets: np.ndarray, ppq: int,
                   default_vel: int, song_ppq: int) -> tuple:
    """The enhanced notes, at ``song_ppq``: every original note the model left whole stays exactly as played (its
    timing, length and velocity off the grid included); what is left of a note the model cut into comes back on
    the 16th grid; the cells the model added become new notes at ``default_vel``. ``original``: (the note at the
    working ``ppq``, the same note as played) pairs; ``on`` / ``new_on``: the (steps, 128) cells before and after,
    ``vel`` / ``onsets`` the input's rolls (``track_to_roll``)."""
    from ...core.edits import untangle_notes
    from ...core.grid import step_ticks
    st = step_ticks(ppq, STEPS_PER_BEAT)
    removed, new = on & ~new_on, new_on & ~on
    if not removed.any() and not new.any():
        return tuple(played for _, played in original)        # nothing changed: the melody as it was played
    whole, cut_into = [], np.zeros_like(on)
    for n, played in original:
        s = int(round(n.start_tick / st))
        e = min(len(on), max(s + 1, int(round(n.end_tick / st))))
        if s >= len(on) or not removed[s:e, n.pitch].any():
            whole.append(played)
        else:
            cut_into[s:e, n.pitch] = True
    rest = cut_into & new_on
    left = roll_to_notes(np.where(rest, vel, 0).astype(np.uint8), ppq, STEPS_PER_BEAT, onsets=onsets & rest)
    added = roll_to_notes(np.where(new, default_vel, 0).astype(np.uint8), ppq, STEPS_PER_BEAT)
    written = _rescale(Track(notes=tuple(left + added)), ppq, song_ppq).notes
    return tuple(untangle_notes(whole + _clear_of(written, whole)))


def _clear_of(notes, kept) -> list:
    """``notes`` moved off the ``kept`` notes of their pitch: a note written into the 16th cell where a kept note
    (as played, off the grid) still sounds starts when that one ends, one reaching into a kept note ends where it
    begins; what is left of neither is dropped. So untangling never cuts into a kept note."""
    from dataclasses import replace
    by_pitch: dict[int, list] = {}
    for k in kept:
        by_pitch.setdefault(k.pitch, []).append(k)
    out = []
    for n in notes:
        start, end = n.start_tick, n.end_tick
        for k in by_pitch.get(n.pitch, ()):
            if start < k.end_tick and k.start_tick < end:
                if k.start_tick <= start:
                    start = k.end_tick
                else:
                    end = k.start_tick
        if end > start:
            out.append(n if (start, end) == (n.start_tick, n.end_tick) else
                       replace(n, start_tick=start, duration_tick=end - start))
    return out


def _rescale(track: Track, from_ppq: int, to_ppq: int) -> Track:
    from ...core.edits import rescale_track
    return rescale_track(track, from_ppq, to_ppq)


def note_changes(before: Track, after: Track, ppq: int) -> tuple[int, int]:
    """(notes added, notes removed) comparing (start, pitch, length) of ``after`` with ``before``: enhance keeps
    the notes it leaves whole exactly as they were, so a note it shortened counts once each way."""
    a = {(n.start_tick, n.pitch, n.duration_tick) for n in before.notes}
    b = {(n.start_tick, n.pitch, n.duration_tick) for n in after.notes}
    return len(b - a), len(a - b)


def cli_generate(args) -> int:
    """``deepcomposer generate --technique arcnn --input X --out Y [--max-add P] [--max-remove P]
    [--iterations N] [--temperature T] [--seed S] [--takes N] [--track N] [--wav W]``."""
    import time

    from ...cli import CliError, check_generate, load_input, save_output
    song = load_input(args.input)
    paths = check_generate(args, {"model", "max_add", "max_remove", "iterations", "temperature"})
    if not song.tracks:
        raise CliError(f"{args.input} has no tracks")
    index = song.melody_index if args.track is None else args.track - 1
    if not 0 <= index < len(song.tracks):
        raise CliError(f"--track must be between 1 and {len(song.tracks)}, got {args.track}")
    if args.takes < 1:
        raise CliError(f"--takes must be at least 1, got {args.takes}")
    model = None
    if getattr(args, "model", None):
        from ..registry import find_model
        try:
            model = find_model("arcnn", args.model).path
        except ModelError as exc:
            raise CliError(str(exc)) from None
    first = None
    for take in range(args.takes):
        t0 = time.perf_counter()
        try:
            track = enhance(song, index, args.max_add, args.max_remove, args.iterations, args.temperature,
                            seed=args.seed + take, model=model)
        except (SongError, ModelError) as exc:
            raise CliError(str(exc)) from None
        result = song.with_tracks(song.tracks + (track,))
        first = first or result
        path = paths[take]
        save_output(result, str(path))
        added, removed = note_changes(song.tracks[index], track, song.ppq)
        print(f"{path}: new track {track.name!r}: {len(track.notes)} notes, {added} added, {removed} removed "
              f"(in {time.perf_counter() - t0:.1f} s)")
    if getattr(args, "wav", None):
        try:
            from ...audio.render import render_to_wav
            render_to_wav(first, args.wav)
        except Exception as exc:  # no FluidSynth / soundfont: say so plainly
            raise CliError(f"Could not render {args.wav}: {exc}") from None
        print(f"{args.wav}: rendered take 1")
    return 0
