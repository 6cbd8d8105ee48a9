"""Hardware MIDI input: the only module that talks to rtmidi.

``MidiInputManager`` lists input ports, opens one, and from rtmidi's callback timestamps each message, queues it
for the GUI and forwards live notes to a sink (the audio engine, through ``EngineSink``). It polls the port list
(rtmidi does not notice a port that has gone), reconnects the last used keyboard, and says "no MIDI input
available" where there is no MIDI system at all. The rtmidi class is injectable: ``FakeMidiSystem`` stands in for
it in tests and benchmarks and drives the same callback path.
"""
from __future__ import annotations

import ctypes
import re
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from ..core.song import CHANNEL_PRESSURE, MOD_WHEEL, PITCH_BEND
from .recorder import ChordExpander, DeviceLost, NoteOff, NoteOn, PitchBend, Sustain, Control, decode

NO_MIDI = "No MIDI input"
QUEUE_SIZE_LIMIT = 4096     # rtmidi's input ring buffer (RtMidi's own default is 100 messages)
CLIENT_NAME = "DeepComposer Desktop"
ALL_OFF_CONTROLS = frozenset({120, 123})                # All Sound Off, All Notes Off
PANIC_CONTROLS = ALL_OFF_CONTROLS | {121}               # ... and Reset All Controllers: a keyboard's panic button
WHEELS = frozenset({MOD_WHEEL, CHANNEL_PRESSURE})       # controllers put back to 0 when the keyboard lets go


class MidiUnavailable(OSError):
    """There is no usable MIDI system (no ALSA sequencer, no CoreMIDI...) or a port cannot be opened. The message is
    in plain words; ``detail`` holds the MIDI library's own text (for a tooltip), or ""."""

    detail = ""


def _no_midi(raw: str) -> MidiUnavailable:
    """"No MIDI input: <why in words>", with rtmidi's text (e.g. "MidiInAlsa::initialize: error creating ALSA
    sequencer client object.") kept as the error's ``detail``."""
    raw = str(raw).strip()
    low = raw.lower()
    if "alsa" in low and "sequencer" in low:
        why = "the ALSA sequencer is not available on this system"
    elif "rtmidi" in low and ("no module" in low or "not installed" in low):
        why = "python-rtmidi is not installed"
    else:
        why = raw or "the MIDI system did not answer"
    err = MidiUnavailable(f"{NO_MIDI}: {why}")
    err.detail = raw
    return err


# --- notices the manager queues next to input events (read on the GUI thread) ----------------------------------

@dataclass(frozen=True, slots=True)
class PortsChanged:
    ports: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PortOpened:
    port: str
    reconnected: bool = False


@dataclass(frozen=True, slots=True)
class Problem:
    message: str


def stable_name(port: str, platform: str = sys.platform) -> str:
    """A port name without the numbers that change when a keyboard is plugged in again: ALSA's client:port
    ("Keystation 49:Keystation 49 MIDI 1 20:0" -> "Keystation 49:Keystation 49 MIDI 1"), Windows' port index
    ("Keystation 49 1" -> "Keystation 49")."""
    port = re.sub(r"\s+\d+:\d+$", "", port)
    if platform == "win32":
        port = re.sub(r"\s+\d+$", "", port)
    return port


def is_thru_port(port: str) -> bool:
    """ALSA's always-present "Midi Through" port: listed, but never opened automatically."""
    return "midi through" in port.lower()


_alsa_handler = None


def quiet_alsa() -> None:
    """Stop libasound printing its errors (e.g. "open /dev/snd/seq failed") to stderr; we report them ourselves."""
    global _alsa_handler
    if _alsa_handler is not None:
        return
    proto = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)
    _alsa_handler = proto(lambda *args: None)
    try:
        ctypes.CDLL("libasound.so.2").snd_lib_error_set_handler(_alsa_handler)
    except (OSError, AttributeError):
        pass


