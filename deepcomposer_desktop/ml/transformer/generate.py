"""Transformer "extend": continue a song by N seconds or bars, the melody alone or every (non-drum) track.

Runs on a worker thread (never the GUI thread): ``extend()`` loads the model once (cached), encodes the last
``context_bars`` bars, samples with a KV cache under a grammar mask (a pitch is always followed by a duration,
positions only move forward inside a bar, only existing tracks), decodes and appends the new bars.
"""
from __future__ import annotations

import math
import threading
from pathlib import Path

from ..common import Cancelled, ModelError, ProgressFn, StopFn, check_stop, report
from . import tokens as T

DEFAULT_MODEL = "extend"
MAX_BARS = 256
_MODELS: dict = {}
_LOCK = threading.Lock()


class ExtendError(ValueError):
    """Settings or input that extend() cannot work with; the message is for a musician."""


def resolve_model(model: str | None = None) -> Path:
    """A model file: a path, an installed model name, or (None) the default ``transformer-extend`` / any other."""
    from ..registry import list_models
    if model and Path(model).is_file():
        return Path(model)
    installed = list_models("transformer")
    for m in installed:
        if m.name == (model or DEFAULT_MODEL):
            return m.path
    if model is None and installed:
        return installed[0].path
    have = ", ".join(m.name for m in installed) or "none"
    raise ModelError(f"No Transformer model {model or DEFAULT_MODEL!r} is installed (installed: {have})")


def load_model(model: str | Path | None = None):
    """(model in eval mode, checkpoint meta) for a path or installed name; cached per file and modification time."""
    from ..checkpoint import load_checkpoint
    from .model import MusicTransformer, TransformerConfig
    path = Path(model) if isinstance(model, Path) else resolve_model(model)
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    with _LOCK:
        if key in _MODELS:
            return _MODELS[key]
        ck = load_checkpoint(path, "transformer")
        try:
            net = MusicTransformer(TransformerConfig.from_dict(ck["model_args"]))
            net.load_state_dict({k: v.float() for k, v in ck["state_dict"].items()})
        except (RuntimeError, TypeError, KeyError) as exc:
            raise ModelError(f"{path.name} does not fit this version's Transformer ({type(exc).__name__})") from None
        net.eval()
        _MODELS[key] = (net, ck.get("meta", {}))
        return _MODELS[key]


# --- sampling ---------------------------------------------------------------------------------------------------
def _grammar(n_slots: int):
    """(12, vocab) bool: which tokens may follow a token of each type while generating."""
    import torch
    types = torch.tensor(T.token_types())
    allowed = torch.zeros(12, T.VOCAB_SIZE, dtype=torch.bool)

    def allow(prev, *kinds):
        for k in kinds:
            allowed[prev] |= types == k
    allow(T.T_FAM, T.T_BAR)
    allow(T.T_BAR, T.T_BAR, T.T_POS)
    allow(T.T_POS, T.T_TRK, T.T_VEL, T.T_PITCH)
    allow(T.T_TRK, T.T_VEL, T.T_PITCH)
    allow(T.T_VEL, T.T_PITCH)
    allow(T.T_PITCH, T.T_DUR)
    allow(T.T_DUR, T.T_BAR, T.T_POS, T.T_TRK, T.T_VEL, T.T_PITCH)
    allowed[:, T.TRK0 + n_slots:T.VEL0] = False
    return allowed


def filter_logits(logits, top_k: int = 0, top_p: float = 1.0):
    """Logits (vocab,) with everything outside the top-k and outside the nucleus top-p set to -inf."""
    import torch
    if top_k and 0 < top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if 0.0 < top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        cum = torch.softmax(sorted_logits, dim=-1).cumsum(-1)
        drop = cum - torch.softmax(sorted_logits, dim=-1) >= top_p   # keep the smallest set reaching top_p
        logits = logits.clone()
        logits[order[drop]] = float("-inf")
    return logits


