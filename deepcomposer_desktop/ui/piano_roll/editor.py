"""``PianoRollEditor``: the piano-roll widget (ruler, key column, roll, velocity lane) and its edit actions.

It never mutates the song: every edit is emitted as ``notes_edited(track_index, new_notes, description)`` and the
owner (the main window's undo stack) calls ``set_song`` again. The selection survives that round trip because the
editor remembers which note values an edit selected and finds them in the new tuple. GUI thread only.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QRect, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from ...core.song import Song, Track
from . import ops
from .coords import BarGrid, RollCoords, snap_choices
from .keys import KeyColumn
from .ops import Edit, NoteIndex
from .ruler import Ruler
from .tools import RollTools
from .velocity_lane import VelocityLane
from .view import RollView

KEYS_WIDTH = 56
DRUM_KEYS_WIDTH = 112        # room for GM drum names
RULER_HEIGHT = 26
LANE_HEIGHT = 84
GHOST_ALPHA = 90             # the other tracks' notes: their own colour, this opaque
TRACK_COLORS = ("#4fa3e0", "#e0714f", "#6cc24a", "#c77dde", "#e0c04f", "#4fd0c4", "#e04f8a", "#9aa7ff")


def track_color(index: int) -> QColor:
    """The colour the tracks panel and the roll use for track ``index``."""
    return QColor(TRACK_COLORS[index % len(TRACK_COLORS)])


class PianoRollEditor(QWidget):
    """Edits the notes of one track of a Song; see the module docstring for the contract."""

    notes_edited = Signal(int, object, str)      # track index, tuple[Note, ...], description for the undo stack
    loop_changed = Signal(object, object)        # start tick, end tick (None, None: loop cleared)
    seek_requested = Signal(int)                 # tick
    note_preview = Signal(int, int)              # pitch, velocity: let the user hear a drawn / clicked note
    selection_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.song: Song | None = None
        self.track_index = 0
        self.coords = RollCoords()
        self.grid = BarGrid(None)
        self.index = NoteIndex(())
        self.ghosts = NoteIndex(())                   # the other tracks' notes painted faded, merged
        self.ghost_layers: list[tuple[int, NoteIndex]] = []   # the same per track: (track index, its notes)
        self.song_end = 0                             # last note end of any track (Song.end_tick is O(notes))
        self.selection: set[int] = set()
        self.playhead: int | None = None
        self.loop: tuple[int, int] | None = None
        self.follow_playhead = True
        self.draw_velocity = 100
        self.version = 0                              # bumped whenever the painted state changes
        self.sel_version = 0                          # bumped when the notes or the selection change
        self._snap: int | None = self.coords.ppq // 4
        self._draw_length: int | None = None          # last length drawn or resized; None: the snap
        self._pending_selection: tuple | None = None
        self._prebuilt: tuple | None = None            # (notes, NoteIndex) of the last emitted edit
        self._index_cache: dict[int, NoteIndex] = {}
        self._ghost_key: tuple = ()
        self._sel_mask: np.ndarray | None = None
        self._colors: list[QColor] = []

        self.tools = RollTools(self)
        self.view = RollView(self)
        self.ruler = Ruler(self)
        self.keys = KeyColumn(self)
        self.lane = VelocityLane(self)
        self.keys.setFixedWidth(KEYS_WIDTH)
        self.ruler.setFixedHeight(RULER_HEIGHT)
        self.lane.setFixedHeight(LANE_HEIGHT)
        lane_label = QLabel("Velocity")
        lane_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(0)
        grid.addWidget(self.ruler, 0, 1)
        grid.addWidget(self.keys, 1, 0)
        grid.addWidget(self.view, 1, 1, 2, 2)   # its scroll bars fill row 2 and column 2: keys, ruler and lane
        grid.addWidget(lane_label, 3, 0)         # end where the note grid (the viewport) ends
        grid.addWidget(self.lane, 3, 1)
        grid.setRowStretch(1, 1)
        grid.setColumnStretch(1, 1)
        self._grid = grid
        self._fit_scrollbar_gutters()
        self.setFocusProxy(self.view)
        self.setMinimumSize(320, 200)
        self.view.update_scrollbars()

    def _fit_scrollbar_gutters(self) -> None:
        """Row 2 / column 2 of the layout are exactly the roll's scroll bars (sizes follow the style)."""
        self._grid.setRowMinimumHeight(2, self.view.horizontalScrollBar().sizeHint().height())
        self._grid.setColumnMinimumWidth(2, self.view.verticalScrollBar().sizeHint().width())

    def event(self, e: QEvent) -> bool:
        if e.type() in (QEvent.Type.StyleChange, QEvent.Type.Polish):
            self._fit_scrollbar_gutters()
        return super().event(e)

    # --- song ----------------------------------------------------------------------------------------------------
    @property
    def notes(self):
        return self.index.notes

    @property
    def track(self) -> Track | None:
        return self.song.tracks[self.track_index] if self.song and self.song.tracks else None

    def set_song(self, song: Song, track_index: int) -> None:
        """Show ``song`` and edit its track ``track_index`` (other tracks are painted faded behind)."""
        if not song.tracks:
            track_index = 0
        elif not 0 <= track_index < len(song.tracks):
            raise IndexError(f"Track {track_index + 1} does not exist (the song has {len(song.tracks)})")
        first = self.song is None
        same_track = self.song is not None and track_index == self.track_index
        old_notes = self.notes
        old_selected = [old_notes[i] for i in sorted(self.selection)] if same_track else []
        self.tools.cancel()
        self.lane.cancel()                  # a velocity drag's note indices are the old notes' (Delete, undo)
        self.song, self.track_index = song, track_index
        if song.ppq != self.coords.ppq:
            old_ppq = self.coords.ppq
            self.coords.set_ppq(song.ppq)
            if self._snap:
                self._snap = max(1, round(self._snap * song.ppq / old_ppq))
            if self._draw_length:
                self._draw_length = max(1, round(self._draw_length * song.ppq / old_ppq))
        self.grid = BarGrid(song)
        cache = {}
        prebuilt, self._prebuilt = self._prebuilt, None
        for i, t in enumerate(song.tracks):
            key = id(t.notes)
            old = self._index_cache.get(key)
            if old is not None and old.notes is t.notes:
                cache[key] = old
            elif same_track and i == track_index and prebuilt is not None and prebuilt[1] is not None \
                    and len(prebuilt[0]) == len(t.notes) and prebuilt[0] == t.notes:   # our own edit came back
                prebuilt[1].notes = t.notes
                cache[key] = prebuilt[1]
            else:
                cache[key] = NoteIndex(t.notes)
        self._index_cache = cache
        self.index = cache[id(song.tracks[track_index].notes)] if song.tracks else NoteIndex(())
        self.song_end = max((int(ix.end.max()) for ix in cache.values() if len(ix)), default=0)
        drum = bool(song.tracks) and song.tracks[track_index].is_drum     # drums behind drums, pitches behind pitches
        ghost_key = tuple((i, id(t.notes)) for i, t in enumerate(song.tracks)
                          if i != track_index and t.is_drum == drum and t.notes)
        if ghost_key != self._ghost_key:
            self.ghost_layers = [(i, cache[k]) for i, k in ghost_key]
            self.ghosts = NoteIndex.merged([ix for _, ix in self.ghost_layers])
            self._ghost_key = ghost_key
        pending, self._pending_selection = self._pending_selection, None
        if pending is not None and same_track:
            new_sel = set(self.index.find(pending))           # what the last edit selected
        elif same_track and self.notes is old_notes:
            new_sel = set(self.selection)
        elif same_track:
            new_sel = set(self.index.find(old_selected))      # e.g. undo: keep what can still be found
        else:
            new_sel = set()
        changed_sel = new_sel != self.selection
        self.selection = {i for i in new_sel if i < len(self.notes)}
        self._sel_mask = None
        self.sel_version += 1
        width = DRUM_KEYS_WIDTH if self.is_drum else KEYS_WIDTH
        if self.keys.maximumWidth() != width:
            self.keys.setFixedWidth(width)
        self.view.update_scrollbars()
        if first and len(self.index):
            self.coords.center_on_pitch(int(np.median(self.index.pitch)), self.view.viewport().height())
            self.view.update_scrollbars()
        self.changed()
        if changed_sel:
            self.selection_changed.emit()

    def set_track_colors(self, colors) -> None:
        """Colours of the tracks (QColor or names, as the tracks panel shows them); the edited track uses its own."""
        new = [QColor(c) for c in colors]
        if [c.rgba() for c in new] != [c.rgba() for c in self._colors]:
            self._colors = new
            self.changed()

    def track_color(self) -> QColor:
        if self.track_index < len(self._colors) and self._colors[self.track_index].isValid():
            return self._colors[self.track_index]
        return track_color(self.track_index)

    def ghost_color(self, index: int) -> QColor:
        """Track ``index``'s colour, faded, for its notes behind the edited track."""
        color = QColor(self._colors[index]) if index < len(self._colors) and self._colors[index].isValid() \
            else track_color(index)
        color.setAlpha(GHOST_ALPHA)
        return color

    @property
    def is_drum(self) -> bool:
        return bool(self.track and self.track.is_drum)

    # --- view state ----------------------------------------------------------------------------------------------
    @property
    def snap(self) -> int | None:
        return self._snap

    def set_snap(self, ticks: int | None) -> None:
        """Snap grid in ticks (see ``snap_choices``); None turns snapping off."""
        if ticks is not None and (not isinstance(ticks, int) or ticks <= 0):
            raise ValueError(f"Snap must be a positive number of ticks or None, got {ticks!r}")
        self._snap = ticks
        self.changed()

    def snap_choices(self) -> list[tuple[str, int | None]]:
        return snap_choices(self.coords.ppq)

    def draw_length(self) -> int:
        return self._draw_length or self._snap or max(1, self.coords.ppq // 4)

    def remember_length(self, ticks: int) -> None:
        self._draw_length = max(1, int(ticks))

    def set_tool(self, name: str) -> None:
        if name not in ("draw", "select"):
            raise ValueError(f"Unknown piano-roll tool {name!r} (draw or select)")
        self.tools.tool = name

    def set_playhead(self, tick: int | None) -> None:
        old, self.playhead = self.playhead, tick
        if tick is not None and self.follow_playhead and self.tools.mode.name == "IDLE":
            c, w = self.coords, self.view.viewport().width()
            x = c.tick_to_x(tick)
            if x < 0 or x > w - 8:
                self.view.horizontalScrollBar().setValue(int(max(0.0, c.scroll_x + x - w * 0.1)))
        self.view.playhead_moved(old, tick)
        c = self.coords
        for t in (old, tick):                       # the ruler's marker and the lane's line: thin strips only
            if t is not None:
                x = int(math.floor(c.tick_to_x(t)))
                self.ruler.update(QRect(x - 6, 0, 13, self.ruler.height()))
                self.lane.update(QRect(x - 2, 0, 5, self.lane.height()))

    def set_loop(self, start_tick: int | None, end_tick: int | None = None) -> None:
        """Show a loop range; ``set_loop(None)`` / ``set_loop(None, None)`` clears it."""
        self.loop = None if start_tick is None or end_tick is None or end_tick <= start_tick else (
            int(start_tick), int(end_tick))
        self.changed()

    def zoom_x(self, factor: float, anchor_x: float | None = None) -> None:
        """Zoom the time axis by ``factor`` keeping the tick under ``anchor_x`` (default: view centre) in place."""
        c = self.coords
        ax = self.view.viewport().width() / 2 if anchor_x is None else anchor_x
        tick = c.x_to_tick(ax)
        c.set_px_per_beat(c.px_per_beat * factor)
        c.scroll_x = max(0.0, tick * c.px_per_tick - ax)
        self.view.update_scrollbars()
        self.view_changed(vertical=False)

    def zoom_y(self, factor: float, anchor_y: float | None = None) -> None:
        c = self.coords
        ay = self.view.viewport().height() / 2 if anchor_y is None else anchor_y
        frac = (ay + c.scroll_y) / c.content_height
        c.set_key_height(c.key_height * factor)
        c.scroll_y = max(0.0, frac * c.content_height - ay)
        self.view.update_scrollbars()
        self.view_changed(horizontal=False)

    def fit_x(self) -> None:
        """Zoom the time axis so that the whole song fits the view."""
        end = max(self.song_end, self.coords.ppq * 4)
        self.coords.set_px_per_beat(self.view.viewport().width() / (end / self.coords.ppq))
        self.coords.scroll_x = 0.0
        self.view.update_scrollbars()
        self.view_changed(vertical=False)

    def changed(self) -> None:
        """Painted state changed: repaint every part."""
        self.version += 1
        self.view.invalidate()
        self.ruler.update()
        self.keys.update()
        self.lane.update()

    def view_changed(self, horizontal: bool = True, vertical: bool = True) -> None:
        """Scroll or zoom changed (the frame cache notices by itself): repaint the parts that move."""
        self.view.viewport().update()
        if horizontal:
            self.ruler.update()
            self.lane.update()
        if vertical:
            self.keys.update()

    # --- selection -------------------------------------------------------------------------------------------------
    def selected_indices(self) -> list[int]:
        return sorted(self.selection)

    def selection_mask(self) -> np.ndarray | None:
        if not self.selection:
            return None
        if self._sel_mask is None or len(self._sel_mask) != len(self.notes):
            m = np.zeros(len(self.notes), bool)
            m[list(self.selection)] = True
            self._sel_mask = m
        return self._sel_mask

    def set_selection(self, indices) -> None:
        sel = {int(i) for i in indices if 0 <= int(i) < len(self.notes)}
        if sel != self.selection:
            self.selection = sel
            self._sel_mask = None
            self.sel_version += 1
            self.changed()
            self.selection_changed.emit()

    def select_all(self) -> None:
        self.set_selection(range(len(self.notes)))

    def clear_selection(self) -> None:
        self.set_selection(())

    # --- edits -----------------------------------------------------------------------------------------------------
    def apply_edit(self, edit: Edit | None) -> bool:
        """Emit one edit (its selection is restored when the owner calls ``set_song`` back). False if nothing to do."""
        if edit is None or self.song is None or not self.song.tracks:
            return False
        self._pending_selection = edit.selected
        self._prebuilt = (edit.notes, self.index.patched(edit))     # so set_song need not read every note again
        self.notes_edited.emit(self.track_index, edit.notes, edit.description)
        return True

    def delete_selected(self) -> bool:
        return self.apply_edit(ops.delete(self.notes, self.selected_indices()))

    def duplicate_selected(self) -> bool:
        return self.apply_edit(ops.duplicate(self.notes, self.selected_indices(), self._snap))

    def transpose_selected(self, semitones: int) -> bool:
        return self.apply_edit(ops.transpose(self.notes, self.selected_indices(), semitones))

    def quantize_selected(self, grid: int | None = None) -> bool:
        """Snap the starts of the selected notes (all notes when none is selected) to ``grid`` (default: snap)."""
        grid = grid or self._snap or max(1, self.coords.ppq // 4)
        indices = self.selected_indices() or list(range(len(self.notes)))
        return self.apply_edit(ops.quantize(self.notes, indices, grid))

    def nudge_selected(self, ticks: int) -> bool:
        return self.apply_edit(ops.move(self.notes, self.selected_indices(), ticks, 0))

    def set_velocities(self, changes: dict[int, int]) -> bool:
        return self.apply_edit(ops.set_velocities(self.notes, changes, self.selected_indices()))

    # --- keyboard --------------------------------------------------------------------------------------------------
    _KEYS = {
        (Qt.Key.Key_Delete, False, False): lambda ed: ed.delete_selected(),
        (Qt.Key.Key_Backspace, False, False): lambda ed: ed.delete_selected(),
        (Qt.Key.Key_D, True, False): lambda ed: ed.duplicate_selected(),
        (Qt.Key.Key_A, True, False): lambda ed: ed.select_all(),
        (Qt.Key.Key_Up, False, False): lambda ed: ed.transpose_selected(1),
        (Qt.Key.Key_Down, False, False): lambda ed: ed.transpose_selected(-1),
        (Qt.Key.Key_Up, False, True): lambda ed: ed.transpose_selected(12),
        (Qt.Key.Key_Down, False, True): lambda ed: ed.transpose_selected(-12),
        (Qt.Key.Key_Left, False, False): lambda ed: ed.nudge_selected(-(ed.snap or ed.coords.ppq // 4)),
        (Qt.Key.Key_Right, False, False): lambda ed: ed.nudge_selected(ed.snap or ed.coords.ppq // 4),
        (Qt.Key.Key_Q, False, False): lambda ed: ed.quantize_selected(),
        (Qt.Key.Key_Escape, False, False): lambda ed: (ed.tools.cancel(), ed.clear_selection()),
    }

    @staticmethod
    def _key_of(e: QKeyEvent) -> tuple:
        mods = e.modifiers()
        return (e.key(), bool(mods & Qt.KeyboardModifier.ControlModifier),
                bool(mods & Qt.KeyboardModifier.ShiftModifier))

    def handles_key(self, e: QEvent) -> bool:
        return isinstance(e, QKeyEvent) and self._key_of(e) in self._KEYS

    def handle_key(self, e: QKeyEvent) -> bool:
        action = self._KEYS.get(self._key_of(e))
        if action is None:
            return False
        action(self)
        e.accept()
        return True

    @staticmethod
    def shortcut_help() -> list[tuple[str, str]]:
        """(keys, what they do) for the help text / tooltips of the main window."""
        k = QKeySequence
        return [("Click", "draw a note (pencil) / select a note"), ("Drag", "move; drag the right edge to resize"),
                ("Shift+drag", "rubber-band select"), ("Right-click", "delete a note"),
                (k("Ctrl+D").toString(), "duplicate selection"), ("Delete", "delete selection"),
                ("Up / Down", "transpose a semitone (Shift: an octave)"), ("Left / Right", "nudge by the snap"),
                ("Q", "quantize selection to the snap"), ("Ctrl+wheel", "zoom time (Shift: pitch)"),
                ("Alt while dragging", "ignore the snap")]
