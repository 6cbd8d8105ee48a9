"""The key column left of the roll: piano keys (or GM drum names on a drum track); click one to hear it.

Shares the roll's ``RollCoords`` (rows line up with the viewport); every C is labelled however short the rows, and
as many drum names as fit. GUI thread only.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QMouseEvent, QPainter, QPen, QWheelEvent
from PySide6.QtWidgets import QWidget

from ...core.gm import DRUM_NAMES, pitch_name

if TYPE_CHECKING:
    from .editor import PianoRollEditor

_BLACK = frozenset((1, 3, 6, 8, 10))
MIN_LABEL_PX = 8        # label font size (pixels) on rows shorter than that: a label may then span a few rows
MAX_LABEL_PX = 11


class KeyColumn(QWidget):
    def __init__(self, editor: "PianoRollEditor") -> None:
        super().__init__(editor)
        self.ed = editor
        self.pressed: int | None = None
        self.setToolTip("Click a key to hear it (further right = louder)")

    def velocity_at(self, x: float) -> int:
        return max(1, min(127, int(40 + 87 * x / max(1, self.width()))))

    def label_font(self) -> QFont:
        font = QFont(self.font())
        font.setPixelSize(max(MIN_LABEL_PX, min(MAX_LABEL_PX, int(self.ed.coords.key_height - 1))))
        return font

    def labels(self) -> list[tuple[int, QRectF, str]]:
        """(pitch, text rect, text) of the labels on screen: every C (piano) or the drum names, top to bottom.

        A label is centred on its row and as tall as its font; on short rows a drum name is skipped when it would
        overlap the one above it (so every Nth shows), a C never is (octaves are 12 rows apart)."""
        c, w = self.ed.coords, self.width()
        drum = self.ed.is_drum
        line = QFontMetricsF(self.label_font()).height()
        lo, hi = c.visible_pitches(-line, self.height() + line)
        kh = c.key_height
        out: list[tuple[int, QRectF, str]] = []
        bottom = -math.inf
        for pitch in range(hi, lo - 1, -1):
            text = DRUM_NAMES.get(pitch, "") if drum else (pitch_name(pitch) if pitch % 12 == 0 else "")
            if not text:
                continue
            mid = c.pitch_to_y(pitch) + kh / 2
            rect = QRectF(3, mid - max(kh, line) / 2, w - 6, max(kh, line))
            if drum and mid - line / 2 < bottom:
                continue
            out.append((pitch, rect, text))
            bottom = mid + line / 2
        return out

    def paintEvent(self, event) -> None:  # noqa: N802
        c, ed = self.ed.coords, self.ed
        p = QPainter(self)
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), QColor(0xf2, 0xf2, 0xf2))
        lo, hi = c.visible_pitches(0, h)
        kh = c.key_height
        drum = ed.is_drum
        for pitch in range(lo, hi + 1):
            y = c.pitch_to_y(pitch)
            rect = QRectF(0, y, w, kh)
            if pitch == self.pressed:
                p.fillRect(rect, QColor(0xff, 0xb3, 0x47))
            elif drum:                                   # drum map: named rows, no piano keys
                if pitch % 2:
                    p.fillRect(rect, QColor(0xe2, 0xe4, 0xe8))
            elif pitch % 12 in _BLACK:
                p.fillRect(QRectF(0, y, w * 0.62, kh), QColor(0x22, 0x22, 0x22))
            if not drum and pitch % 12 in (0, 5):
                p.setPen(QPen(QColor(0xa0, 0xa0, 0xa0), 0))
                p.drawLine(QPointF(0, y + kh - 0.5), QPointF(w, y + kh - 0.5))
        p.setFont(self.label_font())
        p.setPen(QColor(0x30, 0x30, 0x30))
        align = Qt.AlignmentFlag.AlignVCenter | (Qt.AlignmentFlag.AlignLeft if drum else Qt.AlignmentFlag.AlignRight)
        for _pitch, rect, label in self.labels():
            text = p.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight, int(rect.width()) + 2)
            p.drawText(rect, align, text)
        p.setPen(QPen(QColor(0x80, 0x80, 0x80), 0))
        p.drawLine(QPointF(w - 0.5, 0), QPointF(w - 0.5, h))
        p.end()

    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if e.button() == Qt.MouseButton.LeftButton:
            self.pressed = self.ed.coords.y_to_pitch(e.position().y())
            self.ed.note_preview.emit(self.pressed, self.velocity_at(e.position().x()))
            self.update()

    def mouseMoveEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if self.pressed is None:
            return
        pitch = self.ed.coords.y_to_pitch(e.position().y())
        if pitch != self.pressed:                     # glissando down the keys
            self.pressed = pitch
            self.ed.note_preview.emit(pitch, self.velocity_at(e.position().x()))
            self.update()

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        self.pressed = None
        self.update()

    def wheelEvent(self, e: QWheelEvent) -> None:  # noqa: N802
        self.ed.view.wheelEvent(e)
