"""Training studio: train your own GAN genre from a folder of MIDI files (or a built-in data set) and watch it learn.

``TrainingWindow`` picks and scans the data (songs, bars, instruments, the melody track of each file — fixable),
takes a genre name and hyperparameters, runs ``training_process.TrainingJob`` (a separate process) and shows its
events: progress + ETA, loss and metric plots with the real data's values, a sample arrangement per checkpoint
(``sample_chosen(Song)`` when clicked) and the "orchestra and conductor" explanation with this run's numbers.
Signals: ``model_ready(name)`` when a genre is installed. Everything here runs on the GUI thread; folder scans run
on a ``workers.Worker`` thread and training in its own process, polled by a 100 ms timer.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QRegularExpression, Qt, QTimer, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QListWidget, QListWidgetItem, QMessageBox, QPlainTextEdit, QProgressBar, QPushButton,
                               QScrollArea, QSpinBox, QSplitter, QVBoxLayout, QWidget)

from ..training_process import (Checkpoint, DataReady, Finished, LogLine, Losses, Progress, Reference, TrainingJob,
                                TrainingSpec, logged_losses, paused_runs)
from ..training_records import logged_checkpoints
from .model_sharing import ModelSharing
from .training_data_panel import DataPanel
from .training_plots import PALETTE, LinePlot, MetricsGrid
from .training_texts import LOSS_TIPS, LOSSES, epoch_of, eta_text, explanation, log_eta, per_epoch, sample_label

METRICS = {"empty_bar_rate": "empty-bar rate", "used_pitch_classes": "pitch classes per bar",
           "in_scale_rate": "in-scale rate", "qualified_note_rate": "qualified notes (≥ 3 steps)",
           "polyphony": "polyphony", "note_density": "notes per bar"}
PRESETS = (("small", "Small — fits a laptop CPU"), ("default", "Full — for a GPU"),
           ("tiny", "Tiny — a one-minute try (sounds rough)"))
HELP = {"epochs": "How many times the model goes through all your songs. More = better, but longer.",
        "lr": "How big each learning step is. Too high and it goes wild; too low and it learns slowly.",
        "ratio": "How many times the critic practises for each step of the generator (WGAN uses 2–5). 0: no critic, "
                 "only the real arrangements teach it — about 9x faster a step, the quick way to adapt a genre.",
        "batch": "How many 8-bar pieces it studies at once. Larger is steadier but needs more memory.",
        "every": "How often (in epochs) to save the model, measure it and make a sample to listen to.",
        "size": "A bigger network can learn more but trains much more slowly on a CPU.",
        "from": "With few songs, start from a genre that already plays well (its network size is used)."}
EPOCHS = {"small": 20, "default": 200, "tiny": 3}     # the presets' own epoch counts assume time-budgeted runs


def _help(text: str) -> QLabel:
    lab = QLabel(text)
    lab.setWordWrap(True)
    lab.setStyleSheet("color: palette(mid); font-size: small;")
    return lab


class TrainingWindow(QWidget):
    """The Training studio window. GUI thread only (see the module docstring for the worker and the process)."""

    model_ready = Signal(str)          # a model was trained (or imported) and installed: refresh the lists
    sample_chosen = Signal(object)     # core.song.Song: the user clicked a sample arrangement to hear it
    status_changed = Signal(str)       # "idle", "scanning", "running", "paused", "done", "cancelled", "failed"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.Window)
        self.setWindowTitle("Training studio — teach the GAN a genre")
        self.job: TrainingJob | None = None
        self._shown_run: Path | None = None     # the run whose plots and samples are on screen
        self.samples: list = []
        self.current_song = None
        self.threads = max(1, (os.cpu_count() or 2) // 2)
        self.state = "idle"
        self._numbers: dict = {}
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(self.poll)
        self.model_ready.connect(lambda _name: self.refresh_models())
        self._update_buttons()
        self._offer_paused()

    # --- layout ---------------------------------------------------------------------------------------------------
    def _build(self) -> None:
        left = QWidget()
        lv = QVBoxLayout(left)
        self.data = DataPanel()
        self.data.changed.connect(self._data_changed)
        self.data.scanning.connect(lambda busy: self._set_state("scanning" if busy else "idle")
                                   if self.state in ("idle", "scanning") else None)
        lv.addWidget(self.data, 1)

        setup = QGroupBox("2. Name the genre and set the training")
        form = QFormLayout(setup)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. my-band")
        from ..model_files import NAME_RE
        self.name_edit.setValidator(QRegularExpressionValidator(QRegularExpression(NAME_RE.pattern.removesuffix(
            r"\Z")), self))
        self.name_edit.textChanged.connect(lambda _t: self._update_buttons())
        self.name_note = _help("")
        name_box = QVBoxLayout()
        name_box.setSpacing(0)
        name_box.addWidget(self.name_edit)
        name_box.addWidget(self.name_note)
        form.addRow("Genre name", name_box)
        self.preset = QComboBox()
        for key, label in PRESETS:
            self.preset.addItem(label, key)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 100000)
        self.epochs.setValue(20)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(0.00001, 0.01)
        self.lr.setSingleStep(0.0001)
        self.lr.setValue(0.0005)
        self.ratio = QSpinBox()
        self.ratio.setRange(0, 10)
        self.ratio.setSpecialValueText("0 (no critic)")
        self.ratio.setValue(2)
        self.ratio.valueChanged.connect(lambda _v: self._explain())
        self.batch = QSpinBox()
        self.batch.setRange(1, 512)
        self.batch.setValue(16)
        self.every = QSpinBox()
        self.every.setRange(1, 1000)
        self.every.setValue(2)
        for label, w, key in (("Model size", self.preset, "size"), ("Epochs", self.epochs, "epochs"),
                              ("Learning rate", self.lr, "lr"), ("Update ratio", self.ratio, "ratio"),
                              ("Batch size", self.batch, "batch"), ("Sample every (epochs)", self.every, "every")):
            box = QVBoxLayout()
            box.setSpacing(0)
            box.addWidget(w)
            box.addWidget(_help(HELP[key]))
            form.addRow(label, box)
        self.preset.currentIndexChanged.connect(lambda _i: self._preset_changed())
        self.start_from = QComboBox()
        self._fill_start_from()
        self.start_from.currentIndexChanged.connect(lambda _i: self._start_from_changed())
        box = QVBoxLayout()
        box.setSpacing(0)
        box.addWidget(self.start_from)
        box.addWidget(_help(HELP["from"]))
        form.addRow("Start from", box)
        self.melody_pick = QComboBox()
        from ..samples import list_samples
        for s in list_samples():
            self.melody_pick.addItem(s.title, s.slug)
        form.addRow("Melody for the samples", self.melody_pick)
        lv.addWidget(setup)

        run = QGroupBox("3. Train")
        rv = QVBoxLayout(run)
        buttons = QHBoxLayout()
        self.train_btn = QPushButton("Train")
        self.pause_btn = QPushButton("Pause")
        self.cancel_btn = QPushButton("Cancel")
        self.resume_btn = QPushButton("Resume")
        for b, slot, tip in ((self.train_btn, self.start, "Start a new training (replaces a paused one)"),
                             (self.pause_btn, self.pause, "Stop after this step; you can resume later"),
                             (self.cancel_btn, self.cancel, "Stop and throw this training away"),
                             (self.resume_btn, self.resume, "Go on with the paused training")):
            b.setToolTip(tip)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        rv.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("%p%")
        self.eta = QLabel("")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setMinimumHeight(34)
        rv.addWidget(self.progress)
        rv.addWidget(self.eta)
        rv.addWidget(self.status)
        self.sharing = ModelSharing()
        self.sharing.model_installed.connect(lambda _technique, name: self.model_ready.emit(name))
        lv.addWidget(self.sharing)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidget(left)
        column = QWidget()                       # the Train controls stay in view below the scrolling set-up
        cv = QVBoxLayout(column)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.addWidget(scroll, 1)
        cv.addWidget(run)

        right = QWidget()
        rv2 = QVBoxLayout(right)
        self.loss_plot = LinePlot("Losses: the critic (conductor) and the generator (orchestra)")
        for name in LOSSES:
            self.loss_plot.add_series(name, tip=LOSS_TIPS[name])
        rv2.addWidget(self.loss_plot, 2)
        rv2.addWidget(QLabel(f"Metrics of the <span style='color:{PALETTE[1]}'>generated accompaniment (solid)</span> "
                             f"vs <span style='color:{PALETTE[0]}'>your real music (dashed)</span>"))
        self.metrics = MetricsGrid(METRICS)
        rv2.addWidget(self.metrics, 3)
        low = QHBoxLayout()
        samples_box = QVBoxLayout()
        samples_box.addWidget(QLabel("Samples — click one to hear it"))
        self.sample_list = QListWidget()
        self.sample_list.itemClicked.connect(self._sample_clicked)
        self.sample_list.itemActivated.connect(self._sample_clicked)
        samples_box.addWidget(self.sample_list)
        low.addLayout(samples_box, 1)
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        self.explain.setTextFormat(Qt.RichText)
        self.explain.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        low.addWidget(self.explain, 2)
        rv2.addLayout(low, 2)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(400)
        self.log.setMaximumHeight(90)
        rv2.addWidget(self.log)

        split = QSplitter(Qt.Horizontal)
        split.addWidget(column)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        outer = QVBoxLayout(self)
        outer.addWidget(split)
        self.resize(1200, 800)
        self._explain()

    # --- data (the panel does the work) -----------------------------------------------------------------------------
    def set_folder(self, folder: str) -> None:
        """Use ``folder`` as the training data and scan it (on a worker thread)."""
        self.data.set_folder(folder)

    @property
    def scan(self):
        return self.data.scan

    @property
    def overrides(self) -> dict:
        return self.data.overrides

    def source(self) -> str:
        return self.data.source()

    def _data_changed(self) -> None:
        """A name to start from when there is none yet: the folder's or the data set's."""
        from ..model_files import NAME_RE
        if not self.name_edit.text():
            if self.data.use_builtin.isChecked():
                guess = f"my-{self.data.builtin.currentText()}"
            else:
                base = os.path.basename(os.path.normpath(self.data.folder_edit.text())).lower()
                guess = "".join(c if c.isalnum() or c in "-_" else "-" for c in base)[:40]
            if NAME_RE.match(guess):
                self.name_edit.setText(guess)
        self._update_buttons()

    # --- the run ------------------------------------------------------------------------------------------------------
    def set_current_song(self, song) -> None:
        """The studio's song: offered as "Your current melody" for the samples (call when it changes)."""
        self.current_song = song
        if self.melody_pick.findData("__current__") < 0 and song is not None:
            self.melody_pick.insertItem(0, "Your current melody", "__current__")
            self.melody_pick.setCurrentIndex(0)

    def _melody(self):
        slug = self.melody_pick.currentData()
        if slug == "__current__":
            return self.current_song
        from ..samples import load_sample
        try:
            return load_sample(slug)
        except Exception:
            return None

    def spec(self) -> TrainingSpec:
        return TrainingSpec(name=self.name_edit.text().strip(), source=self.source(),
                            melody_overrides=dict(self.data.overrides), preset=self.preset.currentData(),
                            epochs=self.epochs.value(), lr=self.lr.value(), update_ratio=self.ratio.value(),
                            batch_size=self.batch.value(), sample_every=self.every.value(), melody=self._melody(),
                            threads=self.threads, init_from=self.start_from.currentData() or "")

    def start(self) -> None:
        """Train afresh with what is on screen (a paused run of the same name is replaced)."""
        if self.job is not None and self.job.running:
            return
        self._begin(TrainingJob(self.spec()) if self._ok_to_start() else None, resume=False)

    def resume(self) -> None:
        """Go on with the paused run of this name (or the latest paused run). After a restart (nothing shown yet)
        its losses, metric points and samples come back from its folder; the child sends the reference again."""
        if self.job is not None and self.job.running:
            return
        runs = paused_runs()
        name = self.name_edit.text().strip()
        run = next((r for r in runs if r.name == name), None if name else (runs[0] if runs else None))
        if run is None:
            others = ", ".join(f"'{r.name}'" for r in runs[:5])
            self.status.setText(f"There is no paused training called '{name}'. Paused: {others}: type one of those "
                                f"names, or clear the name to resume the latest." if name and runs else
                                "There is no paused training to resume.")
            return
        try:
            job = TrainingJob.from_run(run)
        except Exception as exc:
            self.status.setText(str(exc))
            return
        self.name_edit.setText(job.spec.name)
        # the plots on screen go on only if they are this run's (a pause and resume in this window); after a restart
        # or for another run they are drawn again from its folder, read before the child writes to it
        shown = self._shown_run == run and self.loss_plot.point_count() > 0
        saved = [] if shown else [*logged_losses(run), *logged_checkpoints(run)]
        self._begin(job, resume=True, clear=not shown)
        if self.job is job:
            for ev in saved:                              # losses first: the sample labels count epochs from them
                self.apply_event(ev)

    def _ok_to_start(self) -> bool:
        """Refuse what cannot be trained; a genre of the user's own of that name is replaced only when they say so."""
        if not self.source():
            self.status.setText("Choose a folder with usable MIDI files or a built-in data set first.")
            return False
        if not self.name_edit.hasAcceptableInput():
            self.status.setText("Name the genre with lower-case letters, digits, '-' or '_' (e.g. my-band).")
            return False
        name = self.name_edit.text().strip()
        if self._builtin(name):
            self.status.setText(f"'{name}' is a built-in genre, and one trained under that name would take its "
                                f"place everywhere: choose another name.")
            return False
        if self._installed(name) and not self.confirm_replace(name):
            self.status.setText(f"Nothing started: your genre '{name}' is kept. Choose another name to train a "
                                f"new one.")
            return False
        return True

    def confirm_replace(self, name: str) -> bool:
        """Ask whether training may replace the user's own genre ``name`` (a yes/no question, No by default)."""
        answer = QMessageBox.question(self, "Replace your genre?",
                                      f"You already have a genre called '{name}'. Training replaces it when it "
                                      f"is done (the one you have now is lost). Train anyway?",
                                      QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        return answer == QMessageBox.Yes

    @staticmethod
    def _builtin(name: str) -> bool:
        from ..ml.registry import SHIPPED_DIR
        return bool(name) and (SHIPPED_DIR / f"gan-{name}.pt").is_file()

    @staticmethod
    def _installed(name: str) -> bool:
        from ..ml.registry import user_models_dir
        return bool(name) and (user_models_dir() / f"gan-{name}.pt").is_file()

    def _begin(self, job: TrainingJob | None, resume: bool, clear: bool | None = None) -> None:
        """Start ``job`` (``resume``: from its resume file); ``clear`` (default: not ``resume``) empties the plots,
        samples and log first."""
        if job is None:
            return
        try:
            job.start(resume=resume)
        except Exception as exc:
            self.status.setText(str(exc))
            return
        self.job = job
        self._shown_run = job.run_dir
        if (not resume) if clear is None else clear:
            self.loss_plot.clear()
            self.metrics.clear()
            self.sample_list.clear()
            self.samples.clear()
            self.log.clear()
        self._numbers = {"spec": job.spec}
        self.progress.setValue(0)
        self.eta.setText("")
        self.status.setText("Starting the training process…")
        self._set_state("running")
        self.timer.start()

    def pause(self) -> None:
        if self.job is not None and self.job.running:
            self.job.pause()
            self.status.setText("Pausing after this step…")

    def cancel(self) -> None:
        if self.job is not None and self.job.running:
            self.job.cancel()
            self.status.setText("Cancelling…")

    def poll(self) -> None:
        """Timer slot: apply the training process's events."""
        if self.job is None:
            self.timer.stop()
            return
        for ev in self.job.poll():
            self.apply_event(ev)

    def apply_event(self, ev) -> None:
        n = self._numbers
        if isinstance(ev, Progress):
            self.progress.setValue(int(round(ev.fraction * 1000)))
            self.progress.setFormat(f"%p%  —  {ev.message}")
            if ev.fraction >= 1.0 or (ev.eta_sec is not None and "eta" not in n):  # once the log has one: its
                self.eta.setText(eta_text(ev.eta_sec, done=ev.fraction >= 1.0))
        elif isinstance(ev, Losses):
            for name, y in zip(LOSSES, (ev.wdist, ev.adv, ev.rec)):
                self.loss_plot.add_point(name, ev.iteration, y)
            self.metrics.set_x_reach(ev.iteration)
            n["losses"] = ev
            if ev.iteration >= ev.total:
                self.eta.setText(eta_text(0, done=True))
            self._explain()
        elif isinstance(ev, DataReady):
            n["data"] = ev
            songs = f"{ev.songs} song{'' if ev.songs == 1 else 's'}"
            held = (f"{ev.held_out} (from {ev.held_songs} song{'' if ev.held_songs == 1 else 's'}) held out to "
                    f"measure the model" if ev.held_out else "none held out (one song: the model is measured on "
                    "pieces it trains on)")
            self.status.setText(f"{ev.windows + ev.held_out} 8-bar pieces from {songs}: training on {ev.windows}, "
                                f"{held}.")
            self._explain()
        elif isinstance(ev, Reference):
            self.metrics.set_reference(ev.figures)
        elif isinstance(ev, Checkpoint):
            if ev.figures:
                self.metrics.add_figures(ev.iteration, ev.figures)
            if ev.sample is not None:
                steps = per_epoch(n.get("spec"), n.get("data"), n.get("losses"))
                label = sample_label(ev.iteration, epoch_of(ev.iteration, steps, ev.epoch), ev.final)
                last = self.sample_list.item(self.sample_list.count() - 1) if self.sample_list.count() else None
                if last is not None and last.data(Qt.UserRole + 1) == ev.iteration:
                    self.samples[last.data(Qt.UserRole)] = ev.sample      # the final fit of that same iteration
                    last.setText(label)
                else:
                    self.samples.append(ev.sample)
                    item = QListWidgetItem(label)
                    item.setData(Qt.UserRole, len(self.samples) - 1)
                    item.setData(Qt.UserRole + 1, ev.iteration)
                    self.sample_list.addItem(item)
        elif isinstance(ev, LogLine):
            self.log.appendPlainText(ev.text.rstrip())
            n["eta"] = log_eta(ev.text)
            if n["eta"] is None:
                del n["eta"]
            elif self.progress.value() < 1000:               # one estimate on screen: the log's
                self.eta.setText(eta_text(n["eta"]))
        elif isinstance(ev, Finished):
            self.timer.stop()
            self.status.setText(ev.message)
            self.eta.setText("")
            if ev.status == "done":
                self.progress.setValue(1000)
            self._set_state(ev.status)
            if ev.status == "done":
                self.sharing.refresh()
                self.model_ready.emit(ev.name)

    def _sample_clicked(self, item: QListWidgetItem) -> None:
        k = item.data(Qt.UserRole)
        if isinstance(k, int) and 0 <= k < len(self.samples):
            self.sample_chosen.emit(self.samples[k])

    # --- state ------------------------------------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        self.state = state
        self._update_buttons()
        self._explain()
        self.status_changed.emit(state)

    def _update_buttons(self) -> None:
        running = self.job is not None and self.job.running and self.state == "running"
        self.train_btn.setEnabled(not running and self.state != "scanning" and bool(self.source())
                                  and self.name_edit.hasAcceptableInput())
        self.pause_btn.setEnabled(running)
        self.cancel_btn.setEnabled(running)
        self.resume_btn.setEnabled(not running and bool(paused_runs()))
        self.name_note.setText(self._name_clash())
        self.data.set_locked(running)
        for w in (self.name_edit, self.epochs, self.lr, self.ratio, self.batch, self.every, self.start_from,
                  self.melody_pick):
            w.setEnabled(not running)
        self.preset.setEnabled(not running and not self.start_from.currentData())

    def _fill_start_from(self) -> None:
        from ..ml.registry import list_models
        self.start_from.clear()
        self.start_from.addItem("nothing — learn from scratch", "")
        for m in list_models("gan"):
            self.start_from.addItem(f"the '{m.name}' genre", str(m.path))

    def refresh_models(self) -> None:
        """Re-read the installed genres ("Start from", the name note): after a training or an import, and whenever
        the window is shown. The choice is kept while its genre is still there."""
        current = self.start_from.currentData()
        self.start_from.blockSignals(True)
        self._fill_start_from()
        k = self.start_from.findData(current)
        self.start_from.setCurrentIndex(max(0, k))
        self.start_from.blockSignals(False)
        self._update_buttons()

    def showEvent(self, e) -> None:  # noqa: N802 - Qt name
        self.refresh_models()
        super().showEvent(e)

    def _start_from_changed(self) -> None:
        """Starting from a genre: its network size, and the quick recipe (no critic, batch 8) that gets a usable
        band from ~200 songs in about 15 CPU minutes (README); the fields stay editable."""
        genre = bool(self.start_from.currentData())
        self.preset.setEnabled(not genre)
        if genre:
            self.ratio.setValue(0)
            self.batch.setValue(8)

    def _preset_changed(self) -> None:
        """Learning rate, update ratio and batch size follow the model size's recipe (epochs as in EPOCHS)."""
        from ..ml.gan.config import PRESETS as RECIPES
        key = self.preset.currentData()
        cfg = RECIPES.get(key)
        if cfg is None:
            return
        self.lr.setValue(cfg.lr)
        self.ratio.setValue(cfg.update_ratio)
        self.batch.setValue(cfg.batch_size)
        self.epochs.setValue(EPOCHS.get(key, 20))

    def _name_clash(self) -> str:
        name = self.name_edit.text().strip()
        if not name:
            return "Lower-case letters, digits, '-' or '_'."
        from ..ml.registry import list_models
        if self._builtin(name):
            return f"'{name}' is a built-in genre: choose another name."
        for m in list_models("gan"):
            if m.name == name:
                return f"You already have a genre '{name}': training replaces it (you will be asked)."
        return "The name it will have in the genre list."

    def _offer_paused(self) -> None:
        runs = paused_runs()
        if runs:
            self.status.setText(f"The training '{runs[0].name}' is paused: press Resume to go on with it.")

    def _explain(self) -> None:
        """The explanation with this run's numbers; the update ratio is the field's unless a run is on."""
        n, current = self._numbers, self.state in ("running", "paused")
        spec = n.get("spec")
        ratio = spec.update_ratio if spec is not None and current else self.ratio.value()
        self.explain.setText(explanation(ratio, spec, n.get("data"), n.get("losses"), running=current))

    def shutdown(self, timeout: float = 15.0) -> None:
        """App exit: pause a running training (so it can be resumed next time) and wait for it briefly."""
        self.timer.stop()
        if self.job is not None and self.job.running:
            self.job.pause()
            self.job.wait(timeout)
            self.job.kill()

    def closeEvent(self, e) -> None:  # noqa: N802 - Qt name
        # closing the window hides it: a training goes on in the background (shutdown() stops it at app exit)
        e.accept()

