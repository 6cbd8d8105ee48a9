"""The velocity lane under the roll: one bar per note at its start; drag across bars to set their velocity.

When notes are selected only they are edited. The whole drag becomes one "Change velocity" edit on release.
Shares the roll's ``RollCoords``; GUI thread only.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from ...core.analysis import pedal_spans
from .painting import PALETTE

if TYPE_CHECKING:
    from .editor import PianoRollEditor

HIT_PX = 4          # a bar is hit within this many pixels of its note's start
PEDAL_STRIP_PX = 3
PEDAL_COLOR = QColor(0x7f, 0xa8, 0xd8)
BAR_LIMIT = 300     # more visible notes than this: paint one image, each column its loudest bar


class VelocityLane(QWidget):
    def __init__(self, editor: "PianoRollEditor") -> None:
        super().__init__(editor)
        self.ed = editor
        self.changes: dict[int, int] = {}       # note index -> velocity, while dragging
        self._last_x: float | None = None
        self._cache: QPixmap | None = None
        self._cache_key: tuple | None = None
        self._seen_key: tuple | None = None
        self._changes_version = 0               # bumped as a drag changes velocities
        self.setToolTip("Drag across the bars to set note velocities (only the selected notes when there are any). "
                        "The strip along the top shows where the sustain pedal is down.")

    # --- mapping -----------------------------------------------------------------------------------------------
    def velocity_at(self, y: float) -> int:
        h = max(1, self.height() - 4)
        return max(1, min(127, int(round((self.height() - 2 - y) / h * 127))))

    def y_of(self, velocity: int) -> float:
        return self.height() - 2 - velocity / 127 * max(1, self.height() - 4)

    def point_for(self, index: int, velocity: int) -> tuple[int, int]:
        """Integer lane point on note ``index``'s bar that sets ``velocity`` (for tests and automation)."""
        n = self.ed.notes[index]
        return int(round(self.ed.coords.tick_to_x(n.start_tick))) + 1, int(round(self.y_of(velocity)))

    def _visible(self) -> np.ndarray:
        c = self.ed.coords
        return self.ed.index.visible(*c.visible_ticks(-HIT_PX, self.width() + HIT_PX))

    # --- painting ------------------------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802
        """The bars (painted directly the first time a view state is seen, from a cached pixmap when it is painted
        again, e.g. as the playhead moves), then the playhead line."""
        ed, c = self.ed, self.ed.coords
        dpr = self.devicePixelRatioF()
        key = (ed.version, c.scroll_x, c.px_per_tick, self.width(), self.height(), dpr, self._changes_version)
        p = QPainter(self)
        if key != self._cache_key and key == self._seen_key:
            w, h = int(self.width() * dpr), int(self.height() * dpr)
            if self._cache is None or self._cache.width() != w or self._cache.height() != h:
                self._cache = QPixmap(w, h)
            self._cache.setDevicePixelRatio(dpr)
            cp = QPainter(self._cache)
            self._paint_bars(cp)
            cp.end()
            self._cache_key = key
        if key == self._cache_key and self._cache is not None:
            p.drawPixmap(0, 0, self._cache)
        else:
            self._seen_key = key
            self._paint_bars(p)
        if ed.playhead is not None:
            x = math.floor(c.tick_to_x(ed.playhead)) + 0.5
            p.setPen(QPen(PALETTE.playhead, 1))
            p.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        p.end()

    def _paint_bars(self, p: QPainter) -> None:
        ed, c = self.ed, self.ed.coords
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), QColor(0x22, 0x24, 0x29))
        p.setPen(QPen(QColor(0x40, 0x44, 0x4c), 0))
        for v in (32, 64, 96, 127):
            y = math.floor(self.y_of(v)) + 0.5
            p.drawLine(QPointF(0, y), QPointF(w, y))
        self._paint_pedal(p)
        idx = ed.index
        vis = self._visible()
        if len(vis):
            xs = np.floor(idx.start[vis] * c.px_per_tick - c.scroll_x)
            vel = idx.vel[vis].copy()
            if self.changes:
                where = np.searchsorted(vis, list(self.changes))
                ok = where < len(vis)
                keys = np.fromiter(self.changes, np.int64, len(self.changes))
                ok &= vis[np.minimum(where, len(vis) - 1)] == keys
                vel[where[ok]] = np.fromiter(self.changes.values(), np.int64, len(self.changes))[ok]
            sel = ed.selection_mask()
            selected = sel[vis] if sel is not None else np.zeros(len(vis), bool)
            tops = (h - 2) - vel / 127 * max(1, h - 4)          # y_of, vectorised
            base = ed.track_color()
            if len(vis) > BAR_LIMIT:
                self._paint_columns(p, xs.astype(np.int64), tops, selected, base)
            else:
                p.setPen(Qt.PenStyle.NoPen)
                heights = (h - 2) - tops
                for flag, color in ((False, base), (True, PALETTE.selected)):
                    m = selected == flag
                    rects = [QRectF(x, y, 3, bh) for x, y, bh in zip(xs[m].tolist(), tops[m].tolist(),
                                                                      heights[m].tolist())]
                    if rects:
                        p.setBrush(color)
                        p.drawRects(rects)

    def _paint_pedal(self, p: QPainter) -> None:
        """A strip along the top where the track's sustain pedal is down (read-only: the pedal comes from an
        imported file and plays, exports and saves with the track)."""
        track = self.ed.track
        if track is None or not track.controls:
            return
        c = self.ed.coords
        first, last = c.visible_ticks(0, self.width())
        rects = [QRectF(x0, 0, max(1.0, x1 - x0), PEDAL_STRIP_PX)
                 for a, b in pedal_spans(track.controls, track.end_tick) if b > first and a < last
                 for x0, x1 in [(max(-1.0, c.tick_to_x(a)), min(self.width() + 1.0, c.tick_to_x(b)))]]
        if rects:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(PEDAL_COLOR)
            p.drawRects(rects)

    def _paint_columns(self, p: QPainter, cols: np.ndarray, tops: np.ndarray, selected: np.ndarray,
                       base: QColor) -> None:
        """Level of detail for many notes: one image, each pixel column showing its loudest bar (numpy)."""
        w, h = self.width(), self.height()
        out = np.zeros((h, w), np.uint32)
        rows = np.arange(h, dtype=float)[:, None]
        for flag, color in ((False, base), (True, PALETTE.selected)):
            m = selected == flag
            if not m.any():
                continue
            top = np.full(w, float(h))
            order = np.argsort(-tops[m], kind="stable")         # loudest last: repeated indices keep the last
            cc, tt = cols[m][order], tops[m][order]
            for d in range(3):                                   # bars are 3 px wide
                ok = (cc + d >= 0) & (cc + d < w)
                top[cc[ok] + d] = np.minimum(top[cc[ok] + d], tt[ok])
            out[(rows >= top[None, :]) & (rows < h - 2)] = (0xff << 24) | (color.rgb() & 0xffffff)
        img = QImage(out.data, w, h, w * 4, QImage.Format.Format_ARGB32_Premultiplied)
        p.drawImage(0, 0, img)

    # --- editing -------------------------------------------------------------------------------------------------
    def _sweep(self, x0: float, x1: float, y: float) -> None:
        ed, c = self.ed, self.ed.coords
        a, b = min(x0, x1) - HIT_PX, max(x0, x1) + HIT_PX
        vis = self._visible()
        if not len(vis):
            return
        xs = ed.index.start[vis] * c.px_per_tick - c.scroll_x
        hit = vis[(xs >= a) & (xs <= b)].tolist()
        if ed.selection:
            hit = [i for i in hit if i in ed.selection]
        v = self.velocity_at(y)
        for i in hit:
            self.changes[i] = v
        self._changes_version += 1

    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if e.button() != Qt.MouseButton.LeftButton:
            return
        self.changes = {}
        self._changes_version += 1
        self._last_x = e.position().x()
        self._sweep(self._last_x, self._last_x, e.position().y())
        self.update()

    def mouseMoveEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if self._last_x is None:
            return
        x = e.position().x()
        self._sweep(self._last_x, x, e.position().y())
        self._last_x = x
        self.update()

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if e.button() != Qt.MouseButton.LeftButton or self._last_x is None:
            return
        changes, self.changes, self._last_x = self.changes, {}, None
        self._changes_version += 1
        if changes:
            v = next(iter(changes.values()))
            self.ed.draw_velocity = v                    # new notes get the velocity last set here
            self.ed.set_velocities(changes)
        self.update()

    def cancel(self) -> None:
        """Drop a drag under way without an edit (the notes changed under it: its note indices mean other notes)."""
        if self._last_x is not None or self.changes:
            self.changes, self._last_x = {}, None
            self._changes_version += 1
            self.update()
