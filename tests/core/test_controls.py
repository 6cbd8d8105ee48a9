"""Controller changes on tracks: validation, time order, what the edits do with them, the project file."""
import json

import pytest

from deepcomposer_desktop.core import edits
from deepcomposer_desktop.core.project import ProjectError, dumps, loads, song_from_dict, song_to_dict
from deepcomposer_desktop.core.song import (NOT_TRACK_CONTROLS, PITCH_BEND, Control, Note, Song, SongError,
                                            TimeSignature, Track, control_name)
from tests.builders import song

PEDAL, MOD, EXPR = 64, 1, 11


def piano(notes=(), controls=(), name="Piano", channel=None) -> Track:
    return Track(name=name, notes=tuple(Note.make(p, s, d, v) for p, s, d, v in notes), controls=tuple(controls),
                 channel=channel)


def cc(controls) -> list[tuple[int, int, int]]:
    return [(c.tick, c.number, c.value) for c in controls]


# --- validation -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    ((0, 130, 0), "Controller number"),
    ((0, -1, 0), "Controller number"),
    ((0, 129, 128), "value"),                                   # aftertouch: 0..127
    ((-1, PEDAL, 0), "Controller position"),
    ((0, PEDAL, 128), "value"),
    ((0, PEDAL, -1), "value"),
    ((0, MOD, 0.5), "whole number"),
    ((0, MOD, True), "whole number"),
    ((0.0, MOD, 10), "whole number"),
    ((0, PITCH_BEND, 8192), "Pitch bend"),
    ((0, PITCH_BEND, -8193), "Pitch bend"),
])
def test_control_validation_names_the_problem(args, words):
    with pytest.raises(SongError, match=words):
        Control(*args)


def test_control_accepts_the_edges_of_each_range():
    assert Control(0, PITCH_BEND, -8192).value == -8192
    assert Control(0, PITCH_BEND, 8191).value == 8191
    assert Control(0, PITCH_BEND, 0).value == 0
    assert Control(0, PEDAL, 0).value == 0 and Control(0, PEDAL, 127).value == 127
    assert Control(0, 1, 5).number == 1 and Control(0, 119, 5).number == 119
    # a pitch bend's value is not a 0..127 controller value
    assert Control(0, PITCH_BEND, 300).value == 300


@pytest.mark.parametrize("number", [0, 7, 10, 32, 39, 42, 120, 121, 123, 127])
def test_mixer_and_transport_controllers_are_refused(number):
    assert number in NOT_TRACK_CONTROLS
    with pytest.raises(SongError, match="mixer or the transport"):
        Control(0, number, 64)


def test_not_track_controls_is_exactly_the_documented_set():
    assert NOT_TRACK_CONTROLS == frozenset({0, 7, 10, 32, 39, 42, *range(120, 128)})


def test_track_refuses_things_that_are_not_controls():
    with pytest.raises(SongError, match="not a controller change"):
        Track(controls=((0, PEDAL, 127),))
    with pytest.raises(SongError, match="not a controller change"):
        Track(controls=(Control(0, PEDAL, 127), Note.make(60, 0, 10)))
    with pytest.raises(SongError, match="not a controller change"):
        Track().with_controls([Control(0, PEDAL, 127), None])


def test_control_names():
    assert control_name(PEDAL) == "sustain pedal"
    assert control_name(MOD) == "mod wheel"
    assert control_name(EXPR) == "expression"
    assert control_name(PITCH_BEND) == "pitch bend"
    assert control_name(3) == "CC 3"
    assert Control(5, PEDAL, 0).name == "sustain pedal"


def test_controls_are_frozen_and_compare_by_value():
    c = Control(10, PEDAL, 127)
    with pytest.raises(AttributeError):
        c.value = 0                                                    # type: ignore[misc]
    assert c == Control(10, PEDAL, 127) and c != Control(10, PEDAL, 0)
    assert Track(controls=[c]) == Track(controls=(c,))
    assert Track(controls=[c]) != Track()


# --- time order -----------------------------------------------------------------------------------------------

