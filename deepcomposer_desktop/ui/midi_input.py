"""The Qt edge of hardware MIDI input: a QObject that drains ``MidiInputManager``'s queue on a ~10 ms timer and
turns it into signals, polls the port list about once a second, remembers the last keyboard in QSettings, records
takes with ``TakeRecorder``, and builds the "MIDI Input" menu. GUI thread only; live notes reach the synth
directly from the MIDI thread through the sink (``EngineSink``), not through these signals.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, QTimer, Signal
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QMenu, QWidget

from ..core.song import KeySignature, Song, SongError
from ..midi.devices import (NO_MIDI, EngineSink, MidiInputManager, MidiUnavailable, PortOpened, PortsChanged,
                            Problem, stable_name)
from ..midi.recorder import (Control, DeviceLost, InputQuantize, NoteOff, NoteOn, PitchBend, Recording, Sustain,
                             TakeRecorder, chord_table, count_in_seconds)

SETTINGS_KEY = "midi/input"        # the same key as ui.settings.AppSettings.midi_input


class MidiInput(QObject):
    """Hardware keyboard input for the window.

    Signals (GUI thread): ``note_on(pitch, velocity, time_sec)``, ``note_off(pitch, time_sec)``,
    ``sustain(bool, time_sec)``, ``control(cc, value, time_sec)``, ``pitch_bend(value -8192..8191, time_sec)`` —
    for lighting keys and recording, the synth already heard them; ``time_sec`` is when it was played, on
    ``manager.clock`` (a slot may take fewer arguments); ``devices_changed(list of port names)``,
    ``port_changed(str, "" when none)``, ``message(str)`` (status-bar text), ``device_lost(str)``,
    ``recording_stopped(object)`` (a ``recorder.Recording``, after ``stop_recording`` or when the keyboard
    vanished mid-take).
    """

    note_on = Signal(int, int, float)
    note_off = Signal(int, float)
    sustain = Signal(bool, float)
    control = Signal(int, int, float)
    pitch_bend = Signal(int, float)
    devices_changed = Signal(list)
    port_changed = Signal(str)
    message = Signal(str)
    device_lost = Signal(str)
    recording_stopped = Signal(object)

    def __init__(self, parent: QObject | None = None, *, manager: MidiInputManager | None = None,
                 settings: QSettings | None = None, engine=None, drain_ms: int = 10, poll_ms: int = 1000,
                 start: bool = True) -> None:
        super().__init__(parent)
        self.settings = settings
        last = None
        if settings is not None and settings.contains(SETTINGS_KEY):
            last = str(settings.value(SETTINGS_KEY, "") or "")
        self.manager = manager or MidiInputManager(last_port=last)
        if manager is not None and last is not None:
            self.manager.last_port = last
        self.sink = EngineSink(engine, 0) if engine is not None else None
        self.manager.sink = self.sink
        self.recorder: TakeRecorder | None = None
        self.chord_key: str | None = None        # chord mode on when set
        self._song_key = "C"
        self.drain_timer = QTimer(self)
        self.drain_timer.setInterval(drain_ms)
        self.drain_timer.timeout.connect(self.drain)
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(poll_ms)
        self.poll_timer.timeout.connect(self.poll)
        if start:
            self.start()

    # --- life cycle ---
    def start(self) -> None:
        self.poll()
        self.drain_timer.start()
        self.poll_timer.start()

    def shutdown(self) -> None:
        """Stop the timers and close the port (call from the window's closeEvent)."""
        self.drain_timer.stop()
        self.poll_timer.stop()
        self.manager.shutdown()

    # --- state ---
    @property
    def available(self) -> bool:
        return self.manager.available

    @property
    def ports(self) -> list[str]:
        return list(self.manager.ports)

    @property
    def current_port(self) -> str:
        return self.manager.current or ""

    def set_track(self, track_index: int) -> None:
        """The track whose instrument live notes sound on."""
        if self.sink is not None:
            self.sink.track_index = track_index

    def set_song_key(self, key: str | KeySignature | None) -> None:
        """The key chord mode builds triads in (the song's key; C major when unknown)."""
        self._song_key = (key.key if isinstance(key, KeySignature) else key) or "C"
        if self.chord_key is not None:
            self.set_chord_mode(True)

    def set_chord_mode(self, on: bool) -> None:
        try:
            table = chord_table(self._song_key) if on else None
        except SongError as exc:
            self.message.emit(str(exc))
            return
        self.chord_key = self._song_key if on else None
        self.manager.set_chord_table(table)

    def open_port(self, port: str | None) -> bool:
        """Switch to ``port`` (None: no MIDI input) and remember the choice. False (and a message) on failure."""
        try:
            self.manager.open(port)
        except MidiUnavailable as exc:
            self.message.emit(str(exc))
            self.port_changed.emit("")
            return False
        finally:
            self._remember()
        if port is None:
            self.port_changed.emit("")
            self.message.emit("MIDI input off")
        self.drain()
        return True

    def _remember(self) -> None:
        if self.settings is not None and self.manager.last_port is not None:
            self.settings.setValue(SETTINGS_KEY, self.manager.last_port)

    # --- timers ---
    def poll(self) -> None:
        self.manager.refresh()
        self.drain()

    def drain(self) -> None:
        events = self.manager.drain()
        if not events:
            return
        for ev in events:
            kind = type(ev)
            if kind is NoteOn:
                self.note_on.emit(ev.pitch, ev.velocity, ev.time_sec)
            elif kind is NoteOff:
                self.note_off.emit(ev.pitch, ev.time_sec)
            elif kind is Sustain:
                self.sustain.emit(ev.on, ev.time_sec)
            elif kind is Control:
                self.control.emit(ev.number, ev.value, ev.time_sec)
            elif kind is PitchBend:
                self.pitch_bend.emit(ev.value, ev.time_sec)
            elif kind is PortsChanged:
                self.devices_changed.emit(list(ev.ports))
            elif kind is PortOpened:
                self._remember()
                self.port_changed.emit(ev.port)
                self.message.emit(f"MIDI keyboard {stable_name(ev.port)!r} "
                                  + ("reconnected" if ev.reconnected else "connected"))
            elif kind is Problem:
                self.message.emit(ev.message)
            elif kind is DeviceLost:
                self.port_changed.emit("")
                self.device_lost.emit(ev.port)
        if self.recorder is not None:
            result = self.recorder.feed(events)
            if result is not None:
                self.recorder = None
                if result.reason == "device lost":
                    self.message.emit("Recording stopped: the MIDI keyboard was disconnected; the take so far "
                                      "is kept")
                self.recording_stopped.emit(result)

    # --- recording ---
    def start_recording(self, song: Song, start_tick: int, *, count_in_bars: int = 0,
                        loop: tuple[int, int] | None = None, quantize: InputQuantize | None = None,
                        stop_tick: int | None = None, start_sec: float | None = None,
                        latency_sec: float = 0.0) -> TakeRecorder:
        """Begin a take now; the transport must pass ``start_tick`` after ``count_in_bars`` bars of count-in
        (call right after ``engine.play(start_tick)``), or at ``start_sec`` on ``self.manager.clock``'s time
        scale if given. ``latency_sec``: how late the player hears the transport (notes are moved that much
        earlier). Raises SongError for a bad range."""
        self.drain()                      # what was played before this moment is not part of the take
        if start_sec is None:
            start_sec = self.manager.clock() + count_in_seconds(song, start_tick, count_in_bars)
        self.recorder = TakeRecorder(song, start_tick=start_tick, start_sec=start_sec, loop=loop,
                                     quantize=quantize, stop_tick=stop_tick, latency_sec=latency_sec)
        return self.recorder

    def stop_recording(self) -> Recording | None:
        """End the take now; returns every take (also sent as ``recording_stopped``), None if not recording."""
        if self.recorder is None:
            return None
        self.drain()
        rec, self.recorder = self.recorder, None
        if rec is None:                   # the drain just ended it (device lost): already emitted
            return None
        result = rec.stop(self.manager.clock())
        self.recording_stopped.emit(result)
        return result

    @property
    def is_recording(self) -> bool:
        return self.recorder is not None


def build_midi_menu(midi: MidiInput, parent: QWidget | None = None, title: str = "MIDI &Input") -> QMenu:
    """A menu listing the input ports (exclusive, checked = open), "None", and "Chord mode"; it lists the ports
    as they are each time it opens. Add it with ``menuBar().addMenu(build_midi_menu(midi, self))``."""
    menu = QMenu(title, parent)
    menu.setObjectName("MidiInputMenu")

    def rebuild() -> None:
        menu.clear()
        group = QActionGroup(menu)
        group.setExclusive(True)
        if not midi.available:
            act = menu.addAction(midi.manager.problem or NO_MIDI)
            act.setEnabled(False)
        else:
            if not midi.ports:
                act = menu.addAction("No MIDI keyboard connected")
                act.setEnabled(False)
            for port in midi.ports:
                act = menu.addAction(stable_name(port))
                act.setCheckable(True)
                act.setChecked(port == midi.current_port)
                act.setData(port)
                act.triggered.connect(lambda _checked=False, p=port: midi.open_port(p))
                group.addAction(act)
            none = menu.addAction("None")
            none.setCheckable(True)
            none.setChecked(not midi.current_port)
            none.triggered.connect(lambda _checked=False: midi.open_port(None))
            group.addAction(none)
        menu.addSeparator()
        chord = menu.addAction("&Chord mode (one key plays a triad in the song's key)")
        chord.setCheckable(True)
        chord.setChecked(midi.chord_key is not None)
        chord.toggled.connect(midi.set_chord_mode)

    menu.aboutToShow.connect(rebuild)
    rebuild()
    return menu
