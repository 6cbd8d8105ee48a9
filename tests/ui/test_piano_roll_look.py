"""What the piano roll shows around its notes: key labels however short the rows, the key strip and velocity lane
lined up with the note grid, and the other tracks' faded notes in their own colours and of the same kind."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QFontMetricsF

from deepcomposer_desktop.core.song import Note, Song, Track
from deepcomposer_desktop.ui.piano_roll.coords import MIN_KEY_HEIGHT


def N(pitch, start, dur=240, vel=100):
    return Note.make(pitch, start, dur, vel)


def show(editor, tracks, index=0, pitch=60):
    editor.set_song(Song(tracks=tuple(tracks)), index)
    editor.coords.scroll_x = 0.0
    editor.coords.center_on_pitch(pitch, editor.view.viewport().height())
    editor.view.update_scrollbars()


@pytest.mark.parametrize("key_height", [MIN_KEY_HEIGHT, 3.0, 5.0, 12.0])
def test_every_c_on_screen_is_labelled_however_short_the_rows(editor, key_height):
    show(editor, [Track(name="Piano", notes=(N(60, 0),))])
    editor.zoom_y(key_height / editor.coords.key_height)
    c, h = editor.coords, editor.keys.height()
    on_screen = {p for p in range(0, 128, 12) if 0 <= c.pitch_to_y(p) + c.key_height / 2 <= h}
    labels = {p: text for p, _rect, text in editor.keys.labels()}
    assert on_screen and on_screen <= set(labels)
    assert labels[60] == "C4"
    assert editor.keys.label_font().pixelSize() >= 8


def test_drum_names_thin_out_when_zoomed_out_instead_of_vanishing(editor):
    show(editor, [Track(name="Drums", notes=(N(36, 0), N(38, 480)), is_drum=True)], pitch=40)
    editor.zoom_y(MIN_KEY_HEIGHT / editor.coords.key_height)
    labels = editor.keys.labels()
    assert len(labels) >= 4                                    # a few names, not an empty strip
    line = QFontMetricsF(editor.keys.label_font()).height()
    mids = [rect.center().y() for _p, rect, _t in labels]
    assert all(b - a >= line - 0.01 for a, b in zip(mids, mids[1:]))     # every Nth name, none overlapping
    editor.zoom_y(20 / editor.coords.key_height)
    editor.coords.center_on_pitch(37, editor.view.viewport().height())
    editor.view.update_scrollbars()
    assert {36, 38} <= {p for p, _r, _t in editor.keys.labels()}          # zoomed in: every name on screen


def test_key_strip_ruler_and_velocity_lane_end_where_the_note_grid_ends(editor, qtbot):
    show(editor, [Track(notes=(N(60, 0),))])
    qtbot.wait(10)
    vp = editor.view.viewport()
    top_left = vp.mapTo(editor, QPoint(0, 0))
    keys = editor.keys.geometry()
    assert keys.top() == top_left.y() and keys.height() == vp.height()
    for strip in (editor.lane, editor.ruler):
        g = strip.geometry()
        assert g.left() == top_left.x() and g.width() == vp.width()


def pixel(editor, tick, pitch):
    img = editor.view.viewport().grab().toImage()
    return img.pixelColor(*editor.coords.point(tick, pitch))


def test_ghost_notes_take_their_track_colour_and_stay_with_their_kind(editor):
    melody = Track(name="Melody", notes=(N(72, 0),))
    bass = Track(name="Bass", notes=(N(48, 0, 1920),))
    drums = Track(name="Drums", notes=(N(42, 0, 1920),), is_drum=True)
    editor.set_track_colors(["#3060ff", "#ff2020", "#20ff20"])
    show(editor, [melody, bass, drums], index=0, pitch=50)
    editor.view.resize(editor.view.size())
    bass_ghost, bass_bg = pixel(editor, 1000, 48), pixel(editor, 4100, 48)
    assert bass_ghost.red() > bass_bg.red() + 40 and bass_ghost.green() <= bass_bg.green() + 10   # red, faded
    assert pixel(editor, 1000, 42) == pixel(editor, 4100, 42)     # no drum ghost behind a pitched track
    show(editor, [melody, bass, drums], index=2, pitch=45)
    assert pixel(editor, 1000, 48) == pixel(editor, 4100, 48)     # no pitched ghost along the drum names
    show(editor, [melody, bass, drums, Track(name="Perc", notes=(N(46, 0, 1920),), is_drum=True)], index=2)
    perc = editor.ghost_color(3)
    assert perc.alpha() < 255 and perc.rgb() != editor.ghost_color(1).rgb()
