"""The MIDI bench's measuring path works (numbers are printed by `deepcomposer bench midi`, never asserted)."""
from deepcomposer_desktop.bench.midi import _TimedSink, _figures, _measure


def test_every_sent_note_reaches_the_sink_through_the_callback():
    played = []
    sink = _TimedSink(lambda p, v: played.append((p, v)))
    delays = _measure(sink, 20, busy=False)
    assert len(delays) == 20 and all(d >= 0 for d in delays)
    assert played == [(48 + i, 100) for i in range(20)]
    names = [f.name for f in _figures("x", delays)]
    assert names == ["x, median of 20", "x, p99"]
