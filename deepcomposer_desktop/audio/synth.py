"""A thin ctypes layer over libfluidsynth: one synth, its sequencer, and (optionally) its own audio driver.

We use pyfluidsynth only to *find and load* the library (its finder knows each platform); every call goes through
the prototypes below, so no Python object is created per audio block and no Python code runs on FluidSynth's audio
thread. ctypes releases the GIL for every foreign call, so the C audio thread never waits for Python.

Thread notes: FluidSynth's synth and sequencer API is thread-safe (it has its own locks); ``Synth`` methods may be
called from any thread. A ``fluid_event_t`` scratch object is *not* shared: ``Synth`` guards its own with a lock.
"""
from __future__ import annotations

import ctypes
import os
import sys
import threading
from ctypes import c_char_p, c_double, c_float, c_int, c_short, c_uint, c_void_p

from ..core.song import DRUM_CHANNEL  # noqa: F401  (re-exported for callers that think in MIDI channels)

INSTALL_HINT = {
    "linux": "install it with your package manager, e.g. `sudo apt install libfluidsynth3` (Debian/Ubuntu), "
             "`sudo dnf install fluidsynth-libs` (Fedora) or `sudo pacman -S fluidsynth` (Arch)",
    "darwin": "install it with Homebrew: `brew install fluid-synth`",
    "win32": "download FluidSynth for Windows (github.com/FluidSynth/fluidsynth/releases) and put its bin folder "
             "(with libfluidsynth-3.dll) on PATH",
}

CHANNEL_TYPE_MELODIC = 0
CHANNEL_TYPE_DRUM = 1
DRUM_BANK = 128

_lib = None
_lib_problem: str | None = None
_lib_lock = threading.Lock()


class SynthError(RuntimeError):
    """FluidSynth is missing or refused something; the message says what to do."""


