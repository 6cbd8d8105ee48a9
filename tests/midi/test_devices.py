"""MidiInputManager through the same rtmidi callback path, with FakeMidiSystem standing in for rtmidi."""
import itertools

import pytest

from deepcomposer_desktop.midi.devices import (NO_MIDI, QUEUE_SIZE_LIMIT, EngineSink, FakeMidiSystem,
                                               MidiInputManager, MidiUnavailable, PortBackend, PortOpened,
                                               PortsChanged, Problem, stable_name)
from deepcomposer_desktop.midi.recorder import (Control, DeviceLost, NoteOff, NoteOn, PitchBend, Sustain,
                                                TakeRecorder, chord_table)
from deepcomposer_desktop.core.song import Song, Track

KEYS = "Keystation 49:Keystation 49 MIDI 1 20:0"
THRU = "Midi Through:Midi Through Port-0 14:0"


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class RecordingEngine:
    """Has the audio engine's live methods; records every call."""

    def __init__(self):
        self.calls = []

    def live_note_on(self, pitch, velocity, track_index):
        self.calls.append(("on", pitch, velocity, track_index))

    def live_note_off(self, pitch, track_index):
        self.calls.append(("off", pitch, track_index))

    def set_sustain(self, on, track_index):
        self.calls.append(("sustain", on, track_index))

    def live_pitch_bend(self, value, track_index):
        self.calls.append(("bend", value, track_index))

    def live_control(self, number, value, track_index):
        self.calls.append(("cc", number, value, track_index))


def make(ports=(KEYS,), last_port=None, sink=None):
    system = FakeMidiSystem(list(ports))
    clock = FakeClock()
    mgr = MidiInputManager(PortBackend(system.factory), sink=sink, last_port=last_port, clock=clock)
    return system, mgr, clock


def test_no_midi_system_is_reported_not_raised(capfd):
    system = FakeMidiSystem([KEYS], broken=True)
    mgr = MidiInputManager(PortBackend(system.factory))
    notices = mgr.refresh()
    assert not mgr.available and mgr.problem.startswith(NO_MIDI)
    assert PortsChanged(()) in notices and any(isinstance(n, Problem) for n in notices)
    assert mgr.refresh() == []                      # no repeated message while retrying later
    with pytest.raises(MidiUnavailable):
        mgr.open(KEYS)


def test_real_rtmidi_without_alsa_sequencer_says_no_midi(capfd):
    """On this machine rtmidi raises rtmidi.SystemError (an OSError); elsewhere there may be real ports."""
    mgr = MidiInputManager(last_port="")            # list only: never grab a developer's keyboard
    mgr.refresh()
    if not mgr.available:
        assert mgr.problem.startswith(NO_MIDI) and mgr.ports == ()
    else:
        assert isinstance(mgr.ports, tuple)
    mgr.shutdown()


def test_opens_first_keyboard_with_large_queue_and_forwards_notes():
    engine = RecordingEngine()
    sink = EngineSink(engine, track_index=2)
    system, mgr, clock = make(ports=(THRU, KEYS), sink=sink)
    notices = mgr.refresh()
    assert PortOpened(KEYS) in notices and mgr.current == KEYS      # Midi Through is never auto-opened
    assert system.opened[KEYS].queue_size_limit == QUEUE_SIZE_LIMIT > 100
    assert ("ignore_types", True, True, True) in system.calls
    mgr.drain()
    clock.now = 1.5
    for msg in ([0x90, 60, 100], [0xB0, 64, 127], [0x80, 60, 0], [0x90, 62, 0], [0xE0, 0, 0x60],
                [0xB0, 1, 90], [0xB0, 64, 0], [0xF8]):
        assert system.send(KEYS, msg)
    assert engine.calls == [("on", 60, 100, 2), ("sustain", True, 2), ("off", 60, 2), ("off", 62, 2),
                            ("bend", 4096, 2), ("cc", 1, 90, 2), ("sustain", False, 2)]
    events = mgr.drain()
    assert events == [NoteOn(1.5, 60, 100), Sustain(1.5, True), NoteOff(1.5, 60), NoteOff(1.5, 62),
                      PitchBend(1.5, 4096), Control(1.5, 1, 90), Sustain(1.5, False)]
    assert mgr.drain() == []


def test_sink_without_pitch_bend_method_and_plain_callable_sink():
    class Minimal:
        def __init__(self):
            self.calls = []
        def live_note_on(self, p, v, t): self.calls.append(("on", p))
        def live_note_off(self, p, t): self.calls.append(("off", p))
        def set_sustain(self, on, t): self.calls.append(("sus", on))
    engine = Minimal()
    system, mgr, _ = make(sink=EngineSink(engine))
    mgr.refresh()
    system.send(KEYS, [0xE0, 0, 64])
    system.send(KEYS, [0x91, 64, 80])
    assert engine.calls == [("on", 64)]
    got = []
    mgr.sink = got.append
    system.send(KEYS, [0x81, 64, 0])
    assert got == [NoteOff(0.0, 64, 1)]


