"""On-screen piano keyboard: mouse (click, glissando, velocity from where the key is struck), computer keys as a
piano (A W S E D F T G Y H U J K O L P ; '), octave shift, sustain, and keys lit from any source (``sounding_pitches``:
the keys a playing song lights). GUI thread only.
"""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QLinearGradient, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..core.gm import pitch_name
from ..core.song import Song, Track

BLACK_PCS = {1, 3, 6, 8, 10}
# the usual DAW layout: home row = white keys, row above = black keys; offsets from the keyboard's base C
COMPUTER_KEYS: dict[int, int] = {
    Qt.Key_A: 0, Qt.Key_W: 1, Qt.Key_S: 2, Qt.Key_E: 3, Qt.Key_D: 4, Qt.Key_F: 5, Qt.Key_T: 6, Qt.Key_G: 7,
    Qt.Key_Y: 8, Qt.Key_H: 9, Qt.Key_U: 10, Qt.Key_J: 11, Qt.Key_K: 12, Qt.Key_O: 13, Qt.Key_L: 14,
    Qt.Key_P: 15, Qt.Key_Semicolon: 16, Qt.Key_Apostrophe: 17,
}
OCTAVE_DOWN_KEY, OCTAVE_UP_KEY = Qt.Key_Z, Qt.Key_X
VELOCITY_DOWN_KEY, VELOCITY_UP_KEY = Qt.Key_C, Qt.Key_V
SUSTAIN_KEY = Qt.Key_Tab


