"""Live line plots for the Training studio, painted with QPainter (no plotting library).

``LinePlot`` holds named series of (x, y) points plus optional dashed reference lines (the training data's own
value of a metric) and repaints only when asked. ``MetricsGrid`` is one small plot per metric. GUI thread only.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGridLayout, QSizePolicy, QWidget

PALETTE = ("#e4572e", "#17bebb", "#ffc914", "#76b041", "#a06cd5", "#2e86ab")
MAX_POINTS = 2000            # older points are thinned (every other one dropped) beyond this


class LinePlot(QWidget):
    """A small live plot: ``add_point(series, x, y)``, ``set_reference(series, y)``, ``clear()``.

    The y range covers every point and reference line; the x axis starts at the first point. GUI thread only.
    """

    def __init__(self, title: str = "", x_label: str = "iteration", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title, self.x_label = title, x_label
        self.series: dict[str, list[tuple[float, float]]] = {}
        self.colors: dict[str, QColor] = {}
        self.references: dict[str, float] = {}
        self.setMinimumSize(160, 110)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)

    # --- data -----------------------------------------------------------------------------------------------------
    def add_series(self, name: str, color: str | None = None) -> None:
        if name not in self.series:
            self.series[name] = []
            self.colors[name] = QColor(color or PALETTE[len(self.colors) % len(PALETTE)])

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
        x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
        if x1 <= x0:
            x1 = x0 + 1.0
        y0, y1 = min(ys), max(ys)
        pad = (y1 - y0) * 0.08 or max(abs(y0) * 0.1, 0.05)
        return x0, x1, y0 - pad, y1 + pad

    # --- painting ---------------------------------------------------------------------------------------------------
    def plot_rect(self) -> QRectF:
        return QRectF(44, 18, max(10, self.width() - 52), max(10, self.height() - 38))

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
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, small.pointSizeF() * 0.8))
        p.setFont(small)
        p.setPen(fg)
        p.drawText(QRectF(4, 0, self.width() - 8, 16), Qt.AlignLeft | Qt.AlignVCenter, self.title)
        rect = self.plot_rect()
        grid = QColor(fg)
        grid.setAlpha(50)
        p.setPen(QPen(grid, 1))
        p.drawRect(rect)
        r = self.ranges()
        if r is None:
            p.setPen(grid.darker(50) if grid.lightness() > 128 else fg)
            p.drawText(rect, Qt.AlignCenter, "waiting for the first numbers…")
            return
        x0, x1, y0, y1 = r
        p.setPen(fg)
        for frac in (0.0, 0.5, 1.0):
            y = y0 + (y1 - y0) * frac
            py = rect.bottom() - frac * rect.height()
            p.drawText(QRectF(0, py - 7, 40, 14), Qt.AlignRight | Qt.AlignVCenter, _fmt(y))
            p.setPen(QPen(grid, 1))
            p.drawLine(QPointF(rect.left(), py), QPointF(rect.right(), py))
            p.setPen(fg)
        p.drawText(QRectF(rect.left(), rect.bottom() + 2, rect.width(), 14), Qt.AlignLeft, _fmt(x0))
        p.drawText(QRectF(rect.left(), rect.bottom() + 2, rect.width(), 14), Qt.AlignRight,
                   f"{_fmt(x1)} {self.x_label}")
        p.setClipRect(rect.adjusted(-1, -1, 1, 1))
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
        # legend (top right, one line per series, on a veil so lines under it do not hide it)
        shown = [n for n in self.series if self.series[n] or n in self.references]
        if shown:
            width = max(p.fontMetrics().horizontalAdvance(n) for n in shown) + 8
            veil = QColor(pal.base().color())
            veil.setAlpha(210)
            p.fillRect(QRectF(rect.right() - width - 2, rect.top() + 1, width, 13 * len(shown) + 3), veil)
        ly = rect.top() + 2
        for name in shown:
            p.setPen(self.colors[name])
            p.drawText(QRectF(rect.left(), ly, rect.width() - 4, 14), Qt.AlignRight, name)
            ly += 13


def _fmt(v: float) -> str:
    a = abs(v)
    if a >= 1000:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 0.01 or a == 0:
        return f"{v:.2f}"
    return f"{v:.1e}"


class MetricsGrid(QWidget):
    """One ``LinePlot`` per metric: the generated value per checkpoint and the real data's value as a dashed line."""

    def __init__(self, metrics: dict[str, str], columns: int = 3, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots: dict[str, LinePlot] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(4)
        for k, (key, label) in enumerate(metrics.items()):
            plot = LinePlot(label)
            plot.add_series("generated", PALETTE[1])
            plot.add_series("real", PALETTE[0])
            self.plots[key] = plot
            grid.addWidget(plot, k // columns, k % columns)

    def set_reference(self, figures: dict) -> None:
        for key, plot in self.plots.items():
            plot.set_reference("real", figures.get(key))

    def add_figures(self, x: float, figures: dict) -> None:
        for key, plot in self.plots.items():
            if key in figures:
                plot.add_point("generated", x, figures[key])

    def clear(self) -> None:
        for plot in self.plots.values():
            plot.clear()
