"""The main window (placeholder until the studio lands): shows the loaded song."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox

from ..core.song import Song, SongError
from ..samples import load_sample, list_samples


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("DeepComposer Desktop")
        self.song: Song = load_sample(list_samples()[0].slug)
        self._label = QLabel()
        self.setCentralWidget(self._label)
        self._refresh()

    def _refresh(self) -> None:
        self._label.setText(f"{self.song.title}: {len(self.song.tracks)} tracks, {self.song.note_count} notes")

    def open_path(self, spec: str) -> None:
        from ..cli import CliError, load_input
        try:
            self.song = load_input(spec)
        except (CliError, SongError) as exc:
            QMessageBox.warning(self, "Cannot open", str(exc))
            return
        self._refresh()
