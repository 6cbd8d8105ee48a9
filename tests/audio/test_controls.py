"""A track's controller changes (sustain pedal, pitch bend and its range ...) through the shared event path, heard
in the real FluidSynth: they sound as written, and playback that starts, loops or is unmuted mid-song puts every
controller where the song has it there (chasing), so nothing is held or bent that should not be."""
from __future__ import annotations

import io

import numpy as np

from deepcomposer_desktop.audio.render import render_song
from deepcomposer_desktop.core.song import PITCH_BEND, Control, Note, Song, TempoChange, Track

from .test_scheduler import SR, Runner, rms

PEDAL = 64
BEAT = 480                       # ticks; 0.5 s at 120 BPM


def song_of(*tracks: Track) -> Song:
    return Song(tracks=tracks, tempos=(TempoChange(0, 120.0),))


FAR = (21, 40 * BEAT, 10)         # a note at 20 s keeps a song playing past every check (its end lifts pedals)


def piano(notes, controls=()) -> Track:
    return Track("Piano", 0, notes=tuple(Note.make(p, s, d, 100) for p, s, d in notes), controls=tuple(controls))


def peak_hz(x: np.ndarray, lo: float = 300.0, hi: float = 1000.0) -> float:
    mono = x[:, 0] * np.hanning(len(x))
    spec = np.abs(np.fft.rfft(mono, 1 << 17))
    freqs = np.fft.rfftfreq(1 << 17, 1 / SR)
    band = (freqs > lo) & (freqs < hi)
    return float(freqs[band][np.argmax(spec[band])])


def semitones(f: float, ref: float) -> float:
    return 12 * np.log2(f / ref)


