"""Transport bar: rewind, play/pause, stop, loop, record, metronome + count-in, tempo, time signature, snap, and
the position display. Emits requests; the window owns the engine and the Song. GUI thread only.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QSpinBox, QToolButton, QWidget,
                               QFrame)

from ..core.song import MAX_BPM, MIN_BPM, Song
from ..core.timing import TempoMap
from .gestures import Gesture

# snap choices: label -> fraction of a quarter note (None = off)
SNAP_CHOICES: tuple[tuple[str, tuple[int, int] | None], ...] = (
    ("1/4", (1, 1)), ("1/8", (1, 2)), ("1/16", (1, 4)), ("1/32", (1, 8)),
    ("1/8 triplet", (1, 3)), ("1/16 triplet", (1, 6)), ("Off", None),
)
DEFAULT_SNAP = "1/16"


def snap_ticks(label: str, ppq: int) -> int | None:
    frac = dict(SNAP_CHOICES)[label]
    return None if frac is None else max(1, ppq * frac[0] // frac[1])


def position_text(song: Song, tick: int) -> str:
    """'bar.beat.tick  m:ss.t' for the first time signature's bar length (1-based bar and beat)."""
    tick = max(0, int(tick))
    ts = song.time_signatures[0]
    for t in song.time_signatures:
        if t.tick <= tick:
            ts = t
    beat_ticks = song.ppq * 4 // ts.denominator
    bar_ticks = ts.bar_ticks(song.ppq)
    bars_before = 0
    sigs = [s for s in song.time_signatures if s.tick <= ts.tick]
    for a, b in zip(sigs, sigs[1:]):
        bars_before += -(-(b.tick - a.tick) // a.bar_ticks(song.ppq))
    rel = tick - ts.tick
    bar = bars_before + rel // bar_ticks
    beat = (rel % bar_ticks) // beat_ticks
    sub = rel % beat_ticks
    secs = TempoMap.of(song).tick_to_seconds(tick)
    return f"{bar + 1:3d}.{beat + 1}.{sub:03d}   {int(secs // 60)}:{secs % 60:04.1f}"


def _button(text: str, tip: str, checkable: bool = False) -> QToolButton:
    b = QToolButton()
    b.setText(text)
    b.setToolTip(tip)
    b.setCheckable(checkable)
    b.setMinimumSize(34, 30)
    f = b.font()
    f.setPointSizeF(f.pointSizeF() * 1.25)
    b.setFont(f)
    return b


class TransportBar(QWidget):
    play_clicked = Signal()
    stop_clicked = Signal()
    rewind_clicked = Signal()
    loop_toggled = Signal(bool)
    record_toggled = Signal(bool)
    metronome_toggled = Signal(bool)
    count_in_changed = Signal(int)
    tempo_changed = Signal(float)
    time_signature_changed = Signal(int, int)
    snap_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rewind_btn = _button("|◀", "Back to the start (Home)")
        self.play_btn = _button("▶", "Play / pause (Space)")
        self.play_btn.setObjectName("PlayButton")
        self.stop_btn = _button("■", "Stop and return to where play started")
        self.loop_btn = _button("⟲", "Loop the range set in the ruler", checkable=True)
        self.record_btn = _button("●", "Record from the keyboard into the input melody track (R)", checkable=True)
        self.record_btn.setStyleSheet("QToolButton { color:#d9534f; } QToolButton:checked { background:#d9534f;"
                                      " color:white; }")
        self.metro_btn = _button("♩", "Metronome", checkable=True)
        self.count_in = QComboBox()
        for n in (0, 1, 2):
            self.count_in.addItem("No count-in" if n == 0 else f"{n} bar{'s' if n > 1 else ''}", n)
        self.count_in.setToolTip("Count-in before recording starts")
        self.count_in.setCurrentIndex(1)
        self.position = QLabel()
        self.position.setObjectName("PositionDisplay")
        mono = QFont("monospace")
        mono.setStyleHint(QFont.Monospace)
        mono.setPointSizeF(self.font().pointSizeF() * 1.35)
        self.position.setFont(mono)
        self.position.setMinimumWidth(170)
        self.position.setAlignment(Qt.AlignCenter)
        self.position.setStyleSheet("QLabel { background:#111; color:#7fe07f; border:1px solid #333;"
                                    " border-radius:4px; padding:2px 8px; }")
        self.tempo = QDoubleSpinBox()
        self.tempo.setDecimals(2)                   # before the range: Qt rounds the range to the decimals
        self.tempo.setRange(MIN_BPM, MAX_BPM)       # what a song (and a MIDI file) may hold: 3.58-1000
        self.tempo.setSuffix(" BPM")
        self.tempo.setToolTip("Tempo")
        self.tempo.setKeyboardTracking(False)
        self.tempo_gesture = Gesture(self.tempo)     # which changes are one undo step
        self.ts_num = QSpinBox()
        self.ts_num.setRange(1, 32)
        self.ts_num.setToolTip("Beats per bar")
        self.ts_num.setKeyboardTracking(False)
        self.ts_den = QComboBox()
        for d in (2, 4, 8, 16):
            self.ts_den.addItem(str(d), d)
        self.ts_den.setToolTip("Beat unit")
        self.snap = QComboBox()
        for label, _ in SNAP_CHOICES:
            self.snap.addItem(label)
        self.snap.setCurrentText(DEFAULT_SNAP)
        self.snap.setToolTip("Snap to grid")

        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.setSpacing(4)
        for w in (self.rewind_btn, self.play_btn, self.stop_btn, self.loop_btn, self.record_btn):
            lay.addWidget(w)
        lay.addSpacing(8)
        lay.addWidget(self.position)
        lay.addSpacing(8)
        lay.addWidget(self.metro_btn)
        lay.addWidget(QLabel("Count-in"))
        lay.addWidget(self.count_in)
        lay.addWidget(_sep())
        lay.addWidget(QLabel("Tempo"))
        lay.addWidget(self.tempo)
        lay.addWidget(QLabel("Time"))
        lay.addWidget(self.ts_num)
        lay.addWidget(QLabel("/"))
        lay.addWidget(self.ts_den)
        lay.addWidget(_sep())
        lay.addWidget(QLabel("Snap"))
        lay.addWidget(self.snap)
        lay.addStretch(1)

        self.play_btn.clicked.connect(self.play_clicked)
        self.stop_btn.clicked.connect(self.stop_clicked)
        self.rewind_btn.clicked.connect(self.rewind_clicked)
        self.loop_btn.toggled.connect(self.loop_toggled)
        self.record_btn.toggled.connect(self.record_toggled)
        self.metro_btn.toggled.connect(self.metronome_toggled)
        self.count_in.currentIndexChanged.connect(lambda _i: self.count_in_changed.emit(self.count_in.currentData()))
        self.tempo.valueChanged.connect(self.tempo_changed)
        self.ts_num.valueChanged.connect(self._ts)
        self.ts_den.currentIndexChanged.connect(self._ts)
        self.snap.currentTextChanged.connect(self.snap_changed)

    def _ts(self, *_a) -> None:
        self.time_signature_changed.emit(self.ts_num.value(), self.ts_den.currentData())

    def show_song(self, song: Song) -> None:
        for w in (self.tempo, self.ts_num, self.ts_den):
            w.blockSignals(True)
        try:
            self.tempo.setValue(song.tempos[0].bpm)
            ts = song.time_signatures[song.meter_index]        # after a pickup bar: the song's own metre
            self.ts_num.setValue(ts.numerator)
            i = self.ts_den.findData(ts.denominator)
            if i < 0:
                self.ts_den.addItem(str(ts.denominator), ts.denominator)
                i = self.ts_den.count() - 1
            self.ts_den.setCurrentIndex(i)
        finally:
            for w in (self.tempo, self.ts_num, self.ts_den):
                w.blockSignals(False)

    def show_playing(self, playing: bool) -> None:
        self.play_btn.setText("⏸" if playing else "▶")

    def show_position(self, song: Song, tick: int) -> None:
        self.position.setText(position_text(song, tick))


def _sep() -> QFrame:
    f = QFrame()
    f.setFrameShape(QFrame.VLine)
    f.setFrameShadow(QFrame.Sunken)
    return f
