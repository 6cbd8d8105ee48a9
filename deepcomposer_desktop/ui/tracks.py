"""Tracks panel: one row per track with colour, melody marker, name, GM instrument, mute/solo, volume, pan,
duplicate, delete and a drag-out grip. It never changes the Song: it emits requests the window turns into
undoable commands. GUI thread only.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QColorDialog, QComboBox, QDial, QFrame, QHBoxLayout, QLineEdit, QScrollArea,
                               QSizePolicy, QSlider, QToolButton, QVBoxLayout, QWidget, QLabel)

from ..core.analysis import controls_summary
from ..core.gm import FAMILIES, PROGRAM_NAMES
from ..core.song import Song, Track
from .dragout import DragOutHandle, single_track_song
from .gestures import Gesture

PALETTE = ("#4fa3ff", "#ff7a59", "#7bd88f", "#ffcc4d", "#c58cff", "#4dd8d8", "#ff6fa8", "#a0c060",
           "#e0a070", "#8fa8ff")


def default_color(index: int) -> QColor:
    """The same default colours as the piano roll (when it is there)."""
    try:
        from .piano_roll import track_color
    except Exception:  # noqa: BLE001 - the roll is optional
        return QColor(PALETTE[index % len(PALETTE)])
    return track_color(index)


def _tool(text: str, tip: str, checkable: bool = False) -> QToolButton:
    b = QToolButton()
    b.setText(text)
    b.setToolTip(tip)
    b.setCheckable(checkable)
    b.setFixedSize(26, 24)
    return b


class TrackRow(QFrame):
    """One track's strip. Signals carry the row's current index (rows are rebuilt when tracks come and go)."""

    def __init__(self, panel: "TracksPanel", index: int) -> None:
        super().__init__()
        self.panel, self.index = panel, index
        self.setObjectName("TrackRow")
        self.setFrameShape(QFrame.StyledPanel)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
        self.color_btn = _tool("", "Track colour")
        self.color_btn.setFixedSize(14, 50)
        self.melody_btn = _tool("★", "The input melody: the track the models read", checkable=True)
        self.name_edit = QLineEdit()
        self.name_edit.setToolTip("Track name")
        self.name_edit.setMinimumWidth(40)
        self.mute_btn = _tool("M", "Mute", checkable=True)
        self.mute_btn.setObjectName("MuteButton")
        self.solo_btn = _tool("S", "Solo", checkable=True)
        self.mute_btn.setStyleSheet("QToolButton:checked { background:#d9534f; color:white; }")
        self.solo_btn.setStyleSheet("QToolButton:checked { background:#f0ad4e; color:black; }")
        self.melody_btn.setStyleSheet("QToolButton:checked { color:#ffcc4d; } QToolButton { color:#666; }")
        self._styled: tuple = ()         # (colour, current) last styled: with 120 tracks, restyling every row
        self._tipped = None              # made each edit take ~1 s; the track whose tooltip is shown
        self.solo_btn.setObjectName("SoloButton")
        self.program_box = QComboBox()
        self.program_box.setToolTip("General MIDI instrument")
        for i, name in enumerate(PROGRAM_NAMES):
            self.program_box.addItem(f"{i + 1:03d} {name}", i)
            self.program_box.setItemData(i, FAMILIES[i // 8], Qt.ToolTipRole)
        self.program_box.addItem("Drum Kit", -1)
        self.program_box.setMaxVisibleItems(20)
        self.program_box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.program_box.setMinimumContentsLength(7)
        self.volume = QSlider(Qt.Horizontal)
        self.volume.setRange(0, 127)
        self.volume.setToolTip("Volume")
        self.volume.setMinimumWidth(36)             # gives way first when the tracks dock is narrow
        self.volume.setMaximumWidth(70)
        self.pan = QDial()
        self.pan.setRange(0, 127)
        self.pan.setFixedSize(26, 26)
        self.pan.setToolTip("Pan (double-click to centre)")
        self.gestures = {"volume": Gesture(self.volume), "pan": Gesture(self.pan, reset=64)}   # undo steps
        self.dup_btn = _tool("❏", "Duplicate track")
        self.del_btn = _tool("✕", "Delete track")
        self.grip = DragOutHandle(lambda: (single_track_song(panel.song, self.index),
                                           panel.song.tracks[self.index].name),
                                  "Drag this track out as a .mid file")

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.setSpacing(3)
        for w in (self.melody_btn, self.name_edit, self.mute_btn, self.solo_btn, self.dup_btn, self.del_btn):
            top.addWidget(w)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.setSpacing(3)
        bottom.addWidget(self.program_box, 1)
        for w in (self.volume, self.pan, self.grip):
            bottom.addWidget(w)
        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.setSpacing(2)
        right.addLayout(top)
        right.addLayout(bottom)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(3, 3, 3, 3)
        outer.setSpacing(4)
        outer.addWidget(self.color_btn)
        outer.addLayout(right, 1)

        emit = panel.track_edited.emit
        self.mute_btn.toggled.connect(lambda on: emit(self.index, "mute", on))
        self.solo_btn.toggled.connect(lambda on: emit(self.index, "solo", on))
        self.volume.valueChanged.connect(lambda v: emit(self.index, "volume", v))
        self.pan.valueChanged.connect(lambda v: emit(self.index, "pan", v))
        self.name_edit.editingFinished.connect(self._renamed)
        self._typing = False                 # a name typed and not yet committed (Enter or leaving the field)
        self.name_edit.textEdited.connect(lambda _: setattr(self, "_typing", True))
        self.name_edit.installEventFilter(self)                 # Escape: put the name back, commit nothing
        self.program_box.activated.connect(self._program_chosen)
        act = panel.track_action.emit
        self.melody_btn.clicked.connect(lambda: act(self.index, "melody"))
        self.dup_btn.clicked.connect(lambda: act(self.index, "duplicate"))
        self.del_btn.clicked.connect(lambda: act(self.index, "delete"))
        self.color_btn.clicked.connect(self._pick_color)

    def mousePressEvent(self, e) -> None:
        self.panel.set_current(self.index)
        super().mousePressEvent(e)

    def drop_typing(self) -> None:
        """Forget a name typed and not committed: the row shows another track now (undo, redo)."""
        self._typing = False

    def eventFilter(self, obj: QObject, e: QEvent) -> bool:
        """Escape in the name field cancels the rename: the track's name comes back and leaving commits nothing."""
        if obj is self.name_edit and e.type() == QEvent.Type.KeyPress and e.key() == Qt.Key.Key_Escape:
            self.drop_typing()
            if self.index < len(self.panel.song.tracks):
                self.name_edit.setText(self.panel.song.tracks[self.index].name)
            return True
        if obj is self.name_edit and e.type() == QEvent.Type.FocusIn and e.reason() != Qt.MouseFocusReason:
            self.name_edit.end(False)    # shown from its start (cut at its end); typing goes on after the name
        return super().eventFilter(obj, e)

    def _renamed(self) -> None:
        self._typing = False
        text = self.name_edit.text().strip()
        if self.index >= len(self.panel.song.tracks):
            return                       # the row went (undo, File › New) while a name was being typed
        if text and text != self.panel.song.tracks[self.index].name:
            self.panel.track_edited.emit(self.index, "name", text)
        if self.index < len(self.panel.song.tracks):             # a blank name is refused: the field says so
            self.name_edit.setText(self.panel.song.tracks[self.index].name)
            self.name_edit.setCursorPosition(0)

    def _program_chosen(self, row: int) -> None:
        prog = self.program_box.itemData(row)
        track = self.panel.song.tracks[self.index]
        if prog == -1:
            if not track.is_drum:
                self.panel.track_edited.emit(self.index, "is_drum", True)
        elif track.is_drum:                       # drum kit -> instrument: one step to undo
            self.panel.track_edited.emit(self.index, "instrument", prog)
        elif prog != track.program:
            self.panel.track_edited.emit(self.index, "program", prog)

    def _pick_color(self) -> None:
        c = QColorDialog.getColor(self.panel.color(self.index), self, "Track colour")
        if c.isValid():
            self.panel.set_color(self.index, c)

    def show_track(self, track: Track, color: QColor, is_melody: bool, current: bool) -> None:
        widgets = (self.mute_btn, self.solo_btn, self.volume, self.pan, self.name_edit, self.program_box,
                   self.melody_btn)
        for w in widgets:
            w.blockSignals(True)
        try:
            if not self._typing:         # an undo while the field has focus still shows the name it brings back
                self.name_edit.setText(track.name)
                self.name_edit.setCursorPosition(0)          # a long name cut at its end, not at its start
            self.mute_btn.setChecked(track.mute)
            self.solo_btn.setChecked(track.solo)
            self.volume.setValue(track.volume)
            self.pan.setValue(track.pan)
            self.program_box.setCurrentIndex(128 if track.is_drum else track.program)
            self.melody_btn.setChecked(is_melody)
        finally:
            for w in widgets:
                w.blockSignals(False)
        if self._tipped is not track:
            self._tipped = track
            controls = controls_summary(track)
            tip = f"Controller changes: {controls}. They play, save and export with the track." if controls else ""
            self.setToolTip(tip)
            self.name_edit.setToolTip("Track name" + (f"\n{tip}" if tip else ""))
        self.setProperty("current", current)
        if self._styled != (color.name(), current):       # a style sheet costs ~1 ms: only when it changes
            self._styled = (color.name(), current)
            self.color_btn.setStyleSheet(f"background:{color.name()}; border:none; border-radius:3px;")
            self.setStyleSheet("#TrackRow { border: 1px solid %s; border-radius: 4px; background: %s; }"
                               % (color.name() if current else "#3a3a3a", "#2e3440" if current else "#262626"))


