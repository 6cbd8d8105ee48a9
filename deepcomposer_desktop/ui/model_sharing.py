"""Share models from the Training studio: export an installed model to one file, import one from a friend.

``ModelSharing`` is a small panel; the work (torch loading, the weights-only checks of ``model_files``) runs on a
``workers.Worker`` thread, so the GUI never waits. Signal ``model_installed(technique, name)`` after an import.
GUI thread only, except the functions the worker runs.
"""
from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                               QVBoxLayout, QWidget)


class ModelSharing(QGroupBox):
    """Export / import model files (``.dcmodel``). GUI thread; file work on a worker thread."""

    model_installed = Signal(str, str)      # technique, name
    finished = Signal(bool, str)            # ok, message (after every export or import)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Share a model", parent)
        v = QVBoxLayout(self)
        row = QHBoxLayout()
        self.models = QComboBox()
        self.models.setToolTip("Installed models (yours and the shipped ones)")
        self.export_btn = QPushButton("Export…")
        self.export_btn.setToolTip("Write the model and its card to one file you can send to someone")
        self.import_btn = QPushButton("Import…")
        self.import_btn.setToolTip("Add a model file someone sent you; it is checked and never runs any code")
        self.replace = QCheckBox("replace one of the same name")
        self.export_btn.clicked.connect(self._export_dialog)
        self.import_btn.clicked.connect(self._import_dialog)
        row.addWidget(self.models, 1)
        row.addWidget(self.export_btn)
        row.addWidget(self.import_btn)
        v.addLayout(row)
        v.addWidget(self.replace)
        self.message = QLabel("")
        self.message.setTextFormat(Qt.RichText)      # always: an escaped quote in plain text showed as &#x27;
        self.message.setWordWrap(True)
        v.addWidget(self.message)
        self._worker = None
        self.refresh()

    def refresh(self) -> None:
        """Re-read the installed models (cheap: file names and cards only)."""
        from ..ml.registry import list_models
        current = self.models.currentData()
        self.models.clear()
        for m in list_models():
            self.models.addItem(f"{m.technique}: {m.name}" + (" (yours)" if m.user else ""),
                                f"{m.technique}/{m.name}")
        k = self.models.findData(current)
        if k >= 0:
            self.models.setCurrentIndex(k)
        self.export_btn.setEnabled(self.models.count() > 0)

    def _export_dialog(self) -> None:
        data = self.models.currentData()
        if not data:
            return
        technique, _, name = data.partition("/")
        path, _ = QFileDialog.getSaveFileName(self, "Export model", f"{technique}-{name}.dcmodel",
                                              "Model files (*.dcmodel)")
        if path:
            self.export_to(technique, name, path)

    def _import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import model", "", "Model files (*.dcmodel *.pt)")
        if path:
            self.import_file(path)

    def busy(self) -> bool:
        return self._worker is not None

    def export_to(self, technique: str, name: str, path: str) -> None:
        from ..model_files import export_model
        self._run(export_model, {"technique": technique, "name": name, "dest": path},
                  lambda dest: f"Exported {technique} model '{name}' to {Path(dest).name}")

    def import_file(self, path: str) -> None:
        from ..model_files import import_model
        self._run(import_model, {"path": path, "overwrite": self.replace.isChecked()}, self._imported)

    def _imported(self, dest) -> str:
        from ..ml.registry import split_name
        technique, name = split_name(Path(dest).stem) or ("", "")
        self.refresh()
        self.model_installed.emit(technique, name)
        return f"Imported the {technique} model '{name}': it is now in the list"

    def _run(self, fn, kwargs: dict, ok) -> None:
        from ..workers import Worker
        if self._worker is not None:
            return
        for b in (self.export_btn, self.import_btn):
            b.setEnabled(False)
        self.message.setText("Working…")
        w = Worker(fn, kwargs, "share", with_callbacks=False, parent=self)
        w.succeeded.connect(lambda result: self._done(True, ok(result)))
        w.failed.connect(lambda msg: self._done(False, msg))
        w.done.connect(self._worker_done)
        self._worker = w
        w.start()

    def _done(self, ok: bool, message: str) -> None:
        self.message.setText(html.escape(message) if ok else f"<b>Not done:</b> {html.escape(message)}")
        self.finished.emit(ok, message)

    def _worker_done(self) -> None:
        self._worker = None
        self.import_btn.setEnabled(True)
        self.export_btn.setEnabled(self.models.count() > 0)
