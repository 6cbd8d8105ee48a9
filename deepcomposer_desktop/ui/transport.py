"""Transport bar: rewind, play/pause, stop, loop, record, metronome + count-in, tempo, time signature, snap, and
the position display; beside it the listening volume with its clip warning. Emits requests; the window owns the
engine and the Song. GUI thread only.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QSizePolicy, QSlider, QSpinBox,
                               QToolButton, QWidget, QFrame)

from ..core.song import MAX_BPM, MIN_BPM, Song
from ..core.timing import TempoMap
from .gestures import Gesture
from .settings import MAX_VOLUME_PERCENT, MIN_VOLUME_PERCENT

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


ICON_PX = 18
_ICON_COLORS = {QIcon.Mode.Normal: "#dddddd", QIcon.Mode.Disabled: "#6a6a6a", QIcon.Mode.Active: "#ffffff"}
_RECORD_RED = "#d9534f"


def _draw_symbol(p: QPainter, name: str, color: QColor) -> None:
    """One transport symbol on a 20 x 20 canvas (drawn, not a font glyph: no font lacks it)."""
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    if name == "rewind":
        p.drawRect(QRectF(4, 4, 2.5, 12))
        p.drawPolygon(QPolygonF([QPointF(16, 4), QPointF(16, 16), QPointF(7, 10)]))
    elif name == "play":
        p.drawPolygon(QPolygonF([QPointF(6, 3.5), QPointF(6, 16.5), QPointF(16.5, 10)]))
    elif name == "pause":
        p.drawRect(QRectF(5, 4, 3.5, 12))
        p.drawRect(QRectF(11.5, 4, 3.5, 12))
    elif name == "stop":
        p.drawRect(QRectF(5, 5, 10, 10))
    elif name == "record":
        p.drawEllipse(QPointF(10, 10), 5.5, 5.5)
    elif name == "loop":                                  # a circular arrow
        p.setPen(QPen(color, 2.0, Qt.PenStyle.SolidLine, Qt.PenCapStyle.FlatCap))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawArc(QRectF(4, 4, 12, 12), 100 * 16, 290 * 16)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        a = math.radians(30)                              # the arrow head where the arc ends (30 degrees)
        tip = QPointF(10 + 6 * math.cos(a), 10 - 6 * math.sin(a))
        p.drawPolygon(QPolygonF([tip + QPointF(-4.2, -1.6), tip + QPointF(3.4, -3.2), tip + QPointF(1.2, 3.6)]))
    elif name == "metronome":
        path = QPainterPath()
        path.addPolygon(QPolygonF([QPointF(5, 17), QPointF(15, 17), QPointF(12, 3), QPointF(8, 3)]))
        path.closeSubpath()
        p.setPen(QPen(color, 1.5))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)
        p.setPen(QPen(color, 1.8, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.drawLine(QPointF(10, 14), QPointF(15, 5))
    elif name == "volume":                                # a speaker and two sound waves
        p.drawPolygon(QPolygonF([QPointF(2, 7.5), QPointF(5.5, 7.5), QPointF(10, 3.5), QPointF(10, 16.5),
                                 QPointF(5.5, 12.5), QPointF(2, 12.5)]))
        p.setPen(QPen(color, 1.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.setBrush(Qt.BrushStyle.NoBrush)
        for r in (3.5, 7.0):
            p.drawArc(QRectF(10 - r, 10 - r, 2 * r, 2 * r), -50 * 16, 100 * 16)
    else:
        raise ValueError(f"Unknown transport symbol {name!r}")


def transport_icon(name: str) -> QIcon:
    """``name`` (rewind, play, pause, stop, loop, record, metronome, volume) as an icon: light on the dark buttons,
    dimmed when disabled, white when the button is checked (the record dot is red until then)."""
    icon = QIcon()
    for state in (QIcon.State.Off, QIcon.State.On):
        for mode, color in _ICON_COLORS.items():
            if name == "record" and state == QIcon.State.Off and mode != QIcon.Mode.Disabled:
                color = _RECORD_RED
            elif state == QIcon.State.On and mode != QIcon.Mode.Disabled:
                color = "#ffffff"
            for scale in (1, 2):
                pm = QPixmap(20 * scale, 20 * scale)
                pm.fill(Qt.GlobalColor.transparent)
                pm.setDevicePixelRatio(scale)
                p = QPainter(pm)
                p.setRenderHint(QPainter.RenderHint.Antialiasing)
                _draw_symbol(p, name, QColor(color))
                p.end()
                icon.addPixmap(pm, mode, state)
    return icon


def _button(icon: str, text: str, tip: str, checkable: bool = False) -> QToolButton:
    """An icon-only transport button; ``text`` is its accessible name (never drawn)."""
    b = QToolButton()
    b.setIcon(transport_icon(icon))
    b.setIconSize(QSize(ICON_PX, ICON_PX))
    b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    b.setText(text)
    b.setToolTip(tip)
    b.setCheckable(checkable)
    b.setMinimumSize(34, 30)
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
        self.volume_box = VolumeBox()     # the window puts it in the toolbar beside the bar (see VolumeBox)
        self._play_icons = {False: transport_icon("play"), True: transport_icon("pause")}
        self.rewind_btn = _button("rewind", "Rewind", "Back to the start (Home)")
        self.play_btn = _button("play", "Play", "Play / pause (Space)")
        self.play_btn.setObjectName("PlayButton")
        self.stop_btn = _button("stop", "Stop", "Stop and return to where play started")
        self.loop_btn = _button("loop", "Loop", "Loop the range set in the ruler (Ctrl+L)", checkable=True)
        self.record_btn = _button("record", "Record",
                                  "Record from the keyboard into the input melody track (Ctrl+R)", checkable=True)
        self.record_btn.setStyleSheet("QToolButton:checked { background:#d9534f; color:white; }")
        self.metro_btn = _button("metronome", "Metronome", "Metronome", checkable=True)
        self.count_in = QComboBox()
        for n in (0, 1, 2):
            self.count_in.addItem("Off" if n == 0 else f"{n} bar{'s' if n > 1 else ''}", n)     # after "Count-in"
        self.count_in.setToolTip("Count-in before recording starts")
        self.count_in.setCurrentIndex(1)
        self.position = QLabel()
        self.position.setObjectName("PositionDisplay")
        mono = QFont("monospace")
        mono.setStyleHint(QFont.Monospace)
        mono.setPointSizeF(self.font().pointSizeF() * 1.35)
        self.position.setFont(mono)
        self.position.setMinimumWidth(self._position_width(mono))
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
        for spin, widest in ((self.tempo, "1000.00 BPM"), (self.ts_num, "32")):
            spin.setMinimumWidth(QFontMetrics(spin.font()).horizontalAdvance(widest) + 40)   # text, arrows, frame
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
        lay.addSpacing(4)
        lay.addWidget(self.position)
        lay.addSpacing(4)
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

    @staticmethod
    def _position_width(font: QFont) -> int:
        """Room for the longest usual readout (bar 999, 99 minutes) plus the label's padding and border."""
        return QFontMetrics(font).horizontalAdvance("999.9.999   99:59.9") + 2 * 8 + 2 + 4

    def show_playing(self, playing: bool) -> None:
        self.play_btn.setIcon(self._play_icons[bool(playing)])
        self.play_btn.setText("Pause" if playing else "Play")

    def show_position(self, song: Song, tick: int) -> None:
        self.position.setText(position_text(song, tick))