def test_failing_sink_does_not_stop_input():
    def bad(ev):
        raise RuntimeError("synth gone")
    system, mgr, _ = make(sink=bad)
    mgr.refresh()
    mgr.drain()
    system.send(KEYS, [0x90, 60, 100])
    system.send(KEYS, [0x80, 60, 0])
    events = mgr.drain()
    assert [type(e) for e in events] == [NoteOn, Problem, NoteOff] and mgr.sink_errors == 2


def test_new_port_is_noticed_and_vanished_port_is_lost_with_notes_switched_off():
    engine = RecordingEngine()
    system, mgr, clock = make(ports=(), sink=EngineSink(engine))
    assert mgr.refresh() == [] and mgr.current is None
    system.plug(KEYS)
    notices = mgr.refresh()
    assert notices == [PortsChanged((KEYS,)), PortOpened(KEYS)]
    system.send(KEYS, [0x90, 60, 100])
    system.send(KEYS, [0x90, 64, 100])
    system.send(KEYS, [0x80, 60, 0])
    engine.calls.clear()
    clock.now = 3.0
    system.unplug(KEYS)
    assert not system.send(KEYS, [0x90, 67, 100])          # rtmidi does not tell; the port falls silent
    notices = mgr.refresh()
    assert PortsChanged(()) in notices and DeviceLost(3.0, KEYS) in notices
    assert mgr.current is None
    assert ("off", 64, 0) in engine.calls and ("sustain", False, 0) in engine.calls    # no stuck note
    assert ("off", 60, 0) not in engine.calls
    # callback cleared before the port was closed
    closes = [c for c in system.calls if c[0] == "close_port"]
    assert closes and all(c[2] for c in closes)
    assert any(isinstance(e, Problem) and "disconnected" in e.message for e in mgr.drain())


def test_last_used_port_reconnects_with_new_alsa_numbers():
    system, mgr, _ = make(ports=(THRU, "Other:Other 24:0", KEYS))
    mgr.refresh()
    mgr.open(KEYS)
    assert mgr.last_port == stable_name(KEYS) == "Keystation 49:Keystation 49 MIDI 1"
    system.unplug(KEYS)
    mgr.refresh()
    assert mgr.current is None
    replugged = "Keystation 49:Keystation 49 MIDI 1 28:0"
    system.plug(replugged)
    notices = mgr.refresh()
    assert PortOpened(replugged, reconnected=True) in notices and mgr.current == replugged
    got = []
    mgr.sink = got.append
    system.send(replugged, [0x90, 72, 50])
    assert got == [NoteOn(0.0, 72, 50)]


def test_choosing_none_is_remembered_and_switching_closes_old_port():
    system, mgr, _ = make(ports=(KEYS, "Other:Other 24:0"), last_port="Other:Other")
    mgr.refresh()
    assert mgr.current == "Other:Other 24:0"
    mgr.open(KEYS)
    assert "Other:Other 24:0" not in system.opened and mgr.current == KEYS
    mgr.open(None)
    assert mgr.current is None and mgr.last_port == "" and system.opened == {}
    mgr.refresh()
    assert mgr.current is None                               # not reopened behind the user's back
    with pytest.raises(MidiUnavailable, match="not connected"):
        mgr.open("Gone:Gone 30:0")


def test_midi_system_vanishing_while_open_loses_device_and_recovers():
    system, mgr, clock = make()
    mgr.refresh()
    system.broken = True
    notices = mgr.refresh()
    assert any(isinstance(n, DeviceLost) for n in notices) and not mgr.available
    system.broken = False
    clock.now = 5.0
    assert mgr.refresh() == []                               # waits before retrying
    clock.now = 20.0
    notices = mgr.refresh()
    assert mgr.available and PortOpened(KEYS, reconnected=True) in notices


def test_chord_mode_plays_and_queues_triads():
    engine = RecordingEngine()
    system, mgr, _ = make(sink=EngineSink(engine))
    mgr.refresh()
    mgr.set_chord_table(chord_table("C"))
    system.send(KEYS, [0x90, 60, 100])            # C -> C E G
    system.send(KEYS, [0x90, 64, 90])             # E -> E G B: E and G already sound
    system.send(KEYS, [0x80, 60, 0])              # C released: only C stops
    assert [c[:2] for c in engine.calls] == [("on", 60), ("on", 64), ("on", 67), ("on", 71), ("off", 60)]
    mgr.set_chord_table(None)
    system.send(KEYS, [0x80, 64, 0])              # still releases what E started
    assert sorted(c[1] for c in engine.calls[5:]) == [64, 67, 71]
    system.send(KEYS, [0x90, 62, 100])
    assert engine.calls[-1] == ("on", 62, 100, 0)


