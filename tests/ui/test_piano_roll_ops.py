"""Pure parts of the piano roll: note index culling / hit-testing, edit operations, coordinates, bar grid."""
import random

import pytest

from deepcomposer_desktop.core.song import Note, Song, TimeSignature, Track
from deepcomposer_desktop.ui.piano_roll import ops
from deepcomposer_desktop.ui.piano_roll.coords import BarGrid, RollCoords, snap_choices, snap_floor, snap_round


def N(pitch, start, dur=120, vel=100):
    return Note.make(pitch, start, dur, vel)


def random_notes(n, seed=0):
    rng = random.Random(seed)
    return tuple(sorted(N(rng.randint(30, 90), rng.randrange(0, 20000), rng.choice((30, 120, 480, 3000)))
                        for _ in range(n)))


def test_visible_matches_brute_force():
    notes = random_notes(3000)
    idx = ops.NoteIndex(notes)
    rng = random.Random(1)
    for _ in range(50):
        t0 = rng.uniform(-100, 20000)
        t1 = t0 + rng.uniform(1, 4000)
        lo, hi = sorted((rng.randint(20, 100), rng.randint(20, 100)))
        want = [i for i, n in enumerate(notes) if n.end_tick > t0 and n.start_tick < t1 and lo <= n.pitch <= hi]
        assert idx.visible(t0, t1, lo, hi).tolist() == want


def test_hit_test_finds_the_note_under_a_point_and_prefers_the_later_one():
    notes = (N(60, 0, 480), N(62, 0, 100), N(60, 240, 480))     # sorted, as Track keeps them
    idx = ops.NoteIndex(notes)
    assert idx.at(100, 60) == 0
    assert idx.at(300, 60) == 2          # overlap: the later-starting note is on top
    assert idx.at(600, 60) == 2
    assert idx.at(720, 60) is None       # end is exclusive
    assert idx.at(50, 62) == 1
    assert idx.at(50, 61) is None
    assert ops.NoteIndex(()).at(0, 60) is None


def test_find_maps_values_to_indices_once_each():
    a, b = N(60, 0), N(64, 0)
    idx = ops.NoteIndex((a, a, b))
    assert idx.find([a]) == [0]
    assert idx.find([a, a]) == [0, 1]
    assert idx.find([b, N(1, 5)]) == [2]


def test_merged_index_holds_every_track_sorted():
    one, two = ops.NoteIndex(random_notes(100, 1)), ops.NoteIndex(random_notes(50, 2))
    m = ops.NoteIndex.merged([one, two, ops.NoteIndex(())])
    assert len(m) == 150
    assert (m.start[1:] >= m.start[:-1]).all()
    assert len(ops.NoteIndex.merged([])) == 0


def test_move_clamps_at_zero_and_pitch_range_and_keeps_input():
    notes = (N(60, 100), N(126, 500))
    edit = ops.move(notes, [0, 1], -1000, 5)
    assert edit.notes == (N(61, 0), N(127, 400))
    assert sorted(edit.selected) == sorted(edit.notes)
    assert notes == (N(60, 100), N(126, 500))        # input untouched
    assert ops.move(notes, [0], 0, 0) is None
    assert ops.move(notes, [], 10, 0) is None


def test_resize_never_below_minimum():
    notes = (N(60, 0, 480),)
    assert ops.resize(notes, [0], 240).notes == (N(60, 0, 720),)
    assert ops.resize(notes, [0], -1000, 120).notes == (N(60, 0, 120),)
    assert ops.resize(notes, [0], 0) is None


def test_duplicate_places_copies_after_the_selection_on_the_grid():
    notes = (N(60, 0, 100), N(62, 240, 100), N(64, 2000))
    edit = ops.duplicate(notes, [0, 1], 120)
    # span 0..340 rounded up to the 120 grid = 360
    assert N(60, 360, 100) in edit.notes and N(62, 600, 100) in edit.notes
    assert len(edit.notes) == 5
    assert sorted(edit.selected) == [N(60, 360, 100), N(62, 600, 100)]
    assert ops.duplicate(notes, [0], None).notes.count(N(60, 100, 100)) == 1


