"""GAN accompaniment: ``accompany(song, genre)`` adds a genre's band to the song's melody. Runs on a worker thread.

Any length: the model sees 8-bar windows with a 4-bar hop; overlapping probabilities are cross-faded (triangular
weights) before decoding, so notes run on across the seams. Any key: the melody is moved to C major / A minor
for the model and the new tracks are moved back (drums are never transposed). Take ``k`` uses seed ``seed + k``.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace

import numpy as np

from ..common import ModelError, ProgressFn, StopFn, check_stop, report, too_long
from .data import key_shift, shift_pitches
from .decode import VARIATION, DecodeParams, decode, run_starts, vary

MAX_TAKES = 16


@dataclass
class GanModel:
    """A loaded generator with what it needs to make notes: architecture, decode thresholds, track list."""

    name: str
    arch: object
    generator: object
    decode: DecodeParams
    tracks: list
    meta: dict
    path: str = ""

    @property
    def is_drum(self) -> list[bool]:
        return [bool(t.get("is_drum")) for t in self.tracks]

    def octave_for(self, melody: np.ndarray) -> int:
        """Semitones (whole octaves) that bring a melody roll (S, P), already in C major / A minor, to the register
        of the melodies the model learned from (``meta["melody_median"]``): a tune written two octaves down is
        heard where such tunes sit, so the band answers it as it learned to. 0 for files without that figure."""
        target = self.meta.get("melody_median")
        weights = melody.sum(axis=0)
        if target is None or not weights.any():
            return 0
        median = int(np.searchsorted(np.cumsum(weights) / weights.sum(), 0.5))
        return 12 * int(round((float(target) - median) / 12))


_cache: dict[tuple[str, float], GanModel] = {}
_cache_lock = threading.Lock()


def model_from_payload(payload: dict, path: str = "") -> GanModel:
    """Rebuild a generator from a checkpoint dict (``ml.checkpoint.load_checkpoint``)."""
    from .config import GanArch
    from .model import build_generator
    try:
        arch = GanArch.from_dict(payload["model_args"])
        gen = build_generator(arch)
        from .quant import dequantize
        state = dequantize(payload["state_dict"])
        gen.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{os.path.basename(path) or 'The model'} does not fit this version of the GAN "
                         f"({type(exc).__name__})") from None
    gen.eval()
    for p in gen.parameters():
        p.requires_grad_(False)
    meta = payload.get("meta", {})
    tracks = meta.get("tracks") or [{"name": f"Part {i + 1}", "program": 0, "is_drum": False}
                                    for i in range(arch.n_tracks)]
    if len(tracks) != arch.n_tracks:
        raise ModelError(f"{os.path.basename(path)}: its card lists {len(tracks)} tracks, the network makes "
                         f"{arch.n_tracks}")
    for t in tracks:
        program = t.get("program", 0) if isinstance(t, dict) else None
        if isinstance(program, bool) or not isinstance(program, int) or not 0 <= program <= 127:
            raise ModelError(f"{os.path.basename(path)}: a track of its card has no valid General MIDI program "
                             f"({t!r})")
    for t in tracks:
        try:
            sections_of(t)
        except ValueError as exc:
            raise ModelError(f"{os.path.basename(path)}: {exc}") from None
    dec = DecodeParams.from_dict(meta.get("decode"))
    if len(dec.threshold) != arch.n_tracks:
        dec = DecodeParams.plain(arch.n_tracks)
    return GanModel(payload.get("name", ""), arch, gen, dec, tracks, meta, str(path))


def load_model(path) -> GanModel:
    """Load (and keep) a GAN model file; raises ModelError for a missing, damaged or foreign file."""
    from ..checkpoint import load_checkpoint
    path = os.fspath(path)
    try:
        key = (os.path.abspath(path), os.path.getmtime(path))
    except OSError:
        raise ModelError(f"Model file {os.path.basename(path)} not found") from None
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    model = model_from_payload(load_checkpoint(path, "gan"), path)
    with _cache_lock:
        _cache[key] = model
    return model


def available_genres() -> list[str]:
    """Names of the installed GAN models (shipped and the user's own), e.g. ``["chorale", "rock"]``."""
    from ..registry import list_models
    return [m.name for m in list_models("gan")]


def model_for_genre(genre: str) -> GanModel:
    from ..registry import find_model
    return load_model(find_model("gan", genre).path)


# --- rolls in, rolls out ---------------------------------------------------------------------------------------
def _window_starts(length: int, window: int, hop: int) -> list[int]:
    if length <= window:
        return [0]
    n = 1 + -(-(length - window) // hop)
    return [i * hop for i in range(n)]


def accompany_rolls(model: GanModel, melody: np.ndarray, melody_on: np.ndarray | None = None, seed: int = 0,
                    variation: float = VARIATION, progress: ProgressFn = None, should_stop: StopFn = None,
                    span: tuple[float, float] = (0.0, 1.0), shared: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Accompaniment (frames, onsets) bool ``(T, L, 128)`` for a melody roll ``(L, 128)``.

    ``shared``: an empty dict passed to every take of the same melody and model keeps the melody's encoding (the
    noise-free half of the U-Net) between takes, so later takes only run the decoder; results are the same.
    Raises ValueError for a roll of the wrong shape; Cancelled when ``should_stop()`` turns true.
    """
    import torch
    melody = np.asarray(melody) > 0
    if melody.ndim != 2 or melody.shape[1] != 128:
        raise ValueError(f"a melody roll must have shape (steps, 128), got {melody.shape}")
    melody_on = run_starts(melody) if melody_on is None else (np.asarray(melody_on, bool) & melody)
    arch = model.arch
    length, window = melody.shape[0], arch.steps
    ours = arch.kind == "unet"
    shift = key_shift(melody) if arch.key_normalise else 0
    mel, mon = shift_pitches(melody, shift), shift_pitches(melody_on, shift)
    octave = model.octave_for(mel) if ours else 0        # the input only: the band's ranges are its own
    mel, mon = shift_pitches(mel, octave), shift_pitches(mon, octave)
    hop = window // 2 if ours else window
    starts = _window_starts(length, window, hop)
    padded = starts[-1] + window
    mel = np.pad(mel, ((0, padded - length), (0, 0)))
    mon = np.pad(mon, ((0, padded - length), (0, 0)))
    gen = torch.Generator().manual_seed(int(seed))
    z_all = model.generator.sample_z(len(starts), generator=gen)
    t = arch.n_tracks
    acc_p = np.zeros((t, padded, 128), np.float32)
    acc_o = np.zeros((t, padded, 128), np.float32) if ours else None
    weight = np.zeros(padded, np.float32)
    w = np.minimum(np.arange(window) + 0.5, window - np.arange(window) - 0.5).astype(np.float32) if ours \
        else np.ones(window, np.float32)
    chunk = 4
    split = hasattr(model.generator, "encode")                  # the U-Net: melody half + noise half
    with torch.inference_mode():
        for c0 in range(0, len(starts), chunk):
            check_stop(should_stop)
            idx = starts[c0:c0 + chunk]
            enc = shared.get(c0) if shared is not None else None
            if enc is None:                 # the melody half (U-Net encoder), or just the inputs for other nets
                fr = torch.from_numpy(np.stack([mel[s:s + window] for s in idx]).astype(np.float32))
                on = torch.from_numpy(np.stack([mon[s:s + window] for s in idx]).astype(np.float32))
                enc = model.generator.encode(fr, on) if split else (fr, on)
                if shared is not None:
                    shared[c0] = enc
            z = z_all[c0:c0 + len(idx)]
            out = model.generator.decode(enc, z) if split else model.generator(*enc, z)
            pf, po = model.generator.probabilities(out)
            pf = pf.numpy()
            po = po.numpy() if po is not None else None
            for j, s in enumerate(idx):
                acc_p[:, s:s + window] += pf[j] * w[None, :, None]
                if po is not None:
                    acc_o[:, s:s + window] += po[j] * w[None, :, None]
                weight[s:s + window] += w
            report(progress, span[0] + (span[1] - span[0]) * min(1.0, (c0 + len(idx)) / len(starts)),
                   f"window {min(c0 + len(idx), len(starts))} of {len(starts)}")
    acc_p /= weight[None, :, None]
    if ours:
        acc_o /= weight[None, :, None]
        frames, onsets = decode(vary(acc_p, seed, variation, model.is_drum), acc_o, model.decode, shift)
    else:
        frames = acc_p > 0.5                     # DeepComposer: tanh > 0
        onsets = run_starts(frames)
    frames, onsets = frames[:, :length], onsets[:, :length]
    if shift:
        for i, tr in enumerate(model.tracks):
            if not tr.get("is_drum"):
                frames[i] = shift_pitches(frames[i], -shift)
                onsets[i] = shift_pitches(onsets[i], -shift)
    return frames, onsets & frames


# --- songs in, songs out -----------------------------------------------------------------------------------------
def accompany(song, genre: str, takes: int = 1, seed: int = 0, progress: ProgressFn = None,
              should_stop: StopFn = None, shared: dict | None = None) -> list:
    """``takes`` new Songs: the input's tracks unchanged plus the genre's accompaniment tracks.

    The takes share the melody's encoding; ``shared`` (a dict the caller keeps for this song and genre) extends
    that to later calls, e.g. one take per call on a worker pool. Raises ModelError (unknown genre, damaged model,
    no melody notes) and Cancelled.
    """
    from ...core.edits import rescale_track
    from ...core.grid import roll_to_notes, track_to_roll
    from ...core.song import Track
    if not isinstance(takes, int) or not 1 <= takes <= MAX_TAKES:
        raise ModelError(f"Ask for between 1 and {MAX_TAKES} takes, not {takes!r}")
    if not song.tracks or song.melody is None or not song.melody.notes:
        raise ModelError("The melody track has no notes: play or import a melody first")
    if song.melody.is_drum:
        raise ModelError(f"The melody track ({song.melody.name}) is a drum track: choose a track with a melody")
    # the song's metre must be 4/4, 2/4 or 1/4 time (or 2/2, 4/8 ...); a pickup or a bar in another metre may be
    # anything up to a 4/4 bar in whole sixteenths: it fills part of a model bar (bar_grid)
    main = song.time_signatures[song.meter_index]
    odd = next((ts for ts in song.time_signatures
                if (16 * ts.numerator % ts.denominator or 16 * ts.numerator // ts.denominator > 16) or
                (ts is main and (4 * ts.numerator % ts.denominator or
                                 4 * ts.numerator // ts.denominator not in (1, 2, 4)))), None)
    if odd is not None:
        where = "is in" if odd is main else f"has a bar at bar {song.bar_at(odd.tick) + 1} in"
        raise ModelError(f"The GAN plays in 4/4 time (so did the music it learned from) and this song {where} "
                         f"{odd.numerator}/{odd.denominator}: try AR-CNN enhance or Transformer extend")
    problem = too_long(song, song.melody.end_tick, "the GAN")
    if problem:
        raise ModelError(problem)
    report(progress, 0.0, f"loading the {genre} model")
    model = model_for_genre(genre)
    check_stop(should_stop)
    ppq = song.ppq if song.ppq % 4 == 0 else 480
    melody = song.melody if ppq == song.ppq else rescale_track(song.melody, song.ppq, ppq)
    st = ppq // 4
    where = bar_grid(song, ppq, -(-melody.end_tick // st))    # each song step's place in the model's 4/4 bars
    song_roll, song_on = track_to_roll(melody, ppq, 4, len(where))
    roll = np.zeros((max(16, int(where[-1]) // 16 * 16 + 16), 128), song_roll.dtype)
    on = np.zeros(roll.shape, bool)
    roll[where], on[where] = song_roll, song_on
    results = []
    shared = {} if shared is None else shared
    for k in range(takes):
        span = (k / takes, (k + 1) / takes)
        frames, onsets = accompany_rolls(model, roll > 0, on, seed=seed + k, progress=progress,
                                         should_stop=should_stop, span=span, shared=shared)
        frames, onsets = frames[:, where], onsets[:, where]
        new = []
        for i, info in enumerate(model.tracks):
            drum = bool(info.get("is_drum"))
            notes = accented(roll_to_notes(frames[i], ppq, 4, onsets=onsets[i]), st, where, drum)
            tr = Track(name=str(info.get("name", f"Part {i + 1}")), program=int(info.get("program", 0)) % 128,
                       is_drum=drum, notes=tuple(notes), channel=9 if drum else None)
            new.extend(t if ppq == song.ppq else rescale_track(t, ppq, song.ppq) for t in split_sections(tr, info))
        taken = {t.name for t in song.tracks}             # a band beside the song's own "Drums": "Drums (rock)"
        new = [t if t.name not in taken else replace(t, name=f"{t.name} ({genre})") for t in new]
        results.append(song.with_tracks(tuple(song.tracks) + tuple(new), melody_index=song.melody_index))
    report(progress, 1.0, "done")
    return results


def sections_of(info: dict) -> list[tuple[int, str, int]]:
    """A part's sections as (lowest pitch, name, GM program), highest section first; [] when the part is one
    track. A card's track may list ``"sections": [{"name": "Bassoons", "program": 70, "from": 0}, ...]``: a
    section plays the part's notes from its ``from`` pitch up to the next section's (an orchestral part learned
    as one, e.g. the woodwinds, played by the instruments whose register each note is in). Raises ValueError for
    a malformed list (the first section must start at pitch 0, the rest higher and higher)."""
    raw = info.get("sections") if isinstance(info, dict) else None
    if not raw:
        return []
    out = []
    for sec in raw if isinstance(raw, list) else [raw]:
        low, name, program = (sec.get(k) for k in ("from", "name", "program")) if isinstance(sec, dict) else (
            None, None, None)
        if not (isinstance(name, str) and name and all(isinstance(v, int) and not isinstance(v, bool)
                                                       and 0 <= v <= 127 for v in (low, program))):
            raise ValueError(f"a section of its track {info.get('name')!r} is not a name, GM program and lowest "
                             f"pitch ({sec!r})")
        out.append((low, name, program))
    if out[0][0] != 0 or any(a[0] >= b[0] for a, b in zip(out, out[1:])):
        raise ValueError(f"the sections of its track {info.get('name')!r} must start at pitch 0 and rise")
    return out[::-1]


def split_sections(track, info: dict) -> tuple:
    """``track`` as one track per section of ``info`` (``sections_of``), each note in the section whose register
    holds its pitch, highest section first; empty sections are kept, so every take of a genre has the same
    tracks. ``(track,)`` when the part has no sections."""
    sections = sections_of(info)
    if not sections:
        return (track,)
    out, rest = [], list(track.notes)
    for low, name, program in sections:
        out.append(replace(track, name=name, program=program, notes=tuple(n for n in rest if n.pitch >= low)))
        rest = [n for n in rest if n.pitch < low]
    return tuple(out)


# the band's dynamics (the model gives notes, not velocities): louder on the bar and the beats than between them
_PITCHED_BASE, _HIT_BASE, _CYMBAL_BASE = 80, 96, 78
_CYMBALS = frozenset({42, 44, 46, 49, 51, 52, 53, 55, 57, 59})      # hi-hats, crashes, rides: under kick and snare


def accented(notes, step: int, where: np.ndarray, drum: bool) -> list:
    """``notes`` with velocities by where they fall in the bar (``step``: ticks per sixteenth; ``where``: each
    song step's place in the model's bars, ``bar_grid``): the downbeat strongest, then beat 3, the other beats,
    the off-beat eighths, the sixteenths between; drums' cymbals under the kick and snare."""
    out = []
    for n in notes:
        pos = int(where[min(n.start_tick // step, len(where) - 1)]) % 16
        lift = 10 if pos == 0 else 6 if pos == 8 else 3 if pos % 4 == 0 else 0 if pos % 2 == 0 else -8
        base = (_CYMBAL_BASE if n.pitch in _CYMBALS else _HIT_BASE) if drum else _PITCHED_BASE
        out.append(replace(n, velocity=max(1, min(127, base + lift))))
    return out


def bar_grid(song, ppq: int, used_steps: int) -> np.ndarray:
    """Where each sixteenth of the song (at ``ppq``), bar by bar up to the bar that holds step ``used_steps - 1``,
    goes in the model's bars of 16 steps: each song bar starts a model bar, so the model's bar lines are the
    song's. A shorter bar (2/4, 1/4) fills the start of its model bar and the rest stays silent, except a first bar
    that short: a pickup, which fills the end (the beat before the downbeat)."""
    st = ppq // 4
    where: list[int] = []
    bar = model_bar = 0
    while len(where) < max(1, used_steps):
        start = int(round(song.bar_start_tick(bar) * ppq / song.ppq / st))
        length = int(round(song.bar_start_tick(bar + 1) * ppq / song.ppq / st)) - start
        bar += 1
        if length <= 0:
            continue
        first = 16 * model_bar + (16 - length if bar == 1 and length < 16 else 0)
        where.extend(range(first, first + length))
        model_bar += -(-length // 16)
    return np.asarray(where, np.int64)


def cli_generate(args) -> int:
    """``deepcomposer generate --technique gan --genre G --input IN --out OUT [--seed S] [--takes N] [--wav W]``."""
    from ...cli import CliError, check_generate, end_progress_line, load_input, progress_printer, save_output
    from ..common import Cancelled
    song = load_input(args.input)
    outs = check_generate(args, {"genre"})
    if getattr(args, "track", None) is not None:
        if not 1 <= args.track <= len(song.tracks):
            raise CliError(f"--track must be between 1 and {len(song.tracks)}")
        song = song.replace(melody_index=args.track - 1)
    genres = available_genres()
    if args.genre not in genres:
        raise CliError(f"No GAN model for genre '{args.genre}'. Installed: {', '.join(genres) or 'none'}")

    try:
        results = accompany(song, args.genre, takes=args.takes, seed=args.seed, progress=progress_printer())
    except (ModelError, Cancelled, ValueError) as exc:
        raise CliError(str(exc) or "cancelled") from None
    end_progress_line()
    for res, out in zip(results, outs):
        save_output(res, str(out))
        added = res.tracks[len(song.tracks):]
        print(f"{out}: {len(added)} new tracks: " + ", ".join(f"{t.name} ({len(t.notes)} notes)" for t in added))
    if getattr(args, "wav", None):
        try:
            from ...audio.render import RenderError, render_to_wav
        except ImportError:
            raise CliError("Audio rendering is not available in this build") from None
        try:
            render_to_wav(results[0], args.wav)
        except RenderError as exc:
            raise CliError(f"Could not render {args.wav}: {exc}") from None
        print(f"{args.wav}: rendered take 1")
    return 0
