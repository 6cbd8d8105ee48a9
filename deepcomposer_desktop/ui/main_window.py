"""The studio window: piano roll, on-screen keyboard, tracks, transport, techniques panel, menus and shortcuts.

GUI thread only. The window holds the Song through a SongDocument; every edit is one QUndoCommand.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QStandardPaths, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QAbstractSpinBox, QApplication, QComboBox, QDockWidget, QHBoxLayout, QLabel,
                               QLineEdit, QMainWindow, QPlainTextEdit, QSplitter, QTextEdit, QToolBar, QToolButton,
                               QVBoxLayout, QWidget)

from ..core.song import Song
from ..samples import list_samples, load_sample
from .commands import SongDocument
from .dialogs import Banner, PianoRollPlaceholder
from .dragout import DragOutHandle
from .editing import EditingMixin
from .files import FilesMixin
from .live_input import LiveInputMixin
from .keyboard import PianoKeyboard, sounding_pitches
from .live_notes import LiveNotes
from .panels import add_dock, install_panels, install_training_menu, shutdown_panels
from .playback import PlaybackController
from .record_options import RecordOptions, build_record_menu
from .settings import AppSettings
from .style import DARK_STYLE
from .techniques import TechniquesPanel
from .tracks import TracksPanel
from .transport import DEFAULT_SNAP, TransportBar, snap_ticks
from .volume import VolumeControl

try:  # written by another helper; the window works without it
    from .piano_roll import PianoRollEditor
    PIANO_ROLL_PROBLEM = ""
except Exception as _exc:  # noqa: BLE001 - any failure means "show the placeholder"
    PianoRollEditor = None
    PIANO_ROLL_PROBLEM = f"{type(_exc).__name__}: {_exc}"

TEXT_INPUTS = (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)


def data_location() -> Path:
    return Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or Path.home() / ".deepcomposer")


DROP_SUFFIXES = (".mid", ".midi", ".kar", ".smf", ".dcproj")


class MainWindow(LiveInputMixin, EditingMixin, FilesMixin, QMainWindow):
    """``MainWindow(settings=None, data_dir=None, engine=None, start_audio=True, ask_on_close=True)``.

    ``engine``: use this engine object (tests pass a spy); otherwise the real one starts on a worker thread after
    the window shows. ``data_dir`` holds autosaves; ``ask_on_close`` False skips the "save changes?" question.
    """

    def __init__(self, settings: AppSettings | None = None, data_dir: str | Path | None = None, engine=None,
                 start_audio: bool = True, ask_on_close: bool = True, probe_models: bool = True,
                 midi_input: bool = True) -> None:
        super().__init__()
        self.settings = settings or AppSettings()
        self.data_dir = Path(data_dir) if data_dir else data_location()
        self.ask_on_close = ask_on_close
        self.save_layout_on_close = True
        self.current_track = 0
        self.snap_label = DEFAULT_SNAP
        self.setWindowTitle("DeepComposer Desktop")
        self.setAcceptDrops(True)               # a MIDI file or project dropped on the window opens
        self.setStyleSheet(DARK_STYLE)
        self.doc = SongDocument(load_sample(list_samples()[1].slug), self)
        self.playback = PlaybackController(self)
        self._build_widgets()
        self.live = LiveNotes(self.playback, self.keyboard)
        self.midi = None
        self._recorded: tuple[Song, object] | None = None     # (song as last seen, the track recorded into)
        self._build_actions()
        install_training_menu(self)
        self._connect()
        self.init_files()
        self.volume_control = VolumeControl(self)          # the transport's Volume slider and clip warning
        self._on_song_changed(self.doc.song, "load")
        self.doc.undo_stack.setClean()
        self._restore_layout()
        self._deferred = []                 # start-up jobs that wait until the window has painted once
        if engine is not None:
            self.playback.attach_engine(engine)
        elif start_audio:
            self._deferred.append((0, self.start_audio))
        else:
            self.audio_label.setText("")
        if midi_input:
            self._deferred.append((300, self.start_midi))
        if probe_models:
            self._deferred.append((1500, self.probe_techniques))  # imports torch on a worker: audio first
        QTimer.singleShot(0, self.offer_recovery)
        self._filtering = False
        self._deferred.append((-150, self._install_key_filter))  # start-up events need no key check

    # --- construction --------------------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.banner = Banner()
        if PianoRollEditor is not None:
            self.piano_roll = PianoRollEditor()
        else:
            self.piano_roll = PianoRollPlaceholder(PIANO_ROLL_PROBLEM)
        self.piano_roll.setObjectName("PianoRoll")
        self.keyboard = PianoKeyboard(octaves=4, lowest=48)
        self.keyboard.setObjectName("Keyboard")
        kb_bar = QHBoxLayout()
        kb_bar.setContentsMargins(4, 0, 4, 0)
        self.oct_down = QToolButton(text="◀ Oct")
        self.oct_up = QToolButton(text="Oct ▶")
        self.octave_label = QLabel()
        self.sustain_btn = QToolButton(text="Sustain")
        self.sustain_btn.setCheckable(True)
        self.sustain_btn.setToolTip("Sustain pedal (hold Tab)")
        self.song_grip = DragOutHandle(lambda: (self.doc.song, self.doc.song.title or "DeepComposer song"),
                                       "Drag the whole song out as a .mid file")
        self.song_grip.setText("⇱ Song .mid")
        for w in (self.oct_down, self.octave_label, self.oct_up, self.sustain_btn):
            kb_bar.addWidget(w)
        kb_bar.addStretch(1)
        hint = QLabel("Keys: A W S E D F T G …")
        hint.setToolTip("Computer keys play the keyboard: A W S E D F T G Y H U J K O L P ; '\n"
                        "Z / X octave down / up · C / V velocity down / up · hold Tab for sustain")
        kb_bar.addWidget(hint)
        kb_bar.addWidget(self.song_grip)
        kb_box = QWidget()
        kb_lay = QVBoxLayout(kb_box)
        kb_lay.setContentsMargins(0, 2, 0, 0)
        kb_lay.setSpacing(2)
        kb_lay.addLayout(kb_bar)
        kb_lay.addWidget(self.keyboard, 1)
        self.splitter = QSplitter(Qt.Vertical)
        self.splitter.addWidget(self._roll_box())
        self.splitter.addWidget(kb_box)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([600, 130])
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.banner)
        lay.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.transport = TransportBar()
        bar = QToolBar("Transport")
        bar.setObjectName("TransportToolBar")
        bar.setMovable(False)
        bar.addWidget(self.transport)
        bar.addWidget(self.transport.volume_box)           # its own item: on a narrow window it waits behind »
        self.addToolBar(Qt.TopToolBarArea, bar)

        self.tracks = TracksPanel()
        dock = add_dock(self, "Tracks", "TracksDock", self.tracks, Qt.LeftDockWidgetArea)
        self.techniques = TechniquesPanel()
        dock2 = add_dock(self, "Generate", "TechniquesDock", self.techniques)
        install_panels(self, dock2)
        self.resizeDocks([dock, dock2], [360, 300], Qt.Horizontal)
        self.audio_label = QLabel()
        self.audio_label.setStyleSheet("color:#e0a040; padding:0 6px;")
        self.statusBar().addPermanentWidget(self.audio_label)
        self.update_octave_label()

    def _roll_box(self) -> QWidget:
        """The piano roll with its small tool strip (draw/select, zoom, fit)."""
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        pr = self.piano_roll
        if hasattr(pr, "set_tool"):
            strip = QHBoxLayout()
            strip.setContentsMargins(4, 2, 4, 2)
            strip.setSpacing(3)
            self.tool_buttons = {}
            for name, text, tip in (("draw", "✎ Draw", "Click to add notes, drag to move or resize"),
                                    ("select", "⬚ Select", "Drag a rubber band to select notes")):
                b = QToolButton(text=text)
                b.setToolTip(tip)
                b.setCheckable(True)
                b.setAutoExclusive(True)
                b.clicked.connect(lambda _=False, n=name: pr.set_tool(n))
                self.tool_buttons[name] = b
                strip.addWidget(b)
            self.tool_buttons[getattr(getattr(pr, "tools", None), "tool", "draw")].setChecked(True)
            strip.addSpacing(10)
            for text, tip, fn in (("−", "Zoom out (time)", lambda: pr.zoom_x(0.8)),
                                  ("+", "Zoom in (time)", lambda: pr.zoom_x(1.25)),
                                  ("Fit", "Show the whole song", getattr(pr, "fit_x", None))):
                if fn is not None:
                    b = QToolButton(text=text)
                    b.setToolTip(tip)
                    b.clicked.connect(fn)
                    strip.addWidget(b)
            strip.addStretch(1)
            lay.addLayout(strip)
        lay.addWidget(pr, 1)
        return box

    def _action(self, text: str, slot, shortcut=None, menu=None, tip: str = "", checkable: bool = False) -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
        a.setCheckable(checkable)
        a.triggered.connect(slot)
        self.addAction(a)
        if menu is not None:
            menu.addAction(a)
        return a

    def _build_actions(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self._action("&New project", self.new_project, QKeySequence.New, f)
        self._action("&Open…", self.open_dialog, QKeySequence.Open, f)
        self.recent_menu = f.addMenu("Open &recent")
        samples = f.addMenu("Open &sample melody")
        for s in list_samples():
            a = samples.addAction(s.title)
            a.triggered.connect(lambda _=False, slug=s.slug: self.confirm_discard("opening a sample melody") and
                                self.open_path(slug))
        self._action("&Import MIDI…", self.import_dialog, "Ctrl+I", f)
        f.addSeparator()
        self.save_action = self._action("&Save", self.save, QKeySequence.Save, f)
        self._action("Save &as…", self.save_as, "Ctrl+Shift+S", f)
        f.addSeparator()
        self._action("&Export MIDI…", self.export_midi, "Ctrl+E", f)
        self._action("Export &WAV…", self.export_wav, "Ctrl+Shift+E", f)
        self._action("Export &dry WAV (no reverb / chorus)…", self.export_dry_wav, None, f,
                     "Render without FluidSynth's reverb and chorus, for a DAW that adds its own")
        self._action("Export s&tems (one WAV per track)…", self.export_stems, None, f,
                     "One 32-bit float WAV per audible track, each with its own reverb and chorus: they start "
                     "together and add up to the mix")
        self._action("Export dry stems (no reverb / chorus)…", lambda: self.export_stems(dry=True), None, f,
                     "One WAV per audible track without FluidSynth's effects, for a DAW that adds its own")
        self.cancel_export_action = self._action("&Cancel export", self.cancel_exports, None, f,
                                                 "Stop the WAV or stems export in progress: nothing is written")
        self.cancel_export_action.setEnabled(False)
        f.addSeparator()
        self._action("Se&ttings…", self.open_settings, QKeySequence.Preferences, f)
        self._action("&Quit", self.close, QKeySequence.Quit, f)
        e = mb.addMenu("&Edit")
        self.undo_action = self.doc.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.Undo)
        self.redo_action = self.doc.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for a in (self.undo_action, self.redo_action):
            self.addAction(a)
            e.addAction(a)
        e.addSeparator()
        self._action("Select &all", lambda: self.piano_roll.select_all(), QKeySequence.SelectAll, e)
        self._action("&Delete selection", self.delete_selection, QKeySequence.Delete, e)
        # the roll's own keys: shortcuts bound to the roll only (the menu shows them; arrows elsewhere stay theirs)
        for text, method, args, key in (("D&uplicate notes", "duplicate_selected", (), "Ctrl+D"),
                                        ("Transpose &up", "transpose_selected", (1,), "Up"),
                                        ("Transpose &down", "transpose_selected", (-1,), "Down"),
                                        ("Transpose up an &octave", "transpose_selected", (12,), "Shift+Up"),
                                        ("Transpose down an octave", "transpose_selected", (-12,), "Shift+Down"),
                                        ("&Quantize to the snap", "quantize_selected", (), "Q")):
            if hasattr(self.piano_roll, method):
                act = self._action(text, lambda _=False, m=method, a=args: getattr(self.piano_roll, m)(*a), key, e,
                                   "On the selected notes; its key works while the piano roll has the focus")
                self.removeAction(act)
                act.setShortcutContext(Qt.WidgetWithChildrenShortcut)
                self.piano_roll.addAction(act)
        e.addSeparator()
        self._action("Add &track", self.add_track, "Ctrl+T", e)
        v = mb.addMenu("&View")
        self._action("Zoom &in (time)", lambda: self.piano_roll.zoom_x(1.25), "Ctrl+=", v)
        self._action("Zoom &out (time)", lambda: self.piano_roll.zoom_x(0.8), "Ctrl+-", v)
        self._action("Zoom in (pitch)", lambda: self.piano_roll.zoom_y(1.25), "Ctrl+Shift+=", v)
        self._action("Zoom out (pitch)", lambda: self.piano_roll.zoom_y(0.8), "Ctrl+Shift+-", v)
        t = mb.addMenu("&Transport")
        self.transport_menu = t
        h = mb.addMenu("&Help")
        self._action("&Keyboard shortcuts", self.show_shortcuts, QKeySequence.HelpContents, h)
        self.play_action = self._action("&Play / pause", self.playback.toggle_play, Qt.Key_Space, t)
        self._action("&Stop", self.playback.stop, None, t)
        self._action("&Rewind", lambda: self.playback.seek(0), Qt.Key_Home, t)
        self._action("&Record", lambda: self.transport.record_btn.toggle(), "Ctrl+R", t)
        self._action("&Loop", lambda: self.transport.loop_btn.toggle(), "Ctrl+L", t)
        self.record_options = RecordOptions()
        t.addMenu(build_record_menu(self.record_options, self))

    def _connect(self) -> None:
        self.doc.song_changed.connect(self._on_song_changed)
        self.doc.view_setter = self.tracks.set_colors
        self.doc.undo_stack.cleanChanged.connect(self._clean_changed)
        tr = self.transport
        tr.play_clicked.connect(self.playback.toggle_play)
        tr.stop_clicked.connect(self.stop)
        tr.rewind_clicked.connect(lambda: self.playback.seek(0))
        tr.loop_toggled.connect(self.playback.set_loop_enabled)
        tr.record_toggled.connect(self.set_recording)
        tr.metronome_toggled.connect(self.playback.set_metronome)
        tr.count_in_changed.connect(self.playback.set_count_in)
        tr.tempo_changed.connect(self.set_tempo)
        tr.time_signature_changed.connect(self.set_time_signature)
        tr.snap_changed.connect(self.set_snap)
        pb = self.playback
        pb.position_changed.connect(self._on_position)
        pb.playing_changed.connect(self._on_playing_changed)
        pb.engine_status.connect(self._on_engine_status)
        pb.recording_interrupted.connect(self.end_recording)      # the engine restarts: the take goes in first
        tk = self.tracks
        tk.track_edited.connect(self.edit_track)
        tk.track_action.connect(self.track_action)
        tk.current_changed.connect(self.set_current_track)
        tk.add_requested.connect(self.add_track)
        tk.colors_changed.connect(self._push_roll)
        kb = self.keyboard
        kb.note_on.connect(self.live_note_on)
        kb.note_off.connect(self.live_note_off)
        kb.sustain_changed.connect(self._sustain)
        kb.octave_changed.connect(lambda _o: self.update_octave_label())
        self.oct_down.clicked.connect(lambda: self.keyboard.shift_octave(-1))
        self.oct_up.clicked.connect(lambda: self.keyboard.shift_octave(+1))
        self.sustain_btn.toggled.connect(self.keyboard.set_sustain)
        te = self.techniques
        te.generate_requested.connect(self.generate)
        te.cancel_requested.connect(self.cancel_generation)
        te.take_chosen.connect(self.choose_take)
        pr = self.piano_roll
        if PianoRollEditor is not None:
            pr.notes_edited.connect(self.notes_edited)
            pr.loop_changed.connect(self.loop_changed)
            pr.seek_requested.connect(self.playback.seek)
            pr.note_preview.connect(self.preview_note)
        self.set_snap(self.snap_label)

    # --- the song --------------------------------------------------------------------------------------------------
    @property
    def song(self) -> Song:
        return self.doc.song

    def _on_song_changed(self, song: Song, reason: str) -> None:
        self._follow_recorded_track(song, reason)
        self._follow_current_track(self.tracks.song, song)
        self.tracks.current = self.current_track
        self.tracks.set_song(song)
        self.transport.show_song(song)
        self.playback.set_song(song)
        self._push_roll()
        snap = snap_ticks(self.snap_label, song.ppq)
        if getattr(self.piano_roll, "snap", snap) != snap:   # another PPQ: the grid the Snap box names, not a
            self.piano_roll.set_snap(snap)                    # rounded rescale of the old one (1/8T drifted)
        self.transport.show_position(song, self.playback.position)
        if self.midi is not None and song.tracks:
            self.midi.set_track(song.melody_index)
            self.midi.set_song_key(song.key)
        self.update_title()

    def _push_roll(self) -> None:
        self.current_track = max(0, min(self.current_track, len(self.song.tracks) - 1))
        colors = getattr(self.piano_roll, "set_track_colors", None)
        if colors is not None:
            colors(self.tracks.colors())
        self.piano_roll.set_song(self.song, self.current_track)    # a song without tracks shows an empty roll

    def set_current_track(self, index: int) -> None:
        self.current_track = index
        self.tracks.set_current(index)
        self._push_roll()

    def delete_selection(self) -> None:
        fn = getattr(self.piano_roll, "delete_selected", None)
        if fn is not None:
            fn()
        elif PianoRollEditor is not None:
            from PySide6.QtGui import QKeyEvent
            target = self.piano_roll.focusWidget() or self.piano_roll
            QApplication.sendEvent(target, QKeyEvent(QEvent.KeyPress, Qt.Key_Delete, Qt.NoModifier))

    def loop_changed(self, start, end) -> None:
        self.playback.set_loop_range(start, end)

    def apply_loop(self, loop: tuple[int, int] | None, on: bool) -> None:
        """Set the loop range (None: none) in the ruler and the transport, and whether it loops."""
        start, end = loop if loop else (None, None)
        self.piano_roll.set_loop(start, end)
        self.loop_changed(start, end)
        self.transport.loop_btn.setChecked(bool(on and loop))

    # --- transport, live notes, recording --------------------------------------------------------------------------
    def stop(self) -> None:
        playing = self.playback.is_playing
        if self.transport.record_btn.isChecked():
            self.transport.record_btn.setChecked(False)       # ends the take (and pauses)
        self.playback.stop(was_playing=playing)              # back to where recording began, not to bar 1

    def _clean_changed(self, clean: bool) -> None:
        self.setWindowModified(not clean)

    def _on_position(self, tick: int) -> None:
        self.piano_roll.set_playhead(tick)
        self.transport.show_position(self.song, tick)
        self.keyboard.set_playback_keys(sounding_pitches(self.song, tick) if self.playback.is_playing else ())

    def _on_playing_changed(self, playing: bool) -> None:
        self.transport.show_playing(playing)
        if not playing:
            self.keyboard.set_playback_keys(())

    def _on_engine_status(self, problem: str) -> None:
        working = getattr(self.playback.engine, "available", False)
        self.audio_label.setText(("Audio ready" if working else "Audio off") + (f": {problem}" if problem else ""))
        self.audio_label.setToolTip(problem)
        if problem:
            self.statusBar().showMessage(problem, 8000)

    def update_octave_label(self) -> None:
        lo = self.keyboard.lowest
        self.octave_label.setText(f" C{lo // 12 - 1}–C{self.keyboard.highest // 12 - 1} ")

    # --- computer keyboard as a piano ------------------------------------------------------------------------------
    def _install_key_filter(self) -> None:
        if not self._filtering:
            QApplication.instance().installEventFilter(self)
            self._filtering = True

    def eventFilter(self, obj: QObject, e: QEvent) -> bool:
        t = e.type()
        if t not in (QEvent.KeyPress, QEvent.KeyRelease) or not self.isActiveWindow():
            return False
        if t == QEvent.KeyRelease and self.keyboard.holds(e.key()):  # let go with Ctrl down or in a text field
            return self.keyboard.computer_key_release(e.key(), e.isAutoRepeat())
        focus = QApplication.focusWidget()
        if obj is not (focus or self) or isinstance(focus, TEXT_INPUTS) or \
                (isinstance(focus, QComboBox) and focus.isEditable()):
            return False
        if e.modifiers() & (Qt.ControlModifier | Qt.AltModifier | Qt.MetaModifier):
            return False
        if t == QEvent.KeyPress:
            return self.keyboard.computer_key_press(e.key(), e.isAutoRepeat())
        return self.keyboard.computer_key_release(e.key(), e.isAutoRepeat())

    # --- window ----------------------------------------------------------------------------------------------------
    def showEvent(self, e) -> None:
        super().showEvent(e)
        if not e.spontaneous():
            QTimer.singleShot(0, self.fit_side_docks)           # once laid out at its first size
        if self._deferred:
            self._deferred.append((-150, self.center_roll))
            jobs, self._deferred = self._deferred, []
            for delay, job in jobs:         # 150 ms: after the first paint, even on a busy machine
                QTimer.singleShot(150 + delay, job)

    def resizeEvent(self, e) -> None:  # noqa: N802 - Qt name
        super().resizeEvent(e)
        if self.isVisible() and e.size().width() < e.oldSize().width():      # a wider window leaves the docks be
            self.fit_side_docks()

    def fit_side_docks(self, roll_share: float = 0.55) -> None:
        """Narrow the side docks (not below their minimum) until the roll has ``roll_share`` of the window: on a
        small screen they give way before the piano roll does."""
        docks = [d for d in self.findChildren(QDockWidget) if d.isVisible() and not d.isFloating()
                 and not d.visibleRegion().isEmpty()            # of tabbed docks, the one in front
                 and self.dockWidgetArea(d) in (Qt.LeftDockWidgetArea, Qt.RightDockWidgetArea)]
        widths = [d.width() for d in docks]
        floors = [d.minimumSizeHint().width() for d in docks]
        excess = roll_share * self.width() - (self.width() - sum(widths))
        if not docks or excess <= 0:
            return
        for _ in docks:                  # each pass: what a dock at its minimum cannot give, the others give
            room = [i for i, (w, f) in enumerate(zip(widths, floors)) if w > f]
            spare = sum(widths[i] for i in room)
            if excess <= 0.5 or not spare:
                break
            for i in room:
                cut = min(widths[i] - floors[i], excess * widths[i] / spare)
                widths[i] -= cut
            excess = roll_share * self.width() - (self.width() - sum(widths))
        self.resizeDocks(docks, [int(round(w)) for w in widths], Qt.Horizontal)

    def show_shortcuts(self) -> None:
        from PySide6.QtWidgets import QMessageBox
        rows = [("Space", "play / pause"), ("Home", "back to the start"), ("Ctrl+R", "record"), ("Ctrl+L", "loop"),
                ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo"), ("Ctrl+A, Delete", "select all, delete"),
                ("Ctrl+S / Ctrl+O / Ctrl+E", "save / open / export MIDI"),
                ("A W S E D F T G Y H U J K O L P", "play the on-screen keyboard"),
                ("Z / X, C / V, Tab", "octave down/up, velocity down/up, sustain")]
        helper = getattr(self.piano_roll, "shortcut_help", None)
        rows += list(helper()) if helper else []
        box = QMessageBox(QMessageBox.Information, "Keyboard shortcuts",
                          "<table>" + "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>"
                                              for k, v in rows) + "</table>", QMessageBox.Ok, self)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.open()

    def center_roll(self) -> None:
        """Scroll the piano roll to the edited track's notes (its viewport has its real size once shown)."""
        pr, track = self.piano_roll, (self.song.tracks[self.current_track] if self.song.tracks else None)
        coords, view = getattr(pr, "coords", None), getattr(pr, "view", None)
        if coords is None or view is None or track is None or not track.notes:
            return
        pitches = sorted(n.pitch for n in track.notes)
        coords.center_on_pitch(pitches[len(pitches) // 2], view.viewport().height())
        view.update_scrollbars()
        view.viewport().update()

    def _restore_layout(self) -> None:
        geo, state = self.settings.geometry(), self.settings.window_state()
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1400, 860)
        if state is not None:
            self.restoreState(state)

    def changeEvent(self, e) -> None:
        super().changeEvent(e)
        if e.type() == QEvent.ActivationChange and not self.isActiveWindow():
            self.keyboard.release_all()         # key releases would go to another window: no stuck notes

    @staticmethod
    def _dropped_file(e) -> Path | None:
        """The MIDI file or project a drag from outside the app carries (its first), or None: a track dragged out
        of this window and back is not opened."""
        mime = e.mimeData()
        if e.source() is not None or not mime.hasUrls():
            return None
        path = next((Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()), None)
        return path if path is not None and path.suffix.lower() in DROP_SUFFIXES else None

    def dragEnterEvent(self, e) -> None:
        if self._dropped_file(e) is not None:
            e.acceptProposedAction()
        else:
            e.ignore()

    def dragMoveEvent(self, e) -> None:
        self.dragEnterEvent(e)

    def dropEvent(self, e) -> None:
        path = self._dropped_file(e)
        if path is None:
            e.ignore()
            return
        e.acceptProposedAction()
        # after the drop returns: a question asked inside it would hold the file manager's drag
        QTimer.singleShot(0, lambda: self.confirm_discard(f"opening {path.name}") and
                          self.open_path(str(path), ask_melody=True))

    def closeEvent(self, e) -> None:
        if self.ask_on_close and not self.confirm_discard("closing"):
            e.ignore()
            return
        QApplication.instance().removeEventFilter(self)
        self._filtering = False
        self.cancel_generation()
        shutdown_panels(self)
        if self.save_layout_on_close:
            self.settings.save_layout(self.saveGeometry(), self.saveState())
        if self.midi is not None:               # first: no live note may reach a closed engine
            self.midi.shutdown()
        self.playback.close()
        self.close_files()
        super().closeEvent(e)
