"""The Qt edge of MIDI input: signals from injected messages, the menu, remembered port, recording, unplugging."""
import pytest
from PySide6.QtCore import QSettings

from deepcomposer_desktop.core.song import Song, TempoChange, Track
from deepcomposer_desktop.midi.devices import FakeMidiSystem, MidiInputManager, PortBackend
from deepcomposer_desktop.midi.recorder import InputQuantize
from deepcomposer_desktop.ui.midi_input import SETTINGS_KEY, MidiInput, build_midi_menu

KEYS = "Keystation 49:Keystation 49 MIDI 1 20:0"
OTHER = "Launchkey:Launchkey MIDI 1 24:0"


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


class Engine:
    def __init__(self):
        self.calls = []

    def live_note_on(self, p, v, t):
        self.calls.append(("on", p, v, t))

    def live_note_off(self, p, t):
        self.calls.append(("off", p, t))

    def set_sustain(self, on, t):
        self.calls.append(("sustain", on, t))


@pytest.fixture
def rig(qtbot, tmp_path):
    system = FakeMidiSystem([KEYS])
    clock = Clock()
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    engine = Engine()
    midi = MidiInput(manager=MidiInputManager(PortBackend(system.factory), clock=clock), settings=settings,
                     engine=engine, start=False)
    yield system, clock, settings, engine, midi
    midi.shutdown()


def test_messages_become_signals_and_sound_on_the_chosen_track(qtbot, rig):
    system, clock, settings, engine, midi = rig
    with qtbot.waitSignal(midi.port_changed) as opened:
        midi.poll()
    assert opened.args == [KEYS] and settings.value(SETTINGS_KEY) == "Keystation 49:Keystation 49 MIDI 1"
    midi.set_track(3)
    got = []
    midi.note_on.connect(lambda p, v: got.append(("on", p, v)))
    midi.note_off.connect(lambda p: got.append(("off", p)))
    midi.sustain.connect(lambda on: got.append(("sustain", on)))
    midi.control.connect(lambda cc, v: got.append(("cc", cc, v)))
    midi.pitch_bend.connect(lambda v: got.append(("bend", v)))
    for msg in ([0x90, 60, 99], [0xB0, 64, 127], [0x80, 60, 0], [0xB0, 1, 5], [0xE0, 0, 0]):
        system.send(KEYS, msg)
    assert engine.calls == [("on", 60, 99, 3), ("sustain", True, 3), ("off", 60, 3)]   # before any drain
    assert got == []
    midi.drain()
    assert got == [("on", 60, 99), ("sustain", True), ("off", 60), ("cc", 1, 5), ("bend", -8192)]


def test_timer_drains_the_queue(qtbot, rig):
    system, clock, settings, engine, midi = rig
    midi.start()
    system.send(KEYS, [0x90, 64, 70])
    with qtbot.waitSignal(midi.note_on, timeout=5000) as sig:
        pass
    assert sig.args[:2] == [64, 70]                                # and when it was played (time_sec)


def test_menu_lists_ports_and_switches(qtbot, rig):
    system, clock, settings, engine, midi = rig
    midi.poll()
    system.plug(OTHER)
    menu = build_midi_menu(midi)
    qtbot.addWidget(menu)
    with qtbot.waitSignal(midi.devices_changed) as changed:
        midi.poll()
    assert changed.args == [[KEYS, OTHER]]
    menu.aboutToShow.emit()
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts[:3] == ["Keystation 49:Keystation 49 MIDI 1", "Launchkey:Launchkey MIDI 1", "None"]
    assert [a.isChecked() for a in menu.actions()[:3]] == [True, False, False]
    menu.actions()[1].trigger()
    assert midi.current_port == OTHER and settings.value(SETTINGS_KEY) == "Launchkey:Launchkey MIDI 1"
    assert KEYS not in system.opened
    menu.aboutToShow.emit()
    none = next(a for a in menu.actions() if a.text() == "None")
    none.trigger()
    assert midi.current_port == "" and settings.value(SETTINGS_KEY) == "" and system.opened == {}
    chord = next(a for a in menu.actions() if a.text().startswith("&Chord"))
    midi.open_port(KEYS)
    midi.set_song_key("Am")
    chord.trigger()
    assert midi.chord_key == "Am"
    system.send(KEYS, [0x90, 57, 100])
    assert [c[1] for c in engine.calls if c[0] == "on"] == [57, 60, 64]


