"""On-screen keyboard: clicks, glissando, velocity from where the key is struck, computer keys, lights, synth."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from PySide6.QtCore import QEvent, QPointF

from deepcomposer_desktop.ui.keyboard import PianoKeyboard


def key_point(kb: PianoKeyboard, pitch: int, frac_y: float = 0.85) -> QPoint:
    r = kb.key_rects()[pitch]
    return QPoint(int(r.center().x()), int(r.top() + r.height() * frac_y))


def drag_to(kb, pos: QPoint) -> None:
    ev = QMouseEvent(QEvent.MouseMove, QPointF(pos), kb.mapToGlobal(QPointF(pos)), Qt.NoButton, Qt.LeftButton,
                     Qt.NoModifier)
    QApplication.sendEvent(kb, ev)


@pytest.fixture
def kb(qtbot):
    k = PianoKeyboard(octaves=3, lowest=48)
    k.resize(700, 100)
    qtbot.addWidget(k)
    k.show()
    qtbot.waitExposed(k)
    return k


def test_three_octaves_and_octave_shift(kb):
    assert kb.highest - kb.lowest >= 36
    assert len([p for p in kb.key_rects() if p % 12 in (0, 2, 4, 5, 7, 9, 11)]) >= 21
    kb.shift_octave(+1)
    assert kb.lowest == 60
    kb.shift_octave(-5)
    assert kb.lowest == 0                       # clamped


def test_click_plays_and_lower_strikes_are_louder(kb, qtbot):
    got = []
    kb.note_on.connect(lambda p, v: got.append(("on", p, v)))
    kb.note_off.connect(lambda p: got.append(("off", p)))
    qtbot.mousePress(kb, Qt.LeftButton, pos=key_point(kb, 60, 0.95))
    assert kb.is_lit(60)
    qtbot.mouseRelease(kb, Qt.LeftButton, pos=key_point(kb, 60, 0.95))
    assert not kb.is_lit(60)
    qtbot.mouseClick(kb, Qt.LeftButton, pos=key_point(kb, 60, 0.1))
    loud, soft = got[0][2], got[2][2]
    assert got[0][:2] == ("on", 60) and got[1] == ("off", 60)
    assert loud > soft + 40


def test_black_keys_win_where_they_overlap(kb, qtbot):
    got = []
    kb.note_on.connect(lambda p, v: got.append(p))
    qtbot.mouseClick(kb, Qt.LeftButton, pos=key_point(kb, 61, 0.3))
    assert got == [61]


def test_glissando_drag_moves_from_key_to_key(kb, qtbot):
    events = []
    kb.note_on.connect(lambda p, v: events.append(("on", p)))
    kb.note_off.connect(lambda p: events.append(("off", p)))
    qtbot.mousePress(kb, Qt.LeftButton, pos=key_point(kb, 60))
    for p in (62, 64, 65):
        drag_to(kb, key_point(kb, p))
    qtbot.mouseRelease(kb, Qt.LeftButton, pos=key_point(kb, 65))
    assert events == [("on", 60), ("off", 60), ("on", 62), ("off", 62), ("on", 64), ("off", 64), ("on", 65),
                      ("off", 65)]


def test_computer_keys_play_the_daw_layout_with_octave_velocity_sustain(kb):
    got = []
    kb.note_on.connect(lambda p, v: got.append((p, v)))
    sustain = []
    kb.sustain_changed.connect(sustain.append)
    assert kb.computer_key_press(Qt.Key_A) and kb.computer_key_press(Qt.Key_W) and kb.computer_key_press(Qt.Key_K)
    assert [p for p, _ in got] == [48, 49, 60]
    assert kb.computer_key_press(Qt.Key_A, auto_repeat=True)       # held key repeats: no new note
    assert len(got) == 3
    kb.computer_key_press(Qt.Key_X)
    kb.computer_key_press(Qt.Key_V)
    kb.computer_key_release(Qt.Key_A)
    kb.computer_key_press(Qt.Key_A)
    assert got[-1] == (60, 110)
    kb.computer_key_press(Qt.Key_Tab)
    kb.computer_key_release(Qt.Key_Tab)
    assert sustain == [True, False]
    assert not kb.computer_key_press(Qt.Key_Q)


def test_keys_light_from_any_source(kb):
    kb.set_key_lit(64, True)
    assert kb.is_lit(64)
    kb.set_key_lit(64, False)
    kb.set_playback_keys({67})
    assert kb.is_lit(67) and not kb.is_lit(64)


def test_window_keyboard_click_reaches_the_synth(window, spy_engine, qtbot):
    kb = window.keyboard
    pitch = kb.lowest + 12
    qtbot.mouseClick(kb, Qt.LeftButton, pos=key_point(kb, pitch))
    on = spy_engine.named("live_note_on")
    assert on and on[-1][0][0] == pitch and on[-1][0][2] == window.song.melody_index
    assert spy_engine.named("live_note_off")[-1][0][0] == pitch


def test_window_computer_key_reaches_the_synth_unless_typing(window, spy_engine, qtbot):
    window.piano_roll.setFocus()
    target = QApplication.focusWidget()            # key events go where the focus is: the roll's viewport
    assert target is not None and window.piano_roll.isAncestorOf(target) or target is window.piano_roll
    qtbot.keyPress(target, Qt.Key_S)
    qtbot.keyRelease(target, Qt.Key_S)
    assert [a[0] for a, _ in spy_engine.named("live_note_on")] == [window.keyboard.lowest + 2]
    name = window.tracks.rows[0].name_edit
    name.setFocus()
    qtbot.keyClick(name, Qt.Key_S)
    assert len(spy_engine.named("live_note_on")) == 1 and name.text().endswith("s")


def test_real_engine_receives_a_keyboard_note(make_window, qtbot):
    engine_mod = pytest.importorskip("deepcomposer_desktop.audio.engine")
    engine = engine_mod.PlaybackEngine()
    try:
        w = make_window(engine=engine)
        if not engine.available:                # no sound card here: the problem is shown, the app keeps going
            assert w.audio_label.text().startswith("Audio off") and engine.problem in w.audio_label.text()
        if getattr(engine, "output", None) is None:
            pytest.skip(f"no synth at all here: {engine.problem}")
        assert w.playback.engine is engine
        seen = []
        orig = engine.live_note_on
        engine.live_note_on = lambda p, v, t: (seen.append(p), orig(p, v, t))
        qtbot.mouseClick(w.keyboard, Qt.LeftButton, pos=key_point(w.keyboard, 60))
        assert seen == [60]
    finally:
        engine.close()


def test_held_keys_are_released_when_the_window_loses_focus(window, spy_engine):
    window.keyboard.computer_key_press(Qt.Key_D)
    assert window.keyboard.is_lit(window.keyboard.lowest + 4)
    window.keyboard.release_all()
    assert not window.keyboard.is_lit(window.keyboard.lowest + 4)
    assert spy_engine.named("live_note_off")[-1][0][0] == window.keyboard.lowest + 4


def test_the_pedal_held_with_tab_is_let_go_when_the_window_loses_focus(window, spy_engine):
    kb = window.keyboard
    kb.computer_key_press(Qt.Key_Tab)
    kb.computer_key_press(Qt.Key_A)
    kb.shift_octave(+1)                                     # an octave change lets go of the keys, not the pedal
    assert kb.sustain and window.sustain_btn.isChecked()
    kb.release_all()                                        # focus lost: Tab's release goes to another window
    assert not kb.sustain and not window.sustain_btn.isChecked()
    assert spy_engine.named("set_sustain")[-1][0][0] is False
    window.sustain_btn.setChecked(True)                     # latched with the button: it stays
    kb.release_all()
    assert kb.sustain
