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
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen

from .coords import BarGrid, RollCoords
from .ops import NoteIndex

DETAIL_LIMIT = 1500          # more visible notes than this: paint the raster (level of detail)
MIN_GRID_SPACING_PX = 6.0    # beat / snap lines closer than this are not drawn
MIN_BAR_SPACING_PX = 16.0    # zoomed out, only every 2nd, 4th, 8th ... bar line is drawn, at least this far apart
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
    selected: QColor = QColor(0xfa, 0xf3, 0xe0)       # near white: distinct from every track colour
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


def grid_columns(c: RollCoords, grid: BarGrid, snap: int | None, x0: float, x1: float
                 ) -> tuple[list[float], list[float], list[float]]:
    """Viewport x of the visible bar, beat and snap lines (lines closer than a few pixels are thinned out)."""
    t0, t1 = c.visible_ticks(x0, x1)
    bars: list[float] = []
    beats: list[float] = []
    subs: list[float] = []
    ppt = c.px_per_tick
    first = grid.bar_at(max(0.0, t0))
    bar_px = first.length_tick * ppt
    every = 1 if bar_px >= MIN_BAR_SPACING_PX else 2 ** math.ceil(math.log2(MIN_BAR_SPACING_PX / max(bar_px, 1e-6)))
    for bar in grid.bars(t0, t1, every):
        bars.append(c.tick_to_x(bar.start_tick))
        if bar.beat_tick * ppt >= MIN_GRID_SPACING_PX:
            beats.extend(c.tick_to_x(bar.start_tick + k * bar.beat_tick) for k in range(1, bar.numerator))
        if snap and snap * ppt >= MIN_GRID_SPACING_PX and snap < bar.beat_tick:
            k0 = max(1, int((t0 - bar.start_tick) // snap))
            k1 = min(int(bar.length_tick // snap) + 1, int((t1 - bar.start_tick) // snap) + 2)
            for k in range(k0, k1):
                off = k * snap
                if off % bar.beat_tick and off < bar.length_tick:
                    subs.append(c.tick_to_x(bar.start_tick + off))
    return bars, beats, subs


def _strip(width: int, base: QColor, columns) -> QImage:
    """A 1-pixel-high image: ``base`` everywhere but at the given (x list, colour) columns."""
    a = np.full(width, _premultiplied(base), np.uint32)
    for xs, color in columns:
        if xs:
            ix = np.floor(np.asarray(xs)).astype(np.int64)
            a[ix[(ix >= 0) & (ix < width)]] = _premultiplied(color)
    return QImage(a.data, width, 1, width * 4, QImage.Format.Format_ARGB32_Premultiplied).copy()


def paint_grid(p: QPainter, c: RollCoords, grid: BarGrid, snap: int | None, rect: QRectF) -> None:
    """Background, black-key rows, octave lines and bar / beat / snap lines inside ``rect``.

    Vertical lines are 1-pixel columns of two opaque 1-px-high strips (white-key row, black-key row) used as brush
    textures: one opaque texture fill per row kind instead of hundreds of 1-px-wide rectangles (which rasterise
    span by span and cost ~10x more).
    """
    x0, x1, y0, y1 = rect.left(), rect.right() + 1, rect.top(), rect.bottom() + 1
    lo, hi = c.visible_pitches(y0, y1)
    kh = c.key_height
    bars, beats, subs = grid_columns(c, grid, snap, x0, x1)
    cols = ((subs, PALETTE.sub_line), (beats, PALETTE.beat_line), (bars, PALETTE.bar_line))
    width = int(math.ceil(x1)) + 1
    p.save()
    p.setBrushOrigin(0, 0)
    p.fillRect(rect, QBrush(_strip(width, PALETTE.background, cols)))
    black = [QRectF(x0, c.pitch_to_y(pt), x1 - x0, kh) for pt in range(lo, hi + 1) if pt % 12 in _BLACK_KEYS]
    p.setPen(Qt.PenStyle.NoPen)
    if black:
        p.setBrush(QBrush(_strip(width, PALETTE.black_row, cols)))
        p.drawRects(black)
    if kh >= 3:
        octave = [QRectF(x0, math.floor(c.pitch_to_y(pt) + kh) - 1, x1 - x0, 1)
                  for pt in range(lo, hi + 1) if pt % 12 == 0]
        if octave:
            p.setBrush(PALETTE.octave_line)
            p.drawRects(octave)
    p.restore()


def note_columns(c: RollCoords, idx: NoteIndex, vis: np.ndarray, width: int, scroll_x: float | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer pixel columns [x0, x1) of the visible notes, clipped to [0, width], each at least 1 px wide."""
    ppt = c.px_per_tick
    sx = c.scroll_x if scroll_x is None else scroll_x
    x0 = np.floor(idx.start[vis] * ppt - sx).astype(np.int64)
    x1 = np.maximum(x0 + 1, np.floor(idx.end[vis] * ppt - sx).astype(np.int64))
    x1 -= (x1 - x0) >= 4                     # keep a 1-px gap between touching notes when there is room
    return np.clip(x0, 0, width), np.clip(x1, 0, width), idx.pitch[vis]


def _fill_spans(out: np.ndarray, a: np.ndarray, b: np.ndarray, r: np.ndarray, value: int) -> None:
    """Set ``out[r, a:b] = value`` for every span, vectorised.

    Few covered pixels (zoomed far out: notes 1-2 px wide): expand the spans into flat indices with ``repeat``.
    Many: a difference array from two ``bincount`` calls and a cumulative sum, O(notes + pixels).
    """
    rows, width = out.shape
    keep = b > a
    a, b, r = a[keep], b[keep], r[keep]
    lengths = b - a
    total = int(lengths.sum())
    if not total:
        return
    flat = out.reshape(-1)
    if total <= rows * width // 4:
        starts = r * width + a
        flat[np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)] = value
        return
    stride = width + 1
    d = np.bincount(r * stride + a, minlength=rows * stride) - np.bincount(r * stride + b, minlength=rows * stride)
    out[np.cumsum(d.reshape(rows, stride), axis=1)[:, :width] > 0] = value


def _raster_array(c: RollCoords, idx: NoteIndex, vis: np.ndarray, width: int, p_lo: int, p_hi: int,
                  color: QColor, sel: np.ndarray | None, sel_color: QColor | None,
                  scroll_x: float | None = None) -> np.ndarray:
    x0, x1, pitch = note_columns(c, idx, vis, width, scroll_x)
    row = p_hi - pitch
    out = np.zeros((p_hi - p_lo + 1, width), np.uint32)
    _fill_spans(out, x0, x1, row, _premultiplied(color))
    if sel is not None and sel_color is not None and sel.any():
        _fill_spans(out, x0[sel], x1[sel], row[sel], _premultiplied(sel_color))
    return out


def _blit_song_raster(p: QPainter, c: RollCoords, image: QImage, rect: QRectF) -> None:
    """Draw the part of a whole-song raster (one row per pitch, 127 at the top; one column per pixel from the song's
    start) that falls into ``rect``."""
    x0, x1 = max(0.0, rect.left()), rect.right() + 1
    lo, hi = c.visible_pitches(rect.top(), rect.bottom() + 1)
    src = QRectF(c.scroll_x + x0, 127 - hi, x1 - x0, hi - lo + 1)
    p.drawImage(QRectF(x0, c.pitch_to_y(hi), x1 - x0, (hi - lo + 1) * c.key_height), image, src)


class RasterCache:
    """The whole song's raster (all 128 pitches, every content pixel column) at one horizontal zoom.

    While zoomed out, scrolling and repainting blit from it instead of rasterising again; it is rebuilt when the
    notes, the zoom or ``version`` (selection) change. Songs wider than ``MAX_WIDTH`` pixels at this zoom are not
    cached (they are then zoomed in far enough that few notes are visible).
    """

    MAX_WIDTH = 16384

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._idx: NoteIndex | None = None
        self._pixels: np.ndarray | None = None
        self._image: QImage | None = None

    def clear(self) -> None:
        self._key, self._idx, self._pixels, self._image = None, None, None, None

    def paint(self, p: QPainter, c: RollCoords, idx: NoteIndex, rect: QRectF, color: QColor,
              sel_mask: np.ndarray | None, sel_color: QColor, version: object) -> bool:
        if not len(idx):
            return True
        width = int(math.ceil(int(idx.end.max()) * c.px_per_tick)) + 2
        if width > self.MAX_WIDTH:
            return False
        key = (c.px_per_tick, color.rgba(), sel_color.rgba(), version)
        if self._idx is not idx or self._key != key:
            everything = np.arange(len(idx))
            self._pixels = _raster_array(c, idx, everything, width, 0, 127, color, sel_mask, sel_color, 0.0)
            self._image = QImage(self._pixels.data, width, 128, width * 4, QImage.Format.Format_ARGB32_Premultiplied)
            self._idx, self._key = idx, key
        _blit_song_raster(p, c, self._image, rect)
        return True


class LayersRasterCache:
    """Several tracks' whole-song rasters in one image, each track in its own colour (later ones on top): the
    faded tracks behind the edited one, zoomed out, cost one rasterisation and one blit however many there are.
    Rebuilt when a track's notes (its NoteIndex object), a colour or the zoom change."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._layers: list[NoteIndex] = []
        self._pixels: np.ndarray | None = None
        self._image: QImage | None = None

    def clear(self) -> None:
        self._key, self._layers, self._pixels, self._image = None, [], None, None

    def paint(self, p: QPainter, c: RollCoords, layers: list[tuple[NoteIndex, QColor]], rect: QRectF) -> bool:
        """Blit ``layers`` ((notes, colour) pairs) into ``rect``; False when the song is too wide to cache."""
        layers = [(idx, color) for idx, color in layers if len(idx)]
        if not layers:
            return True
        width = max(int(math.ceil(int(idx.end.max()) * c.px_per_tick)) for idx, _ in layers) + 2
        if width > RasterCache.MAX_WIDTH:
            return False
        key = (c.px_per_tick, tuple(color.rgba() for _, color in layers))
        if self._key != key or len(self._layers) != len(layers) or \
                any(a is not b for a, (b, _) in zip(self._layers, layers)):
            out = np.zeros((128, width), np.uint32)
            for idx, color in layers:
                x0, x1, pitch = note_columns(c, idx, np.arange(len(idx)), width, 0.0)
                _fill_spans(out, x0, x1, 127 - pitch, _premultiplied(color))
            self._pixels = out
            self._image = QImage(out.data, width, 128, width * 4, QImage.Format.Format_ARGB32_Premultiplied)
            self._layers, self._key = [idx for idx, _ in layers], key
        _blit_song_raster(p, c, self._image, rect)
        return True


def _premultiplied(color: QColor) -> int:
    a = color.alpha()
    r, g, b = (v * a // 255 for v in (color.red(), color.green(), color.blue()))
    return (a << 24) | (r << 16) | (g << 8) | b


def paint_raster(p: QPainter, c: RollCoords, idx: NoteIndex, vis: np.ndarray, width: int, p_lo: int, p_hi: int,
                 color: QColor, sel: np.ndarray | None = None, sel_color: QColor | None = None) -> None:
    if not len(vis) or width <= 0:
        return
    out = _raster_array(c, idx, vis, width, p_lo, p_hi, color, sel, sel_color)
    img = QImage(out.data, width, out.shape[0], width * 4, QImage.Format.Format_ARGB32_Premultiplied)
    p.drawImage(QRectF(0, c.pitch_to_y(p_hi), width, (p_hi - p_lo + 1) * c.key_height), img)   # ``out`` alive


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
                sel_color: QColor = PALETTE.selected, detail_limit: int = DETAIL_LIMIT,
                cache: RasterCache | None = None, version: object = None) -> str:
    """Paint the notes of ``idx`` that overlap ``rect``; returns "detail", "raster" or "none" (for tests/bench).

    ``sel_mask``/``hidden`` are boolean arrays over all notes of ``idx`` (hidden ones are being dragged). With a
    ``cache`` (and nothing hidden) the raster is blitted from the whole-song raster for ``version``.
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
        if cache is not None and hidden is None and cache.paint(p, c, idx, rect, color, sel_mask, sel_color, version):
            return "raster"
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
