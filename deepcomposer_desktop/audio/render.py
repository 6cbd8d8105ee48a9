"""Offline rendering to a numpy array or a WAV file, through the same Scheduler -> FluidSynth sequencer path as
live playback (see ``scheduler.py``), just driven by ``write_float`` instead of an audio driver."""
from __future__ import annotations

import os
import wave

import numpy as np

from ..core.song import Song
from ..core.timing import TempoMap
from .events import song_events, with_metronome
from .mixer import apply_channels, audible_mask, mixes_of, setup_metronome
from .scheduler import MAX_TRACKS, Scheduler
from .soundfont import SoundfontError, find_soundfont, validate
from .synth import Synth, SynthError

DEFAULT_GAIN = 0.4
CHUNK = 4096              # frames rendered per write_float call
LOOKAHEAD = 8192          # frames of events handed to the sequencer ahead of rendering
TAIL_SEC = 2.0            # release and reverb after the last note
SILENCE = 1e-5


class RenderError(RuntimeError):
    """Rendering failed for a reason the user can fix (no FluidSynth, bad soundfont, unwritable file)."""


def resolve_soundfont(soundfont=None) -> str:
    """An explicit choice must be valid (RenderError otherwise); without one, the default search applies."""
    if soundfont:
        try:
            return str(validate(soundfont))
        except SoundfontError as exc:
            raise RenderError(str(exc)) from None
    path, problem = find_soundfont(None)
    if path is None:
        raise RenderError(problem)
    return str(path)


def render_cores() -> int:
    """FluidSynth threads for an offline render: nobody waits on a deadline, so the voices are spread over the
    cores (1.6x on 2 cores); at most 4: on a 16-core Xeon, 8 rendered slower than 4 (67-95x real time against
    103-113x in the same runs)."""
    return min(4, os.cpu_count() or 1)


def make_synth(soundfont: str, samplerate: int, song: Song, mixes, effects: bool = True,
               cpu_cores: int | None = None) -> Synth:
    """A synth with every track's program, volume and pan on its own channel (shared with the live engine).
    ``effects=False``: no reverb and no chorus (a dry mix, for a DAW that adds its own). ``cpu_cores``: FluidSynth
    threads (default :func:`render_cores`)."""
    synth = Synth(soundfont, samplerate, gain=DEFAULT_GAIN, cpu_cores=cpu_cores or render_cores(),
                  dynamic_samples=True, reverb=effects, chorus=effects)
    for i, mix in enumerate(mixes):
        apply_channels(synth, i, mix)
    setup_metronome(synth)
    return synth


def render_song(song: Song, soundfont=None, samplerate: int = 44100, solo=(), mute=(), *,
                metronome: bool = False, tail_sec: float = TAIL_SEC, effects: bool = True,
                cpu_cores: int | None = None) -> np.ndarray:
    """Render ``song`` to float32 stereo samples, shape (frames, 2).

    ``solo`` / ``mute`` are track indices (several solos sound together). The song's own track flags, volume,
    pan and programs apply as well. ``effects=False`` leaves out FluidSynth's reverb and chorus (a dry render;
    also the faster one: the effects run on one core). ``cpu_cores``: FluidSynth threads (default
    :func:`render_cores`; the audio is the same for any count). Raises RenderError when FluidSynth or the soundfont
    is missing or bad.
    """
    if not isinstance(song, Song):
        raise TypeError("render_song needs a Song")
    samplerate = int(samplerate)
    if not 8000 <= samplerate <= 192000:
        raise RenderError(f"Sample rate must be between 8000 and 192000 Hz, got {samplerate}")
    for kind, idx in (("solo", solo), ("mute", mute)):
        bad = [i for i in idx if not 0 <= i < len(song.tracks)]
        if bad:
            raise RenderError(f"Cannot {kind} track {bad[0] + 1}: the song has {len(song.tracks)} tracks")
    sf = resolve_soundfont(soundfont)
    mixes = mixes_of(song, solo, mute)
    try:
        synth = make_synth(sf, samplerate, song, mixes, effects, cpu_cores)
    except SynthError as exc:
        raise RenderError(str(exc)) from None
    try:
        events = song_events(song)
        end_tick = song.end_tick
        end_sec = TempoMap.of(song).tick_to_seconds(end_tick)
        if metronome:
            events = with_metronome(events, song, song.bar_start_tick(song.bar_count()))
        sched = Scheduler(synth, samplerate)
        sched.set_events(events, end_sec, min(len(song.tracks), MAX_TRACKS))
        sched.audible = audible_mask(mixes, metronome)
        sched.start(0.0, 0)
        end = int(np.ceil(end_sec * samplerate))
        total = end + int(tail_sec * samplerate)
        out = np.zeros((total, 2), np.float32)
        pos = 0
        while pos < total:
            sched.pump(pos + CHUNK + LOOKAHEAD)
            n = min(CHUNK, total - pos)
            synth.write_float(out, pos, n)
            pos += n
            if pos > end + CHUNK and not np.abs(out[pos - n:pos]).max() > SILENCE:
                break                     # the song is over and its release and reverb have died away
    finally:
        synth.close()
    return trim_tail(out[:pos], end)


def trim_tail(audio: np.ndarray, keep: int) -> np.ndarray:
    """Cut trailing silence, but never before frame ``keep``."""
    loud = np.flatnonzero(np.abs(audio[keep:]).max(axis=1) > SILENCE) if len(audio) > keep else []
    end = keep + (int(loud[-1]) + 1 if len(loud) else 0)
    return audio[:end]


def to_int16(audio: np.ndarray) -> np.ndarray:
    """Float samples to 16-bit, scaled down (never up) so that nothing clips."""
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    scale = 32767.0 / peak if peak > 1.0 else 32767.0
    return np.round(audio * scale).astype("<i2")


def write_wav(audio: np.ndarray, path, samplerate: int) -> None:
    try:
        with open(os.fspath(path), "wb") as fh, wave.open(fh, "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(int(samplerate))
            w.writeframes(to_int16(audio).tobytes())
    except OSError as exc:
        raise RenderError(f"Cannot write {path}: {exc.strerror or exc}") from None


def render_to_wav(song: Song, path, soundfont=None, samplerate: int = 44100, solo=(), mute=(), *,
                  metronome: bool = False, effects: bool = True) -> float:
    """Render ``song`` and write a 16-bit stereo WAV file; returns its length in seconds. Raises RenderError."""
    audio = render_song(song, soundfont, samplerate, solo, mute, metronome=metronome, effects=effects)
    write_wav(audio, path, samplerate)
    return len(audio) / samplerate


def read_wav(path) -> tuple[np.ndarray, int]:
    """A 16-bit WAV file as float32 (frames, channels) and its sample rate (used by tests and the CLI)."""
    with wave.open(os.fspath(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32767.0
        return data.reshape(-1, w.getnchannels()), w.getframerate()