def test_sustain_pedal_holds_released_notes_until_it_is_lifted(soundfont):
    short = [(60, 0, BEAT // 2)]                                   # a quarter-second note
    dry = render_song(song_of(piano(short)), soundfont, SR, effects=False)
    held = render_song(song_of(piano(short, [Control(0, PEDAL, 127), Control(4 * BEAT, PEDAL, 0)])), soundfont,
                       SR, effects=False)
    at = slice(int(0.8 * SR), int(1.0 * SR))                        # half a second after the key came up
    assert rms(held[at]) > 20 * max(rms(dry[at]), 1e-6)
    # lifted at 2 s: the note stops as if its key had come up there (the render ends with its release)
    assert rms(held[int(2.6 * SR):]) < 0.02 * rms(held[at])


def test_pitch_bend_and_its_range_from_the_tracks_rpn(soundfont):
    flute = lambda controls: Track("Flute", 73, notes=(Note.make(69, 0, 4 * BEAT, 100),),  # noqa: E731
                                   controls=tuple(controls))
    up = [Control(2 * BEAT, PITCH_BEND, 8191)]
    audio = render_song(song_of(flute(up)), soundfont, SR, effects=False)
    before, after = peak_hz(audio[int(0.3 * SR):int(0.9 * SR)]), peak_hz(audio[int(1.2 * SR):int(1.8 * SR)])
    assert abs(semitones(before, 440.0)) < 0.3
    assert abs(semitones(after, before) - 2.0) < 0.3               # the default range: 2 semitones
    octave = [Control(0, 101, 0), Control(0, 100, 0), Control(0, 6, 12)] + up     # RPN 0: range 12 semitones
    audio = render_song(song_of(flute(octave)), soundfont, SR, effects=False)
    after = peak_hz(audio[int(1.2 * SR):int(1.8 * SR)], 300.0, 1400.0)
    assert abs(semitones(after, 440.0) - 12.0) < 0.3


def pedal_song() -> Song:
    # pedal down at 0 s, up at 0.5 s, down again at 2 s; short notes at 1 s and 2.5 s
    return song_of(piano([(60, 2 * BEAT, 48), (60, 5 * BEAT, 48), FAR],
                         [Control(0, PEDAL, 127), Control(BEAT, PEDAL, 0), Control(4 * BEAT, PEDAL, 127)]))


def test_starting_mid_song_chases_the_pedal_both_ways(soundfont):
    r = Runner(soundfont, pedal_song())
    r.sched.start(2.3, 0)                        # pedal down since 2 s: the note at 2.5 s rings on
    audio = r.run(0.8)
    assert r.synth.channel_state(0, PEDAL) == 127
    ringing = rms(audio[int(0.5 * SR):int(0.7 * SR)])    # 0.3-0.5 s after the key came up
    r.synth.remove_pending(-1)
    r.sched.start(0.9, r.pos)                    # (as a swap_song does) pedal lifted at 0.5 s: the note at 1 s
    base = r.pos                                 # stops with its key
    audio = r.run(0.8)
    assert r.synth.channel_state(0, PEDAL) == 0
    quiet = rms(audio[int(0.4 * SR):int(0.6 * SR)])
    assert ringing > 1e-3 and quiet < 0.1 * ringing, (ringing, quiet)
    assert r.pos > base and r.late_ok()
    r.sched.start(2.3, r.pos)
    r.run(0.2)
    assert r.synth.channel_state(0, PEDAL) == 127
    r.sched.stop()                               # stop cuts the sound and lifts the pedal: nothing carries over
    r.run(0.1)
    assert r.synth.channel_state(0, PEDAL) == 0
    r.close()


def test_a_controller_not_yet_changed_goes_back_to_its_reset_value(soundfont):
    song = song_of(piano([(60, BEAT, 48), FAR], [Control(4 * BEAT, PEDAL, 127), Control(4 * BEAT, PITCH_BEND, -8192)]))
    r = Runner(soundfont, song)
    r.sched.start(2.2, 0)
    r.run(0.2)
    assert r.synth.channel_state(0, PEDAL) == 127 and r.synth.channel_state(0) == 0
    r.sched.stop()
    r.sched.start(0.0, r.pos)                    # from the top: before the song's first pedal and bend
    r.run(0.2)
    assert r.synth.channel_state(0, PEDAL) == 0
    assert r.synth.channel_state(0) == 8192      # the bend's centre
    r.close()


def test_each_loop_pass_starts_with_the_loop_starts_controllers(soundfont):
    # the pedal goes down at 1 s inside a 2 s loop: the note at 0.25 s must not be held on the next passes
    song = song_of(piano([(60, BEAT // 2, 48)], [Control(2 * BEAT, PEDAL, 127)]), )
    r = Runner(soundfont, song)
    r.sched.loop = (0.0, 2.0)
    r.sched.start(0.0, 0)
    audio = r.run(6.0)
    first = rms(audio[int(0.6 * SR):int(0.8 * SR)])
    for k in (1, 2):
        later = rms(audio[int((2 * k + 0.6) * SR):int((2 * k + 0.8) * SR)])
        assert later < 1.5 * first, (k, first, later)            # as dry as the first pass
    assert rms(audio[int(1.8 * SR):int(1.95 * SR)]) < 1e-3      # and nothing sustained hangs over the wrap
    r.close()


def test_unmuting_mid_song_chases_what_changed_while_muted(soundfont):
    song = song_of(piano([(60, 4 * BEAT, 48), FAR], [Control(BEAT, PEDAL, 127)]))
    r = Runner(soundfont, song)
    r.set_mix(0, mute=True)
    r.sched.start(0.0, 0)
    r.run(1.0)                                   # the pedal went down at 0.5 s, unheard
    assert r.synth.channel_state(0, PEDAL) == 0
    r.set_mix(0, mute=False)
    audio = r.run(2.0)
    assert r.synth.channel_state(0, PEDAL) == 127
    assert rms(audio[int(1.6 * SR):int(1.9 * SR)]) > 1e-3     # the note at 2 s rings on after its key is up
    r.close()


def test_of_several_changes_in_one_millisecond_the_last_wins(soundfont):
    # at PPQ 9600 and 120 BPM a tick is 52 microseconds: these land in one sequencer millisecond, where the
    # sequencer does not keep their order
    song = Song(ppq=9600, tempos=(TempoChange(0, 120.0),),
                tracks=(Track("Piano", 0, notes=(Note.make(60, 9600, 960, 100), Note.make(21, 9600 * 40, 10)),
                              controls=tuple(Control(9600 + i, PEDAL, v) for i, v in
                                             enumerate([127, 0, 127, 0, 127, 0, 127, 0, 127, 0, 127]))),))
    for _ in range(5):
        r = Runner(soundfont, song)
        r.sched.start(0.0, 0)
        r.run(0.8)
        assert r.synth.channel_state(0, PEDAL) == 127
        r.close()


def test_the_song_ends_where_the_pedal_is_lifted_and_a_pedal_left_down_is_lifted_there(soundfont):
    organ = lambda controls: song_of(Track("Organ", 19, notes=(Note.make(60, 0, BEAT, 100),),  # noqa: E731
                                           controls=tuple(controls)))
    lifted = render_song(organ([Control(0, PEDAL, 127), Control(3 * BEAT, PEDAL, 0)]), soundfont, SR,
                         effects=False)
    held = rms(lifted[int(0.2 * SR):int(0.4 * SR)])
    assert rms(lifted[int(1.2 * SR):int(1.4 * SR)]) > 0.5 * held          # held by the pedal after its key (0.5 s)
    assert len(lifted) < int(2.1 * SR)                                   # ...up to 1.5 s, then released
    assert rms(lifted[-SR // 20:]) < 0.01 * held
    r = Runner(soundfont, organ([Control(0, PEDAL, 127)]))                # the file never lifts it
    r.sched.start(0.0, 0)
    audio = r.run(1.5)
    assert r.sched.finished_at is not None and r.synth.channel_state(0, PEDAL) == 0
    assert rms(audio[int(1.2 * SR):]) < 0.01 * held and r.synth.active_voices == 0
    r.close()


def test_a_volume_fade_in_a_midi_file_plays_as_written(soundfont):
    # a file whose organ drops from volume 100 to 40 at 1 s: the track's fader is 100 and the drop comes back as
    # expression, and the render sounds as the same organ does at a steady fader of 100, then of 40
    import mido

    from deepcomposer_desktop.midi.io import midi_bytes, read_midi
    mf = mido.MidiFile(type=0, ticks_per_beat=BEAT)
    mf.tracks.append(mido.MidiTrack([
        mido.Message("program_change", program=16), mido.Message("control_change", control=7, value=100),
        mido.Message("note_on", note=60, velocity=100), mido.Message("control_change", control=7, value=40,
                                                                     time=2 * BEAT),
        mido.Message("note_off", note=60, time=2 * BEAT)]))
    buf = io.BytesIO()
    mf.save(file=buf)
    faded = read_midi(buf.getvalue())
    assert faded.tracks[0].volume == 100
    got = render_song(faded, soundfont, SR, effects=False)
    steady = [render_song(song_of(Track("Organ", 16, notes=(Note.make(60, 0, 4 * BEAT, 100),), volume=v)),
                          soundfont, SR, effects=False) for v in (100, 40)]
    early, late = slice(int(0.5 * SR), int(0.9 * SR)), slice(int(1.3 * SR), int(1.9 * SR))
    assert abs(rms(got[early]) / rms(steady[0][early]) - 1) < 0.03
    assert abs(rms(got[late]) / rms(steady[1][late]) - 1) < 0.03
    assert rms(steady[1][late]) < 0.5 * rms(steady[0][late])          # the fade is heard at all
    assert read_midi(midi_bytes(faded)) == faded                        # and exported as it plays


def _pitch_wobble(x: np.ndarray, start: float, end: float) -> float:
    """Standard deviation, in cents, of the strongest partial between 300 and 1000 Hz over 50 ms windows."""
    n = int(0.05 * SR)
    peaks = [peak_hz(x[s:s + n]) for s in range(int(start * SR), int(end * SR) - n, n)]
    return float(np.std(12 * 100 * np.log2(np.array(peaks) / 440.0)))


def test_aftertouch_from_a_file_or_a_take_adds_vibrato_until_it_is_let_go(soundfont):
    from deepcomposer_desktop.core.song import CHANNEL_PRESSURE
    organ = lambda controls: song_of(Track("Organ", 16, notes=(Note.make(69, 0, 8 * BEAT, 100),),  # noqa: E731
                                           controls=tuple(controls)))
    plain = render_song(organ([]), soundfont, SR, effects=False)
    pressed = render_song(organ([Control(0, CHANNEL_PRESSURE, 127), Control(4 * BEAT, CHANNEL_PRESSURE, 0)]),
                          soundfont, SR, effects=False)
    calm = _pitch_wobble(plain, 0.3, 1.9)
    assert _pitch_wobble(pressed, 0.3, 1.9) > 2.5 * calm                 # FluidSynth: pressure -> vibrato depth
    assert _pitch_wobble(pressed, 2.3, 3.9) < 1.5 * calm + 2             # let go at 2 s: steady again
