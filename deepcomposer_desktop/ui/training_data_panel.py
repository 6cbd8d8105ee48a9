"""The Training studio's data panel: a folder of MIDI files (scanned on a worker thread, the melody track of each
file fixable) or a built-in data set, and what was found in it. GUI thread only; scans run on a ``workers.Worker``.
"""
from __future__ import annotations

import html
import os
import re

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QFileDialog, QGroupBox, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QPushButton, QRadioButton, QStyledItemDelegate, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from ..ml.data.folder import ONLY_DRUMS

_TRACK = re.compile(r"(\d+\. )(.*), (\d+) notes\)\Z")      # "1. Name (Instrument, 242 notes)"
NAME_WIDTH, STATUS_WIDTH = 170, 130                           # the most the File and Status columns take at first


def track_label(label: str) -> str:
    """A melody choice as "1. Flute — 542 notes": the instrument only when the track's name is not already it."""
    m = _TRACK.match(label)
    if m is None:
        return label
    number, body, notes = m.groups()                         # body: "Name (Instrument"
    for k in (k for k in range(len(body)) if body.startswith(" (", k)):
        if body[:k] == body[k + 2:]:
            return f"{number}{body[:k]} — {notes} notes"
    return f"{number}{body}) — {notes} notes"


def elide_name(text: str, fm, width: float, common: tuple[int, int] = (0, 0)) -> str:
    """``text`` cut to ``width`` pixels, keeping what tells it from the other names (``common``: the lengths of
    the start and the end all names share): their shared start is cut first, then their shared end."""
    if fm.horizontalAdvance(text) <= width:
        return text
    a, b = common[0], len(text) - common[1]
    if not 0 <= a < b <= len(text):
        return fm.elidedText(text, Qt.ElideMiddle, int(width))
    cut = lambda i, j: ("…" if i > 0 else "") + text[i:j] + ("…" if j < len(text) else "")  # noqa: E731
    if fm.horizontalAdvance(cut(a, b)) > width:
        return fm.elidedText(text[a:b], Qt.ElideMiddle, int(width))
    while b < len(text) and fm.horizontalAdvance(cut(a, b + 1)) <= width:    # the end (number, extension) first
        b += 1
    while a > 0 and fm.horizontalAdvance(cut(a - 1, b)) <= width:
        a -= 1
    return cut(a, b)


class _NameDelegate(QStyledItemDelegate):
    """Paints the File column on one line, each name cut where the names are alike (the full name is its tip)."""

    common = (0, 0)

    def initStyleOption(self, option, index) -> None:  # noqa: N802 - Qt name
        super().initStyleOption(option, index)
        option.text = elide_name(option.text, option.fontMetrics, option.rect.width() - 10, self.common)

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 - Qt name
        """The whole name's width (what "fit the column to its contents" asks for), not the cut one's."""
        size = super().sizeHint(option, index)
        return QSize(max(size.width(), option.fontMetrics.horizontalAdvance(str(index.data() or "")) + 14),
                     size.height())