def _proto(lib, name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


class _Lib:
    """The libfluidsynth functions we call, with prototypes set once."""

    def __init__(self, cdll) -> None:
        p = lambda name, res, *args: _proto(cdll, name, res, *args)  # noqa: E731
        self.cdll = cdll
        self.new_settings = p("new_fluid_settings", c_void_p)
        self.delete_settings = p("delete_fluid_settings", None, c_void_p)
        self.setnum = p("fluid_settings_setnum", c_int, c_void_p, c_char_p, c_double)
        self.setint = p("fluid_settings_setint", c_int, c_void_p, c_char_p, c_int)
        self.setstr = p("fluid_settings_setstr", c_int, c_void_p, c_char_p, c_char_p)
        self.new_synth = p("new_fluid_synth", c_void_p, c_void_p)
        self.delete_synth = p("delete_fluid_synth", None, c_void_p)
        self.sfload = p("fluid_synth_sfload", c_int, c_void_p, c_char_p, c_int)
        self.program_select = p("fluid_synth_program_select", c_int, c_void_p, c_int, c_int, c_int, c_int)
        self.set_channel_type = p("fluid_synth_set_channel_type", c_int, c_void_p, c_int, c_int)
        self.noteon = p("fluid_synth_noteon", c_int, c_void_p, c_int, c_int, c_int)
        self.noteoff = p("fluid_synth_noteoff", c_int, c_void_p, c_int, c_int)
        self.cc = p("fluid_synth_cc", c_int, c_void_p, c_int, c_int, c_int)
        self.channel_pressure = p("fluid_synth_channel_pressure", c_int, c_void_p, c_int, c_int)
        self.pitch_bend = p("fluid_synth_pitch_bend", c_int, c_void_p, c_int, c_int)
        self.get_pitch_bend = p("fluid_synth_get_pitch_bend", c_int, c_void_p, c_int, ctypes.POINTER(c_int))
        self.get_cc = p("fluid_synth_get_cc", c_int, c_void_p, c_int, c_int, ctypes.POINTER(c_int))
        self.all_notes_off = p("fluid_synth_all_notes_off", c_int, c_void_p, c_int)
        self.all_sounds_off = p("fluid_synth_all_sounds_off", c_int, c_void_p, c_int)
        self.write_float = p("fluid_synth_write_float", c_int, c_void_p, c_int, c_void_p, c_int, c_int,
                             c_void_p, c_int, c_int)
        self.process = p("fluid_synth_process", c_int, c_void_p, c_int, c_int, ctypes.POINTER(c_void_p), c_int,
                         ctypes.POINTER(c_void_p))
        self.set_gain = p("fluid_synth_set_gain", None, c_void_p, c_float)
        self.get_gain = p("fluid_synth_get_gain", c_float, c_void_p)
        self.get_cpu_load = p("fluid_synth_get_cpu_load", c_double, c_void_p)
        self.active_voices = p("fluid_synth_get_active_voice_count", c_int, c_void_p)
        self.new_driver = p("new_fluid_audio_driver", c_void_p, c_void_p, c_void_p)
        self.delete_driver = p("delete_fluid_audio_driver", None, c_void_p)
        self.new_sequencer2 = p("new_fluid_sequencer2", c_void_p, c_int)
        self.delete_sequencer = p("delete_fluid_sequencer", None, c_void_p)
        self.register_fluidsynth = p("fluid_sequencer_register_fluidsynth", c_short, c_void_p, c_void_p)
        self.register_client = p("fluid_sequencer_register_client", c_short, c_void_p, c_char_p, c_void_p,
                                 c_void_p)
        self.unregister_client = p("fluid_sequencer_unregister_client", None, c_void_p, c_short)
        self.send_at = p("fluid_sequencer_send_at", c_int, c_void_p, c_void_p, c_uint, c_int)
        self.send_now = p("fluid_sequencer_send_now", None, c_void_p, c_void_p)
        self.remove_events = p("fluid_sequencer_remove_events", None, c_void_p, c_short, c_short, c_int)
        self.get_tick = p("fluid_sequencer_get_tick", c_uint, c_void_p)
        self.new_event = p("new_fluid_event", c_void_p)
        self.delete_event = p("delete_fluid_event", None, c_void_p)
        self.ev_source = p("fluid_event_set_source", None, c_void_p, c_short)
        self.ev_dest = p("fluid_event_set_dest", None, c_void_p, c_short)
        self.ev_noteon = p("fluid_event_noteon", None, c_void_p, c_int, c_short, c_short)
        self.ev_noteoff = p("fluid_event_noteoff", None, c_void_p, c_int, c_short)
        self.ev_cc = p("fluid_event_control_change", None, c_void_p, c_int, c_short, c_int)
        self.ev_pitch_bend = p("fluid_event_pitch_bend", None, c_void_p, c_int, c_int)
        self.ev_pitch_range = p("fluid_event_pitch_wheelsens", None, c_void_p, c_int, c_int)
        self.ev_pressure = p("fluid_event_channel_pressure", None, c_void_p, c_int, c_int)
        self.ev_all_notes_off = p("fluid_event_all_notes_off", None, c_void_p, c_int)
        self.ev_all_sounds_off = p("fluid_event_all_sounds_off", None, c_void_p, c_int)


def load_library() -> _Lib | None:
    """The loaded library, or None (then ``library_problem()`` says why and how to install it)."""
    global _lib, _lib_problem
    with _lib_lock:
        if _lib is not None or _lib_problem is not None:
            return _lib
        hint = INSTALL_HINT.get(sys.platform, INSTALL_HINT["linux"])
        if os.environ.get("DEEPCOMPOSER_NO_FLUIDSYNTH"):      # lets tests and users simulate a missing library
            _lib_problem = (f"The FluidSynth library (libfluidsynth) is switched off by DEEPCOMPOSER_NO_FLUIDSYNTH, "
                            f"so there is no sound; unset it, or if it is missing, {hint}.")
            return None
        try:
            import io
            import contextlib
            with contextlib.redirect_stdout(io.StringIO()):
                import fluidsynth  # pyfluidsynth: finds and loads libfluidsynth
            _lib = _Lib(fluidsynth._fl)
        except (ImportError, OSError, AttributeError) as exc:
            _lib_problem = (f"The FluidSynth library (libfluidsynth) was not found, so there is no sound: {hint}. "
                            f"({exc})")
        return _lib


def library_problem() -> str:
    load_library()
    return _lib_problem or ""


def _thread_ids() -> set[int]:
    try:
        return {int(t) for t in os.listdir("/proc/self/task")}
    except OSError:
        return set()


def _raise_new_threads(before: set[int], names: set[str] | None, priority: int = 50) -> int:
    """Best effort (Linux, when allowed): real-time round-robin scheduling for the threads named ``names`` (None:
    any name) that appeared since ``before``. Returns how many were raised."""
    if not hasattr(os, "sched_setscheduler"):
        return 0
    raised = 0
    for tid in _thread_ids() - before:
        try:
            with open(f"/proc/self/task/{tid}/comm") as fh:
                if names is not None and fh.read().strip() not in names:
                    continue
            os.sched_setscheduler(tid, os.SCHED_RR, os.sched_param(priority))
            raised += 1
        except (OSError, ValueError):
            continue
    return raised


def raise_current_thread(priority: int) -> bool:
    """Best effort (Linux, when allowed): real-time round-robin scheduling for the calling thread."""
    if not hasattr(os, "sched_setscheduler"):
        return False
    try:
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_RR, os.sched_param(priority))
        return True
    except (OSError, ValueError):
        return False


