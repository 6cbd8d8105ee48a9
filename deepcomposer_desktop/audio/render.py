"""Offline rendering to a numpy array or a WAV file, through the same Scheduler -> FluidSynth sequencer path as
live playback (see ``scheduler.py``), just driven by ``write_float`` instead of an audio driver; and stems (one
WAV per track) from one pass of that path, each track on its own output with its own reverb and chorus."""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.names import file_stem
from ..core.song import Song
from ..core.timing import TempoMap
from . import MAX_RATE
from .events import song_events, with_metronome
from .mixer import apply_channels, audible_mask, mixes_of, setup_metronome
from .scheduler import MAX_TRACKS, Scheduler
from .sf2_sends import CC_CHORUS, CC_REVERB, effects_needed
from .soundfont import SoundfontError, find_soundfont, validate
from .synth import DRUM_BANK, Synth, SynthError
from .wavfile import FloatWavWriter, read_wav, to_int16, write_pcm16

DEFAULT_GAIN = 0.4
CHUNK = 4096              # frames rendered per write_float call
# release and reverb after the last note: rendered until the output stays below SILENCE (a crash cymbal or
# tubular bells ring on 5-10 s), at most this long
TAIL_SEC = 10.0
MAX_RENDER_SEC = 3600      # an hour of stereo float audio at 48 kHz is 1.4 GB in memory
SILENCE = 1e-5


class RenderError(RuntimeError):
    """Rendering failed for a reason the user can fix (no FluidSynth, bad soundfont, unwritable file)."""


class RenderStopped(Exception):
    """``should_stop()`` said stop (the user cancelled, the app is closing): nothing was written."""


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
               cpu_cores: int | None = None, groups: int = 1) -> Synth:
    """A synth with every track's program, volume and pan on its own channel (shared with the live engine).
    ``effects=False``: no reverb and no chorus (a dry mix, for a DAW that adds its own). ``cpu_cores``: FluidSynth
    threads (default :func:`render_cores`). ``groups``: separate outputs (stems, see :class:`Synth`)."""
    reverb = chorus = effects
    if effects:                   # an effect nothing can reach only adds zeros: leave it out (same file, faster)
        presets = {(DRUM_BANK if m.is_drum else 0, m.program) for m in mixes} | {(DRUM_BANK, 0)}   # + metronome
        sends = [(c.number, c.value) for t in song.tracks for c in t.controls if c.number in (CC_REVERB, CC_CHORUS)]
        reverb, chorus = effects_needed(soundfont, presets, sends)
    synth = Synth(soundfont, samplerate, gain=DEFAULT_GAIN, cpu_cores=cpu_cores or render_cores(),
                  dynamic_samples=True, reverb=reverb, chorus=chorus, groups=groups)
    for i, mix in enumerate(mixes):
        apply_channels(synth, i, mix)
    setup_metronome(synth)
    return synth


def _start(song: Song, soundfont: str, samplerate: int, mixes, audible: np.ndarray, *, effects: bool,
           cpu_cores: int | None, tail_sec: float, metronome: bool = False, groups: int = 1):
    """A synth whose sequencer holds the whole song. Returns (synth, the song's end frame, frames to render at
    most). Offline nothing can change while rendering, so the sequencer gets every event at once (pumping it chunk
    by chunk cost ~6 % of a render, in numpy calls on small slices); the events still reach the synth through the
    sequencer, at the same sample positions as live."""
    try:
        synth = make_synth(soundfont, samplerate, song, mixes, effects, cpu_cores, groups)
    except SynthError as exc:
        raise RenderError(str(exc)) from None
    try:
        events = song_events(song)
        end_sec = TempoMap.of(song).tick_to_seconds(song.sound_end_tick)
        if metronome:
            events = with_metronome(events, song, song.bar_start_tick(song.bar_count()))
        sched = Scheduler(synth, samplerate)
        sched.set_events(events, end_sec, min(len(song.tracks), MAX_TRACKS))
        sched.audible = audible
        sched.start(0.0, 0)
        end = int(np.ceil(end_sec * samplerate))
        total = end + int(tail_sec * samplerate)
        sched.pump(total)
    except BaseException:
        synth.close()
        raise
    return synth, end, total


