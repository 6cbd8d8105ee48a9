"""Take cards for the audition panel: a miniature piano roll of a Song, one card per take (header, roll,
instruments with lock toggles, figures, actions), the scrolled area that lays the cards out in as many columns as
its width holds, and the flow layout that wraps a row of small controls. GUI thread only.
"""
from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QLabel, QLayout, QScrollArea, QToolButton,
                               QVBoxLayout, QWidget)

from ..audition import Take, describe_metrics, format_metrics
from ..core.song import Song

COLORS = ("#e8e8e8", "#4fa3ff", "#ff7a59", "#7bd88f", "#ffcc4d", "#c58cff", "#4dd8d8", "#ff6fa8")
LOCK_MARK = "■ "                # shown on a locked track (a glyph every UI font has)
CARD_STYLE = "TakeCard {{ border: 2px solid {0}; border-radius: 6px; background: #26282c; }}"
CARD_WIDTH = 250                # a column of cards is at least this wide (px); a narrower area gets one column
CARD_SPACING = 6


class FlowLayout(QLayout):
    """Items left to right, wrapping onto another row when the width runs out (as Qt's flow-layout example), so
    that a row of controls or instrument chips fits a narrow dock."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 4) -> None:
        super().__init__(parent)
        self._items = []
        self._gap = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item) -> None:  # noqa: N802 - Qt override
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int):  # noqa: N802 - Qt override
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int):  # noqa: N802 - Qt override
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 - Qt override
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt override
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 - Qt override
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return self.minimumSize()

    def minimumSize(self) -> QSize:  # noqa: N802 - Qt override
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _arrange(self, rect: QRect, move: bool) -> int:
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        x, y, line = area.x(), area.y(), 0
        for item in self._items:
            if item.isEmpty():                              # a hidden widget takes no room
                continue
            hint = item.sizeHint()
            if x > area.x() and x + hint.width() > area.right() + 1:
                x, y, line = area.x(), y + line + self._gap, 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._gap
            line = max(line, hint.height())
        return y + line - rect.y() + m.bottom()


class CardArea(QScrollArea):
    """The take cards, a genre's takes side by side in as many columns as the width holds (a genre then takes more
    than one row; a narrow dock gets one column), scrolled vertically only. ``grid`` holds the cards."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.host = QWidget()
        self.grid = QGridLayout(self.host)
        self.grid.setSpacing(CARD_SPACING)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setAlignment(Qt.AlignTop)
        self.setWidget(self.host)
        self.slots: dict[QWidget, tuple[int, int]] = {}      # card -> (genre row, take number)
        self.columns = 0

    def columns_for(self, width: int) -> int:
        return max(1, (width + CARD_SPACING) // (CARD_WIDTH + CARD_SPACING))

    def place(self, card: QWidget, row: int, number: int) -> None:
        self.slots[card] = (row, number)
        self._reflow(force=True)

    def remove(self, card: QWidget) -> None:
        self.slots.pop(card, None)
        self.grid.removeWidget(card)

    def resizeEvent(self, e) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(e)
        self._reflow()

    def _reflow(self, force: bool = False) -> None:
        columns = self.columns_for(self.viewport().width())
        if columns == self.columns and not force:
            return
        self.columns = columns
        takes = max((n for _, n in self.slots.values()), default=1)
        used = min(columns, takes)
        lines = -(-takes // used)                                # rows per genre
        for card in self.slots:
            self.grid.removeWidget(card)
        for card, (row, number) in self.slots.items():
            self.grid.addWidget(card, row * lines + (number - 1) // used, (number - 1) % used)
        for c in range(max(self.grid.columnCount(), used)):
            self.grid.setColumnStretch(c, 1 if c < used else 0)


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
        self.header.setWordWrap(True)
        self.roll = MiniRoll()
        self.locks_row = FlowLayout(spacing=2)          # the instrument chips wrap in a narrow card
        self.lock_buttons: list[QToolButton] = []
        self.metrics_label = QLabel()
        self.metrics_label.setWordWrap(True)
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
            b = QToolButton(text=name.replace("&", "&&"))     # "Brass & timpani": no "&" mnemonic
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
        self.metrics_label.setToolTip(describe_metrics(take.metrics))
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
