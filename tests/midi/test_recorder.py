"""Recording as pure functions: decode, takes, replace/overdub, loop takes, input quantize, sustain, chord mode."""
import pytest

from deepcomposer_desktop.core.song import KeySignature, Note, Song, SongError, TempoChange, Track
from deepcomposer_desktop.midi.recorder import (OVERDUB, REPLACE, ChordExpander, Control, DeviceLost,
                                                InputQuantize, NoteOff, NoteOn, PitchBend, Recording, Sustain,
                                                Take, TakeRecorder, apply_recording, apply_take, chord_table,
                                                count_in_seconds, decode, expand_chords, grid_ticks, triad,
                                                takes_as_tracks)

BEAT = 0.5          # seconds per quarter note at 120 BPM; 480 ticks


def song(*notes, bpm=120.0):
    return Song(tracks=(Track("Melody", notes=tuple(notes)), Track("Bass", program=33)),
                tempos=(TempoChange(0, bpm),))


def play(*items):
    """(pitch, start_beat, length_beats[, velocity]) -> NoteOn/NoteOff events at 120 BPM, in time order."""
    events = []
    for it in items:
        pitch, start, length = it[:3]
        vel = it[3] if len(it) > 3 else 100
        events.append(NoteOn(start * BEAT, pitch, vel))
        events.append(NoteOff((start + length) * BEAT, pitch))
    return sorted(events, key=lambda e: e.time_sec)


def shape(notes):
    return [(n.pitch, n.start_tick, n.duration_tick) for n in notes]


def test_decode_channel_messages():
    assert decode([0x93, 60, 100], 1.0) == NoteOn(1.0, 60, 100, 3)
    assert decode(bytes([0x90, 60, 0]), 1.0) == NoteOff(1.0, 60, 0)
    assert decode([0x80, 61, 40], 0.0) == NoteOff(0.0, 61, 0)
    assert decode([0xB0, 64, 64], 0.0) == Sustain(0.0, True) and decode([0xB0, 64, 63], 0.0) == Sustain(0.0, False)
    assert decode([0xB0, 1, 90], 0.0) == Control(0.0, 1, 90)
    assert decode([0xE0, 0, 64], 0.0) == PitchBend(0.0, 0)
    assert decode([0xE0, 0x7F, 0x7F], 0.0) == PitchBend(0.0, 8191)
    assert decode([0xE0, 0, 0], 0.0) == PitchBend(0.0, -8192)
    assert decode([0xD2, 0x45], 0.0) == Control(0.0, 129, 0x45, 2)          # aftertouch: CHANNEL_PRESSURE
    for junk in ([0xF8], [], [0xF0, 1, 2, 0xF7], [0x90, 60], [0xC0, 5]):
        assert decode(junk, 0.0) is None


def test_simple_take_in_song_ticks_with_start_offset():
    rec = TakeRecorder(song(), start_tick=1920, start_sec=100.0)
    events = [NoteOn(100.0 + e.time_sec, e.pitch, e.velocity) if isinstance(e, NoteOn)
              else NoteOff(100.0 + e.time_sec, e.pitch) for e in play((60, 0, 1, 80), (62, 1, 0.5), (64, 2, 2))]
    assert rec.feed(events) is None
    result = rec.stop(100.0 + 5 * BEAT)
    (take,) = result.takes
    assert result.reason == "stopped" and take.start_tick == 1920 and take.end_tick == 1920 + 5 * 480
    assert shape(take.notes) == [(60, 1920, 480), (62, 2400, 240), (64, 2880, 960)]
    assert take.notes[0].velocity == 80


def test_tempo_map_is_honoured():
    s = Song(tracks=(Track(),), tempos=(TempoChange(0, 120.0), TempoChange(960, 60.0)))
    rec = TakeRecorder(s, start_tick=0, start_sec=0.0)
    # 960 ticks at 120 BPM take 1 s; then 480 ticks per second
    rec.feed([NoteOn(1.5, 60, 100), NoteOff(2.0, 60)])
    assert shape(rec.stop(2.0).takes[0].notes) == [(60, 1200, 240)]


