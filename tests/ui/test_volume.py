"""The transport's listening volume (pytest-qt, a real PlaybackEngine on the silent output): the slider sets the
synth's gain, by keyboard too, is remembered, and reaches a new engine; its lowest level keeps held notes; the clip
warning measures what plays on a worker thread, offers the level that plays it clean, and stays in view on a narrow
window."""
from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from deepcomposer_desktop.audio.render import DEFAULT_GAIN, render_song
from deepcomposer_desktop.core.song import Note, Song, TempoChange, Track
from deepcomposer_desktop.ui import volume as volume_mod
from deepcomposer_desktop.ui.training_menu import play_sample
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
    qtbot.waitUntil(lambda: vc.peak_song is window.playback.sounding_song and vc._worker is None, timeout=WAIT_MS)


def next_stop(widget):
    """Where focus goes from ``widget`` on Tab (where Tab moves the focus: out of a text field): the next visible,
    enabled widget in the focus chain that takes focus by Tab."""
    w = widget.nextInFocusChain()
    while not (w.isVisible() and w.isEnabled() and w.focusPolicy() & Qt.TabFocus):
        w = w.nextInFocusChain()
    return w


def shift_tab(qtbot, widget):
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus)
    qtbot.keyClick(widget, Qt.Key_Backtab, Qt.ShiftModifier)
    return QApplication.focusWidget()


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

    # Home and End are not the slider's: End does not jump to 150 %, Home rewinds the song as everywhere else
    w.playback.seek(1920)
    qtbot.waitUntil(lambda: w.playback.position == 1920)
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key_End)
    assert box.percent() == 79 and engine.volume == pytest.approx(0.79)
    qtbot.keyClick(slider, Qt.Key_Home)
    assert box.percent() == 79 and w.playback.position == 0

    # in the focus order right after the transport's controls: Shift+Tab reaches it from the next control and goes
    # on to Snap (Tab itself moves the focus only out of a text field: elsewhere it is the sustain pedal)
    assert next_stop(w.transport.snap) is slider
    after = next_stop(slider)
    assert shift_tab(qtbot, after) is slider
    assert shift_tab(qtbot, slider) is w.transport.snap

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

    assert next_stop(box.slider) is box.clips                # shown, the warning is the next stop after the slider

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
    assert "Not checked for clipping" not in box.slider.toolTip()
    w.doc.apply(long_song, "Eleven minutes")
    measured(w, qtbot)
    assert renders.count == count and vc.peak is None and not box.clips.isVisible()
    assert "Not checked for clipping: songs over 10 minutes are not measured" in box.slider.toolTip()

    w.doc.apply(loud_band(), "Loud again")
    measured(w, qtbot)
    assert box.clips.isVisible() and "Not checked" not in box.slider.toolTip()
    engine.soundfont = str(tmp_path / "deleted since.sf2")   # the soundfont went away: the render fails
    w.doc.apply(loud_band(3), "Loud, longer")
    measured(w, qtbot)
    assert renders.count == count + 2 and vc.peak is None and not box.clips.isVisible()
    assert "Not checked for clipping: the song could not be rendered" in box.slider.toolTip()


def test_without_a_synth_nothing_is_measured(window, qtbot, monkeypatch):
    renders = Renders(monkeypatch)
    window.doc.apply(loud_band(), "Loud")                 # the spy engine has no soundfont to render with
    measured(window, qtbot)
    assert renders.count == 0 and window.volume_control.peak is None
    assert not window.transport.volume_box.clips.isVisible()


def held_band(seconds: float) -> Song:
    """Organ, strings and piano holding a chord ``seconds`` at 120 BPM."""
    ticks = int(seconds * 960)
    return Song(tracks=tuple(Track(f"P{program}", program=program,
                                   notes=tuple(Note.make(p, 0, ticks, 80) for p in (55, 60, 64)))
                             for program in (19, 48, 0)), tempos=(TempoChange(0, 120.0),))


def test_the_lowest_volume_is_quiet_not_silent_and_held_notes_come_back_from_it(make_window, soundfont, qtbot):
    engine = real_engine(soundfont)
    w = make_window(engine=engine)
    box, slider = w.transport.volume_box, w.transport.volume_box.slider
    assert slider.minimum() == 1 and "not silence" in slider.toolTip()
    w.doc.apply(held_band(8.0), "Held chord")
    w.playback.play(0)
    qtbot.waitUntil(lambda: engine._synth.active_voices >= 9, timeout=5000)
    qtbot.wait(300)
    voices = engine._synth.active_voices
    slider.setFocus()
    qtbot.waitUntil(slider.hasFocus)
    for _ in range(12):                                  # all the way down
        qtbot.keyClick(slider, Qt.Key_PageDown)
    assert box.percent() == 1 and box.value_label.text() == "1 %"
    assert engine.gain == pytest.approx(DEFAULT_GAIN * 0.01)
    qtbot.wait(1000)
    assert engine._synth.active_voices == voices         # held through the dip ...
    box.set_percent(0)                                   # (nothing goes lower)
    assert box.percent() == 1
    for _ in range(10):
        qtbot.keyClick(slider, Qt.Key_PageUp)
    assert box.percent() == 101 and engine.gain == pytest.approx(DEFAULT_GAIN * 1.01)
    qtbot.wait(200)
    assert engine._synth.active_voices == voices and w.playback.is_playing     # ... and heard again
    w.playback.stop()