VOLUME_TIP = (f"Listening volume: how loud the song plays here ({MIN_VOLUME_PERCENT}-{MAX_VOLUME_PERCENT} %, 100 % = "
              "the synth's own level). It does not change the song: exports are written at the synth's own "
              f"level, scaled down only where they would clip. The lowest, {MIN_VOLUME_PERCENT} % (-40 dB), is "
              "very quiet, not silence: held notes keep sounding, so turning it up again brings them back.")
CLIPS_STYLE = ("QToolButton { color:#ff5a5a; font-weight:bold; background:transparent; border:1px solid #a03a3a;"
               " border-radius:4px; padding:0 3px; }")


class VolumeSlider(QSlider):
    """The volume slider's keys: arrows 1 %, Page Up / Down 10 %. Home and End are not its own: Home rewinds the
    song as it does everywhere outside a text field, and End does nothing (a jump to 150 % would be a shock)."""

    def keyPressEvent(self, e) -> None:  # noqa: N802 - Qt name
        if e.key() in (Qt.Key_Home, Qt.Key_End):
            e.ignore()
            return
        super().keyPressEvent(e)


def _clips_button() -> QToolButton:
    b = QToolButton(text="Clips")
    b.setAccessibleName("Clips")
    b.setStyleSheet(CLIPS_STYLE)
    b.setFixedWidth(QFontMetrics(_bold(b.font())).horizontalAdvance("Clips") + 12)      # text, padding, border
    b.hide()
    return b


def _bold(font: QFont) -> QFont:
    font = QFont(font)
    font.setBold(True)
    return font


