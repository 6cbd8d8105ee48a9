"""The audition panel: every genre x N takes side by side (a card each: miniature piano roll, instruments, metrics);
click a card or press 1-9 (the genre; press again for its next take; 0 = the project) and that arrangement plays
from the current playhead via ``engine.swap_song`` (optionally from the next bar line). Keep a take (one undo step
in the window), add it as a muted alternative, lock tracks and regenerate the rest, export one or all.

GUI thread only. Generation runs on ``audition.AuditionRun``'s pool and on one regeneration thread; their results
come back through this panel's private signals, which Qt queues to the GUI thread. No torch import here.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QLabel, QMenu, QPushButton, QSpinBox, QToolButton,
                               QVBoxLayout, QWidget)

from ..audition import MAX_TAKES, AuditionError, AuditionRun, Take, regenerate
from ..audition_takes import (band_indices, export_combined, export_take, export_takes, kept_song, next_bar_tick,
                              seconds_until, take_filename, with_alternative)
from ..core.song import Song
from .audition_cards import CardArea, FlowLayout, MiniRoll, TakeCard  # noqa: F401  (MiniRoll re-exported)
from .playback import play_in_place

SWAP_LEAD_SEC = 0.03          # a bar-line switch happens this long before the bar (the engine schedules ahead)
KEPT_HISTORY = 100            # Keeps remembered (an undo may bring back the band of any of them)


def default_genres() -> list[str]:
    from ..ml.gan.generate import available_genres
    return available_genres()


class AuditionPanel(QWidget):
    """``AuditionPanel(engine_getter, song_getter)``: ``engine_getter()`` returns the playing engine (anything with
    ``swap_song``, ``position_tick``, ``is_playing``); ``song_getter()`` the project Song.

    Signals (GUI thread): ``take_kept(song, text)`` and ``alternative_kept(song, text)`` carry the new project Song
    for ONE undo step; ``arrangement_changed(key)`` when another arrangement plays (None = the project);
    ``message(text)`` for the status bar.
    """

    take_kept = Signal(object, str)
    alternative_kept = Signal(object, str)
    arrangement_changed = Signal(object)
    message = Signal(str)
    audition_finished = Signal()
    _take_ready = Signal(object)               # (run id, Take)
    _take_failed = Signal(object)              # (run id, genre, number, message)
    _regenerated = Signal(object, object, int)  # (take, error message or None, run id)

    def __init__(self, engine_getter: Callable, song_getter: Callable[[], Song],
                 genres_getter: Callable[[], list] | None = None, max_workers: int | None = None,
                 backend: str = "auto", parent: QWidget | None = None, stage=None) -> None:
        super().__init__(parent)
        self.engine_getter, self.song_getter = engine_getter, song_getter
        # the window's PlaybackController: a take plays in the project's place through it (play_guest), and an
        # edit of the project that ends it says so (guest_ended); without one, the engine is used directly
        self.stage = stage
        if stage is not None:
            stage.guest_ended.connect(self._displaced)
        self.genres_getter = genres_getter or default_genres
        self.max_workers, self.backend = max_workers, backend
        self.takes: dict[tuple[str, int], Take] = {}
        self.cards: dict[tuple[str, int], TakeCard] = {}
        self.genres: list[str] = []
        self.run: AuditionRun | None = None
        self._source: Song | None = None          # the project as the takes read it
        self.playing_key: tuple[str, int] | None = None
        self.kept_key: tuple[str, int] | None = None
        self._kept_bands: list[tuple] = []        # the bands Keep added, latest last (a new Keep replaces the one in
        #                                           the project now: after an undo that is an earlier one)
        self.pending_switch: tuple[str, int] | None = None
        self.errors: dict[tuple[str, int], str] = {}
        self._expected = 0
        self._received = 0
        self._run_id = 0
        self._regen_pool = ThreadPoolExecutor(1, thread_name_prefix="audition-regen")
        self._closed = False                       # shut down with the window
        self._warmed = False
        self._switch_timer = QTimer(self)
        self._switch_timer.setSingleShot(True)
        self._switch_timer.setTimerType(Qt.PreciseTimer)     # a coarse timer may fire up to 5 % early
        self._switch_timer.timeout.connect(self._switch_due)
        self._build()
        self._take_ready.connect(self._on_take)
        self._take_failed.connect(self._on_failed)
        self._regenerated.connect(self._on_regenerated)

    # --- construction -----------------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.generate_btn = QPushButton("Generate all genres")
        self.generate_btn.setToolTip("Your melody in every installed genre, several takes each, side by side")
        self.generate_btn.clicked.connect(lambda: self.cancel() if self.is_running() else self.generate_all())
        self.takes_spin = QSpinBox()
        self.takes_spin.setRange(1, MAX_TAKES)
        self.takes_spin.setValue(4)
        self.takes_spin.setSuffix(" takes")
        self.at_bar = QCheckBox("Switch at next bar")
        self.at_bar.setToolTip("Wait for the next bar line before switching arrangements")
        self.project_btn = QToolButton(text="0 Project")
        self.project_btn.setToolTip("Back to the project's own arrangement (0)")
        self.project_btn.clicked.connect(self.back_to_project)
        self.export_btn = QToolButton(text="Export all ▾")
        self.export_btn.setPopupMode(QToolButton.InstantPopup)
        self.export_btn.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0px; }")  # ▾ says it
        menu = QMenu(self.export_btn)
        menu.addAction("One MIDI file per take…", lambda: self._export_all_dialog("per-take"))
        menu.addAction("One MIDI file, takes one after another…", lambda: self._export_all_dialog("sequence"))
        menu.addAction("One MIDI file, takes as parallel tracks…", lambda: self._export_all_dialog("parallel"))
        self.export_btn.setMenu(menu)
        self.status = QLabel("Generate to compare genres. Keys 1-9 pick a genre (again: its next take), 0 the project.")
        self.status.setWordWrap(True)
        top = FlowLayout(spacing=6)                     # one row when wide, two in a narrow dock
        for w in (self.generate_btn, self.takes_spin, self.at_bar, self.project_btn, self.export_btn):
            top.addWidget(w)
        self.card_area = CardArea()                     # the only scroll area: cards in columns, vertical scrolling
        self.grid_host, self.grid = self.card_area.host, self.card_area.grid
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.status)
        lay.addWidget(self.card_area, 1)
        self.shortcuts = []
        for n in range(10):
            sc = QShortcut(QKeySequence(str(n)), self, context=Qt.WindowShortcut)
            sc.activated.connect(lambda n=n: self.select_number(n))
            self.shortcuts.append(sc)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        """The first time the panel is shown, start the worker processes and load the models in them, so the
        first Generate does not wait for that (about 2.5 s on 2 cores)."""
        super().showEvent(event)
        if not self._warmed:
            self._warmed = True
            from ..audition import resolve_backend, warm_process_pool
            if resolve_backend(self.backend) == "process":
                try:
                    warm_process_pool(self.max_workers)
                except (OSError, RuntimeError) as exc:
                    self._say(f"Audition runs on threads (no worker processes: {exc})")

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.message.emit(text)

    # --- generation -------------------------------------------------------------------------------------------------
    def generate_all(self, takes: int | None = None, genres: list[str] | None = None) -> bool:
        """Start every genre x ``takes`` (default: the spin box) on worker threads; cards appear as they finish."""
        if self.run is not None and not self.run.done:
            self.run.cancel()
        takes = int(takes or self.takes_spin.value())
        try:
            genres = list(genres) if genres is not None else list(self.genres_getter())
            gen = self._run_id + 1
            source = self.song_getter()
            run = AuditionRun(source, genres, takes, seed=0, max_workers=self.max_workers,
                              backend=self.backend, on_take=lambda t: self._take_ready.emit((gen, t)),
                              on_error=lambda g, n, m: self._take_failed.emit((gen, g, n, m)))
        except (AuditionError, ValueError, OSError) as exc:
            self._say(str(exc))
            return False
        self.clear()
        self._source = source
        self._run_id = gen
        self.genres, self.run = run.genres, run
        self._expected, self._received = len(run.jobs), 0
        self.generate_btn.setText("Cancel")
        self._say(f"Generating {len(run.genres)} genres × {takes} takes…")
        run.start()
        return True

    def clear(self) -> None:
        if self.playing_key is not None or self.pending_switch is not None:
            self.back_to_project()                  # the take that plays is about to go
        for card in self.cards.values():
            self.card_area.remove(card)
            card.deleteLater()
        self.cards.clear()
        self.takes.clear()
        self.errors.clear()
        self.playing_key = self.kept_key = self.pending_switch = None

    def _on_take(self, item) -> None:
        run_id, take = item
        if run_id != self._run_id:
            return                                  # from a run that was replaced
        self._received += 1
        self._place(take)
        self._progress()

    def _on_failed(self, item) -> None:
        run_id, genre, number, message = item
        if run_id != self._run_id:
            return
        self._received += 1
        self.errors[(genre, number)] = message
        self._progress()

    def _progress(self) -> None:
        if self._received < self._expected:
            self.status.setText(f"{self._received} of {self._expected} takes ready…")
            return
        self.generate_btn.setText("Generate all genres")
        secs = self.run.seconds if self.run else 0.0
        first_error = next(iter(self.errors.values()), "")
        if not self.takes and self.errors:                      # nothing to hear: only why
            text = f"No takes: {first_error}"
        else:
            text = f"{len(self.takes)} takes in {secs:.2f} s. Click a card or press 1-9 to hear it."
            if self.errors:
                text += f" {len(self.errors)} failed: {first_error}"
        self._say(text)
        self.audition_finished.emit()

    def _place(self, take: Take) -> None:
        if take.key in self.cards:
            self.cards[take.key].set_take(take)
        else:
            row = self.genres.index(take.genre)
            card = TakeCard(take, str(row + 1) if row < 9 else "")
            card.clicked.connect(self.select)
            card.action.connect(self._card_action)
            self.card_area.place(card, row, take.number)
            self.cards[take.key] = card
        self.takes[take.key] = take

    def is_running(self) -> bool:
        return self._received < self._expected

    def cancel(self) -> None:
        if self.run is not None:
            self.run.cancel()
        self._run_id += 1                   # results still in flight are dropped
        self._expected = self._received
        self.generate_btn.setText("Generate all genres")
        self._say(f"Cancelled: {len(self.takes)} takes ready")

    # --- switching arrangements -------------------------------------------------------------------------------------
    def ordered_keys(self) -> list[tuple[str, int]]:
        return sorted(self.takes, key=lambda k: (self.genres.index(k[0]) if k[0] in self.genres else 99, k[1]))

    def select_number(self, n: int) -> None:
        """0: the project; with one genre n is the take, otherwise the n-th genre (again: its next take)."""
        if n == 0:
            self.back_to_project()
            return
        if len(self.genres) == 1:
            key = (self.genres[0], n)
            if key in self.takes:
                self.select(key)
            return
        if not 1 <= n <= len(self.genres):
            return
        genre = self.genres[n - 1]
        numbers = sorted(num for g, num in self.takes if g == genre)
        if not numbers:
            return
        current = self.pending_switch or self.playing_key
        nxt = numbers[0]
        if current is not None and current[0] == genre and current[1] in numbers:
            nxt = numbers[(numbers.index(current[1]) + 1) % len(numbers)]
        self.select((genre, nxt))

    def select(self, key) -> None:
        """Play the arrangement ``key`` from the current playhead (or from the next bar line when chosen)."""
        key = tuple(key)
        if key not in self.takes:
            return
        engine = self.engine_getter()
        if engine is None:
            return
        if self.at_bar.isChecked() and engine.is_playing:
            song = self.takes[key].song
            pos = int(engine.position_tick)
            target = next_bar_tick(song, pos + 1)
            delay = seconds_until(song, pos, target) - SWAP_LEAD_SEC
            if delay > 0.005:
                self.pending_switch = key
                self._switch_timer.start(int(delay * 1000))
                self.status.setText(f"{self.takes[key].label} comes in at the next bar line")
                return
        self._switch(key)

    def _switch_due(self) -> None:
        key, self.pending_switch = self.pending_switch, None
        if key is not None and key in self.takes:
            self._switch(key)

    def _switch(self, key) -> None:
        self._switch_timer.stop()
        self.pending_switch = None
        engine = self.engine_getter()
        if engine is None:
            return
        play_in_place(self, self.takes[key].song)
        self.playing_key = key
        self._show_states()
        self.status.setText(f"Playing {self.takes[key].label}")
        self.arrangement_changed.emit(key)

    def back_to_project(self) -> None:
        """The project's own arrangement plays again (from the same position)."""
        self._switch_timer.stop()
        self.pending_switch = None
        engine = self.engine_getter()
        if self.stage is not None:
            self.stage.end_guest(self)
        elif engine is not None and self.playing_key is not None:
            engine.swap_song(self.song_getter())
        self.playing_key = None
        self._show_states()
        self.arrangement_changed.emit(None)

    def _displaced(self, owner) -> None:
        """An edit of the project ended the take playing in its place: the project plays again."""
        if owner is self:
            self._project_back()

    def _project_back(self) -> None:
        """No take plays any more: the project does (an edit of it ended the take)."""
        self._switch_timer.stop()
        self.playing_key = self.pending_switch = None
        self._show_states()
        self.arrangement_changed.emit(None)
        self.status.setText("The project plays again: it was edited while a take played")

    def project_changed(self, _song=None, reason: str = "edit") -> None:
        """Connect to the document's ``song_changed``. Another song loaded: these takes were for the old one and go.
        Without a ``stage``, the window has put the project back into the engine, so no take plays any more (with
        one, ``guest_ended`` says when that happens: a mixer change leaves the take playing)."""
        if reason == "load":
            self._kept_bands = []
        if reason == "load" and (self.cards or self.run is not None):
            if self.run is not None and not self.run.done:
                self.run.cancel()
            self.clear()
            self._source = None
            self._say("Another song is open: Generate all to audition it")
        if self.stage is None and (self.playing_key is not None or self.pending_switch is not None):
            self._project_back()

    def _show_states(self) -> None:
        for k, card in self.cards.items():
            card.set_state(playing=k == self.playing_key, kept=k == self.kept_key)

    # --- card actions -----------------------------------------------------------------------------------------------
    def _card_action(self, key, what: str) -> None:
        key = tuple(key)
        if what == "keep":
            self.keep(key)
        elif what == "alternative":
            self.keep_alternative(key)
        elif what == "regenerate":
            self.regenerate(key)
        elif what == "export":
            self._export_take_dialog(key)

    def _still_fits(self) -> bool:
        """Whether the takes were made from the melody (and tempo map) the project has now; says so if not."""
        src, now = self._source, self.song_getter()
        fits = src is not None and bool(now.tracks) and now.melody.notes == src.melody.notes and \
            (now.ppq, now.tempos, now.time_signatures) == (src.ppq, src.tempos, src.time_signatures)
        if not fits:
            self._say("The melody or tempo changed since these takes were made: Generate all again")
        return fits

    def keep(self, key) -> None:
        """Emit ``take_kept`` with the project whose tracks are now this take's (the window pushes one undo step)."""
        if not self._still_fits():
            return
        take = self.takes[tuple(key)]
        self.back_to_project()                      # the project, with the take's band in it, plays on
        self.kept_key = take.key
        self._show_states()
        project = self.song_getter()
        # the band of the latest Keep that is in the project now (undo and redo move between them; a mixer change
        # leaves a band track the band's: band_indices)
        earlier = next((b for b in reversed(self._kept_bands) if band_indices(project, b)), ())
        song = kept_song(project, take, earlier)
        self._kept_bands = self._kept_bands[-(KEPT_HISTORY - 1):] + [take.band]
        self.take_kept.emit(song, f"Keep {take.label}")

    def keep_alternative(self, key) -> None:
        if not self._still_fits():
            return
        take = self.takes[tuple(key)]
        self.alternative_kept.emit(with_alternative(self.song_getter(), take), f"Add {take.label} as alternative")

    def set_locked(self, key, index: int, on: bool = True) -> None:
        self.cards[tuple(key)].set_locked(index, on)

    def regenerate(self, key) -> bool:
        """Regenerate the take's unlocked tracks on the regeneration thread; the card updates when done."""
        key = tuple(key)
        card = self.cards.get(key)
        if card is None or card.busy or self._closed:            # closed: its regeneration thread has stopped
            return False
        take, locked = self.takes[key], card.locked()
        if len(locked) == len(take.band):
            self._say("Every track of this take is locked: unlock one to regenerate it")
            return False
        card.set_busy(True)
        run_id = self._run_id

        def job():  # regeneration thread
            try:
                self._regenerated.emit(regenerate(take, locked), None, run_id)
            except Exception as exc:              # ModelError, AuditionError, a bug: report, keep the old take
                self._regenerated.emit(take, str(exc) or type(exc).__name__, run_id)
        self._regen_pool.submit(job)
        return True

    def _on_regenerated(self, take: Take, error, run_id: int) -> None:
        card = self.cards.get(take.key)
        if card is None or run_id != self._run_id:
            return                                  # made from an earlier run's melody: its card is gone
        if error:
            card.set_busy(False)
            self._say(f"Could not regenerate {take.label}: {error}")
            return
        self._place(take)
        self._say(f"{take.label} regenerated" + (f", kept {len(take.locked)} locked track(s)" if take.locked else ""))
        if self.playing_key == take.key:
            play_in_place(self, take.song)                  # the new version plays on, in time

    # --- export -----------------------------------------------------------------------------------------------------
    def export_take(self, key, path) -> bool:
        try:
            export_take(self.takes[tuple(key)], path)
        except AuditionError as exc:
            self._say(str(exc))
            return False
        self._say(f"Exported {path}")
        return True

    def export_all(self, target, mode: str = "per-take") -> list:
        """``mode``: "per-take" (``target`` is a folder), "sequence" or "parallel" (``target`` is a .mid file)."""
        takes = [self.takes[k] for k in self.ordered_keys()]
        stem = (self.song_getter().title or "audition")
        try:
            paths = export_takes(takes, target, stem) if mode == "per-take" else [export_combined(takes, target, mode)]
        except AuditionError as exc:
            self._say(str(exc))
            return []
        self._say(f"Exported {len(paths)} file(s)" + (f" to {target}" if mode == "per-take" else f": {target}"))
        return paths

    def _export_take_dialog(self, key) -> None:
        take = self.takes[tuple(key)]
        path, _ = QFileDialog.getSaveFileName(self, "Export take", take_filename(take, self.song_getter().title
                                                                                 or "audition"), "MIDI (*.mid)")
        if path:
            self.export_take(key, path)

    def _export_all_dialog(self, mode: str) -> None:
        if not self.takes:
            self._say("There are no takes to export yet")
            return
        if mode == "per-take":
            target = QFileDialog.getExistingDirectory(self, "Export every take into a folder")
        else:
            target, _ = QFileDialog.getSaveFileName(self, "Export all takes", "audition-all.mid", "MIDI (*.mid)")
        if target:
            self.export_all(target, mode)

    # --- keys and teardown ------------------------------------------------------------------------------------------
    def keyPressEvent(self, e) -> None:
        if Qt.Key_0 <= e.key() <= Qt.Key_9 and not e.modifiers() & (Qt.ControlModifier | Qt.AltModifier):
            self.select_number(e.key() - Qt.Key_0)
            return
        super().keyPressEvent(e)

    def shutdown(self) -> None:
        """Stop generating (call when the window closes)."""
        self._closed = True
        if self.run is not None:
            self.run.cancel()
        self._regen_pool.shutdown(wait=False, cancel_futures=True)
