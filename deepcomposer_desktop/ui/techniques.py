"""The generative-techniques panel: GAN accompaniment, AR-CNN enhance, Transformer extend. It collects options
and emits ``generate_requested(technique, options)``; the window runs the job on a worker (workers.py) and feeds
progress back. GUI thread only; nothing here imports torch.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QDial, QDoubleSpinBox, QFormLayout, QGridLayout,
                               QHBoxLayout, QLabel, QProgressBar, QPushButton, QRadioButton, QSpinBox, QTabWidget,
                               QVBoxLayout, QWidget)

TITLES = {"gan": "GAN", "arcnn": "AR-CNN", "transformer": "Transformer"}
BLURBS = {"gan": "Writes an accompaniment (drums, bass, chords …) for your melody in a genre.",
          "arcnn": "Enhances your melody: adds and removes notes in the style of Bach chorales.",
          "transformer": "Extends your melody: continues it for as long as you ask."}


class Knob(QWidget):
    """A labelled QDial showing its value; ``scale`` maps the dial's integer range to floats."""

    def __init__(self, label: str, lo: int, hi: int, value: int, scale: float = 1.0, suffix: str = "",
                 tip: str = "") -> None:
        super().__init__()
        self.scale, self.suffix = scale, suffix
        self.dial = QDial()
        self.dial.setRange(lo, hi)
        self.dial.setValue(value)
        self.dial.setNotchesVisible(True)
        self.dial.setFixedSize(54, 54)
        self.dial.setToolTip(tip)
        self.value_label = QLabel()
        self.value_label.setAlignment(Qt.AlignCenter)
        name = QLabel(label)
        name.setAlignment(Qt.AlignCenter)
        name.setToolTip(tip)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(name)
        lay.addWidget(self.dial, 0, Qt.AlignHCenter)
        lay.addWidget(self.value_label)
        self.dial.valueChanged.connect(self._show)
        self._show()

    def value(self) -> float:
        v = self.dial.value() * self.scale
        return v if self.scale != 1.0 else int(v)

    def _show(self) -> None:
        v = self.value()
        self.value_label.setText(f"{v:g}{self.suffix}")


def _label_tips(form: QFormLayout) -> None:
    """A form row's label explains itself as its field does (its tooltip), so hovering the name helps too."""
    for row in range(form.rowCount()):
        label = form.itemAt(row, QFormLayout.LabelRole)
        field = form.itemAt(row, QFormLayout.FieldRole)
        if label is not None and field is not None and label.widget() is not None and field.widget() is not None:
            label.widget().setToolTip(field.widget().toolTip())


