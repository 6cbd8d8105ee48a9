"""Painting of the piano roll: grid, notes (detailed rectangles or a level-of-detail raster), overlays.

Everything here culls to the rectangle being painted. Notes are painted as grouped ``drawRects`` calls when few are
visible, and as one numpy-rasterised image (one pixel column per screen column, one row per pitch, scaled by the
key height) when many are: a fully zoomed-out view of 50 000 notes costs a few milliseconds, not ~170 ms.
All functions run on the GUI thread.
"""
from __future__ import annotations

import math
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen

from .coords import BarGrid, RollCoords
from .ops import NoteIndex

DETAIL_LIMIT = 1500          # more visible notes than this: paint the raster (level of detail)
MIN_GRID_SPACING_PX = 6.0    # grid lines closer than this are not drawn
_BLACK_KEYS = frozenset((1, 3, 6, 8, 10))


class Palette:
    """The roll's colours (class attributes; one shared instance)."""

    background: QColor = QColor(0x2b, 0x2e, 0x34)
    black_row: QColor = QColor(0x24, 0x26, 0x2b)
    octave_line: QColor = QColor(0x4a, 0x4f, 0x58)
    bar_line: QColor = QColor(0x70, 0x76, 0x80)
    beat_line: QColor = QColor(0x44, 0x48, 0x50)
    sub_line: QColor = QColor(0x35, 0x38, 0x3f)
    note: QColor = QColor(0x4f, 0xa3, 0xe0)
    selected: QColor = QColor(0xff, 0xb3, 0x47)
    ghost: QColor = QColor(0xa0, 0xa8, 0xb8, 70)
    playhead: QColor = QColor(0xff, 0x55, 0x55)
    loop_shade: QColor = QColor(0x60, 0xc0, 0x60, 28)
    loop_edge: QColor = QColor(0x60, 0xc0, 0x60, 160)
    rubber_band: QColor = QColor(0xff, 0xff, 0xff, 40)


PALETTE = Palette()


def velocity_color(base: QColor, velocity_bucket: int, buckets: int) -> QColor:
    """``base`` made darker for quiet notes (bucket 0) and full for loud ones."""
    f = 0.45 + 0.55 * (velocity_bucket + 1) / buckets
    return QColor(int(base.red() * f), int(base.green() * f), int(base.blue() * f), base.alpha())