def sample_bars(net, header: list[int], body: list[int], n_bars: int, n_slots: int, bar_steps: int, *,
                top_k: int = 0, top_p: float = 0.95, temperature: float = 1.0, seed: int = 0, use_cache: bool = True,
                progress=None, should_stop: StopFn = None, ranges=None, caps=None) -> list[int]:
    """Sample tokens after ``header + body`` until ``n_bars`` new bars are complete; returns the new tokens
    (starting with BAR). ``use_cache=False`` recomputes the whole window each step (for tests). ``ranges``: per
    slot, the (lowest, highest) pitch it may play; ``caps``: per slot, how many notes it may strike at once (a
    bass line stays one note at a time); None: no limit."""
    import torch
    block = net.cfg.block_size
    allowed = _grammar(n_slots)
    types = T.token_types()
    gen = torch.Generator().manual_seed(int(seed))
    body = list(body)
    while len(header) + len(body) > block - 32 and T.BAR in body[1:]:
        body = body[body.index(T.BAR, 1):]                       # drop the oldest context bars
    if len(header) + len(body) > block - 32:                     # one bar longer than the window: its last notes
        cut = len(header) + len(body) - (block - 32)
        starts = [i for i in range(max(1, cut), len(body)) if T.POS0 <= body[i] < T.TRK0]
        body = [T.BAR] + (body[starts[0]:] if starts else [])
    active = header + body
    out: list[int] = []
    last_type = types[active[-1]]
    cur_pos, bars_done = -1, 0
    slot, struck = 0, {}                                          # the slot being written; notes per slot here
    pitch_ok = None
    if ranges is not None:                                        # (slots, 128): the pitches each slot may play
        pitch_ok = torch.zeros(n_slots, 128, dtype=torch.bool)
        for k, (lo, hi) in enumerate(ranges):
            pitch_ok[k, max(0, lo):min(127, hi) + 1] = True
    bar_cap = 64 + 48 * n_slots                                   # a bar longer than this is closed by force
    max_tokens = n_bars * (bar_cap + 8)
    in_bar = 0

    def forward(cache, tokens):
        x = torch.tensor([tokens], dtype=torch.long)
        return net(x, cache, last_only=True)[0, -1]

    with torch.inference_mode():
        cache = net.new_cache(1) if use_cache else None
        logits = forward(cache, active)
        while len(out) < max_tokens:
            check_stop(should_stop)
            if not out or (in_bar >= bar_cap and last_type in (T.T_DUR, T.T_BAR)):
                mask = allowed[T.T_FAM].clone()                   # only BAR: start (or force) a new bar
            else:
                mask = allowed[last_type].clone()
            mask[T.POS0:T.POS0 + cur_pos + 1] = False
            mask[T.POS0 + min(bar_steps, T.MAX_BAR_STEPS):T.TRK0] = False
            if pitch_ok is not None:
                mask[T.PITCH0:T.DUR0] &= pitch_ok[slot]
            if caps is not None:
                full = [k for k in range(n_slots) if struck.get(k, 0) >= caps[k]]
                for k in full:                                    # no more notes for a slot that has struck its
                    mask[T.TRK0 + k] = False                      # most at this position
                if slot in full and last_type != T.T_TRK:
                    mask[T.VEL0:T.DUR0] = False
            lg = logits.float().masked_fill(~mask, float("-inf"))
            if not torch.isfinite(lg).any():
                break
            lg = filter_logits(lg / max(temperature, 1e-4), top_k, top_p)
            tok = int(torch.multinomial(torch.softmax(lg, -1), 1, generator=gen))
            if tok == T.BAR:
                if bars_done == n_bars:
                    break
                bars_done += 1
                cur_pos, in_bar, slot, struck = -1, 0, 0, {}
            elif T.POS0 <= tok < T.TRK0:
                cur_pos, struck = tok - T.POS0, {}
            elif T.TRK0 <= tok < T.VEL0:
                slot = min(tok - T.TRK0, n_slots - 1)
            elif T.PITCH0 <= tok < T.DUR0:
                struck[slot] = struck.get(slot, 0) + 1
            out.append(tok)
            in_bar += 1
            last_type = types[tok]
            active.append(tok)
            if progress is not None and len(out) % 16 == 0:
                progress(min(1.0, (bars_done - 1 + max(cur_pos, 0) / bar_steps) / n_bars))
            if len(active) > block:                                 # slide: header + the newest half, from a bar
                tail = len(active) - block // 2
                bars = [i for i in range(max(tail, len(header)), len(active)) if active[i] == T.BAR]
                active = header + active[bars[0] if bars else tail:]
                cache = net.new_cache(1) if use_cache else None
                logits = forward(cache, active)
            elif use_cache:
                logits = forward(cache, [tok])
            else:
                logits = forward(None, active)
    return out


# --- the public entry point -------------------------------------------------------------------------------------
RANGE_MARGIN = 5          # semitones a continued part may go beyond the lowest / highest pitch it played


