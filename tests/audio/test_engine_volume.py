"""The engine's listening volume: FluidSynth's own gain really changes (read back from the synth), at once, for
sounding notes too, and it survives a new output and the fallback soundfont; through PulseAudio's null sink the
live output follows it while playing."""
from __future__ import annotations

import struct
import time

import numpy as np
import pytest

from deepcomposer_desktop.audio.engine import MAX_VOLUME, PlaybackEngine
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
    eng.set_volume(0.0)
    assert eng.gain == 0.0 and eng.is_playing                              # silent, still playing
    for bad in (1.51, -0.01, float("nan")):
        with pytest.raises(ValueError):
            eng.set_volume(bad)
    assert eng.volume == 0.0 and eng.gain == 0.0                            # a refused level changes nothing


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


def test_live_output_follows_the_volume_while_playing(soundfont, capture):
    """Through PulseAudio's null sink: a held chord plays at full level, then at half once set_volume(0.5)."""
    eng = PlaybackEngine(soundfont=soundfont, samplerate=48000, periods=8)
    try:
        if eng.output is None or eng.output.driver != "pulseaudio":
            pytest.skip(f"the engine did not open PulseAudio: {eng.problem}")
        cap = capture()
        eng.set_song(held_chord(6.0))
        eng.play(0)
        time.sleep(2.0)
        eng.set_volume(0.5)
        time.sleep(2.5)
        eng.stop()
        time.sleep(0.3)
        live = cap.stop()
    finally:
        eng.close()
    win = 4800                                         # 100 ms windows
    levels = np.array([rms(live[i:i + win, 0]) for i in range(0, len(live) - win, win)])
    start = int(np.argmax(levels > 0.3 * levels.max()))        # where the chord begins in the capture
    loud = np.median(levels[start + 3:start + 10])              # 0.3-1.0 s: settled, before the change at ~2 s
    quiet = np.median(levels[start + 28:start + 38])            # 2.8-3.8 s: after it, before the stop at ~4.5 s
    assert loud > 0.01, levels
    assert quiet / loud == pytest.approx(0.5, abs=0.08), (loud, quiet)
