"""The piano roll driven with real mouse presses, drags and keys on the real widget (pytest-qt).

A small ``Host`` plays the main window's part: it turns each ``notes_edited`` into a new Song and calls
``set_song`` back, so selections, follow-up edits and the "never mutates" contract are exercised as in the app.
"""
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from deepcomposer_desktop.core.song import Note, Song, Track
from deepcomposer_desktop.ui.piano_roll import PianoRollEditor

L, R = Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton
NOMOD, SHIFT = Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier


def N(pitch, start, dur=240, vel=100):
    return Note.make(pitch, start, dur, vel)


class Host:
    """What the main window does: apply each emitted edit to the song and hand the song back."""

    def __init__(self, editor: PianoRollEditor, song: Song, track_index: int = 0):
        self.ed, self.song, self.edits = editor, song, []
        editor.notes_edited.connect(self.on_edit)
        editor.set_song(song, track_index)

    def on_edit(self, index, notes, description):
        self.edits.append((index, notes, description))
        self.song = self.song.replace_track(index, self.song.tracks[index].with_notes(notes))
        self.ed.set_song(self.song, index)

    @property
    def notes(self):
        return self.song.tracks[self.ed.track_index].notes




def make_host(editor, notes=(), is_drum=False, others=()):
    tracks = (Track(name="Melody", notes=tuple(notes), is_drum=is_drum),) + tuple(others)
    host = Host(editor, Song(tracks=tracks))
    editor.coords.scroll_x = 0.0
    editor.coords.center_on_pitch(60, editor.view.viewport().height())
    editor.view.update_scrollbars()
    return host


def at(editor, tick, pitch):
    return QPoint(*editor.coords.point(tick, pitch))


def drag(widget, a: QPoint, b: QPoint, mods=NOMOD, button=L):
    QTest.mousePress(widget, button, mods, a)
    QTest.mouseMove(widget, (a + b) / 2)
    QTest.mouseMove(widget, b)
    QTest.mouseRelease(widget, button, mods, b)


def vp(editor):
    return editor.view.viewport()


def test_click_draws_a_snapped_note_and_previews_it(editor, qtbot):
    host = make_host(editor)
    editor.set_snap(120)
    with qtbot.waitSignal(editor.note_preview) as preview:
        QTest.mouseClick(vp(editor), L, NOMOD, at(editor, 530, 64))
    assert preview.args == [64, 100]
    assert host.edits[-1][1:] == ((N(64, 480, 120),), "Draw note")
    assert editor.selected_indices() == [0]             # the new note is selected after the round trip


def test_drawing_drag_sets_length_and_snap_off_draws_anywhere(editor):
    host = make_host(editor)
    editor.set_snap(120)
    drag(vp(editor), at(editor, 10, 60), at(editor, 900, 60))
    assert host.notes == (N(60, 0, 960),)
    editor.set_snap(None)
    p = at(editor, 2000, 62)
    QTest.mouseClick(vp(editor), L, NOMOD, p)
    start = int(editor.coords.x_to_tick(p.x()))
    assert start % 120 != 0                               # really off the grid
    assert N(62, start, 960) in host.notes                # snap off: length = the last one drawn


def test_drag_moves_a_note_in_time_and_pitch_snapped(editor, qtbot):
    host = make_host(editor, [N(60, 480), N(67, 1920)])
    editor.set_snap(120)
    with qtbot.waitSignal(editor.note_preview) as preview:
        drag(vp(editor), at(editor, 560, 60), at(editor, 560 + 500, 62))
    assert preview.args == [60, 100]
    # the grabbed note's start 480 + 500 rounds to the grid: 960
    assert host.edits[-1][2] == "Move notes"
    assert host.notes == (N(62, 960), N(67, 1920))
    assert [host.notes[i] for i in editor.selected_indices()] == [N(62, 960)]


