"""Which user gesture a control's value change belongs to, so that one gesture is one undo step: one press-drag-
release of a slider, dial or spin-box arrow, or steps (arrow keys, wheel) less than STEP_GAP_SEC apart. A value
typed, or set by the program, is an edit of its own. GUI thread only.
"""
from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QApplication, QWidget

STEP_GAP_SEC = 1.0
STEP_KEYS = frozenset({Qt.Key_Up, Qt.Key_Down, Qt.Key_Left, Qt.Key_Right, Qt.Key_PageUp, Qt.Key_PageDown,
                       Qt.Key_Home, Qt.Key_End})


class Gesture(QObject):
    """Watches one control's mouse, wheel and key events. ``token()``, asked while the control's value change is
    handled, is the same object for every change of one gesture and None for a change that is not part of one.
    ``reset``: a double-click sets the control to this value, as part of the click's gesture."""

    def __init__(self, control: QWidget, reset: int | None = None) -> None:
        super().__init__(control)
        self.control, self.reset = control, reset
        self._press: object | None = None           # the token of the last press ...
        self._press_sec = float("-inf")              # ... and when it came
        self._held = False                           # a mouse button is down on the control
        self._step: object | None = None
        self._step_sec = float("-inf")
        self._stepping = False                       # a wheel or arrow-key event is being handled
        control.installEventFilter(self)

    def token(self) -> object | None:
        if self._held:
            return self._press
        return self._step if self._stepping else None

    def eventFilter(self, obj: QObject, e: QEvent) -> bool:  # noqa: N802 (Qt name)
        t = e.type()
        self._stepping = False
        now = time.monotonic()
        if t == QEvent.MouseButtonDblClick and self.reset is not None:
            if now - self._press_sec > QApplication.doubleClickInterval() / 1000:
                self._press = object()              # no press came first (a double-click made by a program)
            self._held = True
            try:
                self.control.setValue(self.reset)
            finally:
                self._held = False
            return True
        if t in (QEvent.MouseButtonPress, QEvent.MouseButtonDblClick):
            self._press, self._press_sec, self._held = object(), now, True
        elif t == QEvent.MouseButtonRelease:
            self._held = False
        elif t == QEvent.Wheel or (t == QEvent.KeyPress and e.key() in STEP_KEYS):
            if now - self._step_sec > STEP_GAP_SEC:
                self._step = object()
            self._step_sec, self._stepping = now, True
        return False