class VolumeBox(QWidget):
    """The listening volume: a speaker, the slider (1-150 %), its value, and a red "Clips" button shown while the
    song would distort at that level; clicking it sets the level that plays the song clean. Emits
    ``volume_changed(percent)``.

    Its own toolbar item beside the transport bar, narrow enough to stay in view on a 1280-pixel-wide window; on a
    narrower one it waits behind the toolbar's » button instead of widening the window, and then ``spare_clips``
    (for the window's status bar) gives the same warning and click. ``check_note`` (see :meth:`set_check_note`)
    says in the slider's tooltip when the song is not checked for clipping. GUI thread only."""

    volume_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._clean = 100
        self._clipping = False
        self.check_note = ""
        self.slider = VolumeSlider(Qt.Horizontal)
        self.slider.setRange(MIN_VOLUME_PERCENT, MAX_VOLUME_PERCENT)
        self.slider.setValue(100)
        self.slider.setSingleStep(1)           # arrow keys: 1 %, Page Up / Down: 10 %
        self.slider.setPageStep(10)
        self.slider.setFocusPolicy(Qt.StrongFocus)
        self.slider.setFixedWidth(72)
        self.slider.setAccessibleName("Volume")
        self.speaker = QLabel()
        self.speaker.setPixmap(transport_icon("volume").pixmap(ICON_PX, ICON_PX))
        self.speaker.setAccessibleName("Volume")
        self.speaker.setBuddy(self.slider)
        self.value_label = QLabel()
        self.value_label.setFixedWidth(QFontMetrics(self.value_label.font()).horizontalAdvance("150 %") + 2)
        self.value_label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.clips = _clips_button()
        policy = self.clips.sizePolicy()
        policy.setRetainSizeWhenHidden(True)   # showing it does not push the box behind the toolbar's »
        self.clips.setSizePolicy(policy)
        self.spare_clips = _clips_button()
        self._show_tips()
        self.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Preferred)    # the toolbar's spare width: not here
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 4, 2, 4)
        lay.setSpacing(3)
        for w in (_sep(), self.speaker, self.slider, self.value_label, self.clips):
            lay.addWidget(w)
        self._show_value(100)
        self.slider.valueChanged.connect(self._show_value)
        self.slider.valueChanged.connect(self.volume_changed)
        for b in (self.clips, self.spare_clips):
            b.clicked.connect(lambda: self.slider.setValue(self._clean))

    def percent(self) -> int:
        return self.slider.value()

    def set_percent(self, percent: int) -> None:
        """Move the slider (clamped to 1-150 %); emits ``volume_changed`` when the value changes."""
        self.slider.setValue(max(MIN_VOLUME_PERCENT, min(MAX_VOLUME_PERCENT, int(percent))))

    def _show_value(self, percent: int) -> None:
        self.value_label.setText(f"{percent} %")

    def set_check_note(self, note: str) -> None:
        """``note``: why the song is not checked for clipping ("" when it is, or nothing can be said)."""
        self.check_note = note
        self._show_tips()

    def _show_tips(self) -> None:
        tip = VOLUME_TIP + (f"\n\n{self.check_note}" if self.check_note else "")
        for w in (self.slider, self.speaker):
            w.setToolTip(tip)

    def show_clipping(self, peak: float | None, clean_percent: int) -> None:
        """``peak``: the song's peak at the slider's level, in full scale (None: not known); above 1.0 the song
        distorts, and "Clips" shows, offering ``clean_percent`` (the highest level that plays it clean)."""
        self._clipping = peak is not None and peak > 1.0
        if self._clipping:
            self._clean = int(clean_percent)
            times = f"{peak:.1f}" if peak >= 1.1 else f"{peak:.2f}"          # never "1.0x" for one that clips
            tip = (f"At this volume the song peaks at {times}x full scale and will distort: {self._clean} % or "
                   "less plays it clean. Click to set it.")
            for b in (self.clips, self.spare_clips):
                b.setToolTip(tip)
                b.setAccessibleDescription(tip)
        self.clips.setVisible(self._clipping)
        self._show_spare()

    def _show_spare(self) -> None:
        """The status bar's "Clips" stands in for this box's own while the box is out of view (behind the
        toolbar's », or the toolbar hidden)."""
        if self.spare_clips.parent() is not None:         # never a window of its own before it is placed
            self.spare_clips.setVisible(self._clipping and not self.isVisibleTo(self.window()))

    def showEvent(self, e) -> None:  # noqa: N802 - Qt name
        super().showEvent(e)
        self._show_spare()

    def hideEvent(self, e) -> None:  # noqa: N802 - Qt name
        super().hideEvent(e)
        self._show_spare()


def _sep() -> QFrame:
    f = QFrame()
    f.setFrameShape(QFrame.VLine)
    f.setFrameShadow(QFrame.Sunken)
    return f
