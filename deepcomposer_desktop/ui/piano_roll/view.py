"""The roll itself: a custom-painted ``QAbstractScrollArea`` viewport that culls to the visible range (LMMS-style).

The static part of a frame (grid, loop, faded tracks, the edited notes) is rendered once into a cached pixmap; the
playhead, rubber band and notes being dragged are painted over it, so a playing song repaints with one blit.
All methods run on the GUI thread.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap, QWheelEvent
from PySide6.QtWidgets import QAbstractScrollArea

from ...core.song import MAX_TICK
from . import painting
from .ops import NoteIndex
from .painting import PALETTE

if TYPE_CHECKING:
    from .editor import PianoRollEditor

SCROLL_MARGIN_BARS = 8       # room to draw past the end of the song
GHOST_DETAIL_LIMIT = 800     # faded notes of the other tracks: rectangles up to this many, then the raster
INT_MAX = 2**31 - 1          # a QScrollBar's range is a C int


class RollView(QAbstractScrollArea):
    """Paints the notes of the edited track over the faded notes of the others; mouse goes to ``editor.tools``."""

    def __init__(self, editor: "PianoRollEditor") -> None:
        super().__init__(editor)
        self.ed = editor
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setFrameShape(QAbstractScrollArea.Shape.NoFrame)     # viewport x/y line up with ruler, keys and lane
        self.viewport().setMouseTracking(True)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.horizontalScrollBar().setSingleStep(20)
        self.verticalScrollBar().setSingleStep(12)
        self._cache: QPixmap | None = None
        self._cache_key: tuple | None = None
        self._seen_key: tuple | None = None
        self._ghost_raster = painting.LayersRasterCache()    # zoomed-out rasters: the faded tracks' (one image),
        self._note_raster = painting.RasterCache()           # the edited track's
        self.last_note_mode = "none"      # "detail" / "raster" / "none": how the edited notes were last painted
        self._autoscroll = QTimer(self)    # dragging past an edge scrolls the view
        self._autoscroll.setInterval(30)
        self._autoscroll.timeout.connect(self._autoscroll_step)
        self._last_move: tuple[QPointF, Qt.KeyboardModifier] | None = None

    # --- scrolling ---------------------------------------------------------------------------------------------
    def content_width(self) -> float:
        c, ed = self.ed.coords, self.ed
        bar = ed.grid.bar_at(ed.song_end)
        return min(MAX_TICK, bar.start_tick + SCROLL_MARGIN_BARS * bar.length_tick) * c.px_per_tick   # the last tick

    def update_scrollbars(self) -> None:
        """Scroll ranges from the song length and zoom; keeps ``coords`` and the scrollbars in step."""
        c = self.ed.coords
        vw, vh = self.viewport().width(), self.viewport().height()
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        room = INT_MAX - vw - 1
        if self.content_width() > room:       # a scroll bar holds at most 2^31 px: a note near the last tick a song
            c.px_per_tick *= room / self.content_width()      # holds, zoomed in, goes no closer than that
        c.scroll_x = max(0.0, min(c.scroll_x, max(0.0, self.content_width() - vw)))
        c.scroll_y = max(0.0, min(c.scroll_y, max(0.0, c.content_height - vh)))
        for bar, maximum, page, value in ((h, self.content_width() - vw, vw, c.scroll_x),
                                          (v, c.content_height - vh, vh, c.scroll_y)):
            bar.blockSignals(True)
            bar.setRange(0, max(0, int(math.ceil(maximum))))
            bar.setPageStep(max(1, page))
            bar.setValue(int(round(value)))
            bar.blockSignals(False)

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802 (Qt name)
        c = self.ed.coords
        c.scroll_x = float(self.horizontalScrollBar().value())
        c.scroll_y = float(self.verticalScrollBar().value())
        self.ed.view_changed(horizontal=bool(dx), vertical=bool(dy))

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.update_scrollbars()
        self.ed.view_changed()

    # --- painting ----------------------------------------------------------------------------------------------
    def invalidate(self, rasters: bool = False) -> None:
        """Forget the cached frame (notes, selection, grid or loop changed) and repaint; ``rasters``: also the
        zoomed-out note rasters (they notice note, zoom and selection changes by themselves)."""
        self._cache_key = self._seen_key = None
        if rasters:
            self._ghost_raster.clear()
            self._note_raster.clear()
        self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self.viewport())
        self.paint_frame(p, QRectF(event.rect()))
        p.end()

    def paint_frame(self, p: QPainter, rect: QRectF) -> None:
        """One frame: the static layer (grid, loop, faded tracks, notes), then live overlays (drag, band, playhead).

        The first frame of a new view state is painted directly (scrolling and zooming never pay for a cache);
        when the same state is painted again (the playhead moved, a drag overlay changed) the static layer is
        rendered once into a pixmap and later frames blit it.
        """
        vp = self.viewport()
        dpr = vp.devicePixelRatioF()
        c, ed = self.ed.coords, self.ed
        key = (ed.version, c.scroll_x, c.scroll_y, c.px_per_tick, c.key_height, vp.width(), vp.height(), dpr,
               id(ed.tools.hidden))
        if self._cache_key != key and self._seen_key == key:
            w, h = int(vp.width() * dpr), int(vp.height() * dpr)
            if self._cache is None or self._cache.width() != w or self._cache.height() != h:
                self._cache = QPixmap(w, h)
            self._cache.setDevicePixelRatio(dpr)
            cp = QPainter(self._cache)
            self.paint_static(cp, QRectF(0, 0, vp.width(), vp.height()))
            cp.end()
            self._cache_key = key
        if self._cache_key == key and self._cache is not None:
            p.drawPixmap(rect, self._cache, QRectF(rect.x() * dpr, rect.y() * dpr, rect.width() * dpr,
                                                    rect.height() * dpr))
        else:
            self._seen_key = key
            p.save()
            p.setClipRect(rect)
            self.paint_static(p, rect)
            p.restore()
        self.paint_overlays(p, rect)

    def paint_static(self, p: QPainter, rect: QRectF) -> None:
        ed, c = self.ed, self.ed.coords
        painting.paint_grid(p, c, ed.grid, ed.snap, rect)
        painting.paint_loop(p, c, ed.loop, rect)
        self.paint_ghosts(p, rect)
        self.last_note_mode = painting.paint_notes(p, c, ed.index, rect, ed.track_color(), ed.selection_mask(),
                                                   ed.tools.hidden, cache=self._note_raster, version=ed.sel_version)

    def paint_ghosts(self, p: QPainter, rect: QRectF) -> None:
        """The other tracks of the edited track's kind (drum or pitched), each in its own colour, faded. More than
        ``GHOST_DETAIL_LIMIT`` visible in all: all of them from one cached raster (``LayersRasterCache``)."""
        ed, c = self.ed, self.ed.coords
        layers = ed.ghost_layers
        if not layers:
            return
        t0, t1 = c.visible_ticks(rect.left(), rect.right() + 1)
        lo, hi = c.visible_pitches(rect.top(), rect.bottom() + 1)
        many = len(ed.ghosts.visible(t0, t1, lo, hi)) > GHOST_DETAIL_LIMIT
        if many and self._ghost_raster.paint(p, c, [(ix, ed.ghost_color(i)) for i, ix in layers], rect):
            return                                   # zoomed out: every faded track from one cached image
        limit = -1 if many else GHOST_DETAIL_LIMIT   # -1: a raster whatever the count (a song too wide to cache)
        for i, ix in layers:
            painting.paint_notes(p, c, ix, rect, ed.ghost_color(i), detail_limit=limit)

    def paint_overlays(self, p: QPainter, rect: QRectF) -> None:
        ed, c = self.ed, self.ed.coords
        tools = ed.tools
        if tools.overlay:                   # the notes being drawn / moved / resized, highlighted as selected
            over = NoteIndex(sorted(tools.overlay))
            painting.paint_notes(p, c, over, rect, ed.track_color(), np.ones(len(over), bool))
        if tools.band is not None:
            p.setPen(QPen(QColor(255, 255, 255, 160), 0, Qt.PenStyle.DashLine))
            p.setBrush(PALETTE.rubber_band)
            p.drawRect(tools.band)
        painting.paint_playhead(p, c, ed.playhead, rect)

    # --- input -------------------------------------------------------------------------------------------------
    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self.ed.tools.press(e.position(), e.button(), e.modifiers())

    def mouseMoveEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        tools = self.ed.tools
        if tools.mode.name == "IDLE":
            self.viewport().setCursor(tools.cursor_for(e.position().x(), e.position().y()))
        else:
            tools.move(e.position(), e.modifiers())
            self._last_move = (QPointF(e.position()), e.modifiers())
            if not self.viewport().rect().contains(e.position().toPoint()) and not self._autoscroll.isActive():
                self._autoscroll.start()

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        self._autoscroll.stop()
        if e.button() == Qt.MouseButton.LeftButton:
            self.ed.tools.release(e.position(), e.modifiers())

    def _autoscroll_step(self) -> None:
        """While a drag is held past an edge: scroll towards it (faster the further out) and move the drag along."""
        tools = self.ed.tools
        if tools.mode.name == "IDLE" or self._last_move is None:
            self._autoscroll.stop()
            return
        pos, mods = self._last_move
        w, h = self.viewport().width(), self.viewport().height()
        dx = pos.x() if pos.x() < 0 else max(0.0, pos.x() - w)
        dy = pos.y() if pos.y() < 0 else max(0.0, pos.y() - h)
        if not dx and not dy:
            self._autoscroll.stop()
            return
        for bar, d in ((self.horizontalScrollBar(), dx), (self.verticalScrollBar(), dy)):
            if d:
                bar.setValue(bar.value() + int(max(-60, min(60, d)) // 2 or (1 if d > 0 else -1)))
        tools.move(pos, mods)

    def wheelEvent(self, e: QWheelEvent) -> None:  # noqa: N802
        mods = e.modifiers()
        steps = e.angleDelta().y() / 120.0
        if mods & Qt.KeyboardModifier.ControlModifier:
            factor = 1.25 ** steps
            if mods & Qt.KeyboardModifier.ShiftModifier:
                self.ed.zoom_y(factor, e.position().y())
            else:
                self.ed.zoom_x(factor, e.position().x())
            e.accept()
            return
        if mods & Qt.KeyboardModifier.ShiftModifier:
            bar = self.horizontalScrollBar()
            bar.setValue(bar.value() - int(steps * bar.pageStep() / 8))
            e.accept()
            return
        super().wheelEvent(e)

    def event(self, e: QEvent) -> bool:
        # Claim our keys before window-wide shortcuts (Delete, Ctrl+A ...) see them, so they act on the roll.
        if e.type() == QEvent.Type.ShortcutOverride and self.ed.handles_key(e):
            e.accept()
            return True
        return super().event(e)

    def keyPressEvent(self, e: QKeyEvent) -> None:  # noqa: N802
        if not self.ed.handle_key(e):
            super().keyPressEvent(e)

    def playhead_moved(self, old_tick: int | None, new_tick: int | None) -> None:
        """Repaint only the two thin strips under the old and new playhead."""
        c, vp = self.ed.coords, self.viewport()
        for t in (old_tick, new_tick):
            if t is not None:
                x = int(math.floor(c.tick_to_x(t)))
                if -3 <= x <= vp.width() + 3:
                    vp.update(QRect(x - 2, 0, 5, vp.height()))