def _rtmidi_factory():
    try:
        import rtmidi
    except ImportError as exc:
        raise _no_midi(f"python-rtmidi is not installed: {exc}") from None

    def make(queue_size_limit: int = QUEUE_SIZE_LIMIT):
        return rtmidi.MidiIn(rtmidi.API_UNSPECIFIED, CLIENT_NAME, queue_size_limit=queue_size_limit)
    return make


class PortBackend:
    """Ports through an rtmidi-like class: ``factory(queue_size_limit=N)`` returns an object with ``get_ports``,
    ``open_port``, ``ignore_types``, ``set_callback``, ``cancel_callback``, ``close_port`` and ``delete`` (that is
    ``rtmidi.MidiIn``, or ``FakeMidiSystem.factory``). Methods run on the GUI (owner) thread."""

    def __init__(self, factory=None, queue_size_limit: int = QUEUE_SIZE_LIMIT) -> None:
        self._factory = factory
        self.queue_size_limit = queue_size_limit
        self._lister = None

    def _make(self):
        if self._factory is None:
            quiet_alsa()
            self._factory = _rtmidi_factory()
        try:
            return self._factory(queue_size_limit=self.queue_size_limit)
        except OSError as exc:   # rtmidi.SystemError: "error creating ALSA sequencer client object"
            raise _no_midi(str(exc).strip() or type(exc).__name__) from None

    def list_ports(self) -> list[str]:
        """Input port names now. Raises MidiUnavailable when there is no MIDI system."""
        if self._lister is None:
            self._lister = self._make()
        try:
            return list(self._lister.get_ports())
        except OSError as exc:
            self._lister = None
            raise _no_midi(str(exc)) from None

    def open(self, port: str, callback: Callable):
        """Open ``port`` (by its listed name) with ``callback((message, delta), data)``; returns the handle to pass
        to ``close``. Raises MidiUnavailable if it is not there or cannot be opened."""
        midi_in = self._make()
        try:
            ports = list(midi_in.get_ports())
            want = stable_name(port)
            index = next((i for i, p in enumerate(ports) if p == port), None)
            if index is None:
                index = next((i for i, p in enumerate(ports) if stable_name(p) == want), None)
            if index is None:
                raise MidiUnavailable(f"MIDI input {want!r} is not connected")
            midi_in.ignore_types(sysex=True, timing=True, active_sense=True)
            midi_in.set_callback(callback)
            midi_in.open_port(index, "DeepComposer input")
        except OSError as exc:
            self.close(midi_in)
            raise MidiUnavailable(str(exc) if isinstance(exc, MidiUnavailable)
                                  else f"Cannot open MIDI input {port!r}: {exc}") from None
        return midi_in

    @staticmethod
    def close(midi_in) -> None:
        """Clear the callback first (closing a port with a callback set can crash), then close and free it."""
        for step in ("cancel_callback", "close_port", "delete"):
            try:
                getattr(midi_in, step)()
            except Exception:       # already closed / gone with its device: nothing left to release
                pass


# --- the live sink ----------------------------------------------------------------------------------------------