def test_move_of_a_selection_keeps_relative_positions_and_alt_ignores_snap(editor):
    host = make_host(editor, [N(60, 0), N(64, 240), N(72, 3840)])
    editor.set_snap(480)
    editor.set_selection([0, 1])
    drag(vp(editor), at(editor, 300, 64), at(editor, 300 + 500, 64))
    assert host.notes[:2] == (N(60, 720), N(64, 960))     # the grabbed note lands on the grid: 240+500 -> 960
    # Alt while dragging: no snap
    editor.set_selection([2])
    a = at(editor, 3900, 72)
    QTest.mousePress(vp(editor), L, NOMOD, a)
    b = a + QPoint(37, 0)
    ev = QMouseEvent(QEvent.Type.MouseMove, QPointF(b), QPointF(vp(editor).mapToGlobal(b)), Qt.MouseButton.NoButton,
                     L, Qt.KeyboardModifier.AltModifier)
    QApplication.sendEvent(vp(editor), ev)
    QTest.mouseRelease(vp(editor), L, Qt.KeyboardModifier.AltModifier, b)
    moved = host.notes[-1]
    assert moved.pitch == 72 and moved.start_tick % 480 != 0
    assert moved.start_tick == pytest.approx(3840 + 37 / editor.coords.px_per_tick, abs=2)


def test_drag_right_edge_resizes(editor):
    host = make_host(editor, [N(60, 480, 480)])
    editor.set_snap(120)
    edge = QPoint(int(editor.coords.tick_to_x(960)) - 2, at(editor, 0, 60).y())
    drag(vp(editor), edge, edge + QPoint(int(round(480 * editor.coords.px_per_tick)), 0))
    assert host.edits[-1][2] == "Resize note"
    assert host.notes == (N(60, 480, 960),)


def test_click_and_shift_click_select_and_a_click_alone_edits_nothing(editor):
    host = make_host(editor, [N(60, 0), N(62, 480), N(64, 960)])
    QTest.mouseClick(vp(editor), L, NOMOD, at(editor, 500, 62))
    assert editor.selected_indices() == [1]
    QTest.mouseClick(vp(editor), L, SHIFT, at(editor, 1000, 64))
    assert editor.selected_indices() == [1, 2]
    QTest.mouseClick(vp(editor), L, Qt.KeyboardModifier.ControlModifier, at(editor, 500, 62))
    assert editor.selected_indices() == [2]
    assert host.edits == []


def test_rubber_band_selects_notes_inside(editor, qtbot):
    host = make_host(editor, [N(60, 0), N(62, 480), N(64, 960), N(80, 480)])
    with qtbot.waitSignal(editor.selection_changed):
        drag(vp(editor), at(editor, 1900, 58), at(editor, 300, 66), mods=SHIFT)
    # note 0 ends at 240 < 300; pitch 80 is above the band
    assert [editor.notes[i] for i in editor.selected_indices()] == [N(62, 480), N(64, 960)]
    editor.set_tool("select")
    drag(vp(editor), at(editor, 0, 79), at(editor, 700, 81))
    assert [editor.notes[i] for i in editor.selected_indices()] == [N(80, 480)]
    assert host.edits == []


def test_delete_key_and_right_click_delete(editor):
    host = make_host(editor, [N(60, 0), N(62, 480), N(64, 960)])
    editor.set_selection([0, 2])
    QTest.keyClick(editor.view, Qt.Key.Key_Delete)
    assert host.notes == (N(62, 480),)
    assert host.edits[-1][2] == "Delete notes"
    QTest.mouseClick(vp(editor), R, NOMOD, at(editor, 500, 62))
    assert host.notes == ()


def test_transpose_keys_semitone_and_octave(editor):
    host = make_host(editor, [N(60, 0), N(62, 480)])
    editor.select_all()
    QTest.keyClick(editor.view, Qt.Key.Key_Up)
    assert host.notes == (N(61, 0), N(63, 480))
    QTest.keyClick(editor.view, Qt.Key.Key_Down, SHIFT)
    assert host.notes == (N(49, 0), N(51, 480))
    assert editor.selected_indices() == [0, 1]       # selection follows the edit


def test_quantize_key_snaps_selected_starts(editor):
    host = make_host(editor, [N(60, 130), N(62, 500), N(64, 1010)])
    editor.set_snap(240)
    editor.set_selection([0, 1])
    QTest.keyClick(editor.view, Qt.Key.Key_Q)
    assert host.notes == (N(60, 240), N(62, 480), N(64, 1010))
    assert host.edits[-1][2] == "Quantize notes"