class TechniquesPanel(QWidget):
    generate_requested = Signal(str, dict)
    cancel_requested = Signal()
    take_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tabs = QTabWidget()
        self.status: dict[str, QLabel] = {}
        self.available: dict[str, bool] = {k: False for k in TITLES}
        self.tabs.addTab(self._gan_tab(), TITLES["gan"])
        self.tabs.addTab(self._arcnn_tab(), TITLES["arcnn"])
        self.tabs.addTab(self._transformer_tab(), TITLES["transformer"])
        self.generate_btn = QPushButton("Generate")
        self.generate_btn.setObjectName("GenerateButton")
        self.generate_btn.setStyleSheet("QPushButton { background:#3d7be0; color:white; font-weight:bold;"
                                        " padding:6px 14px; border-radius:4px; }"
                                        " QPushButton:disabled { background:#2a2a2a; border-color:#363636;"
                                        " color:#6a6a6a; }")          # dimmed as style.py dims every button
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("%p%")
        self.progress.hide()                    # idle it would look like an empty text field
        self.message_label = QLabel()           # what the generation is doing, then its result, whole (wrapped)
        self.message_label.setWordWrap(True)
        self.message_label.hide()
        self.take_box = QComboBox()
        self.take_box.setToolTip("Results of the last generation: pick a take")
        self.take_box.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_btn, 1)
        buttons.addWidget(self.cancel_btn)
        buttons.addWidget(self.take_box)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(QLabel("<b>Generative AI</b>"))
        lay.addWidget(self.tabs, 1)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.message_label)
        self.generate_btn.clicked.connect(self._generate)
        self.cancel_btn.clicked.connect(self.cancel_requested)
        self.take_box.activated.connect(self.take_chosen)
        self.tabs.currentChanged.connect(lambda _i: self._update_button())
        self._busy = False
        for k in TITLES:
            self.status[k].setText("Loading models…")
        self._update_button()

    # --- tabs ------------------------------------------------------------------------------------------------------
    def _page(self, key: str) -> tuple[QWidget, QVBoxLayout]:
        page = QWidget()
        lay = QVBoxLayout(page)
        blurb = QLabel(BLURBS[key])
        blurb.setWordWrap(True)
        blurb.setStyleSheet("color:#aaa;")
        lay.addWidget(blurb)
        status = QLabel()
        status.setWordWrap(True)
        status.setStyleSheet("color:#e0a040;")
        self.status[key] = status
        lay.addWidget(status)
        return page, lay

    def _gan_tab(self) -> QWidget:
        page, lay = self._page("gan")
        form = QFormLayout()
        self.genre = QComboBox()
        self.gan_takes = QSpinBox()
        self.gan_takes.setRange(1, 8)
        self.gan_seed = QSpinBox()
        self.gan_seed.setRange(0, 999_999)
        self.gan_takes.setToolTip("How many different accompaniments to write at once: pick one after (Take box)")
        self.gan_seed.setToolTip("Starting point of the dice: the same seed gives the same accompaniment again")
        form.addRow("Genre", self.genre)
        form.addRow("Takes", self.gan_takes)
        form.addRow("Seed", self.gan_seed)
        _label_tips(form)
        lay.addLayout(form)
        lay.addStretch(1)
        return page

    def _arcnn_tab(self) -> QWidget:
        page, lay = self._page("arcnn")
        # the caps count sixteenth-note cells, as DeepComposer's did: a quarter note is 4 cells, a new 16th note 1
        self.k_add = Knob("Add notes", 0, 400, 50, suffix=" %",
                          tip="Most sixteenth-note cells the model may fill, in % of the cells your notes fill (a "
                              "quarter note fills 4: 50 % of a melody of quarter notes is up to 2 new 16th notes "
                              "for each of yours). 300 % with 400 iterations gives a chorale-like texture")
        self.k_remove = Knob("Remove", 0, 100, 20, suffix=" %",
                             tip="Most of the sixteenth-note cells of your notes it may clear, in %: it may shorten "
                                 "notes as well as remove them")
        self.k_iter = Knob("Iterations", 10, 500, 100, tip="Sampling steps: more changes, more time")
        self.k_temp = Knob("Temperature", 1, 30, 10, scale=0.1, tip="Higher: bolder, less predictable")
        grid = QGridLayout()
        for i, k in enumerate((self.k_add, self.k_remove, self.k_iter, self.k_temp)):
            grid.addWidget(k, 0, i)
        lay.addLayout(grid)
        form = QFormLayout()
        self.arcnn_seed = QSpinBox()
        self.arcnn_seed.setRange(0, 999_999)
        self.arcnn_seed.setToolTip("Starting point of the dice: the same seed gives the same result again")
        form.addRow("Seed", self.arcnn_seed)
        _label_tips(form)
        lay.addLayout(form)
        lay.addStretch(1)
        return page

    def _transformer_tab(self) -> QWidget:
        page, lay = self._page("transformer")
        form = QFormLayout()
        self.tf_seconds = QDoubleSpinBox()
        self.tf_seconds.setRange(2.0, 300.0)
        self.tf_seconds.setValue(30.0)
        self.tf_seconds.setSuffix(" s")
        self.tf_context = QSpinBox()
        self.tf_context.setRange(1, 64)
        self.tf_context.setValue(8)
        self.tf_context.setSuffix(" bars")
        self.tf_sampling = QComboBox()
        self.tf_sampling.addItems(["Nucleus (top-p)", "Top-k"])
        self.tf_top_p = QDoubleSpinBox()
        self.tf_top_p.setRange(0.05, 1.0)
        self.tf_top_p.setSingleStep(0.05)
        self.tf_top_p.setValue(0.95)
        self.tf_top_k = QSpinBox()
        self.tf_top_k.setRange(1, 500)
        self.tf_top_k.setValue(40)
        self.tf_temp = QDoubleSpinBox()
        self.tf_temp.setRange(0.1, 3.0)
        self.tf_temp.setSingleStep(0.1)
        self.tf_temp.setValue(1.0)
        self.tf_takes = QSpinBox()
        self.tf_takes.setRange(1, 8)
        self.tf_seed = QSpinBox()
        self.tf_seed.setRange(0, 999_999)
        self.tf_melody = QRadioButton("Melody only")
        self.tf_all = QRadioButton("All tracks")
        self.tf_melody.setChecked(True)
        group = QButtonGroup(page)
        group.addButton(self.tf_melody)
        group.addButton(self.tf_all)
        which = QHBoxLayout()
        which.addWidget(self.tf_melody)
        which.addWidget(self.tf_all)
        for box, tip in ((self.tf_seconds, "How much music to add, in seconds"),
                         (self.tf_context, "How much of the end of your music it reads before it goes on: more "
                                           "bars keep it closer to your ideas"),
                         (self.tf_sampling, "How it picks each next note: among the likeliest ones that make up "
                                            "Top-p of the chances (nucleus), or among a fixed number (Top-k)"),
                         (self.tf_top_p, "Nucleus: it picks among the likeliest notes that together make up this "
                                         "share of the chances. Lower: safer, more predictable"),
                         (self.tf_top_k, "Top-k: it picks among this many likeliest notes. Fewer: safer, more "
                                         "predictable"),
                         (self.tf_temp, "Higher: bolder, less predictable; lower: plainer, more repetitive"),
                         (self.tf_takes, "How many different continuations to write at once: pick one after"),
                         (self.tf_seed, "Starting point of the dice: the same seed gives the same continuation "
                                        "again")):
            box.setToolTip(tip)
        form.addRow("Extend by", self.tf_seconds)
        form.addRow("Context", self.tf_context)
        form.addRow("Sampling", self.tf_sampling)
        form.addRow("Top-p", self.tf_top_p)
        form.addRow("Top-k", self.tf_top_k)
        form.addRow("Temperature", self.tf_temp)
        form.addRow("Takes", self.tf_takes)
        form.addRow("Seed", self.tf_seed)
        form.addRow("Continue", which)
        self.tf_melody.setToolTip("Continue the melody track alone")
        self.tf_all.setToolTip("Continue every track of the song together")
        _label_tips(form)
        lay.addLayout(form)
        lay.addStretch(1)
        self.tf_sampling.currentIndexChanged.connect(self._sampling_changed)
        self._sampling_changed()
        return page

    def _sampling_changed(self, *_a) -> None:
        nucleus = self.tf_sampling.currentIndex() == 0
        self.tf_top_p.setEnabled(nucleus)
        self.tf_top_k.setEnabled(not nucleus)

    # --- state -----------------------------------------------------------------------------------------------------
    def current_technique(self) -> str:
        return list(TITLES)[self.tabs.currentIndex()]

    def options(self, technique: str) -> dict[str, Any]:
        """Keyword arguments for the technique's function (beside song/progress/should_stop)."""
        if technique == "gan":
            return {"genre": self.genre.currentText(), "takes": self.gan_takes.value(), "seed": self.gan_seed.value()}
        if technique == "arcnn":
            return {"max_add_pct": float(self.k_add.value()), "max_remove_pct": float(self.k_remove.value()),
                    "iterations": int(self.k_iter.value()), "temperature": float(self.k_temp.value()),
                    "seed": self.arcnn_seed.value()}
        nucleus = self.tf_sampling.currentIndex() == 0
        return {"seconds": self.tf_seconds.value(), "context_bars": self.tf_context.value(),
                "top_k": 0 if nucleus else self.tf_top_k.value(), "top_p": self.tf_top_p.value() if nucleus else 1.0,
                "temperature": self.tf_temp.value(), "takes": self.tf_takes.value(), "seed": self.tf_seed.value(),
                "tracks": "melody" if self.tf_melody.isChecked() else "all"}

    def set_availability(self, info: dict[str, dict[str, Any]]) -> None:
        for key, label in self.status.items():
            entry = info.get(key, {})
            ok = bool(entry.get("available"))
            self.available[key] = ok
            label.setText("" if ok else f"Not available: {entry.get('problem') or 'module missing'}")
            self.tabs.setTabText(list(TITLES).index(key), TITLES[key] + ("" if ok else " (n/a)"))
        genres = info.get("gan", {}).get("genres") or []
        current = self.genre.currentText()
        self.genre.clear()
        self.genre.addItems([str(g) for g in genres])
        if current in genres:
            self.genre.setCurrentText(current)
        self._update_button()

    def set_busy(self, busy: bool, message: str = "") -> None:
        """Busy: the bar shows the percentage and ``message`` what is happening; idle: the bar goes and
        ``message`` (the result: "Done …", "Cancelled", "Failed: …") stays in words under the buttons."""
        self._busy = busy
        self.cancel_btn.setEnabled(busy)
        self.tabs.setEnabled(not busy)
        if busy:
            self.progress.setValue(0)
            self.progress.setFormat("%p%")
        self.progress.setVisible(busy)
        self.set_message(message or ("Starting…" if busy else ""))
        self._update_button()

    def set_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(max(0.0, min(1.0, fraction)) * 1000))
        self.progress.setFormat("%p%")
        if message:
            self.set_message(message)

    def set_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))

    def message(self) -> str:
        """The last progress or result message (as shown under the bar)."""
        return self.message_label.text()

    def next_seed(self, technique: str, used: int) -> int | None:
        """After a result: the technique's seed moves past the ``used`` seeds its takes had (take k: seed + k), so
        that Generate again gives new takes; returns the new seed (None: no such technique)."""
        box = {"gan": self.gan_seed, "arcnn": self.arcnn_seed, "transformer": self.tf_seed}.get(technique)
        if box is None:
            return None
        box.setValue((box.value() + max(1, int(used))) % (box.maximum() + 1))
        return box.value()

    def set_takes(self, count: int) -> None:
        self.take_box.clear()
        if count > 1:
            self.take_box.addItems([f"Take {i + 1}" for i in range(count)])
            self.take_box.show()
        else:
            self.take_box.hide()

    def _update_button(self) -> None:
        self.generate_btn.setEnabled(not self._busy and self.available.get(self.current_technique(), False))

    def _generate(self) -> None:
        t = self.current_technique()
        self.generate_requested.emit(t, self.options(t))
