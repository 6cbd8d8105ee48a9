"""Take cards for the audition panel: a miniature piano roll of a Song and one card per take (header, roll,
instruments with lock toggles, metrics, actions). GUI thread only.
"""
from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from ..audition import Take, format_metrics
from ..core.song import Song

COLORS = ("#e8e8e8", "#4fa3ff", "#ff7a59", "#7bd88f", "#ffcc4d", "#c58cff", "#4dd8d8", "#ff6fa8")
LOCK_MARK = "■ "                # shown on a locked track (a glyph every UI font has)
CARD_STYLE = "TakeCard {{ border: 2px solid {0}; border-radius: 6px; background: #26282c; }}"


class MiniRoll(QWidget):
    """A small painted piano roll of a Song (melody light, band tracks coloured, drums as ticks at the bottom),
    cached as an image until the song or the size changes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.song: Song | None = None
        self._image: QImage | None = None
        self.setMinimumSize(160, 56)

    def sizeHint(self) -> QSize:
        return QSize(220, 70)

    def set_song(self, song: Song | None) -> None:
        self.song, self._image = song, None
        self.update()

    def resizeEvent(self, e) -> None:
        self._image = None
        super().resizeEvent(e)

    def notes_drawn(self) -> int:
        """How many notes the cached image shows (for tests)."""
        return getattr(self, "_drawn", 0)

    def _render(self) -> QImage:
        img = QImage(max(1, self.width()), max(1, self.height()), QImage.Format_ARGB32_Premultiplied)
        img.fill(QColor("#1b1c1f"))
        song, drawn = self.song, 0
        if song is not None and song.end_tick > 0:
            pitched = [n.pitch for t in song.tracks if not t.is_drum for n in t.notes]
            lo, hi = (min(pitched), max(pitched)) if pitched else (48, 84)
            lo, hi = lo - 2, hi + 2
            w, h = img.width(), img.height()
            drum_h = max(4, h // 8) if any(t.is_drum for t in song.tracks) else 0
            sx, sy = w / song.end_tick, (h - drum_h) / max(1, hi - lo)
            p = QPainter(img)
            for i, t in enumerate(song.tracks):
                color = QColor(COLORS[i % len(COLORS)])
                if t.mute:
                    color.setAlpha(90)
                for n in t.notes:
                    x = n.start_tick * sx
                    if t.is_drum:
                        p.fillRect(QRectF(x, h - drum_h, 1.0, drum_h), color)
                    else:
                        y = (hi - n.pitch) * sy
                        p.fillRect(QRectF(x, y, max(1.0, n.duration_tick * sx - 0.5), max(1.0, sy)), color)
                    drawn += 1
            p.end()
        self._drawn = drawn
        return img

    def paintEvent(self, e) -> None:
        if self._image is None or self._image.size() != self.size():
            self._image = self._render()
        p = QPainter(self)
        p.drawImage(0, 0, self._image)


class TakeCard(QFrame):
    """One take: header, miniature roll, instruments with lock toggles, metrics, and actions."""

    clicked = Signal(object)                  # take key
    action = Signal(object, str)              # (key, "keep" | "alternative" | "regenerate" | "export")

    def __init__(self, take: Take, badge: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("TakeCard")
        self.take = take
        self.busy = False
        self.header = QLabel()
        self.roll = MiniRoll()
        self.locks_row = QHBoxLayout()
        self.locks_row.setSpacing(2)
        self.lock_buttons: list[QToolButton] = []
        self.metrics_label = QLabel()
        self.metrics_label.setStyleSheet("color:#a0a4aa; font-size:10px;")
        self.buttons: dict[str, QToolButton] = {}
        acts = QHBoxLayout()
        acts.setSpacing(2)
        for name, text, tip in (("keep", "Keep", "Make this take the project's tracks (one undo step)"),
                                ("alternative", "+Alt", "Add this take's band to the project as muted tracks"),
                                ("regenerate", "↻", "Regenerate the unlocked tracks of this take"),
                                ("export", "⇩ MIDI", "Export this take as a MIDI file")):
            b = QToolButton(text=text)
            b.setToolTip(tip)
            b.clicked.connect(lambda _=False, n=name: self.action.emit(self.take.key, n))
            acts.addWidget(b)
            self.buttons[name] = b
        acts.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.setSpacing(2)
        lay.addWidget(self.header)
        lay.addWidget(self.roll, 1)
        lay.addLayout(self.locks_row)
        lay.addWidget(self.metrics_label)
        lay.addLayout(acts)
        self.badge = badge
        self.set_state(playing=False)
        self.set_take(take)

    def set_take(self, take: Take) -> None:
        old_locks = self.locked()
        self.take = take
        regen = f" · regenerated ×{take.generation}" if take.generation else ""
        self.header.setText(f"<b>{self.badge + ' ' if self.badge else ''}{take.genre}</b> · take {take.number}"
                            f"<span style='color:#888'> · seed {take.seed}{regen}</span>")
        self.roll.set_song(take.song)
        while self.lock_buttons:
            b = self.lock_buttons.pop()
            self.locks_row.removeWidget(b)
            b.deleteLater()
        for i, name in enumerate(take.instruments()):
            b = QToolButton(text=name)
            b.setCheckable(True)
            b.setChecked(i in old_locks or i in take.locked)
            b.setToolTip(f"Lock {name}: ↻ then keeps it and regenerates the others")
            b.setStyleSheet(f"QToolButton {{ color:{COLORS[(take.first_new + i) % len(COLORS)]}; font-size:10px; }}"
                            "QToolButton:checked { background:#55502a; }")
            b.toggled.connect(self._show_locks)
            self.locks_row.addWidget(b)
            self.lock_buttons.append(b)
        self._show_locks()
        self.metrics_label.setText(format_metrics(take.metrics))
        self.metrics_label.setToolTip("\n".join(f"{k}: {v:.3f}" for k, v in take.metrics.items()))
        self.set_busy(False)

    def _show_locks(self) -> None:
        for b in self.lock_buttons:
            b.setText((LOCK_MARK if b.isChecked() else "") + b.text().removeprefix(LOCK_MARK))

    def locked(self) -> set[int]:
        return {i for i, b in enumerate(self.lock_buttons) if b.isChecked()}

    def set_locked(self, index: int, on: bool) -> None:
        self.lock_buttons[index].setChecked(on)

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.buttons["regenerate"].setEnabled(not busy)
        self.buttons["regenerate"].setText("…" if busy else "↻")

    def set_state(self, playing: bool, kept: bool = False) -> None:
        self.setStyleSheet(CARD_STYLE.format("#4fa3ff" if playing else "#3a3d42"))
        self.buttons["keep"].setText("Kept ✓" if kept else "Keep")

    def mousePressEvent(self, e) -> None:
        if e.button() == Qt.LeftButton:
            self.clicked.emit(self.take.key)
        super().mousePressEvent(e)
