"""The listening volume's GUI side: the transport's Volume slider sets the engine's level and is remembered in the
settings, and a clip warning shows "Clips" while the song's peak x the volume passes full scale (many full-band MIDI
files do at the synth's own level). The peak comes from an offline render on a worker thread, ~1 s after the song
that plays last changed; a volume change only rescales it. GUI thread only (the render runs on a Worker).
"""
from __future__ import annotations

import math

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from ..core.song import Song
from ..core.timing import TempoMap
from .settings import MAX_VOLUME_PERCENT

MEASURE_DELAY_MS = 1000      # after the last change: a burst of edits (a drag, a tempo typed in) costs one render
MAX_MEASURE_SEC = 600        # longer songs are not measured: a render of minutes on each edit


def measure_peak(song: Song, soundfont: str, samplerate: int, progress=None, should_stop=None) -> float | None:
    """Worker thread: the song's peak (its highest sample magnitude, 1.0 = full scale) as live playback sounds it
    at volume 1.0: an offline render of the mix with the song's own mute, solo, volume and pan, on one FluidSynth
    core, at ``samplerate`` (``render.render_peak``: it holds one chunk of audio, not the song's). None when
    ``should_stop()`` stopped it. Raises RenderError (no FluidSynth, a bad soundfont)."""
    from ..audio.render import RenderStopped, render_peak
    try:
        return render_peak(song, soundfont, samplerate, cpu_cores=1, should_stop=should_stop)
    except RenderStopped:
        return None


def clean_percent(peak: float) -> int:
    """The highest whole % of volume (at most 150) at which a song that peaks at ``peak`` at 100 % stays within
    full scale."""
    if peak <= 0.0:
        return MAX_VOLUME_PERCENT
    percent = min(MAX_VOLUME_PERCENT, math.floor(100.0 / peak))
    while percent > 0 and peak * percent / 100.0 > 1.0:         # floating point: the test VolumeControl applies
        percent -= 1
    return percent


class VolumeControl(QObject):
    """Joins the transport's VolumeBox to the PlaybackController's level, the settings and the clip warning.

    ``window`` gives ``transport`` (its ``volume_box`` and ``snap``), ``playback``, ``settings``, ``statusBar()``
    and ``run_worker`` (whose workers the window cancels and waits for as it closes). What is measured is what
    plays (``playback.sounding_song``: the project, a training sample, an Audition take; not the Jam's band, new
    each pass), after each ``playback.sounding_song_changed``. ``peak`` is the peak at 100 % of ``peak_song``
    (None: not known: no soundfont, too long, the Jam, or the render failed; the slider's tooltip says why);
    ``measured(peak)`` follows each measurement. GUI thread only; the render runs on a Worker, never two at once; a
    newer song voids a running one, and a result void for any reason is followed by a measurement of what plays.
    """

    measured = Signal(object)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.box = window.transport.volume_box
        self.peak: float | None = None
        self.peak_song: Song | None = None
        self._known: list[tuple[Song, str, int, float]] = []   # the last few peaks: a take, then the project again
        self._worker = None
        self._worker_song: Song | None = None
        self._again = False                   # asked for while the last one was still stopping
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(MEASURE_DELAY_MS)
        self._timer.timeout.connect(self._measure)
        window.statusBar().addPermanentWidget(self.box.spare_clips)    # the warning while the box is out of view
        QWidget.setTabOrder(window.transport.snap, self.box.slider)     # Tab: on from the transport's controls
        QWidget.setTabOrder(self.box.slider, self.box.clips)
        self.box.set_percent(window.settings.volume_percent)
        window.playback.set_volume(self.box.percent() / 100)
        self.box.volume_changed.connect(self._volume_changed)
        window.playback.sounding_song_changed.connect(self.song_changed)
        window.playback.engine_status.connect(self.song_changed)      # a new engine: maybe another soundfont
        self.song_changed()

    def _volume_changed(self, percent: int) -> None:
        self.window.playback.set_volume(percent / 100)
        self.window.settings.volume_percent = percent
        self._show()

    def song_changed(self, *_args) -> None:
        """Measure once the song has rested MEASURE_DELAY_MS; a measurement running now is void."""
        if self._worker is not None:
            self._worker.cancel()
        self._timer.start()

    def _measure(self) -> None:
        if not self.window.isVisible():       # closing (its workers are being stopped), or not shown yet
            return
        if self._worker is not None:          # still stopping: the next one starts when it is done
            self._again = True
            return
        playback = self.window.playback
        song, soundfont = playback.sounding_song, getattr(playback.engine, "soundfont", None)
        if not soundfont:
            self._measured(song, None)        # no synth to measure with: no warning
            return
        if playback.guest is not None and playback.guest is getattr(self.window, "jam", None):
            self._measured(song, None, "Not checked for clipping while the Jam's band plays: it changes with each "
                                       "pass of the loop (a render each time would take the CPU the band needs).")
            return
        if TempoMap.of(song).tick_to_seconds(song.sound_end_tick) > MAX_MEASURE_SEC:
            self._measured(song, None, f"Not checked for clipping: songs over {MAX_MEASURE_SEC // 60} minutes "
                                       "are not measured.")
            return
        samplerate = playback.engine.samplerate
        for known, font, rate, peak in self._known:
            if known is song and font == soundfont and rate == samplerate:
                self._measured(song, peak)
                return
        self._worker_song = song
        self._worker = self.window.run_worker(measure_peak, {"song": song, "soundfont": soundfont,
                                                             "samplerate": samplerate}, "peak")
        self._worker.succeeded.connect(lambda peak: self._succeeded(peak, soundfont, samplerate))
        self._worker.failed.connect(self._failed)
        self._worker.done.connect(self._worker_done)
        self._worker.start()

    def _succeeded(self, peak, soundfont: str, samplerate: int) -> None:
        if peak is not None:
            self._known = [(self._worker_song, soundfont, samplerate, peak)] + self._known[:3]
        self._measured(self._worker_song, peak)

    def _failed(self, message: str) -> None:
        self._measured(self._worker_song, None,          # a failed render only hides the warning
                       f"Not checked for clipping: the song could not be rendered to measure it. {message}")

    def _worker_done(self) -> None:
        self._worker = self._worker_song = None
        if self._again:
            self._again = False
            self._measure()

    def _measured(self, song: Song | None, peak: float | None, note: str = "") -> None:
        if song is not self.window.playback.sounding_song:
            # another song plays since (maybe unannounced): measure that one, once it rests, unless that is asked
            # for already (the timer runs, or the next measurement starts as this worker ends)
            if not self._timer.isActive() and not self._again:
                self._timer.start()
            return
        self.peak, self.peak_song = peak, song
        self.box.set_check_note(note)
        self._show()
        self.measured.emit(peak)

    def _show(self) -> None:
        """Clips or not, for the measured peak at the slider's level (no render: the peak scales with it)."""
        level = None if self.peak is None else self.peak * self.box.percent() / 100.0
        self.box.show_clipping(level, clean_percent(self.peak or 0.0))