def test_controls_are_kept_in_time_order_stably():
    # an RPN (pitch-bend range: select 101/100, data entry 6/38) at tick 0, given after a later event:
    # the sort is by time only, so the select stays before its data although 101 > 100 > 38 > 6
    given = [Control(480, PEDAL, 127), Control(0, 101, 0), Control(0, 100, 0), Control(0, 6, 12), Control(0, 38, 0),
             Control(240, PITCH_BEND, 100), Control(240, MOD, 5), Control(240, PITCH_BEND, 50)]
    t = Track(controls=given)
    assert isinstance(t.controls, tuple)
    assert cc(t.controls) == [(0, 101, 0), (0, 100, 0), (0, 6, 12), (0, 38, 0),
                              (240, PITCH_BEND, 100), (240, MOD, 5), (240, PITCH_BEND, 50), (480, PEDAL, 127)]


def test_with_controls_builds_a_new_sorted_track_and_keeps_the_notes():
    t = piano([(60, 0, 480, 100)], [Control(0, PEDAL, 127)])
    u = t.with_controls(iter([Control(960, PEDAL, 0), Control(0, PEDAL, 127)]))
    assert cc(u.controls) == [(0, PEDAL, 127), (960, PEDAL, 0)]
    assert u.notes == t.notes and u.name == t.name
    assert cc(t.controls) == [(0, PEDAL, 127)]                        # the original is untouched
    assert t.with_controls(()).controls == ()


def test_controls_do_not_change_the_tracks_length():
    # a pedal released after the last note does not make the track (or the song) longer
    t = piano([(60, 0, 480, 100)], [Control(0, PEDAL, 127), Control(1000, PEDAL, 0)])
    assert t.end_tick == 480


# --- edits ----------------------------------------------------------------------------------------------------

def test_slice_leads_with_the_pedal_pressed_before_the_slice():
    t = piano([(60, 0, 1920, 100), (64, 1920, 960, 100)],
              [Control(100, PEDAL, 127), Control(2400, PEDAL, 0), Control(3000, PEDAL, 127)])
    s = edits.slice_ticks(t, 1920, 2880)
    assert cc(s.controls) == [(0, PEDAL, 127), (480, PEDAL, 0)]       # the 3000 press is outside
    assert [(n.pitch, n.start_tick, n.duration_tick) for n in s.notes] == [(64, 0, 960)]


def test_slice_leads_with_only_the_last_value_of_each_controller():
    t = piano([(60, 0, 3840, 100)],
              [Control(0, PITCH_BEND, 4000), Control(100, MOD, 20), Control(200, PITCH_BEND, -2000),
               Control(300, PITCH_BEND, 0),                            # the bend was reset before the slice
               Control(400, MOD, 90), Control(500, PEDAL, 127), Control(600, PEDAL, 0),
               Control(1000, PITCH_BEND, 1234), Control(2000, EXPR, 50)])
    s = edits.slice_ticks(t, 960, 1920)
    # one lead event per controller, at the slice start, in the order their last values came; the bend and the
    # wheel the slice leaves off rest go back at its end
    assert cc(s.controls) == [(0, PITCH_BEND, 0), (0, MOD, 90), (0, PEDAL, 0), (40, PITCH_BEND, 1234),
                              (960, PITCH_BEND, 0), (960, MOD, 0)]


def test_slice_keeps_an_event_at_the_start_and_drops_one_at_the_end():
    t = piano([(60, 0, 1920, 100)],
              [Control(100, PEDAL, 127), Control(960, PEDAL, 0), Control(960, PEDAL, 127), Control(1920, MOD, 9)])
    s = edits.slice_ticks(t, 960, 1920)
    # the lead (127 from tick 100) comes first, then the events exactly at the start in their order; the pedal
    # is lifted where the slice ends (not by the wheel at 1920, which is outside)
    assert cc(s.controls) == [(0, PEDAL, 127), (0, PEDAL, 0), (0, PEDAL, 127), (960, PEDAL, 0)]