def test_remembered_port_reconnects_after_unplug(qtbot, rig, tmp_path):
    system, clock, settings, engine, midi = rig
    settings.setValue(SETTINGS_KEY, "Launchkey:Launchkey MIDI 1")
    midi2 = MidiInput(manager=MidiInputManager(PortBackend(system.factory), clock=clock), settings=settings,
                      start=False)
    midi2.poll()
    assert midi2.current_port == ""                    # the remembered keyboard is not there: nothing opened
    messages = []
    midi2.message.connect(messages.append)
    system.plug("Launchkey:Launchkey MIDI 1 32:0")
    midi2.poll()
    assert midi2.current_port == "Launchkey:Launchkey MIDI 1 32:0" and "reconnected" in messages[-1]
    lost = []
    midi2.device_lost.connect(lost.append)
    system.unplug("Launchkey:Launchkey MIDI 1 32:0")
    midi2.poll()
    assert lost == ["Launchkey:Launchkey MIDI 1 32:0"] and "disconnected" in messages[-1]
    midi2.shutdown()


def test_no_midi_system_menu_says_so(qtbot):
    midi = MidiInput(manager=MidiInputManager(PortBackend(FakeMidiSystem(broken=True).factory)), start=False)
    messages = []
    midi.message.connect(messages.append)
    midi.poll()
    assert not midi.available and messages and messages[0].startswith("No MIDI input: ")
    menu = build_midi_menu(midi)
    qtbot.addWidget(menu)
    first = menu.actions()[0]
    assert first.text().startswith("No MIDI input: ") and not first.isEnabled()
    assert midi.open_port(KEYS) is False
    midi.shutdown()


def test_recording_stops_cleanly_on_unplug_and_keeps_the_take(qtbot, rig):
    system, clock, settings, engine, midi = rig
    midi.poll()
    song = Song(tracks=(Track("Melody"),), tempos=(TempoChange(0, 120.0),))
    clock.now = 50.0
    midi.start_recording(song, 0, count_in_bars=1, quantize=InputQuantize("1/8", 1.0))   # starts at 52.0 s
    for t, msg in ((51.0, [0x90, 40, 90]), (51.2, [0x80, 40, 0]),          # count-in: not recorded
                   (52.03, [0x90, 60, 100]), (52.5, [0x80, 60, 0]), (53.0, [0x90, 62, 100])):
        clock.now = t
        system.send(KEYS, msg)
    midi.drain()
    assert midi.is_recording
    clock.now = 53.5
    system.unplug(KEYS)
    with qtbot.waitSignal(midi.recording_stopped) as stopped:
        midi.poll()
    result = stopped.args[0]
    assert result.reason == "device lost" and not midi.is_recording
    assert [(n.pitch, n.start_tick, n.duration_tick) for n in result.last.notes] == [(60, 0, 451), (62, 960, 480)]
    assert ("off", 62, 0) in engine.calls                # the held note was switched off in the synth
    assert midi.stop_recording() is None


def test_stop_recording_returns_the_take(qtbot, rig):
    system, clock, settings, engine, midi = rig
    midi.poll()
    song = Song(tracks=(Track("Melody"),))
    clock.now = 10.0
    midi.start_recording(song, 960)
    clock.now = 10.5
    system.send(KEYS, [0x90, 72, 64])
    clock.now = 11.0
    with qtbot.waitSignal(midi.recording_stopped):
        result = midi.stop_recording()
    assert result.reason == "stopped"
    assert [(n.pitch, n.start_tick, n.duration_tick) for n in result.last.notes] == [(72, 1440, 480)]
