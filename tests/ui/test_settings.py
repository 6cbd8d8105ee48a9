"""The Settings dialog through the real window: soundfont checks, the MIDI input row, and what the user is told about
MIDI and audio (keyboards from a FakeMidiSystem; the audio engine a spy, or the real one on the silent output)."""
import importlib.util
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox

import deepcomposer_desktop.midi.devices as dev
from deepcomposer_desktop.ui.settings import SettingsDialog

from .conftest import SpyEngine

KEYS = "Keystation 49:Keystation 49 MIDI 1 20:0"
OTHER = "Launchkey:Launchkey MIDI 1 24:0"


def _small_soundfont() -> Path:
    spec = importlib.util.find_spec("pretty_midi")
    path = Path(spec.origin).parent / "TimGM6mb.sf2" if spec and spec.origin else None
    if path is None or not path.is_file():
        pytest.skip("pretty_midi's TimGM6mb.sf2 is not installed")
    return path


@pytest.fixture
def open_window(qtbot, tmp_path, settings, monkeypatch):
    """open_window(ports, broken=False, engine=None) -> (window, system, status messages): MIDI started after the
    window shows, as in the app, with every port list (window and Settings dialog) from one FakeMidiSystem."""
    from deepcomposer_desktop.ui.main_window import MainWindow
    real = dev.PortBackend

    def open_(ports=(), broken=False, engine=None):
        system = dev.FakeMidiSystem(list(ports), broken=broken)

        class Backend(real):
            def __init__(self, factory=None, **kw):
                super().__init__(factory or system.factory, **kw)
        monkeypatch.setattr(dev, "PortBackend", Backend)
        w = MainWindow(settings=settings, data_dir=tmp_path / "data", engine=engine or SpyEngine(),
                       start_audio=False, ask_on_close=False, probe_models=False, midi_input=False)
        qtbot.addWidget(w)
        w.show()
        qtbot.waitExposed(w)
        log = []
        w.statusBar().messageChanged.connect(lambda m: m and log.append(m))
        w.start_midi()
        return w, system, log
    return open_


def in_settings(window, qtbot, act) -> None:
    """Open Settings from the window and run ``act(dialog)`` in it; the dialog is cancelled if ``act`` leaves it
    open (e.g. OK refused)."""
    def go():
        dlg = next(d for d in QApplication.topLevelWidgets() if isinstance(d, SettingsDialog) and d.isVisible())
        try:
            act(dlg)
        finally:
            if dlg.isVisible():
                dlg.reject()
    QTimer.singleShot(0, go)
    window.open_settings()


def click_ok(qtbot, dlg) -> None:
    qtbot.mouseClick(dlg.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok), Qt.LeftButton)


def test_ok_refuses_a_soundfont_that_is_not_one_and_keeps_the_dialog_open(open_window, qtbot, settings, tmp_path):
    small = _small_soundfont()
    cut = tmp_path / "cut.sf2"
    cut.write_bytes(small.read_bytes()[:200_000])
    folder = tmp_path / "fonts.sf2"
    folder.mkdir()
    w, _, _ = open_window()
    for bad, why in ((folder, "is a folder"), (tmp_path / "gone.sf2", "does not exist"), (cut, "incomplete")):
        seen = {}

        def act(dlg, bad=bad, seen=seen):
            dlg.soundfont.setText(str(bad))
            dlg.block.setCurrentIndex(dlg.block.findData(1024))
            click_ok(qtbot, dlg)
            seen.update(open=dlg.isVisible(), problem=dlg.problem.text() if dlg.problem.isVisibleTo(dlg) else "")
        in_settings(w, qtbot, act)
        assert seen["open"] and why in seen["problem"], (bad, seen)
        assert settings.soundfont == "" and settings.block_size != 1024       # nothing written
    in_settings(w, qtbot, lambda dlg: (dlg.soundfont.setText(str(small)), click_ok(qtbot, dlg)))
    assert settings.soundfont == str(small)


def test_the_default_soundfont_in_place_of_the_chosen_one_is_said(open_window, qtbot, settings, tmp_path,
                                                                   monkeypatch):
    from deepcomposer_desktop.audio.synth import library_problem
    if library_problem():
        pytest.skip(library_problem())
    monkeypatch.setenv("DEEPCOMPOSER_SOUNDFONT", str(_small_soundfont()))    # the default found first: quick
    w, _, log = open_window()
    settings.soundfont = str(tmp_path / "moved away.sf2")        # chosen once, gone since
    settings.audio_device = "null"
    w.start_audio()
    qtbot.waitUntil(lambda: getattr(w.playback.engine, "output", None) is not None, timeout=30000)
    assert w.playback.engine.available
    assert w.audio_label.text().startswith("Audio ready: ") and "Using the default soundfont instead" in \
        w.audio_label.text()                                                       # was "Audio ready"
    assert any("moved away.sf2" in m and "default soundfont" in m for m in log), log


