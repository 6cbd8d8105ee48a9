"""The key column left of the roll: piano keys (or GM drum names on a drum track); click one to hear it.

Shares the roll's ``RollCoords`` (rows line up with the viewport); GUI thread only.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen, QWheelEvent
from PySide6.QtWidgets import QWidget

from ...core.gm import DRUM_NAMES, pitch_name

if TYPE_CHECKING:
    from .editor import PianoRollEditor

_BLACK = frozenset((1, 3, 6, 8, 10))


class KeyColumn(QWidget):
    def __init__(self, editor: "PianoRollEditor") -> None:
        super().__init__(editor)
        self.ed = editor
        self.pressed: int | None = None
        self.setToolTip("Click a key to hear it (further right = louder)")

    def velocity_at(self, x: float) -> int:
        return max(1, min(127, int(40 + 87 * x / max(1, self.width()))))

    def paintEvent(self, event) -> None:  # noqa: N802
        c, ed = self.ed.coords, self.ed
        p = QPainter(self)
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), QColor(0xf2, 0xf2, 0xf2))
        lo, hi = c.visible_pitches(0, h)
        kh = c.key_height
        font = p.font()
        font.setPixelSize(max(7, min(11, int(kh - 1))))
        p.setFont(font)
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
            label = DRUM_NAMES.get(pitch, "") if drum else (pitch_name(pitch) if pitch % 12 == 0 else "")
            if label and kh >= 7:
                p.setPen(QColor(0x30, 0x30, 0x30))
                text = p.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight, w - 4)
                align = Qt.AlignmentFlag.AlignLeft if drum else Qt.AlignmentFlag.AlignRight
                p.drawText(QRectF(3, y, w - 6, kh), Qt.AlignmentFlag.AlignVCenter | align, text)
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