class EngineSink:
    """Plays live input on the audio engine's selected track: ``engine.live_note_on/live_note_off/set_sustain``;
    pitch bend and other controllers (the mod wheel) go to ``live_pitch_bend(value, track)`` /
    ``live_control(cc, value, track)`` when the engine has them. ``engine`` is the engine, or a function returning
    the current one (so a window that swaps engines needs no re-wiring). ``track_index`` may be changed from the
    GUI thread at any time: a key or the pedal held meanwhile is released on the track it went down on (the sink
    remembers where each note and the pedal went), and a pedal still down holds the new track's notes too. A
    panic controller (All Notes Off, All Sound Off) calls ``all_live_notes_off`` when the engine has it.
    Called on the MIDI callback thread (by ``MidiInputManager``, under its lock)."""

    def __init__(self, engine, track_index: int = 0) -> None:
        if callable(engine) and not hasattr(engine, "live_note_on"):
            self._get = engine
        else:
            self._get = lambda: engine
        self.track_index = track_index
        self._held: dict[int, int] = {}       # sounding pitch -> the track its note-on went to
        self._pedal: set[int] = set()         # the tracks the pedal went down on
        self._engine = None                   # the engine the last event went to

    def __call__(self, ev) -> None:
        engine, kind, track = self._get(), type(ev), self.track_index
        if engine is None:
            return
        if engine is not self._engine:        # a new engine (Settings): a pedal still down holds its notes too
            for down in self._pedal:
                engine.set_sustain(True, down)
            self._engine = engine
        if kind is NoteOn:
            was = self._held.get(ev.pitch)
            if was is not None and was != track:      # struck again after a track change: the old one stops
                engine.live_note_off(ev.pitch, was)
            if self._pedal and track not in self._pedal:
                engine.set_sustain(True, track)
                self._pedal.add(track)
            engine.live_note_on(ev.pitch, ev.velocity, track)
            self._held[ev.pitch] = track
        elif kind is NoteOff:
            engine.live_note_off(ev.pitch, self._held.pop(ev.pitch, track))
        elif kind is Sustain:
            engine.set_sustain(ev.on, track)
            if ev.on:
                self._pedal.add(track)
                return
            for other in self._pedal:
                if other != track:
                    engine.set_sustain(False, other)
            self._pedal.clear()
        elif kind is PitchBend:
            bend = getattr(engine, "live_pitch_bend", None)
            if bend is not None:
                bend(ev.value, track)
        elif kind is Control:
            all_off = getattr(engine, "all_live_notes_off", None) if ev.number in ALL_OFF_CONTROLS else None
            control = getattr(engine, "live_control", None)
            if all_off is not None:
                all_off()
                self._held.clear()
                self._pedal.clear()
            elif control is not None:
                control(ev.number, ev.value, track)


# --- the manager ------------------------------------------------------------------------------------------------

