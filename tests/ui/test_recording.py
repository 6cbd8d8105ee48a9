"""Recording in the studio: replace vs overdub, input quantize with strength, loop recording that keeps every take."""
from __future__ import annotations

from PySide6.QtCore import Qt

from deepcomposer_desktop.core.song import Note
from deepcomposer_desktop.midi.recorder import OVERDUB, REPLACE


def play(window, spy_engine, qtbot, key, start, end):
    spy_engine.forced_position = start
    qtbot.keyPress(window.keyboard, key)
    spy_engine.forced_position = end
    qtbot.keyRelease(window.keyboard, key)


def start_recording(window, spy_engine, qtbot, mode, grid, strength) -> None:
    """Record with these options from tick 0, no count-in, the on-screen keyboard focused."""
    window.record_options.mode = mode
    window.record_options.grid = grid
    window.record_options.strength = strength
    spy_engine.forced_position = 0
    window.transport.count_in.setCurrentIndex(0)
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    window.keyboard.setFocus()


def test_replace_mode_with_input_quantize(window, spy_engine, qtbot):
    before = window.song.melody.notes
    start_recording(window, spy_engine, qtbot, REPLACE, "1/8", 1.0)
    play(window, spy_engine, qtbot, Qt.Key_A, 250, 700)        # just after the second eighth: moves to 240
    spy_engine.forced_position = 1920
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    notes = window.song.melody.notes
    low = window.keyboard.lowest
    assert Note.make(low, 240, 450, window.keyboard.velocity) in notes
    # replace: the melody's notes that started inside the recorded bar are gone, the rest are kept
    assert [n for n in notes if n.start_tick < 1920] == [Note.make(low, 240, 450, window.keyboard.velocity)]
    assert [n for n in before if n.start_tick >= 1920] == [n for n in notes if n.start_tick >= 1920]
    window.undo_action.trigger()
    assert window.song.melody.notes == before


def test_half_strength_quantize_and_overdub(window, spy_engine, qtbot):
    before = window.song.melody.notes
    start_recording(window, spy_engine, qtbot, OVERDUB, "1/16", 0.5)
    play(window, spy_engine, qtbot, Qt.Key_S, 140, 400)         # nearest 16th is 120: halfway is 130
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    added = set(window.song.melody.notes) - set(before)
    assert added == {Note.make(window.keyboard.lowest + 2, 130, 260, window.keyboard.velocity)}
    assert set(before) <= set(window.song.melody.notes)        # overdub keeps everything


def test_loop_recording_keeps_every_take(window, spy_engine, qtbot):
    bar = window.song.bar_ticks
    window.playback.loop_range = (0, bar)
    window.playback.loop_enabled = True
    window.record_options.mode = REPLACE
    tracks_before = len(window.song.tracks)
    spy_engine.forced_position = 0
    window.transport.count_in.setCurrentIndex(0)
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    window.keyboard.setFocus()
    play(window, spy_engine, qtbot, Qt.Key_A, 0, 480)           # pass 1
    play(window, spy_engine, qtbot, Qt.Key_D, 960, 1440)
    play(window, spy_engine, qtbot, Qt.Key_F, 480, 960)         # the loop wrapped: pass 2
    spy_engine.forced_position = 1500
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    low = window.keyboard.lowest
    melody = window.song.melody
    assert [n.pitch for n in melody.notes if n.start_tick < bar] == [low + 5]     # the last pass went in
    takes = window.song.tracks[tracks_before:]
    assert [t.name for t in takes] == [f"{melody.name} take 1", f"{melody.name} take 2"]
    assert all(t.mute for t in takes)
    assert [n.pitch for n in takes[0].notes] == [low, low + 4]
    assert [n.pitch for n in takes[1].notes] == [low + 5]
    window.undo_action.trigger()
    assert len(window.song.tracks) == tracks_before


def test_unplugging_the_keyboard_stops_recording_and_keeps_the_take(window, spy_engine, qtbot):
    before = window.song.melody.notes
    spy_engine.forced_position = 0
    window.transport.count_in.setCurrentIndex(0)
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    spy_engine.forced_position = 3000
    window.hardware_note_on(72, 100)                         # from the MIDI keyboard
    spy_engine.forced_position = 3240
    window.midi_device_lost("Keystation 49")                 # ... which is then unplugged, key still down
    assert window.playback.recording is None and not window.transport.record_btn.isChecked()
    added = set(window.song.melody.notes) - set(before)
    assert added == {Note.make(72, 3000, 240, 100)}
