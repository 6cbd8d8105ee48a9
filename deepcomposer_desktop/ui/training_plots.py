"""Live line plots for the Training studio, painted with QPainter (no plotting library).

``LinePlot`` holds named series of (x, y) points plus optional dashed reference lines (the training data's own
value of a metric) and repaints only when asked; its legend sits above the plot, never over the newest points.
``MetricsGrid`` is one small plot per metric. GUI thread only.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGridLayout, QSizePolicy, QWidget

PALETTE = ("#e4572e", "#17bebb", "#ffc914", "#76b041", "#a06cd5", "#2e86ab")
MAX_POINTS = 2000            # older points are thinned (every other one dropped) beyond this
SWATCH, GAP, ROW = 14, 10, 13          # legend: line sample, space between entries, line height


class LinePlot(QWidget):
    """A small live plot: ``add_point(series, x, y)``, ``set_reference(series, y)``, ``clear()``.

    The y range covers every point and reference line; the x axis starts at ``x_floor`` (0: iterations, so that
    plots of one run line up) or at an earlier point. GUI thread only.
    """

    def __init__(self, title: str = "", x_label: str = "iteration", parent: QWidget | None = None,
                 legend: bool = True) -> None:
        super().__init__(parent)
        self.title, self.x_label, self.legend = title, x_label, legend
        self.series: dict[str, list[tuple[float, float]]] = {}
        self.colors: dict[str, QColor] = {}
        self.references: dict[str, float] = {}
        self.tips: dict[str, str] = {}
        self.x_floor = 0.0           # the x axis reaches back to here ...
        self.x_reach = 0.0           # ... and on to here at least (set_x_reach: plots of one run end alike)
        self.setMinimumSize(160, 110)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)

    # --- data -----------------------------------------------------------------------------------------------------
    def add_series(self, name: str, color: str | None = None, tip: str = "") -> None:
        """A named line (its legend entry shows from now on); ``tip`` explains it in the plot's tooltip."""
        if name not in self.series:
            self.series[name] = []
            self.colors[name] = QColor(color or PALETTE[len(self.colors) % len(PALETTE)])
        if tip:
            self.tips[name] = tip
            self.setToolTip("<br>".join(f"<b>{n}</b>: {t}" for n, t in self.tips.items()))

    def add_point(self, name: str, x: float, y: float) -> None:
        """Append a point (NaN and infinite values are skipped; one at the last point's x replaces it: a later
        measure of the same iteration) and schedule a repaint."""
        if y is None or not math.isfinite(float(y)) or not math.isfinite(float(x)):
            return
        self.add_series(name)
        pts = self.series[name]
        if pts and pts[-1][0] == float(x):
            pts.pop()
        pts.append((float(x), float(y)))
        if len(pts) > MAX_POINTS:
            del pts[1:-1:2]
        self.update()

    def set_reference(self, name: str, y: float | None) -> None:
        """A dashed horizontal line in the series' colour (None or NaN removes it)."""
        self.add_series(name)
        if y is None or not math.isfinite(float(y)):
            self.references.pop(name, None)
        else:
            self.references[name] = float(y)
        self.update()

    def clear(self) -> None:
        for pts in self.series.values():
            pts.clear()
        self.references.clear()
        self.update()

    def point_count(self, name: str | None = None) -> int:
        if name is not None:
            return len(self.series.get(name, ()))
        return sum(len(p) for p in self.series.values())

    def ranges(self) -> tuple[float, float, float, float] | None:
        """(x0, x1, y0, y1) of what is drawn, padded; None when there is nothing to draw."""
        xs = [x for pts in self.series.values() for x, _ in pts]
        ys = [y for pts in self.series.values() for _, y in pts] + list(self.references.values())
        if not ys:
            return None
        x0 = min(xs + [self.x_floor])
        x1 = max(xs + [self.x_reach, x0 + 1.0])
        y0, y1 = min(ys), max(ys)
        pad = (y1 - y0) * 0.08 or max(abs(y0) * 0.1, 0.05)
        return x0, x1, y0 - pad, y1 + pad

    # --- painting ---------------------------------------------------------------------------------------------------
    def _small_font(self) -> QFont:
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, small.pointSizeF() * 0.8))
        return small

    def legend_layout(self) -> tuple[list[tuple[str, QRectF]], float]:
        """Each series' legend box, on the title's line when there is room, else on lines of their own under the
        title, and the plot's top below them: the legend never covers the plot."""
        fm = QFontMetricsF(self._small_font())
        names = list(self.series) if self.legend else []
        widths = [SWATCH + 4 + fm.horizontalAdvance(n) for n in names]
        right = self.width() - 4.0
        total = sum(widths) + GAP * max(0, len(names) - 1)
        boxes: list[tuple[str, QRectF]] = []
        on_title = 4 + (fm.horizontalAdvance(self.title) + 12 if self.title else 0) + total <= right
        x, y = (right - total, 1.0) if on_title else (4.0, 16.0)
        for name, w in zip(names, widths):
            if not on_title and x > 4 and x + w > right:
                x, y = 4.0, y + ROW
            boxes.append((name, QRectF(x, y, w, ROW + 1)))
            x += w + GAP
        return boxes, (18.0 if on_title or not names else y + ROW + 5)

    def plot_rect(self) -> QRectF:
        top = self.legend_layout()[1]
        return QRectF(44, top, max(10, self.width() - 52), max(10, self.height() - top - 20))

    def to_screen(self, x: float, y: float, r: tuple, rect: QRectF) -> QPointF:
        x0, x1, y0, y1 = r
        return QPointF(rect.left() + (x - x0) / (x1 - x0) * rect.width(),
                       rect.bottom() - (y - y0) / (y1 - y0) * rect.height())

    def paintEvent(self, _e) -> None:  # noqa: N802 - Qt name
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        pal = self.palette()
        p.fillRect(self.rect(), pal.base())
        fg = pal.text().color()
        p.setFont(self._small_font())
        p.setPen(fg)
        p.drawText(QRectF(4, 0, self.width() - 8, 16), Qt.AlignLeft | Qt.AlignVCenter, self.title)
        self._paint_legend(p, fg)
        rect = self.plot_rect()
        grid = QColor(fg)
        grid.setAlpha(50)
        p.setPen(QPen(grid, 1))
        p.drawRect(rect)
        r = self.ranges()
        if r is None:
            hint = QColor(fg)
            hint.setAlpha(200)
            p.setPen(hint)
            p.drawText(rect, Qt.AlignCenter, "waiting for the first numbers…")
            return
        x0, x1, y0, y1 = r
        p.setPen(fg)
        for frac in (0.0, 0.5, 1.0):
            y = y0 + (y1 - y0) * frac
            py = rect.bottom() - frac * rect.height()
            p.drawText(QRectF(0, py - 7, 40, 14), Qt.AlignRight | Qt.AlignVCenter, _fmt(y, y1 - y0))
            p.setPen(QPen(grid, 1))
            p.drawLine(QPointF(rect.left(), py), QPointF(rect.right(), py))
            p.setPen(fg)
        self._paint_x_axis(p, r, rect, fg, grid)
        p.setClipRect(rect.adjusted(-3, -3, 3, 3))           # a point at an edge shows whole
        for name, y in self.references.items():
            pen = QPen(self.colors[name], 1.2, Qt.DashLine)
            p.setPen(pen)
            py = self.to_screen(x0, y, r, rect).y()
            p.drawLine(QPointF(rect.left(), py), QPointF(rect.right(), py))
        for name, pts in self.series.items():
            if not pts:
                continue
            p.setPen(QPen(self.colors[name], 1.8))
            if len(pts) == 1:
                p.setBrush(self.colors[name])
                p.drawEllipse(self.to_screen(*pts[0], r, rect), 2.5, 2.5)
                continue
            path = QPainterPath(self.to_screen(*pts[0], r, rect))
            for x, y in pts[1:]:
                path.lineTo(self.to_screen(x, y, r, rect))
            p.setBrush(Qt.NoBrush)
            p.drawPath(path)
        p.setClipping(False)

    def _paint_legend(self, p: QPainter, fg: QColor) -> None:
        """A line sample per series (dashed for a reference line alone) and its name, above the plot."""
        for name, box in self.legend_layout()[0]:
            dashed = not self.series[name] and name in self.references
            pen = QPen(self.colors[name], 1.8)
            if dashed:
                pen.setDashPattern([2.5, 1.5])
            p.setPen(pen)
            yc = box.center().y()
            p.drawLine(QPointF(box.left(), yc), QPointF(box.left() + SWATCH, yc))
            p.setPen(fg)
            p.drawText(box.adjusted(SWATCH + 4, 0, 0, 0), Qt.AlignLeft | Qt.AlignVCenter, name)

    def _paint_x_axis(self, p: QPainter, r: tuple, rect: QRectF, fg: QColor, grid: QColor) -> None:
        """Whole-number ticks (iterations), the first and last x at the ends; labels that would collide are left
        out."""
        x0, x1 = r[0], r[1]
        fm = p.fontMetrics()
        row = rect.bottom() + 2
        last = f"{_fmt_x(x1)} {self.x_label}".strip()
        first = _fmt_x(x0)
        p.drawText(QRectF(rect.left(), row, rect.width(), 14), Qt.AlignLeft, first)
        p.drawText(QRectF(rect.left(), row, rect.width(), 14), Qt.AlignRight, last)
        lo = rect.left() + fm.horizontalAdvance(first) + 8
        hi = rect.right() - fm.horizontalAdvance(last) - 8
        for v in _x_ticks(x0, x1, max(1, int(rect.width() // 70))):
            px = self.to_screen(v, r[2], r, rect).x()
            text = _fmt_x(v)
            w = fm.horizontalAdvance(text)
            if px - w / 2 < lo or px + w / 2 > hi:
                continue
            p.setPen(QPen(grid, 1))
            p.drawLine(QPointF(px, rect.bottom()), QPointF(px, rect.bottom() - 4))
            p.setPen(fg)
            p.drawText(QRectF(px - w / 2 - 1, row, w + 2, 14), Qt.AlignHCenter, text)
            lo = px + w / 2 + 8


def _x_ticks(x0: float, x1: float, count: int) -> list[float]:
    """About ``count`` round whole-number ticks between x0 and x1 (steps of 1, 2, 5, 10, 20 …)."""
    span = x1 - x0
    if span <= 0:
        return []
    raw = span / count
    mag = 10 ** math.floor(math.log10(raw))
    step = max(1.0, next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw))
    return [k * step for k in range(math.ceil(x0 / step), math.floor(x1 / step) + 1)]


def _fmt_x(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else _fmt(v)


def _fmt(v: float, span: float = 0.0) -> str:
    """A short axis label; with a narrow ``span`` as many decimals as tell its labels apart (never "-0.00")."""
    a = abs(v)
    if a >= 1000:
        return f"{v:.0f}"
    if 0 < span < 1:
        digits = min(5, max(2, 1 - math.floor(math.log10(span / 2))))
        return f"{round(v, digits) + 0.0:.{digits}f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 0.01 or a == 0:
        return f"{round(v, 2) + 0.0:.2f}"
    return f"{v:.1e}"


class MetricsGrid(QWidget):
    """One ``LinePlot`` per metric: the generated value per checkpoint and the real data's value as a dashed line
    (no legend in each: the heading above the grid says which is which, the tooltips too)."""

    def __init__(self, metrics: dict[str, str], columns: int = 3, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots: dict[str, LinePlot] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(4)
        for k, (key, label) in enumerate(metrics.items()):
            plot = LinePlot(label, legend=False)       # the grid's heading says: solid generated, dashed real
            plot.add_series("generated", PALETTE[1], "the model's own arrangements, measured at each checkpoint")
            plot.add_series("real", PALETTE[0], "the same figure of your real music (dashed line)")
            self.plots[key] = plot
            grid.addWidget(plot, k // columns, k % columns)

    def set_reference(self, figures: dict) -> None:
        for key, plot in self.plots.items():
            plot.set_reference("real", figures.get(key))

    def set_x_reach(self, x: float) -> None:
        """Every plot's x axis runs on to ``x`` (the run's latest iteration), as the loss plot's does."""
        for plot in self.plots.values():
            plot.x_reach = float(x)
            plot.update()

    def add_figures(self, x: float, figures: dict) -> None:
        for key, plot in self.plots.items():
            if key in figures:
                plot.add_point("generated", x, figures[key])

    def clear(self) -> None:
        for plot in self.plots.values():
            plot.x_reach = 0.0
            plot.clear()
