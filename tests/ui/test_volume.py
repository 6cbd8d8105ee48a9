"""The transport's listening volume (pytest-qt, a real PlaybackEngine on the silent output): the slider sets the
synth's gain, by keyboard too, is remembered, and reaches a new engine; the clip warning measures the song on a
worker thread and offers the level that plays it clean."""
from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
from PySide6.QtCore import Qt, QTimer

from deepcomposer_desktop.audio.render import DEFAULT_GAIN, render_song
from deepcomposer_desktop.ui import volume as volume_mod
from tests.builders import song, track
from tests.ui.conftest import SpyEngine

WAIT_MS = 20000          # a debounced measurement on a busy 2-core box


def real_engine(soundfont):
    from deepcomposer_desktop.audio.engine import PlaybackEngine
    return PlaybackEngine(soundfont=soundfont, device="null")


def loud_band(bars: int = 2):
    """Eight tracks of six-note chords at velocity 127: well above full scale at the synth's level."""
    programs = (0, 19, 48, 61, 30, 33, 81, 16)
    chords = [(p, s, 1920, 127) for s in range(0, 1920 * bars, 1920) for p in (48, 52, 55, 60, 64, 67)]
    return song(*[track(f"Part {i + 1}", chords, program=prog) for i, prog in enumerate(programs)])


def quiet_tune():
    return song(track("Flute", [(72 + i % 5, i * 480, 480, 60) for i in range(8)], program=73))


class Renders:
    """Wraps the real ``measure_peak`` (it still renders): which threads it ran on, how often, how many at once,
    when, and what each returned."""

    def __init__(self, monkeypatch) -> None:
        self.real = volume_mod.measure_peak
        self.threads, self.spans, self.results = [], [], []
        self.active = self.most_at_once = 0
        self.lock = threading.Lock()
        monkeypatch.setattr(volume_mod, "measure_peak", self)

    def __call__(self, **kwargs):
        with self.lock:
            self.active += 1
            self.most_at_once = max(self.most_at_once, self.active)
        self.threads.append(threading.current_thread())
        t0 = time.perf_counter()
        try:
            result = self.real(**kwargs)
        finally:
            with self.lock:
                self.active -= 1
        self.spans.append((t0, time.perf_counter()))
        self.results.append(result)
        return result

    @property
    def count(self) -> int:
        return len(self.threads)


def measured(window, qtbot) -> None:
    """Wait until the song the window plays now has been measured (or found unmeasurable)."""
    vc = window.volume_control
    qtbot.waitUntil(lambda: vc.peak_song is window.playback.song and vc._worker is None, timeout=WAIT_MS)


def test_the_slider_sets_the_synth_level_by_keyboard_and_is_remembered(make_window, settings, soundfont, qtbot):
    engine = real_engine(soundfont)
    w = make_window(engine=engine)
    box = w.transport.volume_box
    slider = box.slider
    assert slider.isVisible() and box.value_label.text() == "100 %"            # in the bar at the default size
    assert slider.accessibleName() == "Volume" and slider.focusPolicy() == Qt.StrongFocus
    assert "listening" in slider.toolTip().lower() and "export" in slider.toolTip().lower()
    assert engine.gain == pytest.approx(DEFAULT_GAIN)
    slider.setFocus()
    qtbot.waitUntil(slider.hasFocus)
    for key in (Qt.Key_PageDown, Qt.Key_PageDown, Qt.Key_Left):          # 100 -> 90 -> 80 -> 79
        qtbot.keyClick(slider, key)
    assert box.percent() == 79 and box.value_label.text() == "79 %"
    assert engine.gain == pytest.approx(DEFAULT_GAIN * 0.79) and engine.volume == pytest.approx(0.79)
    assert settings.volume_percent == 79
    qtbot.keyClick(slider, Qt.Key_A)                     # a piano key still plays the piano, not the slider
    assert box.percent() == 79

    # Settings OK builds a new engine from the settings (on a worker) and swaps it in: it plays at the user's level
    settings.soundfont, settings.audio_device = soundfont, "null"
    w.start_audio()
    qtbot.waitUntil(lambda: w.playback.engine is not engine, timeout=WAIT_MS)
    assert engine.gain is None                           # the old one is closed
    assert w.playback.engine.gain == pytest.approx(DEFAULT_GAIN * 0.79)
    w.close()

    spy = SpyEngine()
    again = make_window(engine=spy)                      # the next launch, same settings
    assert again.transport.volume_box.percent() == 79
    assert again.transport.volume_box.value_label.text() == "79 %" and spy.volume == pytest.approx(0.79)


