"""User settings through QSettings (soundfont, audio device and block size, listening volume, MIDI input, recent
files, window layout) and the Settings dialog. GUI thread only.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QWidget)

from ..audio.soundfont import SoundfontError, validate

MAX_RECENT = 10
BLOCK_SIZES = (64, 128, 192, 256, 512, 1024, 2048)
DEFAULT_BLOCK = 192          # x 2 periods = 8 ms of buffer at 48 kHz: ~9 ms note to sound, no more drop-outs than 256
MIN_VOLUME_PERCENT = 1       # the listening volume's range: PlaybackEngine.set_volume takes 0.01-1.5 (not 0: at
MAX_VOLUME_PERCENT = 150     # gain 0 FluidSynth ends every held note; see engine.MIN_VOLUME)
DEFAULT_VOLUME_PERCENT = 100


class AppSettings:
    """Typed access to the app's QSettings. Pass a QSettings (e.g. an INI file in tests) or get the user's."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.q = qsettings or QSettings()

    def _get(self, key: str, default, kind=str):
        v = self.q.value(key, default)
        try:
            return kind(v) if v is not None else default
        except (TypeError, ValueError):
            return default

    # audio
    @property
    def soundfont(self) -> str:
        return self._get("audio/soundfont", "")

    @soundfont.setter
    def soundfont(self, v: str) -> None:
        self.q.setValue("audio/soundfont", v)

    @property
    def audio_device(self) -> str:
        return self._get("audio/device", "")

    @audio_device.setter
    def audio_device(self, v: str) -> None:
        self.q.setValue("audio/device", v)

    @property
    def block_size(self) -> int:
        v = self._get("audio/block_size", DEFAULT_BLOCK, int)
        return v if v in BLOCK_SIZES else DEFAULT_BLOCK

    @block_size.setter
    def block_size(self, v: int) -> None:
        self.q.setValue("audio/block_size", int(v))

    @property
    def volume_percent(self) -> int:
        """The listening volume, in % of the synth's own level (1-150; 100 until the user moves it). A value that
        is not a level (-5, 400, "abc": a damaged file) reads as 100, never as silence or the loudest; 0, the
        lowest before 1 % was, reads as 1."""
        v = self._get("audio/volume", DEFAULT_VOLUME_PERCENT, int)
        if v == 0:
            return MIN_VOLUME_PERCENT
        return v if MIN_VOLUME_PERCENT <= v <= MAX_VOLUME_PERCENT else DEFAULT_VOLUME_PERCENT

    @volume_percent.setter
    def volume_percent(self, v: int) -> None:
        self.q.setValue("audio/volume", max(MIN_VOLUME_PERCENT, min(MAX_VOLUME_PERCENT, int(v))))

    # MIDI
    @property
    def midi_input(self) -> str:
        return self._get("midi/input", "")

    @midi_input.setter
    def midi_input(self, v: str) -> None:
        self.q.setValue("midi/input", v)

    # recent files
    def recent_files(self) -> list[str]:
        v = self.q.value("files/recent", [])
        if isinstance(v, str):
            v = [v]
        return [str(p) for p in (v or []) if p]

    def add_recent(self, path: str) -> None:
        path = str(Path(path).resolve())
        items = [p for p in self.recent_files() if p != path]
        self.q.setValue("files/recent", ([path] + items)[:MAX_RECENT])

    def last_dir(self) -> str:
        return self._get("files/last_dir", str(Path.home()))

    def set_last_dir(self, path: str) -> None:
        self.q.setValue("files/last_dir", str(Path(path).parent))

    # window layout
    def geometry(self) -> QByteArray | None:
        v = self.q.value("window/geometry")
        return v if isinstance(v, QByteArray) else None

    def window_state(self) -> QByteArray | None:
        v = self.q.value("window/state")
        return v if isinstance(v, QByteArray) else None

    def save_layout(self, geometry: QByteArray, state: QByteArray) -> None:
        self.q.setValue("window/geometry", geometry)
        self.q.setValue("window/state", state)

    def sync(self) -> None:
        self.q.sync()