def paint_grid(p: QPainter, c: RollCoords, grid: BarGrid, snap: int | None, rect: QRectF) -> None:
    """Background, black-key rows, octave lines and bar / beat / snap lines inside ``rect``."""
    p.fillRect(rect, PALETTE.background)
    x0, x1, y0, y1 = rect.left(), rect.right() + 1, rect.top(), rect.bottom() + 1
    lo, hi = c.visible_pitches(y0, y1)
    kh = c.key_height
    black = [QRectF(x0, c.pitch_to_y(pt), x1 - x0, kh) for pt in range(lo, hi + 1) if pt % 12 in _BLACK_KEYS]
    if black:
        p.setPen(Qt.NoPen)
        p.setBrush(PALETTE.black_row)
        p.drawRects(black)
    if kh >= 3:
        octave = [QPointF(x0, c.pitch_to_y(pt) + kh) for pt in range(lo, hi + 1) if pt % 12 == 0]
        p.setPen(QPen(PALETTE.octave_line, 0))
        for pt in octave:
            p.drawLine(QPointF(x0, pt.y() - 0.5), QPointF(x1, pt.y() - 0.5))
    t0, t1 = c.visible_ticks(x0, x1)
    bars, beats, subs = [], [], []
    ppt = c.px_per_tick
    for bar in grid.bars(t0, t1):
        bx = c.tick_to_x(bar.start_tick)
        if bar.length_tick * ppt < 2:
            continue
        bars.append(bx)
        beat_px = bar.beat_tick * ppt
        if beat_px >= MIN_GRID_SPACING_PX:
            beats.extend(c.tick_to_x(bar.start_tick + k * bar.beat_tick) for k in range(1, bar.numerator))
        if snap and snap * ppt >= MIN_GRID_SPACING_PX and snap < bar.beat_tick:
            k0 = max(1, int((t0 - bar.start_tick) // snap))
            k1 = min(int(bar.length_tick // snap) + 1, int((t1 - bar.start_tick) // snap) + 2)
            for k in range(k0, k1):
                off = k * snap
                if off % bar.beat_tick and off < bar.length_tick:
                    subs.append(c.tick_to_x(bar.start_tick + off))
    for xs, color in ((subs, PALETTE.sub_line), (beats, PALETTE.beat_line), (bars, PALETTE.bar_line)):
        if xs:
            p.setPen(QPen(color, 0))
            for x in xs:
                xx = math.floor(x) + 0.5
                p.drawLine(QPointF(xx, y0), QPointF(xx, y1))


def note_columns(c: RollCoords, idx: NoteIndex, vis: np.ndarray, width: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer pixel columns [x0, x1) of the visible notes, clipped to [0, width], each at least 1 px wide."""
    ppt = c.px_per_tick
    xs = idx.start[vis] * ppt - c.scroll_x
    xe = idx.end[vis] * ppt - c.scroll_x
    x0 = np.floor(xs).astype(np.int64)
    x1 = np.maximum(x0 + 1, np.floor(xe).astype(np.int64))
    gap = (x1 - x0) >= 4                     # keep a 1-px gap between touching notes when there is room
    x1 = np.where(gap, x1 - 1, x1)
    return np.clip(x0, 0, width), np.clip(x1, 0, width), idx.pitch[vis]


def raster_image(c: RollCoords, idx: NoteIndex, vis: np.ndarray, width: int, p_lo: int, p_hi: int,
                 color: QColor, sel: np.ndarray | None = None, sel_color: QColor | None = None) -> QImage:
    """One image row per pitch (p_hi at the top), one column per screen pixel: the notes' coverage, coloured.

    Built with two ``bincount`` calls and a cumulative sum (O(notes + pixels)); ``sel`` marks which of ``vis`` are
    selected (painted with ``sel_color`` on top).
    """
    rows = p_hi - p_lo + 1
    stride = width + 1
    x0, x1, pitch = note_columns(c, idx, vis, width)
    row = p_hi - pitch
    out = np.zeros((rows, width), np.uint32)

    def cover(mask: np.ndarray | None) -> np.ndarray:
        a, b, r = (x0, x1, row) if mask is None else (x0[mask], x1[mask], row[mask])
        keep = b > a
        a, b, r = a[keep], b[keep], r[keep]
        d = np.bincount(r * stride + a, minlength=rows * stride) - np.bincount(r * stride + b, minlength=rows * stride)
        return np.cumsum(d.reshape(rows, stride), axis=1)[:, :width] > 0

    out[cover(None)] = _premultiplied(color)
    if sel is not None and sel_color is not None and sel.any():
        out[cover(sel)] = _premultiplied(sel_color)
    img = QImage(out.data, width, rows, width * 4, QImage.Format.Format_ARGB32_Premultiplied)
    return img.copy()   # own the pixels: ``out`` dies with this frame


def _premultiplied(color: QColor) -> int:
    a = color.alpha()
    r, g, b = (v * a // 255 for v in (color.red(), color.green(), color.blue()))
    return (a << 24) | (r << 16) | (g << 8) | b


def paint_raster(p: QPainter, c: RollCoords, idx: NoteIndex, vis: np.ndarray, width: int, p_lo: int, p_hi: int,
                 color: QColor, sel: np.ndarray | None = None, sel_color: QColor | None = None) -> None:
    if not len(vis) or width <= 0:
        return
    img = raster_image(c, idx, vis, width, p_lo, p_hi, color, sel, sel_color)
    p.drawImage(QRectF(0, c.pitch_to_y(p_hi), width, (p_hi - p_lo + 1) * c.key_height), img)


def paint_detail(p: QPainter, c: RollCoords, idx: NoteIndex, vis: np.ndarray, sel: np.ndarray | None,
                 color: QColor, sel_color: QColor, buckets: int = 4) -> None:
    """Each visible note as a rectangle (1-px gap to its neighbours), shaded by velocity, selected ones highlighted.

    Rectangles are grouped by colour so that each colour costs one ``drawRects`` call.
    """
    if not len(vis):
        return
    ppt, kh = c.px_per_tick, c.key_height
    xs = idx.start[vis] * ppt - c.scroll_x
    ws = np.maximum(1.0, idx.dur[vis] * ppt - 1.0)
    ys = (127 - idx.pitch[vis]) * kh - c.scroll_y
    h = max(1.0, kh - 1.0)
    group = np.minimum(buckets - 1, (idx.vel[vis] - 1) * buckets // 127)
    if sel is not None:
        group = np.where(sel, buckets, group)
    p.setPen(Qt.NoPen)
    for g in np.unique(group).tolist():
        m = group == g
        rects = [QRectF(x, y, w, h) for x, y, w in zip(xs[m].tolist(), ys[m].tolist(), ws[m].tolist())]
        p.setBrush(sel_color if g == buckets else velocity_color(color, g, buckets))
        p.drawRects(rects)


def paint_notes(p: QPainter, c: RollCoords, idx: NoteIndex, rect: QRectF, color: QColor,
                sel_mask: np.ndarray | None = None, hidden: np.ndarray | None = None,
                sel_color: QColor = PALETTE.selected, detail_limit: int = DETAIL_LIMIT) -> str:
    """Paint the notes of ``idx`` that overlap ``rect``; returns "detail", "raster" or "none" (for tests/bench).

    ``sel_mask``/``hidden`` are boolean arrays over all notes of ``idx`` (hidden ones are being dragged).
    """
    x0, x1 = rect.left(), rect.right() + 1
    t0, t1 = c.visible_ticks(x0, x1)
    lo, hi = c.visible_pitches(rect.top(), rect.bottom() + 1)
    vis = idx.visible(t0, t1, lo, hi)
    if hidden is not None and len(vis):
        vis = vis[~hidden[vis]]
    if not len(vis):
        return "none"
    sel = sel_mask[vis] if sel_mask is not None else None
    if len(vis) > detail_limit:
        paint_raster(p, c, idx, vis, int(math.ceil(x1)), lo, hi, color, sel, sel_color)
        return "raster"
    paint_detail(p, c, idx, vis, sel, color, sel_color)
    return "detail"


def paint_loop(p: QPainter, c: RollCoords, loop: tuple[int, int] | None, rect: QRectF) -> None:
    if not loop:
        return
    a, b = c.tick_to_x(loop[0]), c.tick_to_x(loop[1])
    if b < rect.left() or a > rect.right() + 1:
        return
    p.fillRect(QRectF(a, rect.top(), b - a, rect.height()), PALETTE.loop_shade)
    p.setPen(QPen(PALETTE.loop_edge, 0))
    for x in (a, b):
        p.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom() + 1))


def paint_playhead(p: QPainter, c: RollCoords, tick: int | None, rect: QRectF) -> None:
    if tick is None:
        return
    x = math.floor(c.tick_to_x(tick)) + 0.5
    if rect.left() - 2 <= x <= rect.right() + 2:
        p.setPen(QPen(PALETTE.playhead, 1))
        p.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom() + 1))