class MidiInputManager:
    """One open MIDI input at a time, its queue of timestamped events, and the port list.

    Threads: ``_callback`` runs on rtmidi's input thread (timestamp, decode, chord mode, queue, sink; it never
    touches the Song or Qt); a panic controller (CC 120, 121, 123) lets go of every held key, the pedal and the
    wheels, as an unplugged keyboard does. Everything else — ``refresh``, ``open``, ``close``, ``drain``,
    ``set_chord_table``, the ``sink`` attribute — belongs to one owner thread (the GUI thread, or the CLI's main
    thread).
    """

    def __init__(self, backend: PortBackend | None = None, sink: Callable | None = None,
                 last_port: str | None = None, clock: Callable[[], float] = time.perf_counter,
                 retry_unavailable_sec: float = 10.0, max_queued: int = 65536) -> None:
        self.backend = backend or PortBackend()
        self.sink = sink
        self.clock = clock
        self.last_port = last_port      # None: never chosen (open the first keyboard seen); "": chosen none
        self.ports: tuple[str, ...] = ()
        self.current: str | None = None
        self.available = True
        self.problem = ""
        self.sink_errors = 0
        self.retry_unavailable_sec = retry_unavailable_sec
        self._handle = None
        self._queue: deque = deque(maxlen=max_queued)
        self._chords = ChordExpander(None)
        self._lock = threading.Lock()   # held by the callback and by whoever changes chord/held-note state
        self._next_try = 0.0
        self._open_failed = False       # auto-open of a listed port failed: not retried until the list changes
        self._wheels: dict[int, int] = {}   # PITCH_BEND / MOD_WHEEL / CHANNEL_PRESSURE -> last value (under _lock)

    # -- rtmidi's thread --
    def _callback(self, event, data=None) -> None:
        now = self.clock()
        ev = decode(event[0], now)
        if ev is None:
            return
        kind = type(ev)
        with self._lock:
            if kind is NoteOn:
                out = [NoteOn(now, p, ev.velocity, ev.channel) for p in self._chords.press(ev.pitch, ev.channel)]
            elif kind is NoteOff:
                out = [NoteOff(now, p, ev.channel) for p in self._chords.release(ev.pitch, ev.channel)]
            elif kind is Control and ev.number in PANIC_CONTROLS:     # panic: let go of everything, then pass it on
                out = self._off_events(now)
                out.append(ev)
            else:
                if kind is PitchBend:
                    self._wheels[PITCH_BEND] = ev.value
                elif kind is Control and ev.number in WHEELS:
                    self._wheels[ev.number] = ev.value
                out = (ev,)
            self._emit(out)

    def _off_events(self, now: float) -> list:
        """Events that let go of what the keyboard holds: its notes, the pedal, and a moved pitch bend, mod wheel
        or aftertouch (back to rest). Forgets them. Called under ``_lock``."""
        events = [NoteOff(now, p) for p in self._chords.release_all()] + [Sustain(now, False)]
        for number, value in self._wheels.items():
            if value:
                events.append(PitchBend(now, 0) if number == PITCH_BEND else Control(now, number, 0))
        self._wheels.clear()
        return events

    def _emit(self, events) -> None:
        sink = self.sink
        for ev in events:
            self._queue.append(ev)
            if sink is not None:
                try:
                    sink(ev)
                except Exception as exc:      # a broken synth must not kill MIDI input
                    self.sink_errors += 1
                    if self.sink_errors == 1:
                        self._queue.append(Problem(f"Live playing failed: {exc}"))

    # -- owner thread --
    def set_chord_table(self, table) -> None:
        """Chord mode on (a ``recorder.chord_table(key)``) or off (None). Held keys release what they started."""
        with self._lock:
            self._chords.table = table

    def refresh(self) -> list:
        """Poll the port list (call about once a second): notices a new or vanished port, reconnects the last
        used one, and reports a vanished open port as ``DeviceLost`` (after switching its notes off). A listed
        port that cannot be opened is reported once, and tried again only when the port list changes.
        Returns the notices, which are also queued for ``drain``."""
        notices: list = []
        if not self.available and self.clock() < self._next_try:
            return notices
        try:
            ports = tuple(self.backend.list_ports())
        except MidiUnavailable as exc:
            if self.available or self.ports:
                self.available, self.problem = False, str(exc)
                if self.current is not None:
                    notices.append(self._lose_current())
                self.ports = ()
                notices += [PortsChanged(()), Problem(self.problem)]
            self._next_try = self.clock() + self.retry_unavailable_sec
            self._queue.extend(notices)
            return notices
        self.available, self.problem = True, ""
        if ports != self.ports:
            self.ports = ports
            self._open_failed = False
            notices.append(PortsChanged(ports))
        names = {stable_name(p) for p in ports}
        if self.current is not None and stable_name(self.current) not in names:
            notices.append(self._lose_current())
        if self.current is None and not self._open_failed:
            target = self._auto_target(ports)
            if target is not None:
                try:
                    self._open(target)
                    notices.append(PortOpened(target, reconnected=bool(self.last_port)))
                    self.last_port = stable_name(target)
                except MidiUnavailable as exc:      # busy or broken: said once, tried again when the ports change
                    self._open_failed = True
                    notices.append(Problem(str(exc)))
        self._queue.extend(notices)
        return notices

    def _auto_target(self, ports) -> str | None:
        if self.last_port:
            want = stable_name(self.last_port)
            return next((p for p in ports if stable_name(p) == want), None)
        if self.last_port is None:
            return next((p for p in ports if not is_thru_port(p)), None)
        return None

    def open(self, port: str | None) -> None:
        """Switch to ``port`` (a listed name, or one without ALSA's numbers) and remember it as the last used; None
        closes the input and remembers that no keyboard is wanted. Raises MidiUnavailable if it cannot be opened."""
        self.close()
        if port is None:
            self.last_port = ""
            return
        if port not in self.ports:          # a remembered (stable) name: use the name listed now
            port = next((p for p in self.ports if stable_name(p) == stable_name(port)), port)
        self._open(port)
        self.last_port = stable_name(port)
        self._queue.append(PortOpened(port))

    def _open(self, port: str) -> None:
        self._handle = self.backend.open(port, self._callback)
        self.current = port

    def close(self) -> None:
        """Close the open input (callback cleared first) and switch off any note it left sounding, its pedal, and
        a pitch bend, mod wheel or aftertouch it left moved."""
        handle, self._handle, self.current = self._handle, None, None
        if handle is not None:
            self.backend.close(handle)
            self._all_off(self.clock())

    def _lose_current(self) -> DeviceLost:
        lost = DeviceLost(self.clock(), self.current)
        self.close()
        self._queue.append(Problem(f"MIDI keyboard {stable_name(lost.port)!r} was disconnected"))
        return lost

    def _all_off(self, now: float) -> None:
        with self._lock:
            self._emit(self._off_events(now))

    def drain(self) -> list:
        """Everything queued since the last drain, oldest first (input events and notices)."""
        q, out = self._queue, []
        while True:
            try:
                out.append(q.popleft())
            except IndexError:
                return out

    def shutdown(self) -> None:
        """Close the port and the port lister (call before the app exits)."""
        self.close()
        lister, self.backend._lister = getattr(self.backend, "_lister", None), None
        if lister is not None:
            self.backend.close(lister)