def test_slice_without_shift_puts_the_lead_at_the_slice_start():
    t = piano([(60, 0, 1920, 100)], [Control(100, PEDAL, 127), Control(1500, MOD, 3)])
    s = edits.slice_ticks(t, 960, 1920, shift=False)
    assert cc(s.controls) == [(960, PEDAL, 127), (1500, MOD, 3), (1920, MOD, 0), (1920, PEDAL, 0)]


def test_slice_of_a_track_without_earlier_controls_has_no_lead():
    t = piano([(60, 0, 1920, 100)], [Control(1000, PEDAL, 127)])
    assert cc(edits.slice_ticks(t, 960, 1920).controls) == [(40, PEDAL, 127), (960, PEDAL, 0)]
    assert edits.slice_ticks(t, 0, 960).controls == ()


def test_slice_lifts_a_pedal_held_past_its_end():
    t = piano([(60, 0, 3840, 100)], [Control(100, PEDAL, 127), Control(3000, PEDAL, 0)])
    s = edits.slice_ticks(t, 0, 1920)
    assert cc(s.controls) == [(100, PEDAL, 127), (1920, PEDAL, 0)]
    assert s.end_tick == 1920 and edits.slice_ticks(t, 0, 3840).controls == t.controls     # lifted inside: as is


def test_slice_bars_carries_controls_for_every_track():
    mel = piano([(72, 0, 3840, 100)], [Control(0, PEDAL, 127), Control(1920, PEDAL, 0), Control(2400, MOD, 64)],
                name="Melody")
    bass = piano([(36, 0, 5760, 100)], [Control(3000, PITCH_BEND, -8192), Control(4000, PITCH_BEND, 0)],
                 name="Bass")
    s = song(mel, bass)
    bar1 = edits.slice_bars(s, 1, 2)                                   # ticks 1920..3840
    # the pedal pressed at 0 leads, then the release exactly at the bar line
    assert cc(bar1.tracks[0].controls) == [(0, PEDAL, 127), (0, PEDAL, 0), (480, MOD, 64), (1920, MOD, 0)]
    assert cc(bar1.tracks[1].controls) == [(1080, PITCH_BEND, -8192), (1920, PITCH_BEND, 0)]   # centred at the end
    bar2 = edits.slice_bars(s, 2, 3)                                   # ticks 3840..5760
    assert cc(bar2.tracks[0].controls) == [(0, PEDAL, 0), (0, MOD, 64), (1920, MOD, 0)]
    assert cc(bar2.tracks[1].controls) == [(0, PITCH_BEND, -8192), (160, PITCH_BEND, 0)]


def test_rpn_sequence_survives_a_slice_as_a_lead():
    rpn = [Control(0, 101, 0), Control(0, 100, 0), Control(0, 6, 12), Control(0, 38, 0)]
    t = piano([(60, 0, 3840, 100)], rpn + [Control(2000, PITCH_BEND, 8191)])
    s = edits.slice_ticks(t, 1920, 3840)
    assert cc(s.controls) == [(0, 101, 0), (0, 100, 0), (0, 6, 12), (0, 38, 0), (80, PITCH_BEND, 8191),
                              (1920, PITCH_BEND, 0)]


def test_shift_moves_controls_with_the_notes():
    t = piano([(60, 0, 480, 100)], [Control(0, PEDAL, 127), Control(0, MOD, 1), Control(480, PEDAL, 0)])
    later = edits.shift_track(t, 960)
    assert cc(later.controls) == [(960, PEDAL, 127), (960, MOD, 1), (1440, PEDAL, 0)]
    assert later.notes[0].start_tick == 960
    back = edits.shift_track(later, -960)
    assert back == t
    with pytest.raises(SongError):
        edits.shift_track(later, -961)                                 # would put events before the start


def test_merge_tracks_keeps_every_control_in_time_order():
    a = piano([(60, 0, 480, 100)], [Control(0, PEDAL, 127), Control(960, PEDAL, 0)], name="A")
    b = piano([(64, 240, 480, 100)], [Control(0, PITCH_BEND, 100), Control(480, MOD, 7)], name="B")
    m = edits.merge_tracks([a, b], name="Both")
    assert m.name == "Both"
    # equal ticks: the first track's events first (stable)
    assert cc(m.controls) == [(0, PEDAL, 127), (0, PITCH_BEND, 100), (480, MOD, 7), (960, PEDAL, 0)]
    assert [n.pitch for n in m.notes] == [60, 64]
    assert edits.merge_tracks([b]).controls == b.controls