def test_count_in_notes_are_ignored_and_pre_roll_lands_on_start():
    s = song()
    assert count_in_seconds(s, 0, 1) == pytest.approx(2.0) and count_in_seconds(s, 0, 0) == 0.0
    rec = TakeRecorder(s, start_tick=0, start_sec=2.0, pre_roll_sec=0.1)
    rec.feed([NoteOn(0.5, 50, 100), NoteOff(0.8, 50),       # during the count-in: ignored
              NoteOn(1.95, 60, 100), NoteOff(2.5, 60)])     # a hair early: lands on the start
    assert shape(rec.stop(3.0).takes[0].notes) == [(60, 0, 480)]


def test_sustain_lengthens_released_notes_until_pedal_up():
    rec = TakeRecorder(song(), start_tick=0, start_sec=0.0)
    rec.feed([NoteOn(0.0, 60, 100), Sustain(0.1, True), NoteOff(0.25, 60), NoteOn(0.5, 64, 100),
              NoteOff(0.75, 64), Sustain(1.0, False), NoteOn(1.0, 67, 100), NoteOff(1.25, 67)])
    assert shape(rec.stop(2.0).takes[0].notes) == [(60, 0, 960), (64, 480, 480), (67, 960, 240)]
    plain = TakeRecorder(song(), start_tick=0, start_sec=0.0, apply_sustain=False)
    plain.feed([NoteOn(0.0, 60, 100), Sustain(0.1, True), NoteOff(0.25, 60)])
    assert shape(plain.stop(2.0).takes[0].notes) == [(60, 0, 240)]


def test_repeated_note_and_held_note_at_stop():
    rec = TakeRecorder(song(), start_tick=0, start_sec=0.0)
    rec.feed([NoteOn(0.0, 60, 100), NoteOn(0.5, 60, 90), NoteOn(1.0, 62, 100)])
    result = rec.stop(1.5)
    assert shape(result.takes[0].notes) == [(60, 0, 480), (60, 480, 960), (62, 960, 480)]
    assert rec.stop(9.0) is result          # stopping twice changes nothing


def test_replace_and_overdub():
    old = (Note.make(48, 0, 480), Note.make(50, 480, 960), Note.make(52, 2400, 480), Note.make(53, 3840, 480))
    s = song(*old)
    take = Take(index=0, start_tick=960, end_tick=2880, notes=(Note.make(60, 960, 480),))
    replaced = apply_take(s.tracks[0], take, REPLACE)
    # 50 reached into the range and is cut at its start; 52 started inside and is gone; 48 and 53 stay
    assert shape(replaced.notes) == [(48, 0, 480), (50, 480, 480), (60, 960, 480), (53, 3840, 480)]
    overdubbed = apply_take(s.tracks[0], take, OVERDUB)
    assert len(overdubbed.notes) == 5 and set(old) < set(overdubbed.notes)
    assert s.tracks[0].notes == old         # the input is untouched
    with pytest.raises(SongError):
        apply_take(s.tracks[0], take, "punch")
    out = apply_recording(s, 1, Recording((take,)), OVERDUB)
    assert out.tracks[0] == s.tracks[0] and shape(out.tracks[1].notes) == [(60, 960, 480)]
    assert apply_recording(s, 0, Recording(())) is s
    with pytest.raises(SongError):
        apply_recording(s, 5, Recording((take,)))