def test_ok_before_any_keyboard_was_connected_keeps_auto_connect(open_window, qtbot, settings):
    w, system, _ = open_window(ports=())
    in_settings(w, qtbot, lambda dlg: (dlg.block.setCurrentIndex(dlg.block.findData(512)), click_ok(qtbot, dlg)))
    assert settings.block_size == 512 and not settings.q.contains("midi/input")
    w.close()
    w2, _, _ = open_window(ports=(KEYS,))                         # the next start, the keyboard plugged in
    assert w2.midi.current_port == KEYS


def test_choosing_none_in_settings_still_turns_midi_off(open_window, qtbot, settings):
    w, system, _ = open_window(ports=(KEYS,))
    assert w.midi.current_port == KEYS
    in_settings(w, qtbot, lambda dlg: (dlg.midi.setCurrentIndex(dlg.midi.findData("")), click_ok(qtbot, dlg)))
    assert w.midi.current_port == "" and settings.midi_input == "" and settings.q.contains("midi/input")


def test_a_keyboard_chosen_as_it_vanished_is_kept_and_opens_when_back(open_window, qtbot, settings):
    w, system, log = open_window(ports=(KEYS, OTHER))
    assert w.midi.current_port == KEYS

    def act(dlg):
        dlg.midi.setCurrentIndex(dlg.midi.findData(dev.stable_name(OTHER)))
        system.unplug(OTHER)
        w.midi.poll()
        click_ok(qtbot, dlg)
    in_settings(w, qtbot, act)
    assert settings.midi_input == dev.stable_name(OTHER) and w.midi.current_port == ""
    assert "not connected now" in log[-1] and dev.stable_name(OTHER) in log[-1], log
    system.plug(OTHER)
    w.midi.poll()
    assert w.midi.current_port == OTHER and settings.midi_input == dev.stable_name(OTHER)


def test_startup_says_what_happened_to_midi(open_window):
    w, _, log = open_window(ports=(KEYS,))
    assert any("connected" in m and "Keystation 49" in m for m in log), log
    w.close()
    w, _, log = open_window(broken=True)
    assert "No MIDI input: the ALSA sequencer is not available on this system" in log, log


def test_settings_says_why_no_midi_input_is_listed(open_window, qtbot):
    w, _, _ = open_window(broken=True)
    seen = {}

    def act(dlg):
        seen.update(items=[dlg.midi.itemText(i) for i in range(dlg.midi.count())],
                    why=dlg.midi_problem.text() if dlg.midi_problem.isVisibleTo(dlg) else "",
                    tip=dlg.midi_problem.toolTip())
    in_settings(w, qtbot, act)
    assert seen["items"] == ["None"] and seen["why"] == "No MIDI input: the ALSA sequencer is not available on this " \
        "system"                                                     # in words; rtmidi's own text in the tooltip
    assert seen["tip"] == "MidiInAlsa::initialize: error creating ALSA sequencer client object."


def test_the_dialog_is_wide_enough_and_grows_to_show_a_refused_soundfont_whole(qtbot, settings, tmp_path):
    dlg = SettingsDialog(settings)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    assert dlg.width() >= 520 and dlg.soundfont.width() >= 300
    dlg.soundfont.setText(str(tmp_path / "a folder that is not there" / "my favourite piano.sf2"))
    click_ok(qtbot, dlg)
    qtbot.wait(20)
    problem = dlg.problem
    assert dlg.isVisible() and problem.isVisible() and problem.text().endswith("for the default one.")
    assert problem.height() >= problem.heightForWidth(problem.width())                # every line of it shows
    assert problem.geometry().bottom() < dlg.findChild(QDialogButtonBox).geometry().top()


def test_closing_the_window_stops_midi_before_the_engine(open_window, qtbot):
    class Engine(SpyEngine):
        late_notes = None

        def close(self):
            before = len(self.named("live_note_on"))
            system.send(KEYS, [0x90, 60, 100])           # a key pressed as the window closes (the MIDI thread)
            self.late_notes = len(self.named("live_note_on")) - before
            super().close()
    engine = Engine()
    w, system, _ = open_window(ports=(KEYS,), engine=engine)
    assert system.send(KEYS, [0x90, 62, 100]) and engine.named("live_note_on")     # live playing works
    w.close()
    assert engine.late_notes == 0                # it used to reach the engine as it closed
