"""Drag a track or the whole song out of the window as a .mid file (onto a DAW or file manager). GUI thread.

The drag carries a file URL of a temporary .mid written just before the drag starts.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDrag, QMouseEvent
from PySide6.QtWidgets import QApplication, QToolButton, QWidget

from ..core.names import file_stem
from ..core.song import Song

_DRAG_DIR: Path | None = None


def drag_dir() -> Path:
    global _DRAG_DIR
    if _DRAG_DIR is None or not _DRAG_DIR.exists():
        _DRAG_DIR = Path(tempfile.mkdtemp(prefix="deepcomposer-drag-"))
    return _DRAG_DIR


def safe_filename(name: str) -> str:
    return file_stem(name, "DeepComposer") + ".mid"


def make_mime(song: Song, name: str) -> QMimeData:
    """Write ``song`` to a temporary ``<name>.mid`` and return mime data holding its file URL."""
    from ..midi.io import write_midi
    path = drag_dir() / safe_filename(name)
    write_midi(song, path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    mime.setData("audio/midi", path.read_bytes())
    return mime


def single_track_song(song: Song, index: int) -> Song:
    return song.with_tracks((song.tracks[index],), melody_index=0)


class DragOutHandle(QToolButton):
    """A small grip: press and drag it out of the window to drop a .mid file.

    ``provider()`` returns ``(song, name)`` at the moment the drag starts.
    """

    def __init__(self, provider: Callable[[], tuple[Song, str]], tooltip: str, parent: QWidget | None = None):
        super().__init__(parent)
        self._provider = provider
        self._press: QPoint | None = None
        self.setText("⇱")
        self.setToolTip(tooltip)
        self.setCursor(Qt.OpenHandCursor)
        self.setAutoRaise(True)

    def mousePressEvent(self, e: QMouseEvent) -> None:
        if e.button() == Qt.LeftButton:
            self._press = e.position().toPoint()
        super().mousePressEvent(e)

    def mouseMoveEvent(self, e: QMouseEvent) -> None:
        if self._press is not None and (e.buttons() & Qt.LeftButton) and \
                (e.position().toPoint() - self._press).manhattanLength() >= QApplication.startDragDistance():
            self._press = None
            song, name = self._provider()
            drag = QDrag(self)
            drag.setMimeData(make_mime(song, name))
            self.setDown(False)
            drag.exec(Qt.CopyAction)
            return
        super().mouseMoveEvent(e)

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:
        self._press = None
        super().mouseReleaseEvent(e)
