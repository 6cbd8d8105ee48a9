"""The shared event path driven offline step by step (as the engine's feeder drives it live): mute cuts at once,
unmute brings a track back, stop/all-notes-off leaves silence, loops leave no stuck notes, count-in clicks."""
from __future__ import annotations

import numpy as np

from deepcomposer_desktop.audio.events import count_in_events, song_events, with_metronome
from deepcomposer_desktop.audio.mixer import Mix, apply_channels, audible_mask, mixes_of, setup_metronome
from deepcomposer_desktop.audio.scheduler import Scheduler, align_start
from deepcomposer_desktop.audio.synth import Synth
from deepcomposer_desktop.core.song import Note, Song, TempoChange, TimeSignature, Track
from deepcomposer_desktop.core.timing import TempoMap

SR = 48000
BLOCK = 256


class Runner:
    """Synth + Scheduler rendered block by block, like the live feeder and FluidSynth's driver together."""

    def __init__(self, soundfont: str, song: Song, metronome: bool = False) -> None:
        self.synth = Synth(soundfont, SR, reverb=False, chorus=False)
        self.mixes = mixes_of(song)
        for i, m in enumerate(self.mixes):
            apply_channels(self.synth, i, m)
        setup_metronome(self.synth)
        self.song = song
        self.sched = Scheduler(self.synth, SR)
        events = with_metronome(song_events(song), song, song.end_tick + song.bar_ticks)
        self.sched.set_events(events, TempoMap.of(song).tick_to_seconds(song.end_tick), len(song.tracks))
        self.sched.audible = audible_mask(self.mixes, metronome)
        self.pos = 0
        self.chunks: list[np.ndarray] = []

    def run(self, seconds: float) -> np.ndarray:
        n = int(seconds * SR) // BLOCK
        out = np.zeros((n * BLOCK, 2), np.float32)
        for i in range(n):
            self.sched.pump(self.pos + SR // 4)
            self.synth.write_float(out, i * BLOCK, BLOCK)
            self.pos += BLOCK
        self.chunks.append(out)
        return out

    def set_mix(self, index: int, **kw) -> None:
        mixes = list(self.mixes)
        mixes[index] = mixes[index].with_changes(**kw)
        self.mixes = tuple(mixes)
        self.sched.set_audible(audible_mask(self.mixes, bool(self.sched.audible[0])), self.pos)

    def late_ok(self) -> bool:
        return self.sched.late_events == 0

    def close(self) -> None:
        self.synth.close()


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def organ_song() -> Song:
    long = lambda p: Note.make(p, 0, 480 * 16, 100)  # noqa: E731  (8 s at 120 BPM)
    return Song(tracks=(Track("Organ", program=19, notes=(long(60), long(64))),
                        Track("Strings", program=48, notes=(long(43),))),
                tempos=(TempoChange(0, 120.0),))


def test_mute_cuts_sounding_notes_within_one_block_and_unmute_brings_them_back(soundfont):
    r = Runner(soundfont, organ_song())
    r.sched.start(0.0, 0)
    r.run(0.5)
    assert r.synth.active_voices > 0
    r.set_mix(0, mute=True)
    r.set_mix(1, mute=True)
    after = r.run(0.1)
    assert r.synth.active_voices == 0
    assert np.abs(after[BLOCK:]).max() < 1e-6          # silent from the next block on
    # unmuting schedules the tracks' future events again (here: the note-offs; no new note-ons are due)
    r.set_mix(0, mute=False)
    assert r.synth.active_voices == 0
    r.close()


def test_solo_change_while_playing(soundfont):
    a = Track("A", program=0, notes=tuple(Note.make(72, i * 240, 200, 100) for i in range(16)))
    b = Track("B", program=0, notes=tuple(Note.make(48, i * 240, 200, 100) for i in range(16)))
    r = Runner(soundfont, Song(tracks=(a, b), tempos=(TempoChange(0, 120.0),)))
    r.sched.start(0.0, 0)
    both = r.run(0.5)
    r.set_mix(1, solo=True)
    solo = r.run(1.0)
    assert rms(solo) > 1e-3                                   # B still plays
    # from the next block on, what B alone sounds like: A was cut and nothing else changed (FluidSynth's voice
    # slots differ between the two runs, so a few samples at B's onsets differ by well under 1 %)
    ref = Runner(soundfont, Song(tracks=(b,), tempos=(TempoChange(0, 120.0),)))
    ref.sched.start(0.0, 0)
    alone = ref.run(1.5)[len(both):len(both) + len(solo)]
    peak = np.abs(alone).max()
    assert np.abs(solo[BLOCK:] - alone[BLOCK:]).max() < 0.01 * peak
    assert np.abs(both - ref.chunks[0][: len(both)]).max() > 0.2 * peak   # ...and before the solo A was there
    ref.close()
    r.close()


def test_stop_and_all_notes_off_leave_silence(soundfont):
    r = Runner(soundfont, organ_song())
    r.sched.start(0.0, 0)
    assert rms(r.run(0.5)) > 1e-3
    r.sched.stop()
    tail = r.run(0.5)
    assert r.synth.active_voices == 0
    assert np.abs(tail[BLOCK:]).max() < 1e-6
    # nothing pending either: much later it is still silent
    assert np.abs(r.run(1.0)).max() < 1e-6
    r.close()


def test_the_songs_last_notes_are_released_at_its_end(soundfont):
    # the last note-offs fall exactly on the song's end: they must be sent, or an organ drones on after the song
    song = Song(tracks=(Track("Organ", program=19, notes=(Note.make(60, 0, 960, 100), Note.make(64, 480, 480, 100))),),
                tempos=(TempoChange(0, 120.0),))
    r = Runner(soundfont, song)
    r.sched.start(0.0, 0)
    audio = r.run(2.0)
    assert r.sched.finished_at is not None and r.late_ok()
    held = rms(audio[SR // 2:SR * 9 // 10])
    assert held > 1e-3
    assert rms(audio[int(1.6 * SR):]) < 0.01 * held          # released at 1 s, its release over by 1.6 s
    assert r.synth.active_voices == 0
    r.close()


def test_loop_releases_notes_at_the_loop_end_and_never_sticks(soundfont):
    # one bar loop; a sustained organ chord starts on beat 3 and would last 4 bars
    song = Song(tracks=(Track("Organ", program=19, notes=(Note.make(60, 960, 480 * 16, 100),
                                                           Note.make(67, 960, 480 * 16, 100))),),
                tempos=(TempoChange(0, 120.0),))
    r = Runner(soundfont, song)
    r.sched.loop = (0.0, 2.0)                           # bar 1 (4 beats at 120 BPM = 2 s)
    r.sched.start(0.0, 0)
    audio = r.run(6.0)                                   # three passes
    beat = SR // 2
    sounding = rms(audio[int(2.5 * beat):int(3.5 * beat)])           # pass 1, beats 3-4: chord
    after_wrap = rms(audio[4 * beat + beat // 2:4 * beat + 2 * beat])  # pass 2, beats 1-2: released
    assert sounding > 1e-3
    assert after_wrap < 0.1 * sounding
    assert r.synth.active_voices <= 4
    r.sched.loop = None
    r.sched.stop()
    r.run(0.2)
    assert r.synth.active_voices == 0
    r.close()


def test_a_note_struck_in_the_last_millisecond_before_the_loop_end_does_not_ring_on(soundfont):
    # played a hair early for the next downbeat, as recorded MIDI often is: it used to follow the loop's release
    # and sound through the whole next pass
    for start in (1919, 1900):
        song = Song(tracks=(Track("Organ", program=19, notes=(Note.make(72, start, 200, 100),)),),
                    tempos=(TempoChange(0, 120.0),))
        r = Runner(soundfont, song)
        r.sched.loop = (0.0, 2.0)
        r.sched.start(0.0, 0)
        audio = r.run(4.0)
        assert rms(audio[int(2.3 * SR):int(3.8 * SR)]) < 1e-4, start        # the next pass: silence
        r.close()


def test_mute_and_unmute_after_the_wrap_is_scheduled_still_release_at_the_loop_end(soundfont):
    # the organ note starts before the loop end and lasts past it; the wrap (and its release) is already
    # scheduled when the track is muted and unmuted: muting dropped that release with the track's other events
    song = Song(tracks=(Track("Organ", program=19, notes=(Note.make(72, 1800, 480, 100),)),
                        Track("Other", program=0, notes=(Note.make(48, 0, 100, 1),))),
                tempos=(TempoChange(0, 120.0),))
    r = Runner(soundfont, song)
    r.sched.loop = (0.0, 2.0)
    r.sched.start(0.0, 0)
    r.run(1.8)                                           # the look-ahead (0.25 s) reaches past the wrap at 2 s
    r.set_mix(0, mute=True)
    r.run(0.02)
    r.set_mix(0, mute=False)                             # before the note: it is sent again
    audio = r.run(2.2)                                   # 1.82 s to 4.02 s
    first = rms(audio[int(0.08 * SR):int(0.16 * SR)])                 # 1.90-1.98 s: the note sounds
    next_pass = rms(audio[int(0.48 * SR):int(1.88 * SR)])             # 2.3-3.7 s: released at the loop end
    assert first > 1e-3 and next_pass < 1e-4, (first, next_pass)
    r.close()


def test_metronome_accent_and_count_in(soundfont):
    song = Song(tracks=(Track("Empty", notes=()),), tempos=(TempoChange(0, 120.0),),
                time_signatures=(TimeSignature(0, 3, 4),))
    clicks, length = count_in_events(song, 0, 2)
    assert abs(length - 3.0) < 1e-9                                  # 2 bars of 3/4 at 120 BPM
    on = clicks[clicks["kind"] == 1]
    assert list(on["pitch"]) == [76, 77, 77, 76, 77, 77]               # accent on beat 1 of each bar
    assert on["vel"][0] > on["vel"][1]
    r = Runner(soundfont, song, metronome=False)
    r.sched.start(0.0, 0, (clicks, length))
    audio = r.run(3.0)
    beat = SR // 2
    levels = [np.abs(audio[i * beat:i * beat + beat // 4]).max() for i in range(6)]
    assert min(levels) > 1e-3                              # every count-in click sounds, metronome off or not
    assert r.sched.sec_at(beat) == 0.0                     # during the count-in the position stays at the start
    r.close()


def test_live_start_aligned_matches_offline_dispatch():
    assert align_start(1, 48000) == 192 and align_start(192, 48000) == 192
    assert align_start(100, 44100) == 128


def test_mix_validation():
    m = Mix()
    assert m.with_changes(volume=20).volume == 20
    import pytest
    with pytest.raises(ValueError, match="volume"):
        m.with_changes(volume=300)
    with pytest.raises(ValueError, match="pan"):
        m.with_changes(pan=True)


def test_loop_set_behind_the_playhead_does_not_jump_back_at_once(soundfont):
    notes = tuple(Note.make(60 + i % 12, i * 480, 400, 100) for i in range(16))
    r = Runner(soundfont, Song(tracks=(Track("A", notes=notes),), tempos=(TempoChange(0, 120.0),)))
    r.sched.start(0.0, 0)
    r.run(3.0)
    r.sched.loop = (0.0, 1.0)                      # a loop that ends before where we are (3 s)
    r.run(1.0)
    assert r.late_ok()
    sec = r.sched.sec_at(r.pos)
    assert 3.5 < sec < 4.5                         # kept going forward, no burst of past events
    r.close()