def part_limits(track, ppq: int = 480) -> tuple[tuple[int, int], int]:
    """What a part's continuation keeps to: its pitch range widened by a fourth each way, and the most notes it
    struck at once, counted per sixteenth (a rolled or humanised chord is one chord; a bass line stays a line, a
    chord part stays chords of at most its own size)."""
    pitches = [n.pitch for n in track.notes]
    if not pitches:
        return (0, 127), 8
    sixteenth = max(1, ppq // 4)
    at_once: dict[int, set] = {}
    for n in track.notes:
        at_once.setdefault(int(round(n.start_tick / sixteenth)), set()).add(n.pitch)
    return ((max(0, min(pitches) - RANGE_MARGIN), min(127, max(pitches) + RANGE_MARGIN)),
            max(len(p) for p in at_once.values()))


def plan_bars(song, seconds: float, bars: int | None):
    """(first new bar number, its tick, bar length in ticks, number of new bars) for an extension."""
    from ...core.timing import TempoMap
    n_in = max(1, song.bar_count())
    first_tick = song.bar_start_tick(n_in)
    ts = [t for t in song.time_signatures if t.tick <= first_tick][-1]
    bar_ticks = ts.bar_ticks(song.ppq)
    if bars is None:
        tm = TempoMap.of(song)
        end_tick = tm.seconds_to_tick(tm.tick_to_seconds(first_tick) + seconds)
        bars = max(1, math.ceil((end_tick - first_tick) / bar_ticks - 1e-6))
    return n_in, first_tick, bar_ticks, int(bars)


def extend(song, seconds: float = 30.0, bars: int | None = None, context_bars: int = 8, tracks: str = "melody",
           top_k: int = 0, top_p: float = 0.95, temperature: float = 1.0, takes: int = 1, seed: int = 0,
           progress: ProgressFn = None, should_stop: StopFn = None, *, model: str | Path | None = None) -> list:
    """Continue ``song`` after its last bar; returns ``takes`` new Songs, each the input plus the continuation.

    ``seconds`` (at the song's final tempo) or ``bars`` set the length (whole bars, at least one);
    ``context_bars``: how many of the input's last bars the model reads; ``tracks``: ``"melody"`` extends the
    melody track alone, ``"all"`` every non-drum track (up to 8; drum tracks are kept but not extended);
    ``top_k`` (0 = off) / ``top_p`` (1.0 = off) / ``temperature`` shape the sampling; take ``i`` uses seed+i.
    The input's tracks and tempo map are kept; its notes too, except that one still sounding when the
    continuation plays its pitch ends there (see ``core.edits.append_passage``, which also puts the bend, mod
    wheel and pedals at rest for the continuation). Raises ExtendError (bad settings or input),
    ModelError (no usable model), Cancelled (``should_stop`` returned True).
    """
    from ...core.edits import append_passage
    from ...core.song import Song
    if not isinstance(song, Song) or not song.tracks or song.note_count == 0:
        raise ExtendError("There is nothing to extend: the song has no notes")
    if tracks not in ("melody", "all"):
        raise ExtendError(f"Choose 'melody' or 'all' tracks to extend, not {tracks!r}")
    if bars is not None and not 1 <= int(bars) <= MAX_BARS:
        raise ExtendError(f"Extend by 1 to {MAX_BARS} bars, not {bars}")
    if bars is None and not 0 < float(seconds) <= 600:
        raise ExtendError(f"Extend by more than 0 and at most 600 seconds, not {seconds}")
    if int(context_bars) < 1:
        raise ExtendError(f"The model needs at least 1 bar of context, not {context_bars}")
    if int(takes) < 1 or int(top_k) < 0 or not 0.0 < float(top_p) <= 1.0 or not float(temperature) > 0.0:
        raise ExtendError("Takes must be at least 1, top-k at least 0, top-p in (0, 1] and temperature above 0")
    melody = song.tracks[song.melody_index]
    if melody.is_drum or not melody.notes:
        raise ExtendError("The melody track is empty or a drum track: choose another melody track")
    report(progress, 0.0, "loading the Transformer model")
    net, _meta = load_model(model)
    slots = T.default_slots(song, tracks)
    n_in, first_tick, bar_ticks, n_new = plan_bars(song, seconds, bars)
    if n_new > MAX_BARS:
        per_bar = float(seconds) / n_new
        raise ExtendError(f"{float(seconds):g} s is {n_new} bars at this tempo; extend by at most {MAX_BARS} bars "
                          f"(about {MAX_BARS * per_bar:.0f} s) at a time")
    bar_steps = int(round(bar_ticks * T.STEPS_PER_BEAT / song.ppq))
    if bar_steps > T.MAX_BAR_STEPS:             # its positions stop there: the rest of each bar would stay silent
        raise ExtendError(f"The song's bars are {bar_ticks / song.ppq:g} quarter notes long; the Transformer writes "
                          f"bars of at most {T.MAX_BAR_STEPS // T.STEPS_PER_BEAT} (9/4 or 10/4 are too long)")
    piece = T.song_to_piece(song, slots, max(0, n_in - int(context_bars)), n_in)
    header = T.header_tokens(piece.meter, piece.bpm, piece.families)
    body = T.encode_bars(piece.bars)
    ranges, caps = zip(*(part_limits(song.tracks[ti], song.ppq) for ti in slots))
    results = []
    for take in range(int(takes)):
        def prog(f, take=take):
            report(progress, (take + f) / takes, f"take {take + 1} of {takes}: composing")
        new = sample_bars(net, header, body, n_new, len(slots), bar_steps, top_k=int(top_k), top_p=float(top_p),
                          temperature=float(temperature), seed=int(seed) + take, progress=prog,
                          should_stop=should_stop, ranges=ranges, caps=caps)
        bars_out, _ = T.decode_bars(new, len(slots))
        per_slot = T.piece_notes(bars_out, song.ppq, first_tick, bar_ticks, len(slots))
        tracks_out = list(song.tracks)
        for slot, ti in enumerate(slots):
            tracks_out[ti] = append_passage(tracks_out[ti], per_slot[slot], first_tick)
        results.append(song.with_tracks(tracks_out))
    report(progress, 1.0, "done")
    return results


def cli_generate(args) -> int:
    """``deepcomposer generate --technique transformer --input IN --out OUT [--seconds S | --bars N]
    [--context-bars N] [--tracks melody|all] [--top-k K] [--top-p P] [--temperature T] [--takes N] [--seed S]
    [--track N] [--wav W]``."""
    import time

    from ...cli import CliError, check_generate, end_progress_line, load_input, progress_printer, save_output
    from ...core.timing import TempoMap, song_duration_seconds
    from ..common import limit_threads
    song = load_input(args.input)
    paths = check_generate(args, {"model", "temperature", "seconds", "bars", "context_bars", "top_k", "top_p",
                                  "tracks"})
    if {"seconds", "bars"} <= (getattr(args, "given_options", None) or set()):
        raise CliError("--seconds and --bars both set the length: give one of them")
    limit_threads(1)                      # one-token steps: more threads only add overhead
    if getattr(args, "track", None) is not None:
        if not 1 <= args.track <= len(song.tracks):
            raise CliError(f"--track must be between 1 and {len(song.tracks)}")
        song = song.replace(melody_index=args.track - 1)

    t0 = time.perf_counter()
    try:
        results = extend(song, seconds=args.seconds, bars=args.bars, context_bars=args.context_bars,
                         tracks=args.tracks, top_k=args.top_k, top_p=args.top_p, temperature=args.temperature,
                         takes=args.takes, seed=args.seed, progress=progress_printer(),
                         model=getattr(args, "model", None) or None)
    except (ModelError, ExtendError, Cancelled) as exc:
        raise CliError(str(exc) or "cancelled") from None
    end_progress_line()
    before = song_duration_seconds(song)
    tm = TempoMap.of(song)
    _, first_tick, bar_ticks, n_new = plan_bars(song, args.seconds, args.bars)
    start = tm.tick_to_seconds(first_tick)            # where the continuation begins (the bar after the input)
    asked = args.seconds if args.bars is None else tm.tick_to_seconds(first_tick + n_new * bar_ticks) - start
    retry = "try another --seed or a higher --temperature"
    for path, result in zip(paths, results):
        save_output(result, str(path))
        added = result.note_count - song.note_count
        covered = song_duration_seconds(result) - start
        print(f"{path}: {added} notes added, {before:.1f} s -> {song_duration_seconds(result):.1f} s"
              + (f" (the model ended the piece here: {retry})" if added == 0 else
                 f" (the model ended the piece early: its continuation lasts {max(0.0, covered):.1f} s of the "
                 f"{asked:.1f} s asked; {retry})" if covered < asked / 2 else ""))
    print(f"({time.perf_counter() - t0:.1f} s)")
    if getattr(args, "wav", None):
        try:
            from ...audio.render import render_to_wav
            render_to_wav(results[0], args.wav)
        except Exception as exc:  # no FluidSynth / soundfont: say so plainly
            raise CliError(f"Could not render {args.wav}: {exc}") from None
        print(f"{args.wav}: rendered take 1")
    return 0