def test_loop_recording_keeps_every_take():
    loop = (1920, 3840)          # bar 2: 2 s long at 120 BPM
    rec = TakeRecorder(song(), start_tick=1920, start_sec=0.0, loop=loop)
    events = [NoteOn(0.0, 60, 100), NoteOff(0.5, 60),            # pass 0
              NoteOn(2.25, 62, 100), NoteOff(2.5, 62),           # pass 1
              NoteOn(3.5, 64, 100), NoteOff(4.5, 64),            # held across the loop end into pass 2
              NoteOn(4.75, 65, 100)]                             # still held when stopped in pass 2
    rec.feed(events)
    result = rec.stop(5.0)
    assert [t.index for t in result.takes] == [0, 1, 2]
    t0, t1, t2 = result.takes
    assert (t0.start_tick, t0.end_tick, t0.complete) == (1920, 3840, True)
    assert shape(t0.notes) == [(60, 1920, 480)]
    assert shape(t1.notes) == [(62, 2160, 240), (64, 3360, 480)]
    assert shape(t2.notes) == [(64, 1920, 480), (65, 2640, 240)]
    assert (t2.start_tick, t2.end_tick, t2.complete) == (1920, 2880, False)
    # every take is kept as its own muted track; the last one goes into the track
    extra = takes_as_tracks(Track("Melody", program=5), result)
    assert [t.name for t in extra] == ["Melody take 1", "Melody take 2", "Melody take 3"]
    assert all(t.mute and t.program == 5 for t in extra)
    s = apply_recording(song(Note.make(40, 2000, 100)), 0, result, REPLACE, take_index=1)
    assert shape(s.tracks[0].notes) == [(62, 2160, 240), (64, 3360, 480)]


def test_loop_must_contain_the_start():
    with pytest.raises(SongError):
        TakeRecorder(song(), start_tick=0, start_sec=0.0, loop=(1920, 3840))
    with pytest.raises(SongError):
        TakeRecorder(song(), start_tick=0, start_sec=0.0, loop=(0, 0))


@pytest.mark.parametrize("grid,step", [("1/8", 240), ("1/16", 120), ("1/8T", 160)])
def test_input_quantize_grids(grid, step):
    assert grid_ticks(grid, 480) == step
    rec = TakeRecorder(song(), start_tick=0, start_sec=0.0, quantize=InputQuantize(grid, 1.0))
    late = (step + 30) / 960.0                     # 30 ticks after the second grid line
    rec.feed([NoteOn(late, 60, 100), NoteOff(late + 0.25, 60)])
    (note,) = rec.stop(2.0).takes[0].notes
    assert note.start_tick == step and note.duration_tick == 240


def test_input_quantize_strength_and_bad_settings():
    rec = TakeRecorder(song(), start_tick=0, start_sec=0.0, quantize=InputQuantize("1/16", 0.5))
    rec.feed([NoteOn(100 / 960, 60, 100), NoteOff(0.5, 60)])     # tick 100, grid line 120
    assert rec.stop(1.0).takes[0].notes[0].start_tick == 110
    with pytest.raises(SongError):
        InputQuantize("1/5")
    with pytest.raises(SongError):
        InputQuantize("1/8", 1.5)


def test_quantize_before_loop_downbeat_wraps_to_loop_start():
    rec = TakeRecorder(song(), start_tick=0, start_sec=0.0, loop=(0, 1920), quantize=InputQuantize("1/8"))
    rec.feed([NoteOn(1.99, 60, 100), NoteOff(1.999, 60)])        # tick 1910 of the first pass
    (take,) = rec.stop(2.2).takes
    assert take.index == 0 and take.notes[0].start_tick == 0


def test_punch_out_and_device_lost():
    rec = TakeRecorder(song(), start_tick=0, start_sec=0.0, stop_tick=960)
    result = rec.feed([NoteOn(0.0, 60, 100), NoteOn(0.75, 62, 100), NoteOn(1.5, 64, 100)])
    assert result.reason == "punch out" and shape(result.takes[0].notes) == [(60, 0, 960), (62, 720, 240)]
    rec = TakeRecorder(song(), start_tick=0, start_sec=0.0)
    result = rec.feed([NoteOn(0.0, 60, 100), DeviceLost(0.5, "Keys"), NoteOn(0.75, 62, 100)])
    assert result.reason == "device lost" and shape(result.takes[0].notes) == [(60, 0, 480)]