def test_unplug_during_recording_keeps_the_take_so_far():
    song = Song(tracks=(Track("Melody"),))           # 120 BPM, 480 ppq: one tick = 1/960 s
    system, mgr, clock = make()
    mgr.refresh()
    mgr.drain()
    rec = TakeRecorder(song, start_tick=0, start_sec=10.0)
    for t, msg in ((10.0, [0x90, 60, 100]), (10.5, [0x80, 60, 0]), (10.5, [0x90, 62, 90])):
        clock.now = t
        system.send(KEYS, msg)
    assert rec.feed(mgr.drain()) is None
    clock.now = 11.0
    system.unplug(KEYS)
    mgr.refresh()
    result = rec.feed(mgr.drain())
    assert result is not None and result.reason == "device lost" and rec.finished
    (take,) = result.takes
    assert [(n.pitch, n.start_tick, n.duration_tick, n.velocity) for n in take.notes] == \
        [(60, 0, 480, 100), (62, 480, 480, 90)]


def test_open_by_remembered_name_uses_the_listed_port():
    system, mgr, _ = make(ports=(KEYS,), last_port="")
    mgr.refresh()
    mgr.open("Keystation 49:Keystation 49 MIDI 1")
    assert mgr.current == KEYS and KEYS in system.opened


def test_stable_names():
    assert stable_name(KEYS, "linux") == "Keystation 49:Keystation 49 MIDI 1"
    assert stable_name("Keystation 49 1", "win32") == "Keystation 49"
    assert stable_name("Keystation 49 1", "linux") == "Keystation 49 1"
    assert stable_name("IAC Driver Bus 1", "darwin") == "IAC Driver Bus 1"


def test_notes_and_the_pedal_are_released_on_the_track_they_went_down_on():
    engine = RecordingEngine()
    sink = EngineSink(engine, track_index=0)
    system, mgr, _ = make(sink=sink)
    mgr.refresh()
    system.send(KEYS, [0xB0, 64, 127])
    system.send(KEYS, [0x90, 60, 100])
    sink.track_index = 1                           # the input track changes while the key and the pedal are down
    system.send(KEYS, [0x90, 62, 100])             # a new key: on the new track, held by the pedal there too
    system.send(KEYS, [0x80, 60, 0])
    system.send(KEYS, [0x80, 62, 0])
    system.send(KEYS, [0xB0, 64, 0])
    assert engine.calls == [("sustain", True, 0), ("on", 60, 100, 0),
                            ("sustain", True, 1), ("on", 62, 100, 1),
                            ("off", 60, 0), ("off", 62, 1),
                            ("sustain", False, 1), ("sustain", False, 0)]
    engine.calls.clear()
    system.send(KEYS, [0x90, 64, 100])             # struck again after a change: the old track's note stops
    sink.track_index = 2
    system.send(KEYS, [0x90, 64, 90])
    system.send(KEYS, [0x80, 64, 0])
    assert engine.calls == [("on", 64, 100, 1), ("off", 64, 1), ("on", 64, 90, 2), ("off", 64, 2)]


def test_a_pedal_held_while_the_engine_is_replaced_holds_the_new_engine_s_notes():
    engines = [RecordingEngine()]
    sink = EngineSink(lambda: engines[-1], track_index=0)
    system, mgr, _ = make(sink=sink)
    mgr.refresh()
    system.send(KEYS, [0xB0, 64, 127])
    engines.append(RecordingEngine())              # Settings: another soundfont, a new engine
    system.send(KEYS, [0x90, 60, 100])
    system.send(KEYS, [0xB0, 64, 0])
    assert engines[-1].calls == [("sustain", True, 0), ("on", 60, 100, 0), ("sustain", False, 0)]


def test_unplug_and_port_switch_put_the_bend_mod_wheel_and_aftertouch_back_at_rest():
    engine = RecordingEngine()
    other = "Other:Other 24:0"
    system, mgr, clock = make(ports=(KEYS, other), sink=EngineSink(engine))
    mgr.refresh()
    for msg in ([0xE0, 0, 0x70], [0xB0, 1, 100], [0xD0, 80]):
        system.send(KEYS, msg)
    mgr.drain()
    engine.calls.clear()
    clock.now = 2.0
    mgr.open(other)                                # switched in the settings while bent
    assert engine.calls == [("sustain", False, 0), ("bend", 0, 0), ("cc", 1, 0, 0), ("cc", 129, 0, 0)]
    assert mgr.drain()[:4] == [Sustain(2.0, False), PitchBend(2.0, 0), Control(2.0, 1, 0), Control(2.0, 129, 0)]
    system.send(other, [0xE0, 0, 0x10])
    system.send(other, [0xB0, 1, 0])              # the mod wheel is already down: not sent again
    engine.calls.clear()
    system.unplug(other)
    mgr.refresh()
    assert engine.calls == [("sustain", False, 0), ("bend", 0, 0)]


