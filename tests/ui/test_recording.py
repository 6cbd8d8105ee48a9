"""Recording in the studio: replace vs overdub, input quantize with strength, loop recording that keeps every take."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from deepcomposer_desktop.core.song import PITCH_BEND, Note
from deepcomposer_desktop.core.timing import TempoMap
from deepcomposer_desktop.midi.devices import FakeMidiSystem, MidiInputManager, PortBackend
from deepcomposer_desktop.midi.recorder import OVERDUB, REPLACE

from tests.ui.conftest import SpyEngine


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


def start_loop_recording(window, spy_engine, qtbot) -> tuple[int, int]:
    """Record (replace mode, no count-in) over a one-bar loop from tick 0, the on-screen keyboard focused;
    returns (the bar's ticks, the song's track count before)."""
    bar = window.song.bar_ticks
    window.playback.loop_range = (0, bar)
    window.playback.loop_enabled = True
    window.record_options.mode = REPLACE
    tracks_before = len(window.song.tracks)
    spy_engine.forced_position = 0
    window.transport.count_in.setCurrentIndex(0)
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    window.keyboard.setFocus()
    return bar, tracks_before


def test_loop_recording_keeps_every_take(window, spy_engine, qtbot):
    bar, tracks_before = start_loop_recording(window, spy_engine, qtbot)
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


def test_a_riff_played_at_the_same_place_each_pass_makes_one_take_per_pass(window, spy_engine, qtbot):
    bar, tracks_before = start_loop_recording(window, spy_engine, qtbot)
    for _ in range(3):                        # each pass: A on beat 2, then the playhead runs round (the timer)
        play(window, spy_engine, qtbot, Qt.Key_A, 480, 720)
        for tick in (1200, bar - 60, 60):
            spy_engine.forced_position = tick
            window.playback._tick()
    spy_engine.forced_position = 200
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    low = window.keyboard.lowest
    melody = window.song.melody
    assert [(n.pitch, n.start_tick) for n in melody.notes if n.start_tick < bar] == [(low, 480)]   # one, not three
    takes = window.song.tracks[tracks_before:]
    assert [t.name for t in takes] == [f"{melody.name} take {k}" for k in (1, 2, 3)]
    assert all([(n.pitch, n.start_tick) for n in t.notes] == [(low, 480)] for t in takes)


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


def begin_take(window, spy_engine, qtbot, events=(), mode=OVERDUB):
    """Start recording at tick 0 and play ``events``: (tick, slot name, args) for the window's MIDI-keyboard
    slots."""
    window.record_options.mode = mode
    window.record_options.grid = "off"
    spy_engine.forced_position = 0
    window.transport.count_in.setCurrentIndex(0)
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    for tick, slot, *args in events:
        spy_engine.forced_position = tick
        getattr(window, slot)(*args)


def record(window, spy_engine, qtbot, events, end, mode=OVERDUB):
    """A whole take from tick 0 to ``end`` (see :func:`begin_take`)."""
    begin_take(window, spy_engine, qtbot, events, mode)
    spy_engine.forced_position = end
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)


def test_the_sustain_pedal_bend_and_mod_wheel_of_a_midi_keyboard_are_recorded(window, spy_engine, qtbot):
    from deepcomposer_desktop.core.song import PITCH_BEND
    window.new_project()
    record(window, spy_engine, qtbot, [
        (0, "hardware_note_on", 60, 100), (100, "hardware_sustain", True), (240, "hardware_note_off", 60),
        (300, "hardware_bend", 2048), (400, "hardware_control", 1, 90),
        (500, "hardware_control", 7, 20),                   # volume is the mixer's: not the take's
        (1920, "hardware_sustain", False)], end=2000)
    t = window.song.melody
    assert t.notes == (Note.make(60, 0, 1920, 100),)        # held by the pedal until it came up (was 240)
    assert [(c.tick, c.number, c.value) for c in t.controls] == [
        (300, PITCH_BEND, 2048), (400, 1, 90),
        (2000, PITCH_BEND, 0), (2000, 1, 0)]                # left moved: put back where the take ends
    window.undo_action.trigger()
    assert window.song.melody.notes == () and window.song.melody.controls == ()


def test_the_on_screen_sustain_holds_recorded_notes_too(window, spy_engine, qtbot):
    window.new_project()
    record(window, spy_engine, qtbot, [(0, "hardware_note_on", 64, 90), (10, "_sustain", True),
                                       (200, "hardware_note_off", 64), (960, "_sustain", False)], end=1000)
    assert window.song.melody.notes == (Note.make(64, 0, 960, 90),)


def test_a_recording_follows_its_track_when_other_tracks_are_deleted_or_added(window, spy_engine, qtbot):
    from deepcomposer_desktop.core.song import Track
    window.new_project()
    three = window.song.with_tracks((Track("A"), Track("B"), Track("C"))).replace(melody_index=1)
    window.doc.apply(three, "three tracks")
    begin_take(window, spy_engine, qtbot, [(0, "hardware_note_on", 60, 100), (480, "hardware_note_off", 60)])
    window.doc.apply(window.song.with_tracks(window.song.tracks[1:]).replace(melody_index=0), "delete A")
    window.doc.apply(window.song.with_tracks(window.song.tracks + (Track("D"),)), "add D")
    spy_engine.forced_position = 960
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    names = {t.name: t.notes for t in window.song.tracks}
    assert names == {"B": (Note.make(60, 0, 480, 100),), "C": (), "D": ()}   # it went to C (a crash at the end)


def test_a_take_whose_track_was_deleted_gets_a_track_of_its_own(window, spy_engine, qtbot):
    from deepcomposer_desktop.core.song import Track
    window.new_project()
    window.doc.apply(window.song.with_tracks((Track("A", program=33), Track("B"))), "two tracks")
    begin_take(window, spy_engine, qtbot, [(0, "hardware_note_on", 40, 100)])
    window.doc.apply(window.song.with_tracks(window.song.tracks[1:]), "delete A")     # the one recorded into
    spy_engine.forced_position = 480
    window.hardware_note_off(40)
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    assert [(t.name, t.program, t.notes) for t in window.song.tracks] == [
        ("B", 0, ()), ("A", 33, (Note.make(40, 0, 480, 100),))]


def test_opening_another_song_ends_a_recording_and_asks_about_its_take(window, spy_engine, qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.Discard)
    window.doc.undo_stack.setClean()
    begin_take(window, spy_engine, qtbot, [(0, "hardware_note_on", 60, 100)])
    window.new_project()                                    # File > New in the middle of a take
    assert asked and "new project" in asked[0]              # the take made the song unsaved: asked first
    assert window.playback.recording is None and not window.transport.record_btn.isChecked()
    assert window.song.note_count == 0 and window.doc.undo_stack.isClean()
    window.hardware_note_on(62, 100)                        # playing on records nothing anywhere
    assert window.song.note_count == 0


def test_a_song_opened_without_asking_ends_the_recording_without_its_take(window, spy_engine, qtbot):
    begin_take(window, spy_engine, qtbot, [(0, "hardware_note_on", 60, 100)])
    assert window.open_path("twinkle_twinkle")              # e.g. a background load arriving
    assert window.playback.recording is None and not window.transport.record_btn.isChecked()
    assert window.doc.undo_stack.count() == 0
    assert "recording in progress was stopped" in window.statusBar().currentMessage()


KEYS = "Keystation 49:Keystation 49 MIDI 1 20:0"


class Clock:
    """The MIDI input's clock (seconds, as time.perf_counter), in the test's hands."""

    now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingInEngine(SpyEngine):
    """The spy with the count-in the real engine plays: ``count_in_active`` from ``play`` until the test ends it."""

    count_in_active = False
    bars = 0

    def set_count_in(self, bars: int) -> None:
        self.bars = bars

    def play(self, from_tick=None) -> None:
        super().play(from_tick)
        self.count_in_active = self.bars > 0


def plug_keyboard(window, qtbot, monkeypatch):
    """A new project and a MIDI keyboard (FakeMidiSystem) opened by the window's own ``start_midi``, with its
    input clock in the test's hands and its queue drained only when the test calls ``window.midi.drain()``:
    (system, clock, seconds -> tick)."""
    import deepcomposer_desktop.ui.midi_input as midi_input
    system, clock = FakeMidiSystem([KEYS]), Clock()
    monkeypatch.setattr(midi_input, "MidiInputManager", lambda last_port=None: MidiInputManager(
        PortBackend(system.factory), last_port=last_port, clock=clock))
    qtbot.waitUntil(lambda: window.midi is not None)       # the start-up's own MIDI input first
    window.midi.shutdown()
    window.start_midi()
    window.midi.drain_timer.stop()
    window.midi.poll_timer.stop()
    assert window.midi.current_port == KEYS
    window.new_project()
    return system, clock, ticks(window.song)


def ticks(song):
    """Seconds after tick 0 -> song tick."""
    tm = TempoMap.of(song)
    return lambda sec: round(tm.seconds_to_tick(sec))


def test_midi_events_are_recorded_when_played_not_when_a_busy_gui_reads_them(window, spy_engine, qtbot,
                                                                               monkeypatch):
    system, clock, tick = plug_keyboard(window, qtbot, monkeypatch)
    clock.now = 100.0
    begin_take(window, spy_engine, qtbot)                   # tick 0 at 100 s
    for sec, msg in [(0.05, [0x90, 72, 100]), (0.10, [0xB0, 64, 127]), (0.15, [0x80, 72, 0]),
                     (0.20, [0x90, 74, 90]), (0.25, [0xE0, 0, 80]), (0.275, [0xB0, 1, 64]),
                     (0.30, [0xB0, 64, 0]), (0.35, [0x80, 74, 0])]:
        clock.now = 100.0 + sec
        system.send(KEYS, msg)
    clock.now, spy_engine.forced_position = 100.45, tick(0.45)    # the GUI was busy: it reads them only now
    window.midi.drain()
    spy_engine.forced_position = tick(1.0)
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    t = window.song.melody
    assert t.notes == (Note.make(72, tick(0.05), tick(0.30) - tick(0.05), 100),      # the pedal held it
                       Note.make(74, tick(0.20), tick(0.35) - tick(0.20), 90))        # (was both at 0.45 s)
    assert [(c.tick, c.number, c.value) for c in t.controls] == [
        (tick(0.25), PITCH_BEND, 2048), (tick(0.275), 1, 64), (tick(1.0), PITCH_BEND, 0), (tick(1.0), 1, 0)]


def test_notes_of_the_count_in_are_dropped_and_one_struck_just_before_beat_one_lands_on_it(make_window, qtbot,
                                                                                           monkeypatch):
    engine = CountingInEngine()
    window = make_window(engine=engine)
    system, clock, tick = plug_keyboard(window, qtbot, monkeypatch)     # 120 bpm, 4/4: a bar of count-in is 2 s

    def play(sec, msg):                                     # heard at once (beat 1 at 102 s)
        clock.now = sec
        engine.forced_position = tick(max(0.0, sec - 102.0))
        engine.count_in_active = sec < 102.0
        system.send(KEYS, msg)
        window.midi.drain()

    window.record_options.mode, window.record_options.grid = OVERDUB, "off"
    window.transport.count_in.setCurrentIndex(1)            # 1 bar
    clock.now, engine.forced_position = 100.0, 0
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    assert engine.count_in_active
    play(100.5, [0x90, 60, 100])                            # a warm-up note well inside the count-in: dropped
    play(100.8, [0x80, 60, 0])
    play(100.9, [0xE0, 0, 80])                              # ... and the bend with it
    play(101.9, [0x90, 62, 100])                            # 0.1 s early: on beat 1, with its real length
    play(102.25, [0x80, 62, 0])
    play(102.5, [0x90, 64, 100])
    play(103.0, [0x80, 64, 0])
    engine.forced_position = tick(1.25)
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    assert window.song.melody.notes == (Note.make(62, 0, tick(0.25), 100), Note.make(64, tick(0.5), tick(0.5), 100))
    assert window.song.melody.controls == ()


def test_a_sustain_pedal_already_down_when_record_is_pressed_holds_the_notes(window, spy_engine, qtbot,
                                                                             monkeypatch):
    system, clock, tick = plug_keyboard(window, qtbot, monkeypatch)
    clock.now = 99.0
    system.send(KEYS, [0xB0, 64, 127])                      # the pedal goes down before Record
    window.midi.drain()
    assert window.sustain_btn.isChecked()
    clock.now = 100.0
    begin_take(window, spy_engine, qtbot)
    for sec, msg in [(0.1, [0x90, 60, 100]), (0.3, [0x80, 60, 0]), (1.0, [0xB0, 64, 0])]:
        clock.now, spy_engine.forced_position = 100.0 + sec, tick(sec)
        system.send(KEYS, msg)
        window.midi.drain()
    spy_engine.forced_position = tick(1.5)
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    assert window.song.melody.notes == (Note.make(60, tick(0.1), tick(0.9), 100),)   # to the pedal (was 0.2 s)


def test_an_engine_restart_while_recording_ends_the_take_into_the_song_first(window, spy_engine, qtbot):
    window.new_project()
    begin_take(window, spy_engine, qtbot, [(0, "hardware_note_on", 60, 100), (480, "hardware_note_off", 60),
                                           (600, "hardware_note_on", 62, 90)])
    spy_engine.forced_position = 960
    restarted = SpyEngine()
    window.playback.attach_engine(restarted)                # Settings: another buffer size, the engine restarts
    assert window.playback.recording is None and not window.transport.record_btn.isChecked()
    assert window.song.melody.notes == (Note.make(60, 0, 480, 100), Note.make(62, 600, 360, 90))
    assert window.playback.engine is restarted and not restarted.is_playing
    window.hardware_note_on(64, 100)                        # playing on records nothing more
    window.hardware_note_off(64)
    assert window.song.melody.notes == (Note.make(60, 0, 480, 100), Note.make(62, 600, 360, 90))
    window.undo_action.trigger()
    assert window.song.melody.notes == ()


def test_stop_takes_in_what_the_keyboard_played_just_before_it(window, spy_engine, qtbot, monkeypatch):
    # a note released a moment before Stop, still in the queue (the GUI reads it every 10 ms): it is in the take
    system, clock, tick = plug_keyboard(window, qtbot, monkeypatch)
    clock.now = 100.0
    begin_take(window, spy_engine, qtbot)
    for sec, msg in [(0.10, [0x90, 67, 100]), (0.40, [0x80, 67, 0])]:
        clock.now = 100.0 + sec
        system.send(KEYS, msg)
    clock.now, spy_engine.forced_position = 100.5, tick(0.5)
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)      # no drain in between
    assert window.song.melody.notes == (Note.make(67, tick(0.10), tick(0.40) - tick(0.10), 100),)


def test_on_screen_keys_in_the_count_in_are_dropped_but_one_just_before_beat_one_lands_on_it(make_window, qtbot,
                                                                                                monkeypatch):
    engine = CountingInEngine()
    window = make_window(engine=engine)
    _system, clock, tick = plug_keyboard(window, qtbot, monkeypatch)    # the studio's clock, as for a keyboard

    def at(sec):
        clock.now = sec
        engine.forced_position = tick(max(0.0, sec - 102.0))
        engine.count_in_active = sec < 102.0

    window.record_options.mode, window.record_options.grid = OVERDUB, "off"
    window.transport.count_in.setCurrentIndex(1)            # 1 bar: beat 1 at 102 s
    at(100.0)
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    for sec, pitch, on in [(100.5, 60, True), (100.8, 60, False),      # clicked in the count-in: not in the take
                           (101.9, 62, True), (102.25, 62, False),     # 0.1 s early, as a MIDI key: on beat 1
                           (102.5, 64, True), (103.0, 64, False)]:
        at(sec)
        if on:
            window.keyboard.note_on.emit(pitch, 100)
        else:
            window.keyboard.note_off.emit(pitch)
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)
    assert window.song.melody.notes == (Note.make(62, 0, tick(0.25), 100), Note.make(64, tick(0.5), tick(0.5), 100))


@pytest.mark.parametrize("how", ["pause", "seek"])
def test_pausing_or_seeking_while_recording_ends_the_take_into_the_song(window, spy_engine, qtbot, how):
    begin_take(window, spy_engine, qtbot)
    window.keyboard.setFocus()
    play(window, spy_engine, qtbot, Qt.Key_A, 0, 480)
    spy_engine.forced_position = 960
    if how == "pause":
        window.play_action.trigger()                          # Space
    else:
        window.playback.seek(3840)                            # a click in the ruler
    assert window.playback.recording is None and not window.transport.record_btn.isChecked()
    low = window.keyboard.lowest
    assert [(n.pitch, n.start_tick, n.duration_tick) for n in window.song.melody.notes
            if n.pitch == low] == [(low, 0, 480)]
    play(window, spy_engine, qtbot, Qt.Key_D, 960, 960)      # keys played while it stands: only heard
    assert not any(n.pitch == low + 4 for n in window.song.melody.notes)