def test_triads_in_key():
    assert triad(60, "C") == (60, 64, 67)         # I
    assert triad(62, "C") == (62, 65, 69)         # ii
    assert triad(71, "C") == (71, 74, 77)         # vii dim
    assert triad(67, "G") == (67, 71, 74)
    assert triad(66, "G") == (66, 69, 72)         # F# in G: diminished
    assert triad(57, "Am") == (57, 60, 64)
    assert triad(64, "Am") == (64, 67, 71)        # natural minor v
    assert triad(70, "C") == (70, 74, 77)         # B flat, outside C major: major (bVII)
    assert triad(60, KeySignature(0, "Eb")) == (60, 63, 67)
    assert triad(126, "C") == (126,)
    assert triad(60, None) == (60, 64, 67)
    assert len(chord_table("F#m")) == 128
    with pytest.raises(SongError):
        triad(60, "H")


def test_chord_expander_reference_counts():
    ex = ChordExpander(chord_table("C"))
    assert ex.press(60) == (60, 64, 67)
    assert ex.press(64) == (71,)                  # E and G already sound
    assert ex.release(60) == (60,)
    assert ex.release(64) == (64, 67, 71)
    assert ex.release(64) == (64,)                # unknown key up: pass through
    ex.press(65)
    assert ex.release_all() == (65, 69, 72) and ex.release_all() == ()
    off = ChordExpander(None)
    assert off.press(61) == (61,) and off.release(61) == (61,)


def test_a_key_held_on_several_channels_is_one_key():
    ex = ChordExpander(None)
    assert [ex.press(65, ch) for ch in range(16)] == [(65,)] + [()] * 15     # sounds once
    assert [ex.release(65, ch) for ch in range(15)] == [()] * 15            # still held on channel 15
    assert ex.release(65, 15) == (65,) and ex.release_all() == ()             # released once
    assert ex.press(60, 2) == (60,) and ex.press(60, 2) == (60,)            # struck again on its channel
    assert ex.press(60, 5) == () and ex.release(60, 9) == ()                # let go on a channel it changed to
    assert ex.release(60, 2) == (60,)
    chords = ChordExpander(chord_table("C"))
    assert chords.press(60, 0) == (60, 64, 67) and chords.press(60, 1) == ()
    assert chords.release(60, 0) == () and chords.release(60, 1) == (60, 64, 67)


def test_data_bytes_above_127_make_a_message_malformed():
    for bad in ([0x90, 200, 100], [0x90, 62, 128], [0x90, 63, 255], [0x80, 200, 0], [0xB0, 64, 200],
                [0xB0, 130, 5], [0xE0, 0, 0x80], [0xD0, 200], bytes([0x91, 60, 0x90])):
        assert decode(bad, 0.0) is None, bad
    rec = TakeRecorder(song(), start_tick=0, start_sec=0.0)       # velocity 128 was a NoteOn of velocity 0
    rec.feed([decode([0x90, 62, 128], 0.1), decode([0x90, 64, 127], 0.1), decode([0x80, 64, 0], 0.6)])
    assert shape(rec.stop(1.0).takes[0].notes) == [(64, 96, 480)]


def test_expand_chords_then_record():
    events = expand_chords(play((60, 0, 1), (62, 1, 1)), "C")
    rec = TakeRecorder(song(), start_tick=0, start_sec=0.0)
    rec.feed(events)
    assert shape(rec.stop(1.0).takes[0].notes) == [(60, 0, 480), (64, 0, 480), (67, 0, 480),
                                                   (62, 480, 480), (65, 480, 480), (69, 480, 480)]