def test_transpose_refuses_to_leave_the_midi_range():
    notes = (N(120, 0), N(60, 0))
    assert ops.transpose(notes, [0], 12) is None
    assert ops.transpose(notes, [1], 12).notes == (N(72, 0), N(120, 0))


def test_quantize_selected_only():
    notes = (N(60, 130), N(62, 250), N(64, 370))
    edit = ops.quantize(notes, [0, 1], 120)
    assert edit.notes == (N(60, 120), N(62, 240), N(64, 370))
    assert ops.quantize((N(60, 120),), [0], 120) is None


def test_set_velocities_clamps_and_skips_unchanged():
    notes = (N(60, 0, vel=80), N(62, 10, vel=90))
    edit = ops.set_velocities(notes, {0: 500, 1: 90}, [1])
    assert edit.notes == (N(60, 0, vel=127), N(62, 10, vel=90))
    assert edit.selected == (N(62, 10, vel=90),)
    assert ops.set_velocities(notes, {0: 80}, []) is None


def test_coords_round_trip_and_rows():
    c = RollCoords(ppq=480, px_per_beat=100, key_height=10)
    c.scroll_x, c.scroll_y = 250.0, 300.0
    for tick in (0, 1, 479, 4800):
        assert c.x_to_tick(c.tick_to_x(tick)) == pytest.approx(tick)
    for pitch in (0, 59, 60, 127):
        x, y = c.point(960, pitch)
        assert c.y_to_pitch(y) == pitch
        assert c.x_to_tick(x) == pytest.approx(960, abs=c.ppq / 100)
    assert c.y_to_pitch(-10_000) == 127 and c.y_to_pitch(10_000) == 0
    c.set_px_per_beat(1e9)
    assert c.px_per_beat <= 1200


def test_snap_helpers_and_choices():
    assert snap_floor(250, 120) == 240 and snap_round(250, 120) == 240 and snap_round(301, 120) == 360
    assert snap_floor(250.7, None) == 250
    choices = dict(snap_choices(480))
    assert choices["1/16"] == 120 and choices["1/8 triplet"] == 160 and choices["1/32"] == 60
    assert choices["Off"] is None
    assert all(v is None or v >= 1 for v in dict(snap_choices(1)).values())


def test_bar_grid_matches_song_bars_across_time_signature_changes():
    song = Song(tracks=(Track(notes=(N(60, 0),)),), ppq=480,
                time_signatures=(TimeSignature(0, 4, 4), TimeSignature(1920 * 2, 3, 4), TimeSignature(1920 * 2 + 1440 * 3, 6, 8)))
    grid = BarGrid(song)
    bars = list(grid.bars(0, song.bar_start_tick(9)))
    assert [b.start_tick for b in bars] == [song.bar_start_tick(k) for k in range(9)]
    assert [b.numerator for b in bars[:6]] == [4, 4, 3, 3, 3, 6]
    assert bars[5].beat_tick == 240
    assert grid.bar_at(1920 * 2 + 100).number == 2


def test_patched_index_equals_a_rebuilt_one():
    notes = random_notes(500, 3)
    rng = random.Random(4)
    for _ in range(40):
        idx = ops.NoteIndex(notes)
        sel = sorted(rng.sample(range(len(notes)), rng.randint(1, 5)))
        edit = rng.choice([
            lambda: ops.move(notes, sel, rng.randint(-500, 500), rng.randint(-3, 3)),
            lambda: ops.delete(notes, sel),
            lambda: ops.add_note(notes, N(rng.randint(30, 90), rng.randrange(20000))),
            lambda: ops.duplicate(notes, sel, 120),
            lambda: ops.resize(notes, sel, 60),
        ])()
        if edit is None:
            continue
        patched = idx.patched(edit)
        fresh = ops.NoteIndex(edit.notes)
        assert patched is not None
        for col in ("start", "pitch", "dur", "vel", "end"):
            assert getattr(patched, col).tolist() == getattr(fresh, col).tolist()
        assert patched.max_dur == fresh.max_dur
        notes = edit.notes
    many = ops.move(notes, list(range(200)), 10, 0)       # many notes: no recipe, the editor rebuilds
    assert ops.NoteIndex(notes).patched(many) is None
