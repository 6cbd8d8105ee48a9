"""Bar/beat ruler above the roll: bar numbers, beat ticks, the loop range and the playhead.

Click to ask for a seek (``seek_requested``), drag to set a loop range (``loop_changed``), right-click to clear the
loop. Shares the roll's ``RollCoords``; GUI thread only.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

from .coords import snap_round
from .painting import PALETTE

if TYPE_CHECKING:
    from .editor import PianoRollEditor

DRAG_THRESHOLD_PX = 3


class Ruler(QWidget):
    def __init__(self, editor: "PianoRollEditor") -> None:
        super().__init__(editor)
        self.ed = editor
        self._press_x: float | None = None
        self._drag_loop: tuple[int, int] | None = None
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click: move the playhead · drag: set the loop · right-click: clear the loop")

    def _snapped(self, x: float) -> int:
        ed = self.ed
        grid = ed.snap or ed.grid.beat_tick_at(max(0.0, ed.coords.x_to_tick(x)))
        return max(0, snap_round(ed.coords.x_to_tick(x), grid))

    def paintEvent(self, event) -> None:  # noqa: N802
        ed, c = self.ed, self.ed.coords
        p = QPainter(self)
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), QColor(0x1f, 0x21, 0x25))
        loop = self._drag_loop or ed.loop
        if loop:
            a, b = c.tick_to_x(loop[0]), c.tick_to_x(loop[1])
            p.fillRect(QRectF(a, h * 0.45, b - a, h * 0.55), QColor(0x60, 0xc0, 0x60, 110))
            p.setPen(QPen(PALETTE.loop_edge, 2))
            p.drawLine(QPointF(a, h * 0.45), QPointF(a, h))
            p.drawLine(QPointF(b, h * 0.45), QPointF(b, h))
        t0, t1 = c.visible_ticks(0, w)
        bar_px = ed.grid.bar_at(max(0.0, t0)).length_tick * c.px_per_tick
        label_every = max(1, 2 ** math.ceil(math.log2(max(1.0, 36 / max(bar_px, 1e-6)))))   # labels >= 36 px apart
        p.setPen(QPen(QColor(0xc8, 0xcc, 0xd4), 0))
        fm = p.fontMetrics()
        for bar in ed.grid.bars(t0, t1, label_every):
            x = math.floor(c.tick_to_x(bar.start_tick)) + 0.5
            p.drawLine(QPointF(x, h * 0.3), QPointF(x, h))
            p.drawText(QPointF(x + 3, fm.ascent() + 1), str(bar.number + 1))
            beat_px = bar.beat_tick * c.px_per_tick
            if beat_px >= 8:
                for k in range(1, bar.numerator):
                    bx = math.floor(c.tick_to_x(bar.start_tick + k * bar.beat_tick)) + 0.5
                    p.drawLine(QPointF(bx, h * 0.75), QPointF(bx, h))
        if ed.playhead is not None:
            x = c.tick_to_x(ed.playhead)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(PALETTE.playhead)
            p.drawPolygon(QPolygonF([QPointF(x - 5, h - 9), QPointF(x + 5, h - 9), QPointF(x, h)]))
        p.end()

    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if e.button() == Qt.MouseButton.RightButton:
            self.ed.set_loop(None, None)
            self.ed.loop_changed.emit(None, None)
            return
        if e.button() == Qt.MouseButton.LeftButton:
            self._press_x = e.position().x()

    def mouseMoveEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if self._press_x is None:
            return
        x = e.position().x()
        if abs(x - self._press_x) >= DRAG_THRESHOLD_PX:
            a, b = sorted((self._snapped(self._press_x), self._snapped(x)))
            self._drag_loop = (a, b) if b > a else None
            self.update()

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if e.button() != Qt.MouseButton.LeftButton or self._press_x is None:
            return
        press_x, self._press_x = self._press_x, None
        loop, self._drag_loop = self._drag_loop, None
        if abs(e.position().x() - press_x) < DRAG_THRESHOLD_PX:
            tick = max(0, round(self.ed.coords.x_to_tick(press_x)))
            self.ed.seek_requested.emit(self._snapped(press_x) if self.ed.snap else tick)
        elif loop is not None:
            self.ed.set_loop(*loop)
            self.ed.loop_changed.emit(loop[0], loop[1])
        self.update()