class Synth:
    """One FluidSynth instance with a soundfont, a sequencer driven by the synth's own sample clock, and
    optionally an audio driver (a C thread). Methods may be called from any thread.

    Channel layout is the caller's business; ``setup_channel`` puts a GM program (or the drum bank) on a channel.
    The sequencer's time unit is the millisecond of *rendered audio* (``use_system_timer=0``), counted from the
    moment the synth was created.
    """

    def __init__(self, soundfont: str, samplerate: int = 48000, channels: int = 256, gain: float = 0.4,
                 reverb: bool = True, chorus: bool = True, polyphony: int = 256, cpu_cores: int = 1,
                 dynamic_samples: bool = False, groups: int = 1) -> None:
        """``dynamic_samples``: load a preset's samples only when a channel selects it (an offline render of a
        few instruments from a 148 MB GM font loads a fraction of it). Not for live use: a program change would
        then read from disk while the audio thread waits.

        ``groups`` > 1: MIDI channel c sounds on stereo output c % groups, with its own reverb and chorus unit
        (read by :meth:`process_groups`; stems in one pass). Needs FluidSynth 2.2 or newer (SynthError before)."""
        lib = load_library()
        if lib is None:
            raise SynthError(library_problem())
        self._lib = lib
        self.samplerate = int(samplerate)
        self.channels = int(channels)
        self._driver = None
        self._event_lock = threading.Lock()
        self._settings = lib.new_settings()
        s = self._settings
        lib.setnum(s, b"synth.sample-rate", float(samplerate))
        lib.setint(s, b"synth.midi-channels", self.channels)
        lib.setint(s, b"synth.polyphony", int(polyphony))
        lib.setnum(s, b"synth.gain", float(gain))
        lib.setint(s, b"synth.reverb.active", int(reverb))
        lib.setint(s, b"synth.chorus.active", int(chorus))
        lib.setint(s, b"synth.cpu-cores", max(1, int(cpu_cores)))   # >1: FluidSynth renders voices in parallel
        lib.setint(s, b"synth.dynamic-sample-loading", int(bool(dynamic_samples)))
        self.groups = max(1, int(groups))
        if self.groups > 1:
            keys = (b"synth.audio-channels", b"synth.audio-groups", b"synth.effects-groups")
            if any(lib.setint(s, key, self.groups) != 0 for key in keys):
                lib.delete_settings(s)
                raise SynthError(f"This FluidSynth cannot render {self.groups} separate outputs with their own "
                                 "effects (that needs FluidSynth 2.2 or newer, with at most 128 outputs).")
        self._synth = lib.new_synth(s)
        if not self._synth:
            lib.delete_settings(s)
            raise SynthError("FluidSynth could not create a synthesizer (out of memory?)")
        self.sfid = lib.sfload(self._synth, os.fsencode(soundfont), 1)
        if self.sfid < 0:
            self.close()
            raise SynthError(f"FluidSynth could not load the soundfont {soundfont!r} (damaged or not a .sf2/.sf3 "
                             "file). Pick another soundfont.")
        self._seq = lib.new_sequencer2(0)   # 0: time follows rendered samples, not the wall clock
        self.synth_dest = lib.register_fluidsynth(self._seq, self._synth)
        self._event = lib.new_event()
        self._sources: dict[int, int] = {}

    # --- set-up -----------------------------------------------------------------------------------------------
    def setup_channel(self, chan: int, program: int, is_drum: bool = False) -> None:
        lib = self._lib
        lib.set_channel_type(self._synth, chan, CHANNEL_TYPE_DRUM if is_drum else CHANNEL_TYPE_MELODIC)
        if lib.program_select(self._synth, chan, self.sfid, DRUM_BANK if is_drum else 0, program) != 0:
            # not every soundfont has every preset: fall back to program 0 of that bank, then piano
            if lib.program_select(self._synth, chan, self.sfid, DRUM_BANK if is_drum else 0, 0) != 0:
                lib.program_select(self._synth, chan, self.sfid, 0, 0)

    def source(self, key: int) -> int:
        """A sequencer source id for ``key`` (one per track, metronome, ...), so its pending events can be removed."""
        sid = self._sources.get(key)
        if sid is None:
            sid = self._lib.register_client(self._seq, f"src{key}".encode(), None, None)
            self._sources[key] = sid
        return sid

    def start_driver(self, driver: str, device: str | None = None, period_size: int = 256, periods: int = 2,
                     file_name: str | None = None) -> None:
        """Open FluidSynth's own audio driver (``pulseaudio``, ``alsa``, ``coreaudio``, ``wasapi``, ``file`` ...).

        Raises SynthError when the driver cannot open the device.
        """
        lib, s = self._lib, self._settings
        lib.setstr(s, b"audio.driver", driver.encode())
        if driver == "pulseaudio":
            # FluidSynth's PulseAudio driver asks the server for one period of buffer (tlength) and ignores
            # audio.periods: give it the whole buffer as its period
            period_size, periods = period_size * periods, 2
        lib.setint(s, b"audio.period-size", int(period_size))
        lib.setint(s, b"audio.periods", int(periods))
        if device:
            key = {"alsa": b"audio.alsa.device", "pulseaudio": b"audio.pulseaudio.device",
                   "coreaudio": b"audio.coreaudio.device", "wasapi": b"audio.wasapi.device",
                   "dsound": b"audio.dsound.device", "oss": b"audio.oss.device"}.get(driver)
            if key:
                lib.setstr(s, key, device.encode())
        if driver == "pulseaudio":
            lib.setint(s, b"audio.pulseaudio.adjust-latency", 1)
            lib.setstr(s, b"audio.pulseaudio.media-role", b"music")
        if driver == "file":
            lib.setstr(s, b"audio.file.name", (file_name or os.devnull).encode())
            lib.setstr(s, b"audio.file.type", b"raw")
        before = _thread_ids()
        self._driver = lib.new_driver(s, self._synth)
        if self._driver:
            # FluidSynth makes its own audio thread real-time; libpulse's client thread that carries the data
            # to the server it does not, and on a busy machine that thread is what starves
            _raise_new_threads(before, {"threaded-ml"})
        if not self._driver:
            raise SynthError(f"The audio output ({driver}{' ' + device if device else ''}) could not be opened.")

    def stop_driver(self) -> None:
        if self._driver:
            self._lib.delete_driver(self._driver)
            self._driver = None

    # --- immediate calls (any thread) -------------------------------------------------------------------------
    def noteon(self, chan: int, pitch: int, velocity: int) -> None:
        self._lib.noteon(self._synth, chan, pitch, velocity)

    def noteoff(self, chan: int, pitch: int) -> None:
        self._lib.noteoff(self._synth, chan, pitch)

    def cc(self, chan: int, ctrl: int, value: int) -> None:
        self._lib.cc(self._synth, chan, ctrl, value)

    def channel_pressure(self, chan: int, value: int) -> None:
        """Aftertouch of the whole channel, 0..127."""
        self._lib.channel_pressure(self._synth, chan, value)

    def pitch_bend(self, chan: int, value: int) -> None:
        """``value`` 0..16383, 8192 = centre (FluidSynth's convention)."""
        self._lib.pitch_bend(self._synth, chan, value)

    def channel_state(self, chan: int, ctrl: int | None = None) -> int:
        """The channel's pitch bend (0..16383), or controller ``ctrl``'s value: what the synth really holds."""
        out = c_int(0)
        if ctrl is None:
            self._lib.get_pitch_bend(self._synth, chan, ctypes.byref(out))
        else:
            self._lib.get_cc(self._synth, chan, ctrl, ctypes.byref(out))
        return out.value

    def all_sounds_off(self, chan: int = -1) -> None:
        self._lib.all_sounds_off(self._synth, chan)

    def all_notes_off(self, chan: int = -1) -> None:
        self._lib.all_notes_off(self._synth, chan)

    def set_gain(self, gain: float) -> None:
        """The synth's master gain (FluidSynth takes 0.0-10.0): heard from the next block, by sounding notes too."""
        self._lib.set_gain(self._synth, gain)

    @property
    def gain(self) -> float:
        """The master gain FluidSynth holds now."""
        return float(self._lib.get_gain(self._synth))

    @property
    def active_voices(self) -> int:
        return self._lib.active_voices(self._synth)

    @property
    def cpu_load(self) -> float:
        return self._lib.get_cpu_load(self._synth)

    # --- sequencer (time in ms of rendered audio) ---------------------------------------------------------------
    def now_ms(self) -> int:
        return self._lib.get_tick(self._seq)

    def schedule_notes(self, times_ms, kinds, chans, pitches, vels, sources) -> None:
        """Schedule a batch: kind 1 = note on, 0 = note off, 2 = all notes off (CC 123), 3 = all sounds off,
        4 = controller change (pitch: its number, vel: its value), 5 = pitch bend (vel: 0..16383, 8192 centre),
        6 = pitch-bend range (vel: semitones), 7 = channel aftertouch (vel: 0..127)."""
        lib, ev, seq = self._lib, self._event, self._seq
        with self._event_lock:
            lib.ev_dest(ev, self.synth_dest)
            for t, k, c, p, v, src in zip(times_ms, kinds, chans, pitches, vels, sources):
                lib.ev_source(ev, src)
                if k == 1:
                    lib.ev_noteon(ev, c, p, v)
                elif k == 0:
                    lib.ev_noteoff(ev, c, p)
                elif k == 4:
                    lib.ev_cc(ev, c, p, v)
                elif k == 5:
                    lib.ev_pitch_bend(ev, c, v)
                elif k == 6:
                    lib.ev_pitch_range(ev, c, v)
                elif k == 7:
                    lib.ev_pressure(ev, c, v)
                elif k == 2:
                    lib.ev_all_notes_off(ev, c)
                else:
                    lib.ev_all_sounds_off(ev, c)
                lib.send_at(seq, ev, int(t), 1)

    def schedule_cc(self, time_ms: int, chan: int, ctrl: int, value: int, source: int) -> None:
        lib, ev = self._lib, self._event
        with self._event_lock:
            lib.ev_dest(ev, self.synth_dest)
            lib.ev_source(ev, source)
            lib.ev_cc(ev, chan, ctrl, value)
            lib.send_at(self._seq, ev, int(time_ms), 1)

    def remove_pending(self, source: int = -1) -> None:
        """Drop scheduled events of one source (-1: all of them)."""
        self._lib.remove_events(self._seq, source, -1, -1)

    # --- offline rendering -------------------------------------------------------------------------------------
    def write_float(self, buf, offset_frames: int, frames: int) -> None:
        """Render ``frames`` stereo frames into ``buf`` (a C-contiguous float32 array of shape (n, 2))."""
        base = buf.ctypes.data + offset_frames * 8
        self._lib.write_float(self._synth, frames, base, 0, 2, base, 1, 2)

    def process_groups(self, out, frames: int) -> None:
        """Render ``frames`` frames of every group into ``out``, a C-contiguous float32 array of shape
        (groups, 2, n >= frames) that this call *adds* to (zero it first): group g gets its dry sound plus its own
        reverb and chorus, so the groups sum to what :meth:`write_float` would have rendered."""
        g = self.groups
        shape_ok = out.ndim == 3 and out.shape[:2] == (g, 2) and out.shape[2] >= frames
        if str(out.dtype) != "float32" or not out.flags.c_contiguous or not shape_ok:
            raise ValueError(f"process_groups needs a C-contiguous float32 array of shape ({g}, 2, >= {frames})")
        rows = [out.ctypes.data + (k * out.shape[2]) * 4 for k in range(2 * g)]
        dry = (c_void_p * (2 * g))(*rows)
        fx = (c_void_p * (4 * g))(*[rows[2 * (j // 4) + j % 2] for j in range(4 * g)])   # reverb, chorus -> dry
        if self._lib.process(self._synth, frames, 4 * g, fx, 2 * g, dry) != 0:
            raise SynthError("FluidSynth refused to render the separate outputs")

    # --- teardown ----------------------------------------------------------------------------------------------
    def close(self) -> None:
        lib = self._lib
        self.stop_driver()
        if getattr(self, "_event", None):
            lib.delete_event(self._event)
            self._event = None
        if getattr(self, "_seq", None):
            lib.delete_sequencer(self._seq)
            self._seq = None
        if self._synth:
            lib.delete_synth(self._synth)
            self._synth = None
        if self._settings:
            lib.delete_settings(self._settings)
            self._settings = None

    def __del__(self) -> None:  # pragma: no cover - safety net
        try:
            if getattr(self, "_synth", None):
                self.close()
        except Exception:
            pass


__all__ = ["Synth", "SynthError", "load_library", "library_problem", "DRUM_BANK"]