def _check(song: Song, samplerate: int, solo, mute) -> int:
    if not isinstance(song, Song):
        raise TypeError("render_song needs a Song")
    samplerate = int(samplerate)
    if not 8000 <= samplerate <= MAX_RATE:
        raise RenderError(f"Sample rate must be between 8000 and {MAX_RATE} Hz, got {samplerate}")
    for kind, idx in (("solo", solo), ("mute", mute)):
        bad = [i for i in idx if not 0 <= i < len(song.tracks)]
        if bad:
            raise RenderError(f"Cannot {kind} track {bad[0] + 1}: the song has {len(song.tracks)} tracks")
        silent = [i for i in idx if i >= MAX_TRACKS]
        if silent:
            raise RenderError(f"Cannot {kind} track {silent[0] + 1}: {silent_tracks_note(song)}")
    seconds = TempoMap.of(song).tick_to_seconds(song.sound_end_tick)
    if seconds > MAX_RENDER_SEC:
        raise RenderError(f"The song lasts {int(seconds // 3600)} h {int(seconds % 3600 // 60)} min; a WAV export "
                          f"takes at most {MAX_RENDER_SEC // 3600} hour (its audio is held in memory). Trim it first")
    return samplerate


def silent_tracks_note(song: Song) -> str:
    """What to tell the user of a song with more tracks than can sound ("" for the others)."""
    if len(song.tracks) <= MAX_TRACKS:
        return ""
    return (f"only the first {MAX_TRACKS} of its {len(song.tracks)} tracks sound (each track gets its own synth "
            f"channel); merge tracks to hear the others")


def render_song(song: Song, soundfont=None, samplerate: int = 44100, solo=(), mute=(), *,
                metronome: bool = False, tail_sec: float = TAIL_SEC, effects: bool = True,
                cpu_cores: int | None = None, progress=None, should_stop=None) -> np.ndarray:
    """Render ``song`` to float32 stereo samples, shape (frames, 2).

    ``solo`` / ``mute`` are track indices (several solos sound together). The song's own track flags, volume,
    pan and programs apply as well. ``effects=False`` leaves out FluidSynth's reverb and chorus (a dry render;
    also the faster one: the effects run on one core). ``cpu_cores``: FluidSynth threads (default
    :func:`render_cores`; the audio is the same for any count). ``progress(fraction, message)`` hears how far it
    got, ``should_stop()`` is asked as it goes (RenderStopped). Raises RenderError when FluidSynth or the
    soundfont is missing or bad.
    """
    synth, end, total = _open_mix(song, soundfont, samplerate, solo, mute, metronome=metronome, effects=effects,
                                  cpu_cores=cpu_cores, tail_sec=tail_sec)
    try:
        out = np.zeros((total, 2), np.float32)
        pos = 0
        for block in _chunks(synth, out, end, total, rolling=False, progress=progress, should_stop=should_stop):
            pos += len(block)
    finally:
        synth.close()
    return trim_tail(out[:pos], end)


def render_peak(song: Song, soundfont=None, samplerate: int = 44100, *, cpu_cores: int | None = None,
                should_stop=None) -> float:
    """The highest sample magnitude (1.0 = full scale) of :func:`render_song` of ``song`` as it plays (its own
    mute, solo, volume and pan), without holding the audio: one chunk is rendered over and over (a 10-minute
    song's render would hold 230 MB). Raises RenderError, RenderStopped."""
    synth, end, total = _open_mix(song, soundfont, samplerate, (), (), cpu_cores=cpu_cores)
    try:
        buf = np.zeros((CHUNK, 2), np.float32)
        return max((float(np.abs(b).max()) for b in _chunks(synth, buf, end, total, rolling=True,
                                                            should_stop=should_stop)), default=0.0)
    finally:
        synth.close()


def _open_mix(song: Song, soundfont, samplerate: int, solo, mute, *, metronome: bool = False, effects: bool = True,
              cpu_cores: int | None = None, tail_sec: float = TAIL_SEC):
    """The checked arguments of a mix render as a synth holding the song (see :func:`_start`): (synth, the song's
    end frame, frames to render at most). Raises RenderError."""
    samplerate = _check(song, samplerate, solo, mute)
    mixes = mixes_of(song, solo, mute)
    return _start(song, resolve_soundfont(soundfont), samplerate, mixes, audible_mask(mixes, metronome),
                  effects=effects, cpu_cores=cpu_cores, tail_sec=tail_sec, metronome=metronome)


def _chunks(synth: Synth, out: np.ndarray, end: int, total: int, *, rolling: bool, progress=None,
            should_stop=None):
    """Render up to ``total`` frames, CHUNK at a time, into ``out`` (the whole render; with ``rolling`` one CHUNK,
    overwritten by each); yields each chunk as written, and stops once the song (``end``) is over and its release
    and reverb have died away (a chunk below SILENCE). ``should_stop()``: RenderStopped."""
    pos = chunks = 0
    while pos < total:
        n = min(CHUNK, total - pos)
        at = 0 if rolling else pos
        synth.write_float(out, at, n)
        block = out[at:at + n]
        pos += n
        chunks += 1
        if chunks % 64 == 0:                  # every ~6 s of audio (a few ms of work here)
            if should_stop is not None and should_stop():
                raise RenderStopped()
            if progress is not None:
                progress(min(1.0, pos / max(end, 1)), "Rendering audio")
        yield block
        if pos > end + CHUNK and not np.abs(block).max() > SILENCE:
            return