# --- a stand-in for rtmidi ---------------------------------------------------------------------------------------

class FakeMidiSystem:
    """An in-memory MIDI system with the ``rtmidi.MidiIn`` interface, for tests, benchmarks and demos.

    ``plug(name)`` / ``unplug(name)`` change the port list (an unplugged port stays "open" but falls silent, as
    with rtmidi); ``send(name, [0x90, 60, 100])`` delivers a message to whoever opened the port, through the
    callback it registered, on the calling thread; ``broken = True`` makes every ``MidiIn`` fail like rtmidi on
    a machine without an ALSA sequencer. ``calls`` records the calls made (to check the close order).
    """

    def __init__(self, ports=(), broken: bool = False) -> None:
        self.ports = list(ports)
        self.broken = broken
        self.opened: dict[str, "FakeMidiIn"] = {}
        self.calls: list[tuple] = []

    def factory(self, queue_size_limit: int = 100) -> "FakeMidiIn":
        if self.broken:
            raise OSError("MidiInAlsa::initialize: error creating ALSA sequencer client object.")
        return FakeMidiIn(self, queue_size_limit)

    def plug(self, name: str) -> None:
        self.ports.append(name)

    def unplug(self, name: str) -> None:
        self.ports.remove(name)

    def send(self, name: str, message, delta: float = 0.0) -> bool:
        """Deliver ``message`` as rtmidi would; False if nobody listens on ``name`` (or it is unplugged)."""
        midi_in = self.opened.get(name)
        if midi_in is None or name not in self.ports or midi_in.callback is None:
            return False
        midi_in.callback((list(message), delta), midi_in.data)
        return True


class FakeMidiIn:
    def __init__(self, system: FakeMidiSystem, queue_size_limit: int) -> None:
        self.system = system
        self.queue_size_limit = queue_size_limit
        self.callback = None
        self.data = None
        self.port: str | None = None

    def get_ports(self) -> list[str]:
        if self.system.broken:
            raise OSError("MidiInAlsa::getPortCount: error creating ALSA sequencer client object.")
        return list(self.system.ports)

    def ignore_types(self, sysex=True, timing=True, active_sense=True) -> None:
        self.system.calls.append(("ignore_types", sysex, timing, active_sense))

    def set_callback(self, func, data=None) -> None:
        self.callback, self.data = func, data
        self.system.calls.append(("set_callback", self.port))

    def cancel_callback(self) -> None:
        self.callback = None
        self.system.calls.append(("cancel_callback", self.port))

    def open_port(self, index: int, name: str = "") -> None:
        self.port = self.system.ports[index]
        self.system.opened[self.port] = self
        self.system.calls.append(("open_port", self.port))

    def close_port(self) -> None:
        self.system.calls.append(("close_port", self.port, self.callback is None))
        if self.port is not None and self.system.opened.get(self.port) is self:
            del self.system.opened[self.port]
        self.port = None

    def delete(self) -> None:
        self.system.calls.append(("delete",))
