"""The engine's listening volume: FluidSynth's own gain really changes (read back from the synth), at once, for
sounding notes too, and it survives a new output and the fallback soundfont; its lowest level is not 0, where
FluidSynth ends every held note, and held notes outlive a dip to it; through PulseAudio's null sink the live output
follows it while playing."""
from __future__ import annotations

import struct
import time

import numpy as np
import pytest

from deepcomposer_desktop.audio.engine import MAX_VOLUME, MIN_VOLUME, PlaybackEngine
from deepcomposer_desktop.audio.render import DEFAULT_GAIN
from deepcomposer_desktop.audio.synth import Synth
from deepcomposer_desktop.core.song import Note, Song, TempoChange, Track


def held_chord(seconds: float) -> Song:
    """An organ chord held ``seconds`` at 120 BPM: a steady level to compare."""
    ticks = int(seconds * 960)
    return Song(tracks=(Track("Organ", program=19, notes=tuple(Note.make(p, 0, ticks, 100) for p in (60, 64, 67))),),
                tempos=(TempoChange(0, 120.0),))


def test_set_volume_changes_the_synth_gain_at_once_while_playing(null_engine):
    eng = null_engine
    assert eng.volume == 1.0 and eng.gain == pytest.approx(DEFAULT_GAIN)     # today's level by default
    eng.set_song(held_chord(4.0))
    eng.play()
    eng.set_volume(0.5)
    assert eng.gain == pytest.approx(DEFAULT_GAIN * 0.5) and eng.volume == 0.5
    eng.set_volume(MAX_VOLUME)
    assert eng.gain == pytest.approx(DEFAULT_GAIN * 1.5)
    eng.set_volume(MIN_VOLUME)
    assert eng.gain == pytest.approx(DEFAULT_GAIN * 0.01) and eng.is_playing    # -40 dB, still playing
    for bad in (1.51, 0.0, 0.005, -0.01, float("nan")):                 # 0 would end the notes that sound
        with pytest.raises(ValueError):
            eng.set_volume(bad)
    assert eng.volume == MIN_VOLUME and eng.gain == pytest.approx(DEFAULT_GAIN * 0.01)   # a refused level: no change


def test_the_level_survives_a_new_output_device(null_engine):
    eng = null_engine
    eng.set_volume(0.25)
    eng.set_device("null")                        # Settings > Audio output, or the way back after an unplug
    assert eng.gain == pytest.approx(DEFAULT_GAIN * 0.25)
    eng.close()
    assert eng.gain is None
    eng.set_volume(0.5)                            # closed: remembered, nothing touched
    assert eng.volume == 0.5


def test_every_synth_the_engine_makes_starts_at_its_volume(soundfont, tmp_path):
    eng = PlaybackEngine(soundfont=soundfont, device="null", volume=0.75)
    try:
        assert eng.gain == pytest.approx(DEFAULT_GAIN * 0.75)
    finally:
        eng.close()
    # a soundfont FluidSynth refuses: the engine builds a second synth on the default soundfont, at the same level

    def chunk(cid: bytes, data: bytes) -> bytes:
        return cid + struct.pack("<I", len(data)) + data
    body = (b"sfbk" + chunk(b"LIST", b"INFO" + chunk(b"ifil", b"\x02\0\x01\0"))
            + chunk(b"LIST", b"sdta" + chunk(b"smpl", bytes(2000))) + chunk(b"LIST", b"pdta"))
    empty = tmp_path / "empty.sf2"
    empty.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    eng = PlaybackEngine(soundfont=empty, device="null", volume=0.5)
    try:
        assert "Using the default soundfont instead" in eng.problem
        assert eng.gain == pytest.approx(DEFAULT_GAIN * 0.5)
    finally:
        eng.close()
    with pytest.raises(ValueError):
        PlaybackEngine(soundfont=soundfont, device="null", volume=2.0)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def test_sounding_notes_follow_a_gain_change(soundfont):
    """What set_volume relies on: FluidSynth applies a new gain to the voices already sounding."""
    synth = Synth(soundfont, 48000, gain=DEFAULT_GAIN, reverb=False, chorus=False)
    try:
        synth.setup_channel(0, 19)
        for pitch in (60, 64, 67):
            synth.noteon(0, pitch, 100)
        buf = np.zeros((48000, 2), np.float32)
        synth.write_float(buf, 0, 24000)              # 0.5 s at the old gain
        synth.set_gain(DEFAULT_GAIN * 0.5)
        assert synth.gain == pytest.approx(DEFAULT_GAIN * 0.5)
        synth.write_float(buf, 24000, 24000)          # 0.5 s at the new one, the same notes
    finally:
        synth.close()
    before, after = rms(buf[12000:24000]), rms(buf[36000:48000])
    assert before > 0.01
    assert after / before == pytest.approx(0.5, abs=0.05)


BAND = ((19, 60), (48, 70), (0, 90), (73, 40))       # organ, strings, piano, a soft flute: (program, velocity)


