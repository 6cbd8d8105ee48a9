"""Mouse interactions on the roll: draw, select (click / shift-click / ctrl-click / rubber band), move, resize.

``RollTools`` is a small state machine driven by the view's mouse events (GUI thread). While a drag is under way
it only changes what is painted (``overlay`` notes on top, the dragged originals ``hidden``); the edit is emitted
once, on release, through ``PianoRollEditor.apply_edit`` so that one gesture is one undo step.
"""
from __future__ import annotations

from enum import Enum, auto
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt

from ...core.song import MAX_TICK, Note
from . import ops
from .coords import snap_ceil, snap_floor, snap_round

if TYPE_CHECKING:
    from .editor import PianoRollEditor

EDGE_PX = 5            # the right edge of a note (this many pixels) resizes it
DRAG_THRESHOLD_PX = 3  # a press that moves less than this is a click


class Mode(Enum):
    IDLE = auto()
    DRAW = auto()
    MOVE = auto()
    RESIZE = auto()
    BAND = auto()


class RollTools:
    """Interprets presses and drags on the roll viewport. ``tool`` is "draw" (pencil, default) or "select"."""

    def __init__(self, editor: "PianoRollEditor") -> None:
        self.ed = editor
        self.tool = "draw"
        self.mode = Mode.IDLE
        self.overlay: list[Note] = []
        self.hidden: np.ndarray | None = None
        self.band: QRectF | None = None
        self._press = QPointF()              # in content pixels (viewport + scroll): survives autoscroll
        self._press_tick = 0.0
        self._press_pitch = 0
        self._grab = -1
        self._grab_was_selected = False
        self._indices: list[int] = []
        self._delta = (0, 0)
        self._draw_note: Note | None = None
        self._additive = False

    # --- hit-testing -------------------------------------------------------------------------------------------
    def hit(self, x: float, y: float) -> tuple[int | None, str]:
        """(note index, "edge" | "body") under a viewport point, or (None, "")."""
        c = self.ed.coords
        i = self.ed.index.at(c.x_to_tick(x), c.y_to_pitch(y))
        if i is None:
            return None, ""
        n = self.ed.notes[i]
        right = c.tick_to_x(n.end_tick)
        width = right - c.tick_to_x(n.start_tick)
        edge = min(EDGE_PX, width / 3)
        return i, ("edge" if x >= right - edge else "body")

    def cursor_for(self, x: float, y: float) -> Qt.CursorShape:
        i, zone = self.hit(x, y)
        if zone == "edge":
            return Qt.CursorShape.SizeHorCursor
        if zone == "body":
            return Qt.CursorShape.SizeAllCursor
        return Qt.CursorShape.CrossCursor if self.tool == "draw" else Qt.CursorShape.ArrowCursor

    # --- events ------------------------------------------------------------------------------------------------
    def press(self, pos: QPointF, button: Qt.MouseButton, mods: Qt.KeyboardModifier) -> None:
        ed, c = self.ed, self.ed.coords
        self._press = QPointF(pos.x() + c.scroll_x, pos.y() + c.scroll_y)
        self._press_tick = c.x_to_tick(pos.x())
        self._press_pitch = c.y_to_pitch(pos.y())
        i, zone = self.hit(pos.x(), pos.y())
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        if button == Qt.MouseButton.RightButton:
            if i is not None:                                   # pencil habit: right-click erases
                ed.apply_edit(ops.delete(ed.notes, [i]))
            return
        if button != Qt.MouseButton.LeftButton:
            return
        if i is not None:
            note = ed.notes[i]
            if ctrl:                                            # toggle one note in or out of the selection
                sel = set(ed.selection)
                sel.symmetric_difference_update({i})
                ed.set_selection(sel)
                return
            self._grab_was_selected = i in ed.selection
            if not self._grab_was_selected:
                ed.set_selection((ed.selection | {i}) if shift else {i})
            self._grab = i
            self._indices = sorted(ed.selection)
            self._delta = (0, 0)
            self.mode = Mode.RESIZE if zone == "edge" else Mode.MOVE
            hidden = np.zeros(len(ed.notes), bool)
            hidden[self._indices] = True
            self.hidden = hidden
            self.overlay = [ed.notes[k] for k in self._indices]
            ed.note_preview.emit(note.pitch, note.velocity)
            ed.view.invalidate()
            return
        if self.tool == "select" or shift or ctrl:
            self.mode = Mode.BAND
            self._additive = shift or ctrl
            self.band = QRectF(pos, pos)
            if not self._additive:
                ed.set_selection(set())
            ed.view.viewport().update()
            return
        snap = ed.snap
        start = max(0, min(MAX_TICK - 1, snap_floor(self._press_tick, snap)))     # a note ends by the last tick
        self._draw_note = Note(start, self._press_pitch, min(ed.draw_length(), MAX_TICK - start), ed.draw_velocity)
        self.overlay = [self._draw_note]
        self.mode = Mode.DRAW
        ed.set_selection(set())
        ed.note_preview.emit(self._press_pitch, ed.draw_velocity)
        ed.view.viewport().update()

    def move(self, pos: QPointF, mods: Qt.KeyboardModifier) -> None:
        ed, c = self.ed, self.ed.coords
        if self.mode == Mode.IDLE:
            return
        snap = None if mods & Qt.KeyboardModifier.AltModifier else ed.snap    # Alt: move freely
        far = (QPointF(pos.x() + c.scroll_x, pos.y() + c.scroll_y) - self._press).manhattanLength() \
            >= DRAG_THRESHOLD_PX
        raw = c.x_to_tick(pos.x()) - self._press_tick
        if self.mode == Mode.MOVE:
            dt = dp = 0
            if far:
                grab = ed.notes[self._grab]
                dt = snap_round(grab.start_tick + raw, snap) - grab.start_tick
                dp = c.y_to_pitch(pos.y()) - self._press_pitch
                dt, dp = ops.clamp_move(ed.notes, self._indices, dt, dp)
            if dp != self._delta[1]:
                grab = ed.notes[self._grab]
                ed.note_preview.emit(grab.pitch + dp, grab.velocity)
            self._delta = (dt, dp)
            self.overlay = ops.moved(ed.notes, self._indices, dt, dp)
        elif self.mode == Mode.RESIZE:
            d_end = 0
            if far:
                grab = ed.notes[self._grab]
                d_end = snap_round(grab.end_tick + raw, snap) - grab.end_tick
            self._delta = (d_end, 0)
            self.overlay = ops.resized(ed.notes, self._indices, d_end, snap or 1)
        elif self.mode == Mode.DRAW and self._draw_note is not None:
            n = self._draw_note
            end = min(MAX_TICK, max(n.start_tick + ed.draw_length(), snap_ceil(c.x_to_tick(pos.x()), snap)))
            self._draw_note = Note(n.start_tick, n.pitch, max(1, end - n.start_tick), n.velocity)
            self.overlay = [self._draw_note]
        elif self.mode == Mode.BAND:
            anchor = QPointF(self._press.x() - c.scroll_x, self._press.y() - c.scroll_y)
            self.band = QRectF(anchor, pos).normalized()
        ed.view.viewport().update()

    def release(self, pos: QPointF, mods: Qt.KeyboardModifier) -> None:
        ed = self.ed
        mode, self.mode = self.mode, Mode.IDLE
        try:
            if mode == Mode.MOVE:
                dt, dp = self._delta
                if dt or dp:
                    ed.apply_edit(ops.move(ed.notes, self._indices, dt, dp))
                elif self._grab_was_selected and not (mods & Qt.KeyboardModifier.ShiftModifier):
                    ed.set_selection({self._grab})               # click on one of several selected: just that one
            elif mode == Mode.RESIZE:
                snap = None if mods & Qt.KeyboardModifier.AltModifier else ed.snap
                edit = ops.resize(ed.notes, self._indices, self._delta[0], snap or 1)
                if edit is not None:                            # the length it got, clamped as the edit was
                    ed.remember_length(ops.resized(ed.notes, [self._grab], self._delta[0], snap or 1)[0].duration_tick)
                ed.apply_edit(edit)
            elif mode == Mode.DRAW and self._draw_note is not None:
                if self._draw_note.duration_tick != ed.draw_length() and self._draw_note.end_tick < MAX_TICK:
                    ed.remember_length(self._draw_note.duration_tick)
                ed.apply_edit(ops.add_note(ed.notes, self._draw_note))
            elif mode == Mode.BAND and self.band is not None:
                self._select_band(self.band)
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Drop any drag under way (Escape, a new song) without emitting anything."""
        had_hidden = self.hidden is not None
        self.mode = Mode.IDLE
        self.overlay = []
        self.hidden = None
        self.band = None
        self._draw_note = None
        if had_hidden:
            self.ed.view.invalidate()
        else:
            self.ed.view.viewport().update()

    def _select_band(self, band: QRectF) -> None:
        ed, c = self.ed, self.ed.coords
        t0, t1 = c.visible_ticks(band.left(), band.right())
        lo, hi = c.visible_pitches(band.top(), band.bottom())
        found = set(ed.index.visible(t0, max(t1, t0 + 1e-9), lo, hi).tolist())
        ed.set_selection((ed.selection | found) if self._additive else found)
