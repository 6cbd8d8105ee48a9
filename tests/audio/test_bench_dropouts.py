"""The drop-out counter behind `deepcomposer bench audio` and its soak control, on hand-made recordings."""
import numpy as np
import pytest

from deepcomposer_desktop.bench.audio import SR, _dropouts, _glitches
from deepcomposer_desktop.bench.audio_soak import clock_offset, coinciding, sine_chord


def _write(path, mono):
    np.repeat(mono.astype("<f4")[:, None], 2, axis=1).tofile(path)


def test_dropouts_are_found_at_their_time(tmp_path):
    x = sine_chord(6.0, SR)[:, 0].astype(np.float32) / 32767
    x = np.concatenate([np.zeros(SR // 10, np.float32), x])             # 0.1 s of silence before the attack
    for t, n in ((2.0, 40), (3.5, 10), (4.25, 200)):                     # 10 frames: too short to count
        i = SR // 10 + int(t * SR)
        x[i:i + n] = 0.0
    _write(tmp_path / "r.raw", x)
    starts, silent = _dropouts(tmp_path / "r.raw", 6.0)
    assert np.allclose(starts, [2.0, 4.25], atol=2 / SR)
    assert silent == (40 + 200) / (int(6.0 * SR) - SR // 4 - SR // 2)
    assert _glitches(tmp_path / "r.raw", 6.0) == (2, silent)


def test_the_control_chord_is_never_silent_and_silence_is_not_a_recording(tmp_path):
    x = sine_chord(3.0, SR)[:, 0].astype(np.float32) / 32767
    _write(tmp_path / "c.raw", x)
    assert _glitches(tmp_path / "c.raw", 3.0) == (0, 0.0)
    _write(tmp_path / "z.raw", np.zeros(SR, np.float32))
    assert _glitches(tmp_path / "z.raw", 1.0) == (-1, 1.0)


def test_coinciding_counts_events_close_in_time():
    assert coinciding(np.array([1.0, 5.0, 9.0]), np.array([1.1, 8.6, 20.0])) == 1
    assert coinciding(np.array([1.0, 5.0]), np.array([0.9, 5.2]), window=0.25) == 2
    assert coinciding(np.array([1.0]), np.array([])) == 0
    assert coinciding(np.array([1.0, 2.0]), np.array([2.1])) == 1


def test_clock_offset_lines_up_the_same_events_seen_on_two_clocks():
    ours = np.array([486.89, 495.89, 517.09])                 # a soak's drop-outs: the control's came 1.86 s "early"
    theirs = np.array([485.03, 494.03, 515.23])
    shift = clock_offset(ours, theirs)
    assert shift == pytest.approx(1.86) and coinciding(ours, theirs + shift) == 3
    assert clock_offset(ours, np.array([100.0, 300.0])) == 0.0    # nothing within 3 s: no shift
    assert clock_offset(np.array([]), theirs) == 0.0
    assert coinciding(np.array([10.0, 50.0]), np.array([11.0, 80.0]) + clock_offset([10.0, 50.0], [11.0, 80.0])) == 1