def test_pitch_bend_and_mod_wheel_are_recorded_as_the_takes_controllers():
    from deepcomposer_desktop.core.song import PITCH_BEND, Control as SongControl
    rec = TakeRecorder(song(), start_tick=0, start_sec=10.0)
    events = [NoteOn(10.0, 60, 100), PitchBend(10.0 + BEAT, 4096), Control(10.0 + BEAT, 1, 90),
              Control(10.0 + BEAT, 7, 20),                      # volume belongs to the mixer: not recorded
              PitchBend(10.0 + 2 * BEAT, 8191), NoteOff(10.0 + 3 * BEAT, 60)]
    rec.feed(events)
    (take,) = rec.stop(10.0 + 4 * BEAT).takes
    assert take.controls == (SongControl(480, PITCH_BEND, 4096), SongControl(480, 1, 90),
                             SongControl(960, PITCH_BEND, 8191),
                             SongControl(1920, PITCH_BEND, 0),    # the bender was still up: centred at the end
                             SongControl(1920, 1, 0))             # and the mod wheel down
    # replace: the take's bends replace the track's in its range, the track's pedal stays; after the take the
    # bend is back where the track had it (-100 from tick 240), not centred
    track = Track("Melody", controls=(SongControl(0, 64, 127), SongControl(240, PITCH_BEND, -100),
                                      SongControl(2400, PITCH_BEND, 50)))
    out = apply_take(track, take, REPLACE)
    assert [(c.tick, c.number, c.value) for c in out.controls] == [
        (0, 64, 127), (480, PITCH_BEND, 4096), (480, 1, 90), (960, PITCH_BEND, 8191), (1920, 1, 0),
        (1920, PITCH_BEND, -100), (2400, PITCH_BEND, 50)]
    assert len(apply_take(track, take, OVERDUB).controls) == 3 + 5
    assert takes_as_tracks(track, Recording((take,)))[0].controls == take.controls


def test_aftertouch_is_recorded_and_let_go_where_the_take_ends():
    from deepcomposer_desktop.core.song import CHANNEL_PRESSURE, Control as SongControl
    rec = TakeRecorder(song(), start_tick=0, start_sec=10.0)
    rec.feed([NoteOn(10.0, 60, 100), decode([0xD0, 40], 10.0 + BEAT), decode([0xD0, 90], 10.0 + 2 * BEAT),
              NoteOff(10.0 + 3 * BEAT, 60)])
    (take,) = rec.stop(10.0 + 4 * BEAT).takes
    assert take.controls == (SongControl(480, CHANNEL_PRESSURE, 40), SongControl(960, CHANNEL_PRESSURE, 90),
                             SongControl(1920, CHANNEL_PRESSURE, 0))      # still pressed: released at the end


def test_replacing_a_passage_leaves_the_controllers_after_it_as_they_were():
    from deepcomposer_desktop.core.song import Control as SongControl
    rec = TakeRecorder(song(), start_tick=1920, start_sec=0.0)
    rec.feed([NoteOn(0.0, 60, 100), Control(0.1, 11, 30), Control(0.2, 74, 90), NoteOff(0.5, 60)])
    (take,) = rec.stop(4 * BEAT).takes
    assert (take.start_tick, take.end_tick) == (1920, 3840)
    track = Track("Pad", notes=(Note.make(48, 0, 7680, 80),),
                  controls=(SongControl(0, 11, 100), SongControl(2000, 11, 60), SongControl(3840, 74, 10)))
    out = apply_take(track, take, REPLACE)
    after = [(c.tick, c.number, c.value) for c in out.controls if c.tick >= 3840]
    # expression back to 60 (the track's value at the take's end, though set inside it); CC 74 changes right at
    # the end anyway, so nothing is added for it
    assert after == [(3840, 74, 10), (3840, 11, 60)]
    fresh = apply_take(Track("Lead"), take, REPLACE)
    assert [(c.tick, c.number, c.value) for c in fresh.controls if c.tick >= 3840] == [(3840, 11, 127),
                                                                                         (3840, 74, 0)]


def test_a_take_of_only_bends_is_still_a_take():
    rec = TakeRecorder(song(), start_tick=0, start_sec=0.0)
    rec.feed([PitchBend(0.2, 100), PitchBend(0.4, 0)])
    (take,) = rec.stop(1.0).takes
    assert take.notes == () and len(take.controls) == 2