def trim_tail(audio: np.ndarray, keep: int) -> np.ndarray:
    """Cut trailing silence, but never before frame ``keep``."""
    loud = np.flatnonzero(np.abs(audio[keep:]).max(axis=1) > SILENCE) if len(audio) > keep else []
    end = keep + (int(loud[-1]) + 1 if len(loud) else 0)
    return audio[:end]


def write_wav(audio: np.ndarray, path, samplerate: int) -> float:
    """A 16-bit stereo WAV file at the synth's level, scaled down only if it would clip. Returns the gain it was
    written at (1.0, or less: :func:`wavfile.clip_gain`). Raises RenderError."""
    try:
        return write_pcm16(audio, path, samplerate)
    except OSError as exc:
        raise RenderError(f"Cannot write {path}: {exc.strerror or exc}") from None


def scaled_note(gain: float) -> str:
    """What to tell the user of a mix written at ``gain`` ("" at 1.0: the synth's level, nothing scaled)."""
    if gain >= 1.0:
        return ""
    return (f"scaled down {-20 * np.log10(gain):.1f} dB so that it does not clip (at the synth's level it peaks "
            f"at {1 / gain:.2f} times full scale)")


@dataclass(frozen=True)
class MixWritten:
    """What :func:`export_mix` wrote: the file, its length and the gain every sample got (1.0 but where the mix
    would have clipped; stems that must add up to this file need the same, see :func:`write_stems`)."""

    path: str
    seconds: float
    gain: float = 1.0

    @property
    def note(self) -> str:
        """What scaling the mix took, for the user ("" for none; :func:`scaled_note`)."""
        return scaled_note(self.gain)


def export_mix(song: Song, path, soundfont=None, samplerate: int = 44100, solo=(), mute=(), *,
               metronome: bool = False, effects: bool = True, progress=None, should_stop=None) -> MixWritten:
    """Render ``song`` (as :func:`render_song`) and write a 16-bit stereo WAV file at the synth's level, scaled
    down only where it would clip (the result says by how much). Raises RenderError (RenderStopped when
    ``should_stop()``: nothing written)."""
    audio = render_song(song, soundfont, samplerate, solo, mute, metronome=metronome, effects=effects,
                        progress=progress, should_stop=should_stop)
    gain = write_wav(audio, path, samplerate)
    return MixWritten(str(path), len(audio) / samplerate, gain)


def render_to_wav(song: Song, path, soundfont=None, samplerate: int = 44100, solo=(), mute=(), *,
                  metronome: bool = False, effects: bool = True, progress=None, should_stop=None) -> float:
    """:func:`export_mix`, returning the file's length in seconds."""
    return export_mix(song, path, soundfont, samplerate, solo, mute, metronome=metronome, effects=effects,
                      progress=progress, should_stop=should_stop).seconds


# --- stems: one WAV per track, all from one pass of the synth -----------------------------------------------------
def stem_tracks(song: Song, solo=(), mute=()) -> list[int]:
    """The tracks that get a stem: those the mix lets through (the song's own mute / solo flags, plus ``solo`` /
    ``mute``) that have notes."""
    mask = audible_mask(mixes_of(song, solo, mute), False)
    return [i for i in range(min(len(song.tracks), MAX_TRACKS)) if mask[i + 1] and song.tracks[i].notes]


def stem_file_names(song: Song, tracks) -> list[str]:
    """``01 Melody.wav``, ``04 Drums.wav`` ...: the track's number keeps them in order and apart."""
    return [f"{i + 1:02d} {file_stem(song.tracks[i].name, 'Track', 40)}.wav" for i in tracks]


def _open_stems(song: Song, soundfont, samplerate: int, solo, mute, effects: bool, cpu_cores, tail_sec: float):
    samplerate = _check(song, samplerate, solo, mute)
    tracks = stem_tracks(song, solo, mute)
    if not tracks:
        raise RenderError("No track would sound: every track is muted, or the chosen ones have no notes")
    sf = resolve_soundfont(soundfont)
    mixes = mixes_of(song, solo, mute)
    # channel i (track i) sounds on output i % groups: one group per track up to the last stem. One FluidSynth
    # thread unless asked: with several outputs its extra render threads made the 4 stems of the bench song
    # 5-10x slower here (3-4.5 s against 0.4-0.7 s), where they make a mix a little faster
    synth, end, total = _start(song, sf, samplerate, mixes, audible_mask(mixes, False), effects=effects,
                               cpu_cores=cpu_cores or 1, tail_sec=tail_sec, groups=max(tracks) + 1)
    return tracks, synth, end, total


