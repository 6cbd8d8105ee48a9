"""Small pieces of the window: the melody-track chooser for MIDI import, the crash-recovery banner, and the
placeholder shown while the piano roll is unavailable. GUI thread only.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFrame, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QPushButton, QVBoxLayout, QWidget)

from ..core.gm import program_name
from ..core.song import Song


class MelodyChooser(QDialog):
    """Asks which track of an imported MIDI file is the melody the models should read."""

    def __init__(self, song: Song, suggested: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Which track is the melody?")
        self.list = QListWidget()
        for i, t in enumerate(song.tracks):
            item = QListWidgetItem(f"{i + 1}. {t.name or 'Untitled'} — {program_name(t.program, t.is_drum)}, "
                                   f"{len(t.notes)} notes" + ("   (suggested)" if i == suggested else ""))
            item.setData(Qt.UserRole, i)
            if t.is_drum:
                item.setFlags(item.flags() & ~Qt.ItemIsEnabled)
            self.list.addItem(item)
        self.list.setCurrentRow(suggested)
        self.list.itemDoubleClicked.connect(lambda _i: self.accept())
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("This file has several parts. The generative models read one melody track:"))
        lay.addWidget(self.list)
        lay.addWidget(buttons)

    def chosen(self) -> int:
        item = self.list.currentItem()
        return int(item.data(Qt.UserRole)) if item else 0


class Banner(QFrame):
    """A message strip at the top of the window with up to two buttons (non-modal, so nothing blocks)."""

    accepted = Signal()
    rejected = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Banner")
        self.setStyleSheet("#Banner { background:#5a4a1a; border-bottom:1px solid #a08030; }"
                           " QLabel { color:#ffe8a0; }")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.accept_btn = QPushButton()
        self.reject_btn = QPushButton()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.accept_btn)
        lay.addWidget(self.reject_btn)
        self.accept_btn.clicked.connect(self._accept)
        self.reject_btn.clicked.connect(self._reject)
        self.hide()

    def ask(self, text: str, accept: str, reject: str) -> None:
        self.label.setText(text)
        self.accept_btn.setText(accept)
        self.reject_btn.setText(reject)
        self.show()

    def _accept(self) -> None:
        self.hide()
        self.accepted.emit()

    def _reject(self) -> None:
        self.hide()
        self.rejected.emit()


class PianoRollPlaceholder(QLabel):
    """Shown where the piano roll goes while its module is unavailable."""

    def __init__(self, problem: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignCenter)
        self.setWordWrap(True)
        self.setStyleSheet("QLabel { background:#1e1e1e; color:#888; font-size:14px; }")
        self.setText("Piano roll not available" + (f"\n{problem}" if problem else ""))

    # the editor's interface, so the window can call it unconditionally
    def set_song(self, song, track_index) -> None: ...
    def set_snap(self, ticks) -> None: ...
    def set_playhead(self, tick) -> None: ...
    def set_loop(self, start, end) -> None: ...
    def zoom_x(self, f) -> None: ...
    def zoom_y(self, f) -> None: ...
    def select_all(self) -> None: ...