@pytest.mark.parametrize("stored, read", [(-5, 100), (400, 100), ("abc", 100), ("", 100), (0, 1), (1, 1), (150, 150),
                                          (37, 37)])
def test_a_volume_in_the_settings_that_is_not_a_level_reads_as_100(settings, stored, read):
    settings.q.setValue("audio/volume", stored)
    assert settings.volume_percent == read


def test_a_damaged_volume_setting_starts_the_window_at_100_percent(make_window, settings):
    settings.q.setValue("audio/volume", 400)
    spy = SpyEngine()
    w = make_window(engine=spy)
    assert w.transport.volume_box.percent() == 100 and spy.volume == 1.0
    settings.q.setValue("audio/volume", "-5")
    spy = SpyEngine()
    w = make_window(engine=spy)
    assert w.transport.volume_box.percent() == 100 and spy.volume == 1.0


def test_the_clip_warning_is_in_view_on_a_1280_window_and_in_the_status_bar_on_a_narrower_one(
        make_window, soundfont, qtbot):
    w = make_window(engine=real_engine(soundfont))
    vc, box = w.volume_control, w.transport.volume_box
    spare = box.spare_clips
    assert w.statusBar().isAncestorOf(spare)
    w.doc.apply(loud_band(), "Loud")
    measured(w, qtbot)
    w.resize(1280, 800)                                  # a common laptop screen, the default layout
    qtbot.waitUntil(lambda: box.isVisible())
    assert box.slider.isVisible() and box.clips.isVisible() and not spare.isVisible()
    assert box.clips.rect().width() > 0 and box.clips.visibleRegion().boundingRect() == box.clips.rect()  # whole

    w.resize(w.minimumSizeHint().width(), 800)           # narrower: the box waits behind the toolbar's »
    qtbot.waitUntil(lambda: box.isHidden())
    qtbot.waitUntil(spare.isVisible)
    assert spare.toolTip() == box.clips.toolTip() and "plays it clean" in spare.toolTip()
    clean = volume_mod.clean_percent(vc.peak)
    qtbot.mouseClick(spare, Qt.LeftButton)               # the same click: the clean level
    assert box.percent() == clean and not spare.isVisible() and not box.clips.isVisible()
    box.set_percent(150)
    assert spare.isVisible()

    w.resize(1280, 800)
    qtbot.waitUntil(lambda: box.isVisible())
    assert box.clips.isVisible() and not spare.isVisible()      # never both
    w.doc.apply(quiet_tune(), "Quiet")
    measured(w, qtbot)
    assert not box.clips.isVisible() and not spare.isVisible()


def test_a_sample_or_take_that_plays_is_measured_and_a_void_result_is_measured_again(make_window, soundfont, qtbot,
                                                                                      monkeypatch):
    renders = Renders(monkeypatch)
    w = make_window(engine=real_engine(soundfont))
    vc, box, pb = w.volume_control, w.transport.volume_box, w.playback
    measured(w, qtbot)
    assert not box.clips.isVisible()

    # a training sample played in the project's place while the project is being measured
    w.doc.apply(quiet_tune().replace_track(0, track("Flute", [(72, i * 480, 480, 60) for i in range(800)],
                                                    program=73)), "Long quiet")
    qtbot.waitUntil(lambda: renders.active == 1, timeout=WAIT_MS)
    sample = loud_band()
    play_sample(w, sample)
    measured(w, qtbot)
    assert vc.peak_song is sample and box.clips.isVisible()
    pb.stop()                                            # the project's song comes back, and is measured
    qtbot.waitUntil(lambda: pb.song is w.song)
    measured(w, qtbot)
    assert vc.peak_song is w.song and vc.peak < 1.0 and not box.clips.isVisible()

    # an Audition take played in the project's place; the project back after it needs no second render
    take, owner = loud_band(3), object()
    pb.play_guest(owner, take)
    measured(w, qtbot)
    assert vc.peak_song is take and box.clips.isVisible()
    count = renders.count
    pb.end_guest(owner)
    measured(w, qtbot)
    assert vc.peak_song is w.song and not box.clips.isVisible() and renders.count == count

    # the Jam's band is new with each pass of the loop: not rendered each time, and the tooltip says so
    pb.play_guest(w.jam, loud_band())
    measured(w, qtbot)
    assert renders.count == count and vc.peak is None and not box.clips.isVisible()
    assert "Not checked for clipping while the Jam's band plays" in box.slider.toolTip()
    pb.end_guest(w.jam)
    measured(w, qtbot)
    assert vc.peak_song is w.song and renders.count == count and "Not checked" not in box.slider.toolTip()

    # the song replaced with no word while its measurement runs: the void result is followed by a new one
    w.doc.apply(loud_band(bars=40), "Long loud")
    qtbot.waitUntil(lambda: renders.active == 1, timeout=WAIT_MS)
    unannounced = quiet_tune()
    pb.song = unannounced
    qtbot.waitUntil(lambda: vc.peak_song is unannounced and vc._worker is None, timeout=WAIT_MS)
    assert renders.results[-2] is not None               # the long one ran to its end: void, not stopped
    assert vc.peak < 1.0 and not box.clips.isVisible()