def test_concat_moves_the_second_songs_controls_by_the_offset():
    first = song(piano([(60, 0, 1000, 100)], [Control(0, PEDAL, 127), Control(900, PEDAL, 0)], name="A"),
                 piano([(48, 0, 1900, 100)], [Control(10, MOD, 1)], name="B"))
    second = song(piano([(62, 0, 480, 100)], [Control(0, PEDAL, 127), Control(480, PEDAL, 0)], name="A2"),
                  piano([(50, 0, 480, 100)], [Control(0, PITCH_BEND, -100)], name="B2"),
                  piano([(70, 0, 480, 100)], [Control(240, EXPR, 80)], name="C2"))
    c = edits.concat_songs(first, second)
    offset = 1920                                                      # first ends inside bar 1
    assert [t.name for t in c.tracks] == ["A", "B", "C2"]
    assert cc(c.tracks[0].controls) == [(0, PEDAL, 127), (900, PEDAL, 0), (offset, PEDAL, 127),
                                        (offset + 480, PEDAL, 0)]
    assert cc(c.tracks[1].controls) == [(10, MOD, 1), (offset, MOD, 0), (offset, PITCH_BEND, -100)]   # wheel down
    assert cc(c.tracks[2].controls) == [(offset + 240, EXPR, 80)]     # only the second song's, moved
    assert [n.start_tick for n in c.tracks[2].notes] == [offset]


def test_concat_keeps_first_song_controls_when_second_has_fewer_tracks():
    first = song(piano([(60, 0, 480, 100)], [Control(0, PEDAL, 127)], name="A"),
                 piano([(48, 0, 480, 100)], [Control(100, MOD, 1)], name="B"))
    second = song(piano([(62, 0, 480, 100)], [Control(0, EXPR, 30)], name="A2"))
    c = edits.concat_songs(first, second)
    assert cc(c.tracks[0].controls) == [(0, PEDAL, 127), (1920, PEDAL, 0), (1920, EXPR, 30)]   # lifted for it
    assert cc(c.tracks[1].controls) == [(100, MOD, 1)]                # nothing follows on B: left as it was


def test_concat_rescales_the_second_songs_controls_first():
    first = song(piano([(60, 0, 1920, 100)], name="A"))                 # exactly one bar at 480 PPQ
    second = song(piano([(62, 0, 240, 100)], [Control(120, PITCH_BEND, 8191), Control(240, PITCH_BEND, 0)]),
                  ppq=240)
    c = edits.concat_songs(first, second)
    assert c.ppq == 480
    assert cc(c.tracks[0].controls) == [(1920 + 240, PITCH_BEND, 8191), (1920 + 480, PITCH_BEND, 0)]


def test_rescale_carries_controls_and_keeps_their_order():
    t = piano([(60, 0, 480, 100)],
              [Control(0, 101, 0), Control(0, 100, 0), Control(0, 6, 2), Control(240, PEDAL, 127),
               Control(481, MOD, 3), Control(479, MOD, 4)])
    up = edits.rescale_track(t, 480, 960)
    assert cc(up.controls) == [(0, 101, 0), (0, 100, 0), (0, 6, 2), (480, PEDAL, 127), (958, MOD, 4),
                               (962, MOD, 3)]
    down = edits.rescale_track(t, 480, 96)
    # 479 and 481 both round to 96: the earlier one stays first
    assert cc(down.controls) == [(0, 101, 0), (0, 100, 0), (0, 6, 2), (48, PEDAL, 127), (96, MOD, 4), (96, MOD, 3)]
    assert edits.rescale_track(t, 480, 480) is t