def test_ctrl_d_duplicates_after_the_selection(editor):
    host = make_host(editor, [N(60, 0, 480)])
    editor.set_snap(120)
    editor.select_all()
    QTest.keyClick(editor.view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert host.notes == (N(60, 0, 480), N(60, 480, 480))
    assert [host.notes[i] for i in editor.selected_indices()] == [N(60, 480, 480)]


def test_velocity_lane_drag_sets_velocity(editor):
    host = make_host(editor, [N(60, 0), N(62, 480), N(64, 960)])
    lane = editor.lane
    a = QPoint(*lane.point_for(0, 40))
    b = QPoint(*lane.point_for(1, 40))
    drag(lane, a, b)
    vels = [n.velocity for n in host.notes]
    assert abs(vels[0] - 40) <= 2 and abs(vels[1] - 40) <= 2 and vels[2] == 100
    assert host.edits[-1][2] == "Change velocity"
    # with a selection only the selected notes change
    editor.set_selection([2])
    drag(lane, QPoint(*lane.point_for(0, 120)), QPoint(*lane.point_for(2, 120)))
    assert host.notes[0].velocity == vels[0] and abs(host.notes[2].velocity - 120) <= 2


def test_drum_track_edits(editor):
    host = make_host(editor, [N(36, 0, 60), N(42, 240, 60)], is_drum=True)
    editor.set_snap(240)
    QTest.mouseClick(vp(editor), L, NOMOD, at(editor, 500, 38))
    assert N(38, 480, 240) in host.notes
    drag(vp(editor), at(editor, 250, 42), at(editor, 250, 46))     # hi-hat closed -> open
    assert N(46, 240, 60) in host.notes
    assert host.song.tracks[0].is_drum


def test_editor_never_mutates_and_shows_the_old_notes_until_set_song(editor, qtbot):
    song = Song(tracks=(Track(notes=(N(60, 0),)),))
    editor.set_song(song, 0)
    editor.coords.center_on_pitch(60, editor.view.viewport().height())
    editor.view.update_scrollbars()
    with qtbot.waitSignal(editor.notes_edited) as sig:
        editor.select_all()
        QTest.keyClick(editor.view, Qt.Key.Key_Up)
    assert sig.args[0] == 0 and sig.args[1] == (N(61, 0),) and sig.args[2] == "Transpose +1"
    assert song.tracks[0].notes == (N(60, 0),) and editor.notes == (N(60, 0),)


def test_other_tracks_paint_faded_behind_and_track_switch_clears_selection(editor):
    other = Track(name="Bass", notes=(N(48, 0, 1920),))
    host = make_host(editor, [N(60, 0)], others=[other])
    editor.select_all()
    img = vp(editor).grab().toImage()
    x, y = editor.coords.point(960, 48)
    ghost = img.pixelColor(x, y)
    bg_x, bg_y = editor.coords.point(960, 50)
    assert ghost != img.pixelColor(bg_x, bg_y)
    editor.set_song(host.song, 1)
    assert editor.selected_indices() == [] and editor.notes == other.notes


def test_ruler_click_seeks_drag_sets_loop_right_click_clears(editor, qtbot):
    make_host(editor, [N(60, 0)])
    editor.set_snap(480)
    ruler = editor.ruler
    y = ruler.height() // 2
    with qtbot.waitSignal(editor.seek_requested) as seek:
        QTest.mouseClick(ruler, L, NOMOD, QPoint(int(editor.coords.tick_to_x(1000)), y))
    assert seek.args == [960]
    with qtbot.waitSignal(editor.loop_changed) as loop:
        drag(ruler, QPoint(int(editor.coords.tick_to_x(500)), y), QPoint(int(editor.coords.tick_to_x(3900)), y))
    assert loop.args == [480, 3840] and editor.loop == (480, 3840)
    with qtbot.waitSignal(editor.loop_changed) as cleared:
        QTest.mouseClick(ruler, R, NOMOD, QPoint(10, y))
    assert cleared.args == [None, None] and editor.loop is None


def test_zoom_keeps_the_anchor_tick_and_playhead_follows(editor):
    make_host(editor, [N(60, t * 480) for t in range(200)])
    c = editor.coords
    before = c.x_to_tick(300)
    ppb = c.px_per_beat
    editor.zoom_x(2.0, 300)
    assert c.px_per_beat == pytest.approx(ppb * 2)
    assert c.x_to_tick(300) == pytest.approx(before, abs=1)
    kh = c.key_height
    editor.zoom_y(1.5)
    assert c.key_height == pytest.approx(kh * 1.5)
    editor.set_playhead(480 * 150)
    assert 0 <= c.tick_to_x(480 * 150) <= vp(editor).width()


def test_large_track_paints_detail_when_zoomed_in_and_raster_when_zoomed_out(editor):
    notes = [N(40 + (i * 7) % 48, i * 60, 120) for i in range(10_000)]
    make_host(editor, notes)
    vp(editor).grab()
    assert editor.view.last_note_mode == "detail"
    editor.fit_x()
    img = vp(editor).grab().toImage()
    assert editor.view.last_note_mode == "raster"
    x, y = editor.coords.point(30 * 60, 40 + (30 * 7) % 48)
    assert img.pixelColor(x, y) != img.pixelColor(x, editor.coords.point(0, 100)[1])


def test_zoomed_out_raster_shows_the_selection_and_the_lane_its_bars(editor):
    from deepcomposer_desktop.ui.piano_roll.painting import PALETTE
    notes = [N(40 + (i * 7) % 48, i * 60, 120) for i in range(5_000)]
    make_host(editor, notes)
    editor.fit_x()
    editor.set_selection(range(2_500, 5_000))
    img = vp(editor).grab().toImage()
    assert editor.view.last_note_mode == "raster"
    def pixel(k):          # a note narrower than a pixel fills the pixel column its start falls in
        y = editor.coords.point(0, notes[k].pitch)[1]
        return img.pixelColor(int(editor.coords.tick_to_x(notes[k].start_tick)), y).rgb()
    assert pixel(4_000) == PALETTE.selected.rgb()
    assert pixel(100) == editor.track_color().rgb()
    lane = editor.lane.grab().toImage()
    colors = {lane.pixelColor(x, lane.height() - 4).rgb() for x in range(0, lane.width() - 20, 7)}
    assert editor.track_color().rgb() in colors and PALETTE.selected.rgb() in colors


def test_empty_song_and_bad_track_index(editor):
    seen = []
    editor.notes_edited.connect(lambda *a: seen.append(a))
    editor.set_song(Song(), 0)
    QTest.mouseClick(vp(editor), L, NOMOD, QPoint(50, 50))
    QTest.keyClick(editor.view, Qt.Key.Key_Delete)
    assert seen == [] and editor.selected_indices() == []
    with pytest.raises(IndexError):
        editor.set_song(Song(tracks=(Track(),)), 3)
    with pytest.raises(ValueError):
        editor.set_snap(0)


def test_escape_cancels_a_drag(editor):
    host = make_host(editor, [N(60, 0, 480)])
    a = at(editor, 100, 60)
    QTest.mousePress(vp(editor), L, NOMOD, a)
    QTest.mouseMove(vp(editor), a + QPoint(120, -40))
    assert editor.tools.overlay and editor.tools.overlay[0] != N(60, 0, 480)
    QTest.keyClick(editor.view, Qt.Key.Key_Escape)
    QTest.mouseRelease(vp(editor), L, NOMOD, a + QPoint(120, -40))
    assert host.edits == []


def test_playhead_and_loop_are_painted(editor):
    from deepcomposer_desktop.ui.piano_roll.painting import PALETTE
    make_host(editor, [N(60, 0)])
    editor.set_playhead(960)
    editor.set_loop(1920, 3840)
    img = vp(editor).grab().toImage()
    x = int(editor.coords.tick_to_x(960))
    assert img.pixelColor(x, 5).rgb() == PALETTE.playhead.rgb()
    assert editor.lane.grab().toImage().pixelColor(x, 5).rgb() == PALETTE.playhead.rgb()
    inside, outside = int(editor.coords.tick_to_x(2500)), int(editor.coords.tick_to_x(4500))
    y = editor.coords.point(0, 61)[1]                   # a black-key row: same background both sides
    assert img.pixelColor(inside, y) != img.pixelColor(outside, y)
    editor.set_loop(None)
    assert editor.loop is None


def test_key_column_click_previews_the_pitch(editor, qtbot):
    make_host(editor, [N(60, 0)])
    y = editor.coords.point(0, 62)[1]
    with qtbot.waitSignal(editor.note_preview) as preview:
        QTest.mouseClick(editor.keys, L, NOMOD, QPoint(editor.keys.width() - 2, y))
    assert preview.args[0] == 62 and preview.args[1] > 100       # struck at the right edge: loud


def test_random_gestures_keep_the_track_valid(editor):
    """A burst of random clicks, drags and keys with modifiers: no exception, every emitted tuple sorted & valid."""
    import random
    rng = random.Random(7)
    host = make_host(editor, [N(48 + (i * 5) % 24, i * 240, 240) for i in range(40)])
    editor.set_snap(120)
    w, h = vp(editor).width(), vp(editor).height()
    mods = [NOMOD, SHIFT, Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.AltModifier]
    keys = [Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Q, Qt.Key.Key_Delete, Qt.Key.Key_Left, Qt.Key.Key_Right]
    for step in range(40):
        a = QPoint(rng.randrange(w), rng.randrange(h))
        b = QPoint(rng.randrange(w), rng.randrange(h))
        action = rng.random()
        if action < 0.5:
            drag(vp(editor), a, b, mods=rng.choice(mods))
        elif action < 0.7:
            QTest.mouseClick(vp(editor), rng.choice([L, R]), rng.choice(mods), a)
        elif action < 0.8:
            QTest.keyClick(editor.view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
        else:
            QTest.keyClick(editor.view, rng.choice(keys), rng.choice([NOMOD, SHIFT]))
    assert host.edits
    for _, notes, description in host.edits:
        assert list(notes) == sorted(notes) and description
    assert editor.notes == host.notes
    assert all(0 <= i < len(editor.notes) for i in editor.selected_indices())
    idx = editor.index                                    # patched edit by edit, never re-read: still exact
    assert idx.start.tolist() == [n.start_tick for n in host.notes]
    assert idx.pitch.tolist() == [n.pitch for n in host.notes]
    assert idx.dur.tolist() == [n.duration_tick for n in host.notes]
    assert idx.vel.tolist() == [n.velocity for n in host.notes]


def test_dragging_past_the_right_edge_scrolls_and_moves_the_note_there(editor, qtbot):
    host = make_host(editor, [N(60, 0, 480)])
    editor.set_snap(120)
    w = vp(editor).width()
    first_hidden_tick = editor.coords.x_to_tick(w)
    a = at(editor, 100, 60)
    b = QPoint(w + 50, a.y())
    QTest.mousePress(vp(editor), L, NOMOD, a)
    QTest.mouseMove(vp(editor), QPoint(w - 5, a.y()))
    QTest.mouseMove(vp(editor), b)
    qtbot.waitUntil(lambda: editor.coords.scroll_x > 300, timeout=3000)
    QTest.mouseRelease(vp(editor), L, NOMOD, b)
    (note,) = host.notes
    assert note.pitch == 60 and note.start_tick > first_hidden_tick
    assert not editor.view._autoscroll.isActive()


def test_a_song_at_another_resolution_keeps_zoom_and_musical_snap(editor):
    make_host(editor, [N(60, 0)])
    editor.set_snap(120)                                  # a 1/16 at 480 PPQ
    ppb = editor.coords.px_per_beat
    low = Song(tracks=(Track(notes=(Note.make(60, 24, 48),)),), ppq=96)
    host = Host(editor, low)
    assert editor.snap == 24 and editor.coords.px_per_beat == pytest.approx(ppb)
    QTest.mouseClick(vp(editor), L, NOMOD, at(editor, 100, 64))
    assert Note.make(64, 96, 24) in host.notes


def test_the_lane_shows_where_the_sustain_pedal_is_down(editor):
    from deepcomposer_desktop.core.song import Control
    from deepcomposer_desktop.ui.piano_roll.velocity_lane import PEDAL_COLOR
    track = Track(name="Piano", notes=(N(60, 0, 240), N(64, 1920, 240)),
                  controls=(Control(480, 64, 127), Control(960, 64, 0), Control(1440, 64, 100)))
    Host(editor, Song(tracks=(track,)))
    editor.coords.scroll_x = 0.0
    lane = editor.lane.grab().toImage()
    x = lambda tick: int(editor.coords.tick_to_x(tick))           # noqa: E731
    down = [lane.pixelColor(x(t), 1).rgb() == PEDAL_COLOR.rgb() for t in (600, 900, 1500, 2100)]
    up = [lane.pixelColor(x(t), 1).rgb() == PEDAL_COLOR.rgb() for t in (100, 400, 1100, 1400)]
    assert all(down) and not any(up), (down, up)                  # still down at the end: drawn to the last note


def test_pedal_spans_and_controls_summary():
    from deepcomposer_desktop.core.analysis import controls_summary, pedal_spans
    from deepcomposer_desktop.core.song import PITCH_BEND, Control
    cs = (Control(0, 64, 127), Control(10, 64, 127), Control(100, 64, 0), Control(100, 64, 90),
          Control(150, PITCH_BEND, 10), Control(160, PITCH_BEND, 0))
    assert pedal_spans(cs, 400) == [(0, 100), (100, 400)]
    assert pedal_spans((), 400) == []
    assert controls_summary(Track(controls=cs)) == "sustain pedal (4), pitch bend (2)"
    assert controls_summary(Track()) == ""