def _audio_devices() -> list[str]:
    try:                               # the engine's own list (names it accepts as ``device``)
        from ..audio.engine import PlaybackEngine
        return [str(d["name"]) for d in PlaybackEngine.output_devices()]
    except Exception:  # noqa: BLE001 - fall back to asking PortAudio directly
        pass
    try:
        import sounddevice as sd
        return [d["name"] for d in sd.query_devices() if d.get("max_output_channels", 0) > 0]
    except Exception:                  # no PortAudio, no devices: the default device is still offered
        return []


def _midi_inputs() -> tuple[list[str], str, str]:
    """The MIDI input names now, and "" or why none can be listed in plain words (no MIDI system, no rtmidi), and
    the MIDI library's own text for that ("" when none)."""
    try:
        from ..midi.devices import PortBackend, stable_name
        return [stable_name(p) for p in PortBackend().list_ports()], "", ""
    except Exception as exc:  # noqa: BLE001 - MidiUnavailable, or rtmidi missing: the dialog says why
        return [], str(exc) or type(exc).__name__, getattr(exc, "detail", "")


class SettingsDialog(QDialog):
    """Edits AppSettings; ``exec()`` returns Accepted when the user pressed OK (settings then written)."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self.soundfont = QLineEdit(settings.soundfont)
        self.soundfont.setPlaceholderText("Default General MIDI soundfont")
        self.soundfont.setMinimumWidth(300)            # room for a path
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        sf_row = QHBoxLayout()
        sf_row.addWidget(self.soundfont, 1)
        sf_row.addWidget(browse)
        self.device = QComboBox()
        self.device.addItem("System default", "")
        for name in _audio_devices():
            self.device.addItem(name, name)
        i = self.device.findData(settings.audio_device)
        if i < 0 and settings.audio_device:           # unplugged now: kept, so OK does not forget it
            self.device.addItem(f"{settings.audio_device} (not connected)", settings.audio_device)
            i = self.device.count() - 1
        self.device.setCurrentIndex(max(0, i))
        self.block = QComboBox()
        for b in BLOCK_SIZES:
            self.block.addItem(f"{b} samples", b)
        self.block.setCurrentIndex(self.block.findData(settings.block_size))
        self.midi = QComboBox()
        self.midi.addItem("None", "")
        midi_names, midi_problem, midi_detail = _midi_inputs()
        for name in midi_names:
            self.midi.addItem(name, name)
        i = self.midi.findData(settings.midi_input)
        if i < 0 and settings.midi_input:
            self.midi.addItem(f"{settings.midi_input} (not connected)", settings.midi_input)
            i = self.midi.count() - 1
        self.midi.setCurrentIndex(max(0, i))
        self._midi_shown = self.midi.currentData()     # written on OK only when changed: never chosen stays automatic
        self.midi_problem = QLabel(midi_problem)
        self.midi_problem.setWordWrap(True)
        self.midi_problem.setVisible(bool(midi_problem))
        self.midi_problem.setToolTip(midi_detail)      # the MIDI library's own words, for whoever needs them
        self.problem = QLabel()                        # why OK was refused
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color:#e05050;")
        self.problem.hide()
        form = QFormLayout(self)
        form.addRow("Soundfont (.sf2/.sf3)", sf_row)
        form.addRow("Audio output", self.device)
        form.addRow("Audio block size", self.block)
        form.addRow("MIDI input", self.midi)
        form.addRow("", self.midi_problem)
        form.addRow(self.problem)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.setMinimumWidth(520)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a soundfont", self.soundfont.text() or "/usr/share/sounds",
                                              "Soundfonts (*.sf2 *.sf3);;All files (*)")
        if path:
            self.soundfont.setText(path)

    def accept(self) -> None:
        s = self.settings
        soundfont = self.soundfont.text().strip()
        if soundfont and soundfont != s.soundfont:     # a new choice must be usable; "" is the default soundfont
            try:
                validate(soundfont)
            except SoundfontError as exc:
                self.problem.setText(f"{exc} Choose another soundfont, or clear the field for the default one.")
                self.problem.show()
                self.adjustSize()                      # the dialog grows to show the whole message
                self.soundfont.setFocus()
                return
        s.soundfont = soundfont
        s.audio_device = self.device.currentData() or ""
        s.block_size = self.block.currentData()
        if self.midi.currentData() != self._midi_shown:
            s.midi_input = self.midi.currentData() or ""
        s.sync()
        super().accept()
