"""MIDI input figures: time from a message arriving in the rtmidi callback to the synth call returning.

Messages are sent from a background thread (as rtmidi's input thread does) through ``FakeMidiSystem`` and the
manager's real callback path; the sink is a FluidSynth ``Synth`` when one can be made, else a recording stub.
Measured idle and while another Python thread keeps the interpreter busy (the GIL is shared with the GUI), with
Python's default 5 ms thread switch interval and with 1 ms.
With a working MIDI system (not on a machine without an ALSA sequencer) a virtual-port loopback through real
rtmidi is measured too.
"""
from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

from . import Figure

GOAL_MEDIAN, GOAL_P99 = "<= 1 ms", "<= 3 ms"


class _TimedSink:
    """Stands in for the audio engine: calls ``play(pitch, velocity)`` and records when the call returned."""

    def __init__(self, play=None, off=None) -> None:
        self._play = play or (lambda p, v: None)
        self._off = off or (lambda p: None)
        self.sent_at = 0.0
        self.delays: list[float] = []

    def live_note_on(self, pitch, velocity, track_index) -> None:
        self._play(pitch, velocity)
        self.delays.append(time.perf_counter() - self.sent_at)

    def live_note_off(self, pitch, track_index) -> None:
        self._off(pitch)

    def set_sustain(self, on, track_index) -> None:
        pass


def _make_synth():
    try:
        from ..audio.soundfont import find_soundfont
        from ..audio.synth import Synth, SynthError
    except ImportError:
        return None, "audio package not available"
    small = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
    font = small if small.exists() else find_soundfont()[0]
    if font is None:
        return None, "no soundfont"
    try:
        synth = Synth(str(font), samplerate=48000)
        synth.setup_channel(0, 0)
        return synth, ""
    except (SynthError, OSError) as exc:
        return None, str(exc)


def _busy(stop: threading.Event) -> None:
    x = 0
    while not stop.is_set():
        for i in range(2000):
            x += i * i


def _measure(sink: _TimedSink, n: int, busy: bool, render=None) -> list[float]:
    from ..midi.devices import EngineSink, FakeMidiSystem, MidiInputManager, PortBackend
    port = "Bench:Bench 1 20:0"
    system = FakeMidiSystem([port])
    mgr = MidiInputManager(PortBackend(system.factory), sink=EngineSink(sink), last_port=port)
    mgr.refresh()
    sink.delays = []
    stop = threading.Event()
    helper = threading.Thread(target=_busy, args=(stop,), daemon=True) if busy else None
    if helper:
        helper.start()

    def sender() -> None:
        for i in range(n):
            pitch = 48 + i % 24
            sink.sent_at = time.perf_counter()
            system.send(port, [0x90, pitch, 100])
            system.send(port, [0x80, pitch, 0])
            time.sleep(0.001)

    t = threading.Thread(target=sender)
    t.start()
    while t.is_alive():          # the GUI's drain timer (and the synth rendering 10 ms of audio)
        mgr.drain()
        if render is not None:
            render()
        time.sleep(0.01)
    t.join()
    stop.set()
    if helper:
        helper.join()
    mgr.drain()
    mgr.shutdown()
    return sink.delays


def _loopback(n: int) -> list[float] | None:
    """Real rtmidi: a virtual output port looped into the manager's input. None where rtmidi cannot run."""
    try:
        import rtmidi

        from ..midi.devices import MidiInputManager, quiet_alsa
        quiet_alsa()
        out = rtmidi.MidiOut()
        out.open_virtual_port("DeepComposer bench")
    except Exception:
        return None
    sink = _TimedSink()
    from ..midi.devices import EngineSink
    mgr = MidiInputManager(sink=EngineSink(sink), last_port="")
    try:
        mgr.refresh()
        port = next((p for p in mgr.ports if "DeepComposer bench" in p), None)
        if port is None:
            return None
        mgr.open(port)
        for i in range(n):
            sink.sent_at = time.perf_counter()
            out.send_message([0x90, 60, 100])
            out.send_message([0x80, 60, 0])
            time.sleep(0.002)
        time.sleep(0.05)
        return sink.delays
    finally:
        mgr.shutdown()
        out.close_port()
        out.delete()


def _figures(label: str, delays: list[float]) -> list[Figure]:
    if not delays:
        return [Figure(f"{label}: no notes arrived", 0.0, "")]
    ms = sorted(d * 1000.0 for d in delays)
    p99 = ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))]
    return [Figure(f"{label}, median of {len(ms)}", statistics.median(ms), "ms", GOAL_MEDIAN),
            Figure(f"{label}, p99", p99, "ms", GOAL_P99)]


def run(quick: bool) -> list[Figure]:
    n = 200 if quick else 2000
    synth, why = _make_synth()
    render = None
    if synth is not None:
        import numpy as np
        buf = np.zeros((480, 2), dtype=np.float32)

        def render() -> None:
            synth.write_float(buf, 0, 480)

        sink = _TimedSink(lambda p, v: synth.noteon(0, p, v), lambda p: synth.noteoff(0, p))
        target = "callback->FluidSynth"
    else:
        sink = _TimedSink()
        target = "callback->stub synth"
    figures = [] if synth is not None else [Figure(f"(no FluidSynth: {why})", 0.0, "")]
    old_switch = sys.getswitchinterval()
    try:
        figures += _figures(f"{target}, idle", _measure(sink, n, busy=False, render=render))
        figures += _figures(f"{target}, busy thread", _measure(sink, n, busy=True, render=render))
        sys.setswitchinterval(0.001)
        figures += _figures(f"{target}, busy, switch 1 ms", _measure(sink, n, busy=True, render=render))
    finally:
        sys.setswitchinterval(old_switch)
        if synth is not None:
            synth.close()
    loop = _loopback(n // 4)
    if loop is None:
        figures.append(Figure("rtmidi loopback (no MIDI system here: skipped)", 0.0, ""))
    else:
        figures += _figures("rtmidi virtual port->stub synth", loop)
    return figures