class PianoKeyboard(QWidget):
    """Emits ``note_on(pitch, velocity)``, ``note_off(pitch)``, ``sustain_changed(bool)``, ``octave_changed(int)``.

    ``set_key_lit(pitch, on)`` lights a key for notes from elsewhere (hardware, other widgets);
    ``set_playback_keys(pitches)`` lights the notes that playback is sounding now (a second colour).
    """

    note_on = Signal(int, int)
    note_off = Signal(int)
    sustain_changed = Signal(bool)
    octave_changed = Signal(int)

    def __init__(self, octaves: int = 3, lowest: int = 48, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.octaves = max(3, octaves)
        self._lowest = lowest
        self.velocity = 100               # for computer keys
        self._mouse_pitch: int | None = None
        self._gliding = False               # the left button went down on the keys and is still down
        self._computer_down: dict[int, int] = {}   # Qt key -> pitch sounding
        self._lit: set[int] = set()
        self._playback: frozenset[int] = frozenset()
        self._sustain = False
        self._sustain_key_down = False      # the pedal is held by the Tab key (not latched by the button)
        self.setMinimumHeight(70)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        self.setFocusPolicy(Qt.ClickFocus)
        self.setToolTip("Click or drag to play; the lower you strike a key, the louder.\n"
                        "Computer keys: A W S E D F T G Y H U J K … play, Z/X octave, C/V velocity, Tab sustain.")

    # --- range ---------------------------------------------------------------------------------------------------
    @property
    def lowest(self) -> int:
        return self._lowest

    @property
    def highest(self) -> int:
        return min(127, self._lowest + 12 * self.octaves)

    def shift_octave(self, delta: int) -> None:
        top = (127 - 12 * self.octaves) // 12 * 12         # the highest C that still shows every octave: A stays a C
        new = max(0, min(top, self._lowest + 12 * delta))
        if new != self._lowest:
            self.release_all(pedal=False)
            self._lowest = new
            self.octave_changed.emit(new // 12 - 1)
            self.update()

    # --- lights ----------------------------------------------------------------------------------------------------
    def set_key_lit(self, pitch: int, on: bool) -> None:
        if on == (pitch in self._lit):
            return
        (self._lit.add if on else self._lit.discard)(pitch)
        self.update()

    def is_lit(self, pitch: int) -> bool:
        return pitch in self._lit or pitch in self._playback

    def set_playback_keys(self, pitches) -> None:
        pitches = frozenset(pitches)
        if pitches != self._playback:
            self._playback = pitches
            self.update()

    # --- sustain ---------------------------------------------------------------------------------------------------
    @property
    def sustain(self) -> bool:
        return self._sustain

    def set_sustain(self, on: bool) -> None:
        if on != self._sustain:
            self._sustain = on
            self.sustain_changed.emit(on)
            self.update()

    def show_sustain(self, on: bool) -> None:
        """The pedal went down or up elsewhere (a MIDI keyboard's): shown, and the state the button and Tab change
        next, with no ``sustain_changed`` (the synth heard it already)."""
        if on != self._sustain:
            self._sustain = on
            self.update()

    # --- geometry (one mapping for painting and hit-testing) -------------------------------------------------------
    def _white_pitches(self) -> list[int]:
        return [p for p in range(self._lowest, self.highest + 1) if p % 12 not in BLACK_PCS]

    def key_rects(self) -> dict[int, QRectF]:
        whites = self._white_pitches()
        ww = self.width() / max(1, len(whites))
        h = float(self.height())
        rects: dict[int, QRectF] = {}
        for i, p in enumerate(whites):
            rects[p] = QRectF(i * ww, 0, ww, h)
        for p in range(self._lowest, self.highest + 1):
            if p % 12 in BLACK_PCS and p - 1 in rects:
                left = rects[p - 1]
                rects[p] = QRectF(left.right() - ww * 0.3, 0, ww * 0.6, h * 0.62)
        return rects

    def key_at(self, x: float, y: float) -> int | None:
        rects = self.key_rects()
        for p, r in rects.items():     # black keys sit on top
            if p % 12 in BLACK_PCS and r.contains(x, y):
                return p
        for p, r in rects.items():
            if p % 12 not in BLACK_PCS and r.contains(x, y):
                return p
        return None

    def velocity_at(self, pitch: int, y: float) -> int:
        """Louder towards the front edge of the key, like striking a real key further out."""
        r = self.key_rects().get(pitch)
        if r is None or r.height() <= 0:
            return self.velocity
        frac = max(0.0, min(1.0, (y - r.top()) / r.height()))
        return max(1, min(127, int(round(25 + 102 * frac))))

    # --- mouse ---------------------------------------------------------------------------------------------------
    def mousePressEvent(self, e: QMouseEvent) -> None:
        if e.button() != Qt.LeftButton:
            return super().mousePressEvent(e)
        pos = e.position()
        pitch = self.key_at(pos.x(), pos.y())
        self._gliding = True
        if pitch is not None:
            self._mouse_pitch = pitch
            self._press(pitch, self.velocity_at(pitch, pos.y()))

    def mouseMoveEvent(self, e: QMouseEvent) -> None:
        if not self._gliding or not (e.buttons() & Qt.LeftButton):    # off the keys and back: the glide goes on
            return
        pos = e.position()
        pitch = self.key_at(pos.x(), pos.y())
        if pitch != self._mouse_pitch:          # glissando: leave one key, strike the next
            if self._mouse_pitch is not None:
                self._release(self._mouse_pitch)
            self._mouse_pitch = pitch
            if pitch is not None:
                self._press(pitch, self.velocity_at(pitch, pos.y()))

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:
        if e.button() == Qt.LeftButton:
            self._gliding = False
            if self._mouse_pitch is not None:
                self._release(self._mouse_pitch)
                self._mouse_pitch = None

    # --- computer keyboard (the main window forwards key events here) --------------------------------------------
    def computer_key_press(self, key: int, auto_repeat: bool = False) -> bool:
        """Handle a key press; returns True when the key belongs to the keyboard."""
        if key in COMPUTER_KEYS:
            if not auto_repeat and key not in self._computer_down:
                pitch = self._lowest + COMPUTER_KEYS[key]
                if pitch <= 127:
                    self._computer_down[key] = pitch
                    self._press(pitch, self.velocity)
            return True
        if auto_repeat:
            return key in (OCTAVE_DOWN_KEY, OCTAVE_UP_KEY, VELOCITY_DOWN_KEY, VELOCITY_UP_KEY, SUSTAIN_KEY)
        if key == OCTAVE_DOWN_KEY:
            self.shift_octave(-1)
        elif key == OCTAVE_UP_KEY:
            self.shift_octave(+1)
        elif key == VELOCITY_DOWN_KEY:
            self.velocity = max(10, self.velocity - 10)
        elif key == VELOCITY_UP_KEY:
            self.velocity = min(127, self.velocity + 10)
        elif key == SUSTAIN_KEY:
            self._sustain_key_down = True
            self.set_sustain(True)
        else:
            return False
        self.update()
        return True

    def holds(self, key: int) -> bool:
        """Whether computer key ``key`` is down on the keyboard now (a note key or the Tab pedal): its release must
        reach ``computer_key_release`` wherever the focus went meanwhile."""
        return key in self._computer_down or (key == SUSTAIN_KEY and self._sustain_key_down)

    def computer_key_release(self, key: int, auto_repeat: bool = False) -> bool:
        if auto_repeat:
            return key in COMPUTER_KEYS or key == SUSTAIN_KEY
        if key in COMPUTER_KEYS:
            pitch = self._computer_down.pop(key, None)
            if pitch is not None:
                self._release(pitch)
            return True
        if key == SUSTAIN_KEY:
            if self._sustain_key_down:           # a Tab pressed elsewhere (a text field) leaves a latched pedal
                self._sustain_key_down = False
                self.set_sustain(False)
            return True
        return False

    # --- internals -----------------------------------------------------------------------------------------------
    def _press(self, pitch: int, velocity: int) -> None:
        self.set_key_lit(pitch, True)
        self.note_on.emit(pitch, velocity)

    def _release(self, pitch: int) -> None:
        self.set_key_lit(pitch, False)
        self.note_off.emit(pitch)

    def release_all(self, pedal: bool = True) -> None:
        """Let go of every key held by the mouse or computer keys (e.g. when the window loses focus), and of the
        pedal held with Tab when ``pedal`` (its release would go to another window; a latched one stays)."""
        if self._mouse_pitch is not None:
            self._release(self._mouse_pitch)
            self._mouse_pitch = None
        for pitch in self._computer_down.values():
            self._release(pitch)
        self._computer_down.clear()
        if pedal and self._sustain_key_down:
            self._sustain_key_down = False
            self.set_sustain(False)

    def paintEvent(self, _e) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing, True)
        rects = self.key_rects()
        user = QColor("#4fa3ff")
        play = QColor("#ffb347")
        font = QFont(self.font())
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.75))
        p.setFont(font)
        for pitch, r in rects.items():
            if pitch % 12 in BLACK_PCS:
                continue
            g = QLinearGradient(r.topLeft(), r.bottomLeft())
            if pitch in self._lit:
                g.setColorAt(0, user.lighter(130)), g.setColorAt(1, user)
            elif pitch in self._playback:
                g.setColorAt(0, play.lighter(130)), g.setColorAt(1, play)
            else:
                g.setColorAt(0, QColor("#f4f4f4")), g.setColorAt(1, QColor("#d9d9d9"))
            p.setBrush(g)
            p.setPen(QPen(QColor("#2a2a2a"), 1))
            p.drawRoundedRect(r.adjusted(0.5, -3, -0.5, -0.5), 3, 3)
            if pitch % 12 == 0:
                p.setPen(QColor("#555"))
                p.drawText(r.adjusted(0, 0, 0, -4), Qt.AlignHCenter | Qt.AlignBottom, pitch_name(pitch))
        for pitch, r in rects.items():
            if pitch % 12 not in BLACK_PCS:
                continue
            if pitch in self._lit:
                color = user.darker(110)
            elif pitch in self._playback:
                color = play.darker(110)
            else:
                color = QColor("#1b1b1b")
            g = QLinearGradient(r.topLeft(), r.bottomLeft())
            g.setColorAt(0, color), g.setColorAt(1, color.lighter(160))
            p.setBrush(g)
            p.setPen(QPen(QColor("#000"), 1))
            p.drawRoundedRect(r.adjusted(0, -3, 0, 0), 2, 2)
        if self._sustain:
            p.setPen(Qt.NoPen)
            p.setBrush(QColor(255, 179, 71, 200))
            p.drawRect(QRectF(0, 0, self.width(), 3))
        p.end()


def sounding_pitches(song: Song, tick: int) -> set[int]:
    """Pitches the audible tracks sound at ``tick`` (lights the on-screen keyboard during playback)."""
    soloed = any(t.solo for t in song.tracks)
    out: set[int] = set()
    for t in song.tracks:
        if t.is_drum or t.mute or (soloed and not t.solo):
            continue
        for n in _notes_near(t, tick):
            if n.start_tick <= tick < n.end_tick:
                out.add(n.pitch)
    return out


def _notes_near(track: Track, tick: int, window: int = 1 << 30):
    import bisect
    notes = track.notes
    hi = bisect.bisect_right(notes, tick, key=lambda n: n.start_tick)
    # walk back until notes can no longer reach tick (bounded by the longest reasonable note)
    lo = hi
    while lo > 0 and tick - notes[lo - 1].start_tick < 16 * 1920:
        lo -= 1
    return notes[lo:hi]
