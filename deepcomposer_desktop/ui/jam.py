"""The live-jam panel: choose a genre, press Start, improvise over the loop; at each loop boundary the band answers
what you just played (``jam.JamSession``). Keep band adds the last phrase and its band to the project.

GUI thread only: a 10 ms timer feeds the playhead to the session and swaps the band in via ``engine.swap_song``;
the band is generated on the session's own worker thread. No torch import here.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from ..core.song import Song
from ..jam import MAX_JAM_BARS, JamError, JamSession, jam_song, meter_at
from .playback import play_in_place

POLL_MS = 10


def _seconds(sec: float) -> str:
    return "under 0.1 s" if sec < 0.05 else f"{sec:.1f}".removesuffix(".0") + " s"


def timing_text(answer_sec: float, budget_sec: float, late: int = 0) -> str:
    """The jam's timing in plain words: "The band answered in 0.2 s (it has 2 s). 1 answer came late." """
    text = f"The band answered in {_seconds(answer_sec)} (it has {_seconds(budget_sec)})."
    if late:
        text += f" {late} answer{'s' if late > 1 else ''} came late."
    return text


class JamPanel(QWidget):
    """``JamPanel(engine_getter, song_getter, loop_getter=None, loop_setter=None)``.

    ``loop_getter()`` returns the window's loop ``(start_tick, end_tick)`` or None; without a loop the jam loops
    the first ``bars`` bars (through ``loop_setter(start, end)`` when given, else straight on the engine), and
    puts back what ``loop_state()`` said before with ``loop_restore(state)`` when it stops. ``stage``: the window's
    PlaybackController, through which the band plays in the project's place (``play_guest``).
    Feed it the user's notes: ``note_on(pitch, velocity)`` / ``note_off(pitch)`` (on-screen or MIDI keyboard).
    Signals: ``band_kept(song, text)`` (one undo step), ``jam_changed(bool running)``, ``message(text)``.
    """

    band_kept = Signal(object, str)
    jam_changed = Signal(bool)
    message = Signal(str)

    def __init__(self, engine_getter: Callable, song_getter: Callable[[], Song],
                 loop_getter: Callable[[], tuple | None] | None = None,
                 loop_setter: Callable[[int | None, int | None], None] | None = None,
                 genres_getter: Callable[[], list] | None = None, generate=None,
                 parent: QWidget | None = None, stage=None, loop_state: Callable[[], object] | None = None,
                 loop_restore: Callable[[object], None] | None = None) -> None:
        super().__init__(parent)
        self.engine_getter, self.song_getter = engine_getter, song_getter
        self.loop_getter, self.loop_setter = loop_getter, loop_setter
        self.loop_state, self.loop_restore = loop_state, loop_restore
        self._saved_loop = None
        self.stage = stage
        if stage is not None:
            stage.guest_ended.connect(self._displaced)
        self.genres_getter = genres_getter
        self._generate = generate
        self.session: JamSession | None = None
        self._own_loop = False
        self.genre_box = QComboBox()
        self.genre_box.setToolTip("The band that follows you")
        self.bars_spin = QSpinBox()
        self.bars_spin.setRange(1, MAX_JAM_BARS)
        self.bars_spin.setValue(2)
        self.bars_spin.setSuffix(" bars")
        self.bars_spin.setToolTip("Loop length when no loop is set")
        self.start_btn = QPushButton("Start jam")
        self.start_btn.setCheckable(True)
        self.start_btn.toggled.connect(self._toggled)
        self.keep_btn = QPushButton("Keep band")
        self.keep_btn.setToolTip("Add your last phrase and the band's answer to the project")
        self.keep_btn.setEnabled(False)
        self.keep_btn.clicked.connect(self.keep)
        self.status = QLabel("Set a loop, press Start jam and play: the band answers on the next pass.")
        self.status.setWordWrap(True)
        self.timing = QLabel("")
        self.timing.setWordWrap(True)
        self.timing.setToolTip("How long the band took to answer your last phrase, and the time it has: one bar")
        # top-down for a narrow dock: the choices, the buttons on their own row, then what happens
        choices = QHBoxLayout()
        for w in (QLabel("Band"), self.genre_box, self.bars_spin):
            choices.addWidget(w)
        choices.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_btn)
        buttons.addWidget(self.keep_btn)
        buttons.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(choices)
        lay.addLayout(buttons)
        lay.addWidget(self.status)
        lay.addWidget(self.timing)
        lay.addStretch(1)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.refresh_genres()

    # --- genres -----------------------------------------------------------------------------------------------------
    def refresh_genres(self, genres: list[str] | None = None) -> None:
        if genres is None:
            try:
                if self.genres_getter is not None:
                    genres = list(self.genres_getter())
                else:
                    from ..ml.gan.generate import available_genres
                    genres = available_genres()
            except Exception as exc:            # no GAN module, broken model folder: the jam just cannot start
                genres = []
                self.status.setText(f"No band available: {exc}")
        current = self.genre_box.currentText()
        self.genre_box.clear()
        self.genre_box.addItems(genres)
        if current in genres:
            self.genre_box.setCurrentText(current)
        self.start_btn.setEnabled(bool(genres) or self.session is not None)

    # --- start / stop -----------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.session is not None

    def _toggled(self, on: bool) -> None:
        if on and not self.running:
            if not self.start():
                self.start_btn.setChecked(False)
        elif not on and self.running:
            self.stop()

    def _loop(self, song: Song) -> tuple[int, int]:
        loop = self.loop_getter() if self.loop_getter is not None else None
        if loop and loop[0] is not None and loop[1] is not None and loop[1] > loop[0]:
            return int(loop[0]), int(loop[1])
        bar = meter_at(song, 0).bar_ticks(song.ppq)
        return 0, bar * self.bars_spin.value()

    def start(self) -> bool:
        """Start the jam: loop, pass-0 song (silent band), warm-up, playback from the loop start."""
        engine = self.engine_getter()
        if engine is None:
            self._say("Audio is not running")
            return False
        song = self.song_getter()
        try:
            start, end = self._loop(song)
            self.session = JamSession(song, start, end, self.genre_box.currentText(), generate=self._generate)
        except JamError as exc:
            self._say(str(exc))
            return False
        self._own_loop = self.loop_getter is None or not self.loop_getter()
        if self._own_loop:
            self._saved_loop = self.loop_state() if self.loop_state is not None else None
            (self.loop_setter or engine.set_loop)(start, end)
        self.session.warm_up()
        # the playhead goes into the loop first: the first pass's song ends with the loop, so a playhead past it
        # would find nothing left to play (the engine stops) and would never wrap to the band's next pass
        if engine.is_playing and not start <= engine.position_tick < end:
            engine.seek(start)
        empty = jam_song(song, self.session_phrase_track(), (), start, end)
        play_in_place(self, empty)
        if not engine.is_playing:
            engine.play(start)
        self.timer.start()
        self.start_btn.setChecked(True)
        self.start_btn.setText("Stop jam")
        self.genre_box.setEnabled(False)
        self._say(f"Jamming with the {self.session.genre} band: play!")
        self.jam_changed.emit(True)
        return True

    def session_phrase_track(self):
        from ..core.song import Track
        from ..jam import PHRASE_NAME
        return Track(PHRASE_NAME, program=self.session.program)

    def _displaced(self, owner) -> None:
        """An edit of the project ended the band playing in its place: the jam stops."""
        if owner is self and self.running:
            self.stop(project_back=True)

    def project_changed(self, _song=None, reason: str = "edit") -> None:
        """Connect to the document's ``song_changed``: another song opened, the last jam was for the old one."""
        if reason == "load":
            if self.running:
                self.stop()
            self._last = None
            self.keep_btn.setEnabled(False)

    def stop(self, project_back: bool = False) -> None:
        """Stop the jam: the project's own arrangement plays again (in time; ``project_back``: it already does),
        the loop is as it was before the jam."""
        self.timer.stop()
        session, self.session = self.session, None
        if session is not None:
            session.close()
            self._last = session
        engine = self.engine_getter()
        if engine is not None:
            if self.stage is not None:
                self.stage.end_guest(self)
            elif not project_back:
                engine.swap_song(self.song_getter())
            if self._own_loop:
                if self.loop_restore is not None and self._saved_loop is not None:
                    self.loop_restore(self._saved_loop)
                else:
                    (self.loop_setter or engine.set_loop)(None, None)
        self.start_btn.setChecked(False)
        self.start_btn.setText("Start jam")
        self.genre_box.setEnabled(True)
        self._say("Jam stopped")
        self.jam_changed.emit(False)

    # --- input and the loop -----------------------------------------------------------------------------------------
    def note_on(self, pitch: int, velocity: int) -> None:
        if self.session is not None:
            self.session.note_on(pitch, velocity, self.engine_getter().position_tick)

    def note_off(self, pitch: int) -> None:
        if self.session is not None:
            self.session.note_off(pitch, self.engine_getter().position_tick)

    def poll(self) -> None:
        s, engine = self.session, self.engine_getter()
        if s is None or engine is None:
            return
        song = s.poll(engine.position_tick)
        if song is not None:
            play_in_place(self, song)
            self.keep_btn.setEnabled(True)
        self.status.setText(s.status)
        if s.gen_times:
            self.timing.setText(timing_text(s.gen_times[-1], s.budget_sec, s.late_swaps))

    def keep(self) -> None:
        """Emit ``band_kept`` with the project plus the last phrase and its band (one undo step)."""
        s = self.session or getattr(self, "_last", None)
        project = self.song_getter()
        if s is not None and (s.template.ppq, s.template.tempos, s.template.time_signatures) != \
                (project.ppq, project.tempos, project.time_signatures):
            self._say("That jam was played in another tempo or metre than the song has now: jam again to keep one")
            return
        song = s.kept_song(project) if s is not None else None
        if song is None:
            self._say("The band has not answered yet")
            return
        self.band_kept.emit(song, f"Keep jam with the {s.genre} band")

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.message.emit(text)

    def shutdown(self) -> None:
        if self.running:
            self.stop()