def test_rescale_song_and_merge_songs_carry_controls():
    s = song(piano([(60, 0, 480, 100)], [Control(240, PEDAL, 127), Control(480, PITCH_BEND, -8192)]))
    r = edits.rescale_song(s, 240)
    assert r.ppq == 240
    assert cc(r.tracks[0].controls) == [(120, PEDAL, 127), (240, PITCH_BEND, -8192)]
    merged = edits.merge_songs(song(piano([(72, 0, 960, 100)])), r)
    assert cc(merged.tracks[1].controls) == [(240, PEDAL, 127), (480, PITCH_BEND, -8192)]


def test_note_edits_leave_controls_alone():
    t = piano([(60, 10, 470, 100)], [Control(0, PEDAL, 127), Control(470, PEDAL, 0)])
    assert edits.transpose(t, 5).controls == t.controls
    assert edits.quantize(t, 480).controls == t.controls
    assert edits.remove_overlaps(t).controls == t.controls


# --- project file ---------------------------------------------------------------------------------------------

def controlled_song() -> Song:
    lead = piano([(72, 0, 960, 100)],
                 [Control(0, 101, 0), Control(0, 100, 0), Control(0, 6, 12), Control(0, PEDAL, 127),
                  Control(240, PITCH_BEND, -8192), Control(480, PITCH_BEND, 8191), Control(720, PITCH_BEND, 0),
                  Control(960, PEDAL, 0)], name="Lead", channel=2)
    pad = piano([(60, 0, 1920, 70)], [Control(0, EXPR, 40), Control(1000, MOD, 127)], name="Pad")
    return song(lead, pad, piano([(36, 0, 480, 100)], name="Bass")).replace(
        title="Controls", time_signatures=(TimeSignature(0, 3, 4),))


def test_project_round_trip_keeps_controls():
    s = controlled_song()
    back = loads(dumps(s))
    assert back == s
    assert cc(back.tracks[0].controls) == cc(s.tracks[0].controls)
    assert back.tracks[2].controls == ()


def test_project_stores_controls_as_tick_number_value_lists():
    d = json.loads(dumps(controlled_song()))
    assert d["tracks"][0]["controls"][:5] == [[0, 101, 0], [0, 100, 0], [0, 6, 12], [0, 64, 127],
                                              [240, 128, -8192]]
    assert d["tracks"][2]["controls"] == []
    assert song_to_dict(controlled_song())["tracks"][1]["controls"] == [[0, 11, 40], [1000, 1, 127]]


def test_old_project_without_controls_loads_with_none():
    d = song_to_dict(controlled_song())
    for t in d["tracks"]:
        del t["controls"]
    s = song_from_dict(d)
    assert all(t.controls == () for t in s.tracks)
    assert [t.notes for t in s.tracks] == [t.notes for t in controlled_song().tracks]


@pytest.mark.parametrize("bad", [
    [0, 64],                     # no value
    [0, 64, 300],                # value out of range
    [0, 7, 100],                 # the mixer's volume
    [-5, 64, 0],                 # before the start
    [0, 128, 9000],              # bend out of range
    [0, 200, 0],                 # no such controller
    ["x", 64, 0],                # not a number
    None,                        # not a list
    64,
])
def test_damaged_control_entry_raises_project_error(bad):
    d = song_to_dict(controlled_song())
    d["tracks"][1]["controls"].append(bad)
    with pytest.raises(ProjectError, match="damaged"):
        song_from_dict(d)
    with pytest.raises(ProjectError, match="damaged"):
        loads(json.dumps(d).encode("utf-8"))


def test_controls_that_are_not_a_list_raise_project_error():
    d = song_to_dict(controlled_song())
    d["tracks"][0]["controls"] = None
    with pytest.raises(ProjectError):
        song_from_dict(d)


def test_concat_starts_after_a_pedal_lifted_past_the_first_songs_last_bar():
    first = song(piano([(60, 0, 1900, 100)], [Control(0, PEDAL, 127), Control(2000, PEDAL, 0)], name="A"))
    second = song(piano([(62, 0, 480, 100)], [Control(0, PEDAL, 127)], name="A2"))
    c = edits.concat_songs(first, second)
    assert cc(c.tracks[0].controls) == [(0, PEDAL, 127), (2000, PEDAL, 0), (3840, PEDAL, 127)]
    assert [n.start_tick for n in c.tracks[0].notes] == [0, 3840]
