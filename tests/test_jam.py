"""Live-jam loop logic: notes injected with playhead ticks, the playhead driven by hand through loop passes; the band
comes from a recording stub (exact timing logic) and from tiny untrained GAN generators (the real path)."""
from __future__ import annotations

import threading

import pytest

from deepcomposer_desktop.core.song import Track
from deepcomposer_desktop.jam import (MAX_JAM_BARS, PHRASE_NAME, JamError, JamSession, band_for_phrase, jam_song,
                                      phrase_from_song)
from tests.builders import song, track
from tests.test_audition import tiny_model_dir, tiny_models  # noqa: F401  (fixtures)

BAR = 1920            # 4/4 at 480 ppq; 120 bpm: 960 ticks a second


def template():
    return song(track("Lead", [(60, 0, 480, 90)], program=73), bpm=120)


class Stub:
    """Records the phrases it is asked to accompany and answers with one bass note per phrase note."""

    def __init__(self, gate: threading.Event | None = None):
        self.phrases, self.gate = [], gate

    def __call__(self, phrase, genre, seed):
        if self.gate is not None:
            self.gate.wait(5)
        self.phrases.append((phrase, genre, seed))
        notes = tuple(n.__class__(n.start_tick, n.pitch - 24, n.duration_tick, 80) for n in phrase.tracks[0].notes)
        return (Track("Bass", program=33, notes=notes),)


def run_pass(jam, ticks):
    out = []
    for t in ticks:
        s = jam.poll(t)
        if s is not None:
            out.append((t, s))
    return out


def test_phrase_of_a_pass_is_generated_before_the_loop_end_and_swapped_in_just_before_it():
    stub = Stub()
    jam = JamSession(template(), BAR, 3 * BAR, "rock", generate=stub)   # a 2-bar loop at bars 2..3
    L = 2 * BAR
    assert jam.lead_ticks() == int((1.5 * 0.5 + 0.04 + 0.05) * 960)        # first estimate: 0.5 s
    jam.poll(BAR)
    jam.note_on(64, 100, BAR + 0)
    jam.note_off(64, BAR + 480)
    jam.note_on(67, 90, BAR + 960)
    jam.note_off(67, BAR + 1440)
    assert run_pass(jam, range(BAR, BAR + L - jam.lead_ticks() - 1, 30)) == []
    assert stub.phrases == []                                            # not yet: before the trigger point
    jam.note_on(72, 80, BAR + 3000)                                      # still held when generation starts
    swaps = run_pass(jam, range(BAR + 3000, BAR + 3800, 10))
    assert jam.wait_idle(5)
    assert len(stub.phrases) == 1
    phrase, genre, seed = stub.phrases[0]
    assert genre == "rock" and seed == 0
    notes = [(n.pitch, n.start_tick, n.duration_tick, n.velocity) for n in phrase.tracks[0].notes]
    assert notes[:2] == [(64, 0, 480, 100), (67, 960, 480, 90)]          # loop positions, from the loop start
    assert notes[2][0] == 72 and notes[2][1] == 3000 and notes[2][2] > 0  # held note cut at the trigger time
    assert phrase.tempos[0].bpm == 120 and phrase.tracks[0].program == 73
    swaps += run_pass(jam, range(BAR + 3800, BAR + L, 5))
    assert len(swaps) == 1
    at, s = swaps[0]
    assert BAR + L - 40 <= at < BAR + L                                  # swapped ~40 ms before the loop end
    assert jam.late_swaps == 0 and jam.pass_index == 0
    assert [t.name for t in s.tracks] == [PHRASE_NAME, "Bass"] and s.tracks[0].mute and not s.tracks[1].mute
    assert [(n.pitch, n.start_tick) for n in s.tracks[1].notes][:2] == [(40, BAR), (43, BAR + 960)]
    assert all(BAR <= n.start_tick and n.end_tick <= BAR + L for t in s.tracks for n in t.notes)
    assert s.tempos == template().tempos
    jam.close()


def test_rolling_window_takes_the_end_of_the_previous_pass_and_seeds_change_per_pass():
    stub = Stub()
    jam = JamSession(template(), 0, BAR, "jazz", generate=stub, seed=5)
    lead = jam.lead_ticks()
    jam.poll(0)
    jam.note_on(60, 90, 100)
    jam.note_off(60, 200)
    run_pass(jam, range(0, BAR, 20))
    jam.wait_idle(5)
    jam.note_on(62, 90, BAR - 100)                  # played after pass 0's trigger: belongs to the next phrase
    jam.note_off(62, BAR - 50)
    run_pass(jam, range(BAR - 40, BAR, 5))
    jam.poll(0)                                       # wrap: pass 1
    assert jam.pass_index == 1
    jam.note_on(65, 90, 300)
    jam.note_off(65, 400)
    run_pass(jam, range(0, BAR, 20))
    jam.wait_idle(5)
    assert [seed for _, _, seed in stub.phrases] == [5, 6]
    second = [(n.pitch, n.start_tick) for n in stub.phrases[1][0].tracks[0].notes]
    assert (62, BAR - 100) in second and (65, 300) in second and (60, 100) not in second
    assert lead < BAR // 2 + 1