def _stem_blocks(synth: Synth, tracks, end: int, total: int, should_stop=None):
    """Yield (position, block of shape (len(tracks), n, 2), the stems' common length so far) until the song's
    release and reverb have died away. That length is the mix's: the song, then its tail while the sum of the
    stems is audible (as :func:`trim_tail` cuts a rendered mix)."""
    buf = np.zeros((synth.groups, 2, CHUNK), np.float32)
    pick = np.asarray(tracks)
    pos, length = 0, end
    while pos < total:
        if should_stop is not None and should_stop():
            return
        n = min(CHUNK, total - pos)
        buf.fill(0.0)
        synth.process_groups(buf, n)
        block = buf[pick, :, :n].transpose(0, 2, 1)
        loud = np.abs(block.sum(axis=0)).max(axis=1) > SILENCE            # the mix, frame by frame
        if pos + n > end:
            after = np.flatnonzero(loud[max(0, end - pos):])
            if len(after):
                length = max(pos, end) + int(after[-1]) + 1
        yield pos, block, length
        pos += n
        if pos > end + CHUNK and not loud.any():
            return                        # as render_song: the mix has died away


def render_stems(song: Song, soundfont=None, samplerate: int = 44100, solo=(), mute=(), *, effects: bool = True,
                 tail_sec: float = TAIL_SEC, cpu_cores: int | None = None) -> tuple[list[int], np.ndarray]:
    """Every track the mix lets through (:func:`stem_tracks`), each to its own stereo signal with its own reverb
    and chorus, in one pass of the synth. Returns (track indices, float32 array (stems, frames, 2)): the stems
    start together and are equally long, and they add up to the mix :func:`render_song` gives. Raises
    RenderError."""
    tracks, synth, end, total = _open_stems(song, soundfont, samplerate, solo, mute, effects, cpu_cores, tail_sec)
    try:
        out = np.zeros((len(tracks), total, 2), np.float32)
        length = end
        for start, block, length in _stem_blocks(synth, tracks, end, total):
            out[:, start:start + block.shape[1]] = block
    finally:
        synth.close()
    return tracks, out[:, :length]


def write_stems(song: Song, folder, soundfont=None, samplerate: int = 44100, solo=(), mute=(), *,
                effects: bool = True, gain: float = 1.0, progress=None, should_stop=None) -> list[Path]:
    """Render the stems (as :func:`render_stems`) into ``folder`` as 32-bit float WAV files named by
    :func:`stem_file_names`, replacing files of those names. ``gain``: every sample of every stem times it (the
    gain of a mix written with them, :attr:`MixWritten.gain`, so that they add up to that file).

    Streams to disk, so a long song's stems never sit in memory, through ``.part`` files that take the real
    names only once every stem is done: a failure or ``should_stop()`` leaves the folder as it was. Returns the
    paths ([] when stopped). Raises RenderError."""
    folder = Path(folder)
    for name in stem_file_names(song, stem_tracks(song, solo, mute)):      # before anything is rendered or replaced
        if (folder / name).is_dir():
            raise RenderError(f"Cannot write the stem '{name}': {folder} holds a folder of that name")
    tracks, synth, end, total = _open_stems(song, soundfont, samplerate, solo, mute, effects, None, TAIL_SEC)
    paths = [folder / name for name in stem_file_names(song, tracks)]
    writers: list[FloatWavWriter] = []
    stopped = False
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for p in paths:
            # one temporary name per stem and per export: two exports into one folder must not share a file
            writers.append(FloatWavWriter(p.with_name(f".{p.name[:40]}.{uuid.uuid4().hex[:12]}.part"), samplerate))
        length = end
        for start, block, length in _stem_blocks(synth, tracks, end, total, should_stop):
            if gain != 1.0:
                block = block * np.float32(gain)
            for w, stem in zip(writers, block):
                w.write(stem)
            if progress is not None:
                progress(min(1.0, (start + block.shape[1]) / max(end, 1)), f"Rendering {len(tracks)} stems")
        stopped = should_stop is not None and bool(should_stop())
        if not stopped:
            for w, p in zip(writers, paths):
                w.close(length)
                os.replace(w.path, p)
    except OSError as exc:
        raise RenderError(f"Cannot write the stems to {folder}: {exc.strerror or exc}") from None
    finally:
        synth.close()
        for w in writers:
            if os.path.exists(w.path):
                w.discard()
    return [] if stopped else paths


__all__ = ["RenderError", "RenderStopped", "render_song", "render_to_wav", "export_mix", "MixWritten", "scaled_note",
           "render_stems", "write_stems", "stem_tracks", "stem_file_names", "silent_tracks_note", "resolve_soundfont",
           "render_cores", "make_synth", "trim_tail", "write_wav", "read_wav", "to_int16", "CHUNK", "TAIL_SEC",
           "SILENCE", "DEFAULT_GAIN"]
