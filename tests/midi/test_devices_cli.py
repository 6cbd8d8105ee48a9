"""`deepcomposer midi-ports` and `midi-record` driven through FakeMidiSystem (the same callback path as rtmidi)."""
import pytest

from deepcomposer_desktop import cli
from deepcomposer_desktop.midi import commands
from deepcomposer_desktop.midi.devices import FakeMidiSystem, MidiInputManager, PortBackend
from deepcomposer_desktop.midi.io import read_midi

KEYS = "Keystation 49:Keystation 49 MIDI 1 20:0"
THRU = "Midi Through:Midi Through Port-0 14:0"


class Rig:
    """A fake MIDI system whose messages arrive as the command's loop sleeps (50 ms of fake time per sleep)."""

    def __init__(self, monkeypatch, ports=(THRU, KEYS), broken=False):
        self.system = FakeMidiSystem(list(ports), broken=broken)
        self.now = 0.0
        self.script = []          # (time, action)
        monkeypatch.setattr(commands, "_manager", lambda: MidiInputManager(
            PortBackend(self.system.factory), last_port="", clock=lambda: self.now))
        monkeypatch.setattr(commands, "_sleep", self.sleep)

    def sleep(self, seconds):
        self.now = round(self.now + 0.05, 6)
        while self.script and self.script[0][0] <= self.now:
            _, action = self.script.pop(0)
            action()

    def at(self, t, message):
        self.script.append((t, lambda: self.system.send(KEYS, message)))


def test_midi_ports_lists_inputs(monkeypatch, capsys):
    Rig(monkeypatch)
    assert cli.main(["midi-ports"]) == 0
    assert capsys.readouterr().out.splitlines() == [f" 1. {THRU}", f" 2. {KEYS}"]


def test_midi_ports_without_midi_system(monkeypatch, capsys):
    Rig(monkeypatch, broken=True)
    assert cli.main(["midi-ports"]) == 0
    assert capsys.readouterr().out.startswith("No MIDI input: the ALSA sequencer is not available")
    assert cli.main(["midi-record", "-o", "x.mid", "--seconds", "1"]) == 2
    assert "No MIDI input: the ALSA sequencer is not available" in capsys.readouterr().err


def test_midi_record_quantized_chords(monkeypatch, tmp_path, capsys):
    rig = Rig(monkeypatch)
    for t, msg in ((0.5, [0x90, 60, 100]), (1.0, [0x80, 60, 0]), (1.55, [0x90, 62, 80]), (2.0, [0x80, 62, 0])):
        rig.at(t, msg)
    out = tmp_path / "take.mid"
    assert cli.main(["midi-record", "-o", str(out), "--seconds", "3", "--quantize", "1/8", "--chords", "C",
                     "--port", "Keystation"]) == 0
    assert "Recording from " + KEYS in capsys.readouterr().out
    (track,) = read_midi(out).tracks
    assert [(n.pitch, n.start_tick, n.duration_tick) for n in track.notes] == [
        (60, 480, 480), (64, 480, 480), (67, 480, 480), (62, 1440, 432), (65, 1440, 432), (69, 1440, 432)]


def test_midi_record_keeps_take_when_unplugged(monkeypatch, tmp_path, capsys):
    rig = Rig(monkeypatch)
    rig.at(0.5, [0x90, 60, 100])
    rig.script.append((1.0, lambda: rig.system.unplug(KEYS)))
    out = tmp_path / "take.mid"
    assert cli.main(["midi-record", "-o", str(out), "--seconds", "30"]) == 0
    assert "disconnected; the take so far is kept" in capsys.readouterr().out
    (track,) = read_midi(out).tracks
    assert [n.pitch for n in track.notes] == [60] and track.notes[0].start_tick == 480
    assert rig.now < 5                       # stopped when the keyboard vanished, not after 30 s


def test_midi_record_unknown_port(monkeypatch, capsys):
    Rig(monkeypatch)
    assert cli.main(["midi-record", "-o", "x.mid", "--port", "Nope"]) == 2
    assert "no MIDI input called 'Nope'" in capsys.readouterr().err


@pytest.mark.parametrize("option, value, says", [
    ("--seconds", "-1", "must be above 0"), ("--seconds", "nan", "must be above 0"),
    ("--count-in", "100000000", "must be from 0 to 16"), ("--count-in", "-2", "must be from 0 to 16"),
    ("--bpm", "0", "must be from 3.58 to 1000 BPM"), ("--strength", "1.5", "must be from 0 to 1"),
    ("--program", "128", "must be from 0 to 127")])
def test_midi_record_refuses_nonsense_before_it_records(monkeypatch, capsys, option, value, says):
    Rig(monkeypatch)                         # -1 s wrote an empty file, nan recorded until Ctrl+C, a huge count-in
    assert cli.main(["midi-record", "-o", "x.mid", option, value]) == 2                  # waited forever
    assert says in capsys.readouterr().err