def test_late_band_comes_in_during_the_next_pass_and_a_busy_band_skips_a_pass():
    gate = threading.Event()
    stub = Stub(gate)
    jam = JamSession(template(), 0, BAR, "pop", generate=stub)
    jam.poll(0)
    jam.note_on(60, 90, 10)
    jam.note_off(60, 300)
    assert run_pass(jam, range(0, BAR, 20)) == []    # generation is blocked: nothing to swap in pass 0
    jam.poll(5)                                        # pass 1
    jam.note_on(62, 90, 400)
    jam.note_off(62, 500)
    run_pass(jam, range(20, BAR, 20))                  # pass 1's trigger finds the band busy
    assert "busy" in jam.status
    gate.set()
    jam.wait_idle(5)
    late = run_pass(jam, [BAR - 5])                     # ready in pass 1: the pass-0 band comes in at once
    assert len(late) == 1 and jam.late_swaps == 1 and len(stub.phrases) == 1
    jam.close()


def test_no_anticipation_generates_at_the_wrap_and_silence_generates_nothing():
    stub = Stub()
    jam = JamSession(template(), 0, BAR, "rock", generate=stub, anticipate=False)
    assert jam.lead_ticks() == 0
    run_pass(jam, range(0, BAR, 20))
    jam.poll(0)
    assert stub.phrases == [] and "Play something" in jam.status       # nothing played: no band call
    jam.note_on(60, 90, 100)
    jam.note_off(60, 200)
    run_pass(jam, range(200, BAR, 20))
    assert stub.phrases == []
    jam.poll(10)                                                          # wrap: now it generates
    jam.wait_idle(5)
    assert len(stub.phrases) == 1


def test_a_failing_band_is_reported_and_the_jam_goes_on():
    def broken(phrase, genre, seed):
        raise RuntimeError("model exploded")
    jam = JamSession(template(), 0, BAR, "rock", generate=broken)
    jam.poll(0)
    jam.note_on(60, 90, 10)
    run_pass(jam, range(0, BAR, 20))
    jam.wait_idle(5)
    assert run_pass(jam, range(BAR - 30, BAR, 5)) == []
    assert "could not follow" in jam.status and "exploded" in jam.error


def test_invalid_loops_are_refused_in_words():
    with pytest.raises(JamError, match="Set a loop"):
        JamSession(template(), None, None, "rock")
    with pytest.raises(JamError, match=f"up to {MAX_JAM_BARS} bars"):
        JamSession(template(), 0, (MAX_JAM_BARS + 1) * BAR, "rock")
    with pytest.raises(JamError, match="genre"):
        JamSession(template(), 0, BAR, "")
    with pytest.raises(JamError, match="shorter than a beat"):
        JamSession(template(), 0, 100, "rock")


def test_real_gan_band_for_injected_notes(tiny_models):
    jam = JamSession(template(), 0, 2 * BAR, "rock", seed=1)
    jam.warm_up().result(60)
    jam.poll(0)
    for i, p in enumerate((60, 64, 67, 72, 67, 64)):
        jam.note_on(p, 90, i * 480)
        jam.note_off(p, i * 480 + 400)
    swaps = run_pass(jam, range(0, 2 * BAR - 200, 40))
    assert jam.wait_idle(60)
    swaps += run_pass(jam, range(2 * BAR - 200, 2 * BAR, 5))
    assert len(swaps) == 1
    s = swaps[0][1]
    assert s.tracks[0].name == PHRASE_NAME and len(s.tracks[0].notes) == 6
    assert [t.name for t in s.tracks[1:]] == ["Piano", "Guitar", "Bass", "Drums"]
    assert any(t.notes for t in s.tracks[1:]) and s.end_tick <= 2 * BAR
    assert jam.gen_times and jam.gen_times[0] > 0
    kept = jam.kept_song(template())
    assert len(kept.tracks) == 1 + 1 + 4 and not kept.tracks[1].mute
    jam.close()


def test_band_for_phrase_and_jam_song_place_the_band_in_the_loop(tiny_models):
    src = song(track("Lead", [(60 + i % 5, i * 240, 240, 90) for i in range(32)]))
    phrase = phrase_from_song(src, BAR, 3 * BAR)
    assert phrase.tracks[0].notes[0].start_tick == 0 and phrase.end_tick <= 2 * BAR
    band = band_for_phrase(phrase, "jazz", seed=2)
    assert len(band) == 4
    s = jam_song(src, phrase.tracks[0], band, 4 * BAR, 5 * BAR)          # a 1-bar loop: the band is cut to it
    assert all(4 * BAR <= n.start_tick and n.end_tick <= 5 * BAR for t in s.tracks for n in t.notes)