def test_a_song_that_clips_is_measured_off_the_gui_thread_and_clicking_the_warning_fixes_it(
        make_window, soundfont, qtbot, monkeypatch):
    renders = Renders(monkeypatch)
    engine = real_engine(soundfont)
    w = make_window(engine=engine)
    vc, box = w.volume_control, w.transport.volume_box
    measured(w, qtbot)                                    # the start-up sample melody: quiet
    assert vc.peak is not None and vc.peak < 1.0 and not box.clips.isVisible()

    ticks = []
    clock = QTimer()
    clock.timeout.connect(lambda: ticks.append(time.perf_counter()))
    clock.start(10)
    band = loud_band(bars=24)                             # ~50 s: a render long enough to notice a frozen GUI
    w.doc.apply(band, "Loud band")
    measured(w, qtbot)
    clock.stop()
    assert all(t is not threading.main_thread() for t in renders.threads)
    t0, t1 = renders.spans[-1]
    during = [t for t in ticks if t0 <= t <= t1]
    gaps = [b - a for a, b in zip([t0] + during, during + [t1])]
    assert max(gaps) < max(0.25, (t1 - t0) / 3), (t1 - t0, max(gaps))        # the GUI kept its timers running

    # the peak is the song's as it plays (an independent export render of it), and it clips
    assert vc.peak == pytest.approx(float(abs(render_song(band, soundfont, engine.samplerate)).max()), rel=1e-3)
    assert vc.peak > 1.2 and box.clips.isVisible()
    clean = volume_mod.clean_percent(vc.peak)
    tip = box.clips.toolTip()
    assert f"peaks at {vc.peak:.1f}x full scale" in tip and f"{clean} % or less plays it clean" in tip

    count = renders.count
    qtbot.mouseClick(box.clips, Qt.LeftButton)
    assert box.percent() == clean and vc.peak * clean / 100 <= 1.0 < vc.peak * (clean + 1) / 100
    assert not box.clips.isVisible()
    assert engine.gain == pytest.approx(DEFAULT_GAIN * clean / 100)
    box.slider.setFocus()
    qtbot.keyClick(box.slider, Qt.Key_PageUp)             # louder again: it clips again, at once
    assert box.clips.isVisible() and f"peaks at {vc.peak * (clean + 10) / 100:.1f}x" in box.clips.toolTip()
    qtbot.wait(volume_mod.MEASURE_DELAY_MS + 300)
    assert renders.count == count                         # a volume change alone renders nothing


def test_what_plays_is_measured_and_a_newer_song_supersedes_an_older_one(make_window, soundfont, qtbot,
                                                                            monkeypatch):
    renders = Renders(monkeypatch)
    w = make_window(engine=real_engine(soundfont))
    vc, box = w.volume_control, w.transport.volume_box
    measured(w, qtbot)
    band = loud_band()
    muted = band.with_tracks(band.tracks[:1] + tuple(replace(t, mute=True) for t in band.tracks[1:]))
    w.doc.apply(muted, "Mute most")                       # seven loud parts muted: one chord part alone is clean
    measured(w, qtbot)
    assert vc.peak < 1.0 and not box.clips.isVisible()

    count = renders.count
    for bars in (2, 3, 4):                               # a burst of edits: one measurement, of the last song
        w.doc.apply(loud_band(bars), f"{bars} bars")
        qtbot.wait(100)
    measured(w, qtbot)
    assert renders.count == count + 1 and box.clips.isVisible()

    w.doc.apply(loud_band(bars=40), "Long loud")          # a render of some seconds ...
    qtbot.waitUntil(lambda: renders.active == 1, timeout=WAIT_MS)
    w.doc.apply(quiet_tune(), "Quiet")                    # ... that a newer song stops
    measured(w, qtbot)
    assert renders.results[-2] is None                    # the long render was stopped, not finished
    assert renders.most_at_once == 1                      # never two at once
    assert vc.peak_song is w.song and vc.peak < 1.0 and not box.clips.isVisible()


def test_no_warning_for_a_song_too_long_to_measure_or_one_that_cannot_be_rendered(make_window, soundfont, qtbot,
                                                                                  monkeypatch, tmp_path):
    renders = Renders(monkeypatch)
    engine = real_engine(soundfont)
    w = make_window(engine=engine)
    vc, box = w.volume_control, w.transport.volume_box
    w.doc.apply(loud_band(), "Loud")
    measured(w, qtbot)
    assert box.clips.isVisible()
    count = renders.count
    minutes_11 = 11 * 60 * 2 * 480                        # ticks at 120 BPM
    long_song = loud_band().replace_track(0, track("Late", [(60, minutes_11, 480, 127)]))
    w.doc.apply(long_song, "Eleven minutes")
    measured(w, qtbot)
    assert renders.count == count and vc.peak is None and not box.clips.isVisible()

    w.doc.apply(loud_band(), "Loud again")
    measured(w, qtbot)
    assert box.clips.isVisible()
    engine.soundfont = str(tmp_path / "deleted since.sf2")   # the soundfont went away: the render fails
    w.doc.apply(loud_band(3), "Loud, longer")
    measured(w, qtbot)
    assert renders.count == count + 2 and vc.peak is None and not box.clips.isVisible()


def test_without_a_synth_nothing_is_measured(window, qtbot, monkeypatch):
    renders = Renders(monkeypatch)
    window.doc.apply(loud_band(), "Loud")                 # the spy engine has no soundfont to render with
    measured(window, qtbot)
    assert renders.count == 0 and window.volume_control.peak is None
    assert not window.transport.volume_box.clips.isVisible()