def held_band(seconds: float) -> Song:
    """Four instruments holding a chord ``seconds`` at 120 BPM, sustained (organ, strings, flute) and decaying
    (piano: ~18 s in this soundfont)."""
    ticks = int(seconds * 960)
    return Song(tracks=tuple(Track(f"P{program}", program=program,
                                   notes=tuple(Note.make(p, 0, ticks, vel) for p in (55, 60, 64)))
                             for program, vel in BAND), tempos=(TempoChange(0, 120.0),))


def render_with_dip(soundfont: str, low_gain: float | None) -> tuple[np.ndarray, int, int]:
    """The band's chord on a bare synth: 0.5 s at the synth's level, 1 s at ``low_gain`` (None: no dip), 0.5 s
    back at the synth's level. Returns the audio, the voices sounding before the dip, and those after it."""
    synth = Synth(soundfont, 48000, gain=DEFAULT_GAIN)
    try:
        for chan, (program, vel) in enumerate(BAND):
            synth.setup_channel(chan, program)
            for pitch in (55, 60, 64):
                synth.noteon(chan, pitch, vel)
        buf = np.zeros((96000, 2), np.float32)
        synth.write_float(buf, 0, 24000)
        before = synth.active_voices
        if low_gain is not None:
            synth.set_gain(low_gain)
        synth.write_float(buf, 24000, 48000)
        synth.set_gain(DEFAULT_GAIN)
        synth.write_float(buf, 72000, 24000)
        return buf, before, synth.active_voices
    finally:
        synth.close()


def test_held_notes_sound_again_after_a_dip_to_the_lowest_level_but_not_after_gain_0(soundfont):
    """Why the lowest level is MIN_VOLUME: FluidSynth ends a voice that would sound below its noise floor divided by
    the gain, so at gain 0 the held chord is gone for good; at MIN_VOLUME every voice lives on and sounds as loud,
    once the level is back, as on a synth whose level never moved."""
    steady, voices, _ = render_with_dip(soundfont, None)
    dipped, before, after = render_with_dip(soundfont, DEFAULT_GAIN * MIN_VOLUME)
    assert voices >= len(BAND) * 3 and before == voices and after == voices
    assert rms(dipped[36000:72000]) < 0.02 * rms(steady[36000:72000])          # the dip is heard: -40 dB
    assert rms(dipped[84000:]) == pytest.approx(rms(steady[84000:]), rel=0.05) and rms(steady[84000:]) > 0.01
    zeroed, _, after_zero = render_with_dip(soundfont, 0.0)
    assert after_zero == 0 and rms(zeroed[84000:]) < 1e-4                       # what a volume of 0 did


def test_the_engine_keeps_held_notes_through_the_lowest_volume(null_engine):
    eng = null_engine
    eng.set_song(held_band(8.0))
    eng.play(0)
    deadline = time.monotonic() + 5.0
    while eng._synth.active_voices < len(BAND) * 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    voices = eng._synth.active_voices
    assert voices >= len(BAND) * 3
    eng.set_volume(MIN_VOLUME)
    time.sleep(1.0)
    assert eng._synth.active_voices == voices                  # quiet, but every held note still sounds
    eng.set_volume(1.0)
    time.sleep(0.3)
    assert eng._synth.active_voices == voices and eng.gain == pytest.approx(DEFAULT_GAIN)
    assert eng.is_playing


def test_live_output_follows_the_volume_while_playing(soundfont, capture):
    """Through PulseAudio's null sink: a held chord plays at full level, then at half once set_volume(0.5)."""
    eng = PlaybackEngine(soundfont=soundfont, samplerate=48000, periods=8)
    try:
        if eng.output is None or eng.output.driver != "pulseaudio":
            pytest.skip(f"the engine did not open PulseAudio: {eng.problem}")
        cap = capture()
        eng.set_song(held_chord(6.0))
        eng.play(0)
        time.sleep(3.0)                                # the capture may miss up to ~2 s of the start
        eng.set_volume(0.5)
        time.sleep(2.5)
        eng.stop()
        time.sleep(0.3)
        live = cap.stop()
    finally:
        eng.close()
    win = 4800                                         # 100 ms windows
    levels = np.array([rms(live[i:i + win, 0]) for i in range(0, len(live) - win, win)])
    # the capture may begin late (a suspended sink wakes up), so the chord's two plateaus are found, not timed:
    # the loud one (its top, three windows smoothed), then the first window well below it (the chord is steady: only
    # the volume can make it), then the level once settled, before the stop ~2.5 s later
    smooth = np.array([np.median(levels[max(0, i - 1):i + 2]) for i in range(len(levels))])
    top = smooth.max()
    rise = int(np.argmax(smooth > 0.75 * top))
    drop = rise + int(np.argmax(smooth[rise:] < 0.75 * top))
    assert drop - rise >= 3, (rise, drop, levels)               # at least 0.3 s heard at full level
    loud = np.median(levels[rise + 1:drop - 1])
    quiet = np.median(levels[drop + 2:drop + 8])
    assert loud > 0.01, levels
    assert quiet / loud == pytest.approx(0.5, abs=0.08), (loud, quiet, levels)