class DataPanel(QGroupBox):
    """Pick and inspect the training data. ``source()`` is "" until something usable is chosen.

    Signals: ``changed()`` when the source or what was found changes; ``scanning(bool)`` around each scan.
    """

    changed = Signal()
    scanning = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("1. Your music", parent)
        self.scan = None
        self.overrides: dict[str, int] = {}
        self._worker = None
        self._rescan: bool | None = None       # a scan asked for while one runs (True: its rows are rebuilt)
        self._wanted = 0                       # the latest scan asked for: an older scan's result is dropped
        dv = QVBoxLayout(self)
        self.use_folder = QRadioButton("A folder of MIDI files")
        self.use_builtin = QRadioButton("A built-in data set")
        group = QButtonGroup(self)
        for b in (self.use_folder, self.use_builtin):
            group.addButton(b)
        self.use_folder.setChecked(True)
        row = QHBoxLayout()
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("choose a folder with your .mid files")
        self.folder_edit.setReadOnly(True)
        self.choose_btn = QPushButton("Choose folder…")
        self.choose_btn.clicked.connect(self._choose_folder)
        row.addWidget(self.folder_edit, 1)
        row.addWidget(self.choose_btn)
        self.builtin = QComboBox()
        try:
            from ..training_data import builtin_datasets
            for name, path in builtin_datasets():
                self.builtin.addItem(name, str(path))
        except Exception:                                   # the caches are optional
            pass
        self.use_builtin.setEnabled(self.builtin.count() > 0)
        self.builtin.currentIndexChanged.connect(lambda _i: self._builtin_changed())
        self.use_builtin.toggled.connect(lambda _on: self._builtin_changed())
        dv.addWidget(self.use_folder)
        dv.addLayout(row)
        dv.addWidget(self.use_builtin)
        dv.addWidget(self.builtin)
        self.found = QLabel("Nothing chosen yet.")
        self.found.setWordWrap(True)
        self.found.setTextFormat(Qt.RichText)
        dv.addWidget(self.found)
        self.files = QTableWidget(0, 3)
        self.files.setHorizontalHeaderLabels(["File", "Melody track", "Status"])
        self.files.horizontalHeaderItem(1).setToolTip("The track that carries the tune: change it if it is wrong")
        self.files.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        self.files.setWordWrap(False)
        self.names = _NameDelegate(self.files)
        self.files.setItemDelegateForColumn(0, self.names)
        self.files.verticalHeader().hide()
        self.files.setMinimumHeight(120)
        dv.addWidget(self.files, 1)

    def set_locked(self, locked: bool) -> None:
        """No changes while a training runs."""
        for w in (self.choose_btn, self.use_folder, self.builtin, self.files):
            w.setEnabled(not locked)
        self.use_builtin.setEnabled(not locked and self.builtin.count() > 0)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of MIDI files")
        if folder:
            self.set_folder(folder)

    def set_folder(self, folder: str) -> None:
        """Use ``folder`` as the training data and scan it (on a worker thread)."""
        self.use_folder.setChecked(True)
        self.folder_edit.setText(folder)
        self.overrides = {}
        self.scan = None
        self.changed.emit()
        self._scan(rebuild=True)

    def _scan(self, rebuild: bool) -> None:
        """Scan the folder with the current fixes; a scan still running is stopped and this one follows it."""
        from ..training_data import scan_folder
        from ..workers import Worker
        self._wanted += 1
        if self._worker is not None:
            self._rescan = bool(self._rescan) or rebuild
            self._worker.cancel()
            return
        ticket = self._wanted
        self.scanning.emit(True)
        self.found.setText("Reading the MIDI files…")
        w = Worker(scan_folder, {"folder": self.folder_edit.text(), "overrides": dict(self.overrides)}, "scan",
                   parent=self)
        w.succeeded.connect(lambda scan: self._show_scan(scan, rebuild) if ticket == self._wanted else None)
        w.failed.connect(lambda message: self._scan_failed(message) if ticket == self._wanted else None)
        w.done.connect(self._scan_done)
        self._worker = w
        w.start()

    def _scan_done(self) -> None:
        self._worker = None
        self.scanning.emit(False)
        if self._rescan is not None:
            rebuild, self._rescan = self._rescan, None
            self._scan(rebuild)

    def _scan_failed(self, message: str) -> None:
        self.scan = None
        self.found.setText(f"<b>Cannot use this folder:</b> {html.escape(message)}")
        self.files.setRowCount(0)
        self.changed.emit()

    def _show_scan(self, scan, rebuild: bool) -> None:
        if not os.path.isdir(self.folder_edit.text()):          # moved or deleted while it was read
            self._scan_failed("the folder is gone (moved or deleted while it was read)")
            return
        self.scan = scan
        rep = scan.report
        if scan.error:
            self.found.setText(f"<b>Nothing to learn from yet:</b> {html.escape(scan.error)}")
        else:
            inst = "; ".join(f"{role}: {', '.join(names[:3])}" for role, names in rep["instruments"].items() if names)
            songs = f"{rep['songs']} song{'' if rep['songs'] == 1 else 's'}"
            self.found.setText(f"<b>{songs}</b> of {rep['files']} files, {rep['bars']} bars, "
                               f"{rep['windows']} 8-bar pieces to learn from. Instruments — "
                               f"{html.escape(inst) or 'none besides the melody'}."
                               + (f" {len(rep['skipped'])} files skipped (see Status)." if rep["skipped"] else ""))
        skipped = dict((f, why) for f, why in rep.get("skipped", []))
        shown = [self.files.item(r, 0).text() if self.files.item(r, 0) else None for r in range(self.files.rowCount())]
        if rebuild or shown != [f.path for f in scan.files]:
            self.files.setRowCount(len(scan.files))
            paths = [f.path for f in scan.files]
            start = len(os.path.commonprefix(paths)) if len(paths) > 1 else 0
            end = len(os.path.commonprefix([p[::-1] for p in paths])) if len(paths) > 1 else 0
            self.names.common = (start, end)
            for r, f in enumerate(scan.files):
                item = QTableWidgetItem(f.path)
                item.setToolTip(f.path)
                self.files.setItem(r, 0, item)
                combo = QComboBox()
                for k, label in enumerate(f.tracks):
                    combo.addItem(track_label(label))
                    combo.setItemData(k, label, Qt.ToolTipRole)
                combo.setPlaceholderText("no melody: the file has only drums" if
                                         (f.problem or skipped.get(f.path)) == ONLY_DRUMS else "no melody")
                if f.melody is not None and (f.problem or skipped.get(f.path)) != ONLY_DRUMS:
                    combo.setCurrentIndex(f.melody)
                else:
                    combo.setCurrentIndex(-1)                 # no track shown as the melody
                combo.setEnabled(bool(f.tracks))
                combo.currentIndexChanged.connect(lambda i, path=f.path, guess=f.melody:
                                                  self.fix_melody(path, i, guess))
                self.files.setCellWidget(r, 1, combo)
        for r, f in enumerate(scan.files):
            why = f.problem or skipped.get(f.path, "")
            text = f"skipped: {why}" if why else ("melody fixed by you" if f.path in self.overrides else "ok")
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            self.files.setItem(r, 2, item)
        if rebuild:
            for column, most in ((0, NAME_WIDTH), (2, STATUS_WIDTH)):
                self.files.resizeColumnToContents(column)
                self.files.setColumnWidth(column, min(most, self.files.columnWidth(column)))
        self.changed.emit()

    def fix_melody(self, path: str, index: int, guess: int | None = None) -> None:
        """The user says track ``index`` is the melody of ``path``; the summary is checked again."""
        if index == guess:
            self.overrides.pop(path, None)
        else:
            self.overrides[path] = int(index)
        self._scan(rebuild=False)

    def _builtin_changed(self) -> None:
        if not self.use_builtin.isChecked():
            self.changed.emit()
            return
        from ..training_data import describe_cache
        try:
            info = describe_cache(self.builtin.currentData())
        except ValueError as exc:
            self.found.setText(html.escape(str(exc)))
            return
        inst = "; ".join(f"{k}: {', '.join(v)}" for k, v in info["instruments"].items())
        self.found.setText(f"<b>{info['songs']} songs</b>, {info['bars']} bars in {info['windows']} 8-bar pieces. "
                           f"Instruments — {html.escape(inst)}. Source: {html.escape('; '.join(info['sources']))}")
        self.files.setRowCount(0)
        self.changed.emit()

    def busy(self) -> bool:
        return self._worker is not None

    def source(self) -> str:
        """A .npz data set, a folder with usable windows, or "" (nothing usable chosen yet)."""
        if self.use_builtin.isChecked():
            return self.builtin.currentData() or ""
        return self.folder_edit.text() if self.scan is not None and not self.scan.error else ""