def test_panic_controllers_let_go_of_held_keys_the_pedal_and_the_wheels():
    engine = RecordingEngine()
    system, mgr, clock = make(sink=EngineSink(engine))
    mgr.refresh()
    for msg in ([0xB0, 64, 127], [0x90, 60, 100], [0x90, 64, 100], [0xE0, 0, 0x70]):
        system.send(KEYS, msg)
    mgr.drain()
    clock.now = 1.0
    system.send(KEYS, [0xB0, 123, 0])              # All Notes Off: the keyboard sends no note-offs
    assert mgr.drain() == [NoteOff(1.0, 60), NoteOff(1.0, 64), Sustain(1.0, False), PitchBend(1.0, 0),
                           Control(1.0, 123, 0)]
    system.send(KEYS, [0x80, 60, 0])               # a late note-off just passes through
    system.send(KEYS, [0x90, 60, 100])             # the key is free again: struck, not a repeat
    system.send(KEYS, [0xB0, 121, 0])              # Reset All Controllers
    assert mgr.drain() == [NoteOff(1.0, 60), NoteOn(1.0, 60, 100), NoteOff(1.0, 60), Sustain(1.0, False),
                           Control(1.0, 121, 0)]
    for number in (120, 123):                      # nothing held: only the pedal up and the panic itself
        system.send(KEYS, [0xB0, number, 0])
        assert mgr.drain() == [Sustain(1.0, False), Control(1.0, number, 0)]
    assert ("cc", 121, 0, 0) in engine.calls        # an engine without all_live_notes_off gets them passed on
    assert engine.calls[-1] == ("cc", 123, 0, 0)


def test_malformed_data_bytes_are_dropped_not_masked():
    engine = RecordingEngine()
    system, mgr, _ = make(sink=EngineSink(engine))
    mgr.refresh()
    mgr.drain()
    for msg in ([0x90, 200, 100], [0x90, 62, 128], [0x90, 63, 255], [0xB0, 64, 200], [0xE0, 0, 0x80]):
        system.send(KEYS, msg)
    assert engine.calls == [] and mgr.drain() == []


def test_a_key_held_on_several_channels_sounds_once_and_is_recorded_once():
    song = Song(tracks=(Track("Melody"),))
    engine = RecordingEngine()
    system, mgr, clock = make(sink=EngineSink(engine))
    mgr.refresh()
    mgr.drain()
    rec = TakeRecorder(song, start_tick=0, start_sec=0.0)
    for ch in range(16):                           # a layered controller: the same key on every channel
        system.send(KEYS, [0x90 | ch, 65, 70])
    clock.now = 0.5
    for ch in range(16):
        system.send(KEYS, [0x80 | ch, 65, 0])
    assert engine.calls == [("on", 65, 70, 0), ("off", 65, 0)]
    rec.feed(mgr.drain())
    (take,) = rec.stop(1.0).takes
    assert [(n.pitch, n.start_tick, n.duration_tick) for n in take.notes] == [(65, 0, 480)]


def test_a_port_that_cannot_be_opened_is_not_retried_every_poll():
    from deepcomposer_desktop.midi.devices import FakeMidiIn

    class BusyMidiIn(FakeMidiIn):
        def open_port(self, index, name=""):
            raise OSError("MidiInWinMM::openPort: error creating Windows MM MIDI input port.")

    system = FakeMidiSystem([KEYS])
    made = []

    def factory(queue_size_limit=100):
        made.append(BusyMidiIn(system, queue_size_limit))
        return made[-1]
    mgr = MidiInputManager(PortBackend(factory))
    problems = [n for n in mgr.refresh() if isinstance(n, Problem)]
    assert len(problems) == 1 and "Cannot open MIDI input" in problems[0].message and mgr.current is None
    for _ in range(5):                             # one poll a second: no new client, no repeated message
        assert mgr.refresh() == []
    assert len(made) == 2                          # the port lister and the one failed try
    system.plug("Other:Other 24:0")                # the port list changed: worth another try
    notices = mgr.refresh()
    assert any(isinstance(n, Problem) for n in notices) and len(made) == 3
    assert mgr.refresh() == []