class TracksPanel(QWidget):
    """``track_edited(index, field, value)`` for name/program/is_drum/mute/solo/volume/pan;
    ``track_action(index, what)`` for melody/duplicate/delete; ``current_changed(index)``; ``add_requested()``;
    ``colors_changed()``.
    """

    track_edited = Signal(int, str, object)
    track_action = Signal(int, str)
    current_changed = Signal(int)
    add_requested = Signal()
    colors_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.song = Song()
        self.current = 0
        self._colors: list[QColor] = []
        self.rows: list[TrackRow] = []
        self._box = QVBoxLayout()
        self._box.setContentsMargins(2, 2, 2, 2)
        self._box.setSpacing(3)
        self._box.addStretch(1)
        inner = QWidget()
        inner.setLayout(self._box)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidget(inner)
        scroll.setFrameShape(QFrame.NoFrame)
        header = QHBoxLayout()
        title = QLabel("<b>Tracks</b>")
        add = QToolButton()
        add.setText("+ Track")
        add.setToolTip("Add an empty track")
        add.clicked.connect(self.add_requested)
        self.add_button = add
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(add)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(header)
        lay.addWidget(scroll, 1)
        self.setMinimumWidth(252)       # a row at its narrowest + scroll bar: docks give way first on small screens

    # --- colours (view data, stored in the project's "extra") ------------------------------------------------------
    def color(self, index: int) -> QColor:
        return self._colors[index] if index < len(self._colors) else default_color(index)

    def colors(self) -> list[str]:
        return [self.color(i).name() for i in range(len(self.song.tracks))]

    def set_colors(self, names: list[str]) -> None:
        self._colors = [QColor(n) if QColor(n).isValid() else default_color(i) for i, n in enumerate(names)]
        self._refresh()
        self.colors_changed.emit()

    def set_color(self, index: int, color: QColor) -> None:
        while len(self._colors) <= index:
            self._colors.append(default_color(len(self._colors)))
        self._colors[index] = color
        self._refresh()
        self.colors_changed.emit()

    # --- song ------------------------------------------------------------------------------------------------------
    def set_song(self, song: Song) -> None:
        old, self.song = self.song, song
        for row in self.rows:               # a name being typed is for the track its row showed, no other
            if row._typing and not _same_track(old, song, row.index):
                row.drop_typing()
        n = len(song.tracks)
        while len(self.rows) > n:
            row = self.rows.pop()
            row.setParent(None)
            row.deleteLater()
        while len(self.rows) < n:
            row = TrackRow(self, len(self.rows))
            self._box.insertWidget(len(self.rows), row)
            self.rows.append(row)
        if self.current >= n:
            self.current = max(0, n - 1)
        self._refresh()

    def gesture(self, index: int, field: str) -> object | None:
        """Which gesture the change of ``field`` ("volume", "pan") on row ``index`` being made now belongs to (see
        ``gestures.Gesture``); None: an edit of its own."""
        g = self.rows[index].gestures.get(field) if 0 <= index < len(self.rows) else None
        return g.token() if g is not None else None

    def set_current(self, index: int) -> None:
        if 0 <= index < len(self.song.tracks) and index != self.current:
            self.current = index
            self._refresh()
            self.current_changed.emit(index)

    def _refresh(self) -> None:
        for i, (row, track) in enumerate(zip(self.rows, self.song.tracks)):
            row.show_track(track, self.color(i), i == self.song.melody_index, i == self.current)


def _same_track(old: Song, new: Song, index: int) -> bool:
    """Whether row ``index`` shows the same track in ``new`` as in ``old``: the very Track still there, or, when it is
    nowhere in ``new``, a track of the same name at the same row of as many (that track edited: muted, moved ...)."""
    if index >= len(old.tracks) or index >= len(new.tracks):
        return False
    was = old.tracks[index]
    at = next((i for i, t in enumerate(new.tracks) if t is was), None)
    if at is not None:
        return at == index
    return len(old.tracks) == len(new.tracks) and new.tracks[index].name == was.name
