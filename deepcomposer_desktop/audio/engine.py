"""Real-time playback: FluidSynth renders on its own C audio thread; a Python feeder thread schedules the song's
events ~250 ms ahead through FluidSynth's sequencer (sample-clock driven, see ``scheduler.py``).

No Python runs on the audio thread, so a busy GIL (model inference, MIDI parsing, painting) cannot cause an
underrun; it can only delay the feeder, which has a quarter second of slack. Mixer changes and live notes are
direct synth calls (ctypes releases the GIL), heard in the next rendered block.

Threads:
- caller threads (GUI, MIDI input): every public method; they take ``_lock`` briefly (never the audio thread). The
  live calls take only ``_live_lock``, which ``close`` also holds while it takes the synth away, so a live note
  from the MIDI thread never reaches a freed synth (and is a no-op once the engine is closed).
- feeder thread (``_feed``): wakes every ~10 ms, pumps the scheduler, notices the song end and a dead device.
- FluidSynth's audio thread (C): renders blocks and dispatches due sequencer events; never touches Python.
``position_tick`` and ``is_playing`` are safe from any thread.
"""
from __future__ import annotations

import sys
import threading
import time

import numpy as np

from ..core.song import CHANNEL_PRESSURE, SUSTAIN, Song
from ..core.timing import TempoMap
from .events import count_in_events, song_events, with_metronome
from .mixer import Mix, apply_channels, audible_mask, mixes_of, setup_metronome
from .outputs import NULL_OUTPUT, OutputPlan, list_output_devices, plan_outputs
from .render import DEFAULT_GAIN
from .scheduler import LIVE_CHANNEL_BASE, MAX_TRACKS, Scheduler, align_start, live_channel
from .soundfont import find_soundfont
from .synth import Synth, SynthError, library_problem, raise_current_thread

LOOKAHEAD_SEC = 0.25
FEED_PERIOD_SEC = 0.01
FEEDER_RT_PRIORITY = 20            # below FluidSynth's audio thread (60) and its PulseAudio client thread (50); in
                                   # 3-minute soaks here, 20 gave 4 drop-outs where the lowest level (1) gave 32-56
WATCHDOG_SEC = 2.0             # the output clock stood still this long: the device is gone (unplugged)
WATCHDOG_ARM_SEC = 0.05        # ... armed once the clock has run this much past the output's buffer: a sound server
                               # can fill the buffer, then take ~2 s to start the stream on a busy machine
METRONOME_EXTRA_BARS = 256     # with the click on, playback runs on this far past the song's end (recording)
FREE_LIVE_CHANNEL = 127        # live notes when no valid track is selected: piano. Not 255: FluidSynth 2.3 takes
                               # 255 for a free voice's channel, so a bend or aftertouch there touches free voices
                               # (a segfault in a synth created after another was freed)
GIL_SWITCH_SEC = 0.0005        # a live note's thread waits at most about this long behind a busy Python thread
MAX_VOLUME = 1.5               # the listening level goes up to 1.5 x the synth's own level (DEFAULT_GAIN)
MIN_VOLUME = 0.01              # and down to -40 dB, not 0: FluidSynth ends a voice once it would sound below its
                               # noise floor / gain, so at gain 0 every held note ended (silent when the volume came
                               # back); at 1 % held notes live on (a ppp note's last faint seconds may end sooner)


def checked_volume(fraction: float) -> float:
    """``fraction`` as a listening level (1.0: the synth's own level, at which exports are written). Raises
    ValueError outside MIN_VOLUME-MAX_VOLUME."""
    fraction = float(fraction)
    if not MIN_VOLUME <= fraction <= MAX_VOLUME:     # a NaN fails too
        raise ValueError(f"The volume must be {MIN_VOLUME:g} to {MAX_VOLUME:g} (1 = the synth's own level), "
                         f"got {fraction}")
    return fraction


class PlaybackEngine:
    """Plays a Song through FluidSynth with sample-accurate timing. See the module docstring for threads.

    ``available`` is False (and ``problem`` says what to install) when FluidSynth, a soundfont or an audio device
    is missing; without a device the engine still runs on a silent output paced at real time, so the transport
    and playhead behave normally. ``volume``: the listening level to start at (see :meth:`set_volume`).
    """

    def __init__(self, soundfont=None, samplerate: int = 48000, blocksize: int = 192, device=None, *,
                 lookahead_sec: float = LOOKAHEAD_SEC, periods: int = 2, volume: float = 1.0) -> None:
        self.samplerate = int(samplerate)
        self.blocksize = int(blocksize)
        self.periods = int(periods)
        self.available = False
        self.problem = ""
        self.soundfont: str | None = None
        self.output: OutputPlan | None = None
        self.device_lost = False
        self.last_live_call_sec = 0.0           # how long the last live_note_on took (for the benchmark)
        self._volume = checked_volume(volume)   # every synth this engine makes starts at this level
        self._lookahead = int(lookahead_sec * self.samplerate)
        self._lock = threading.RLock()
        self._live_lock = threading.Lock()      # live calls vs. close() freeing the synth: held only briefly
        self._wake = threading.Event()
        self._closed = False
        self._song = Song()
        self._tmap = TempoMap.of(self._song)
        self._mixes: tuple[Mix, ...] = ()
        self._metronome = False
        self._count_in_bars = 0
        self._loop_ticks: tuple[int, int] | None = None
        self._playing = False
        self._position_tick = 0
        self._synth: Synth | None = None
        self._sched: Scheduler | None = None
        self._thread: threading.Thread | None = None
        self._clock_seen = False
        self._clock_from = None

        if sys.getswitchinterval() > GIL_SWITCH_SEC:
            # process-wide: a busy Python thread hands over the GIL every 0.5 ms instead of 5 ms, so the MIDI
            # input thread's live notes and the feeder never wait long for it (cost: a little throughput)
            sys.setswitchinterval(GIL_SWITCH_SEC)
        problem = library_problem()
        if problem:
            self.problem = problem
            return
        path, note = find_soundfont(soundfont)
        if path is None:
            self.problem = note
            return
        self.soundfont = str(path)
        try:
            self._synth = Synth(self.soundfont, self.samplerate, gain=DEFAULT_GAIN * self._volume)
        except SynthError as exc:
            # a file that looks whole but FluidSynth refuses: the default, as for one that does not look whole
            fallback = find_soundfont(None)[0] if soundfont else None
            if fallback is None or fallback == path:
                self.problem = str(exc)
                return
            self.soundfont, note = str(fallback), f"{exc} Using the default soundfont instead."
            try:
                self._synth = Synth(self.soundfont, self.samplerate, gain=DEFAULT_GAIN * self._volume)
            except SynthError as exc2:
                self.problem = str(exc2)
                return
        setup_metronome(self._synth)
        self._synth.setup_channel(FREE_LIVE_CHANNEL, 0)
        self._sched = Scheduler(self._synth, self.samplerate)
        self._open_output(device)
        if note and not self.problem:
            self.problem = note
        self._thread = threading.Thread(target=self._feed, name="audio-feeder", daemon=True)
        self._thread.start()

    # --- output device ------------------------------------------------------------------------------------------
    def _open_output(self, device) -> None:
        errors = []
        for plan in plan_outputs(device):
            try:
                self._synth.start_driver(plan.driver, plan.device, self.blocksize, self.periods)
                self.output = plan
                self.available = plan != NULL_OUTPUT or device == "null"   # a chosen silent output is fine
                self.problem = ""
                self.device_lost = False
                self._clock_seen = False
                self._clock_from = None
                return
            except SynthError as exc:
                errors.append(str(exc))
        self._synth.start_driver(NULL_OUTPUT.driver, None, self.blocksize, self.periods)
        self.output = NULL_OUTPUT
        self._clock_seen = False
        self._clock_from = None
        self.available = False
        self.problem = ("No audio output device could be opened, so playback is silent. Connect or enable a "
                        "sound device (on Linux: start PulseAudio/PipeWire or check ALSA), then choose it in the "
                        "settings." + (f" ({errors[-1]})" if errors else ""))

    @staticmethod
    def output_devices() -> list[dict]:
        """Output devices to offer in the settings (index, name, hostapi, channels)."""
        return list_output_devices()

    def set_device(self, device) -> None:
        """Switch the output to another device (also the way back after an unplugged device). Playback stops."""
        if self._synth is None:
            return
        with self._lock:
            self._stop_locked(rewind=False)
            self._synth.stop_driver()
            self._open_output(device)

    @property
    def output_latency_sec(self) -> float:
        return 0.0 if self.output in (None, NULL_OUTPUT) else self.blocksize * self.periods / self.samplerate

    # --- song ---------------------------------------------------------------------------------------------------
    def set_song(self, song: Song) -> None:
        """Load a new song: playback stops, position goes to 0, the mixer takes the song's track settings."""
        with self._lock:
            self._stop_locked(rewind=True)
            self._install(song)

    def swap_song(self, song: Song) -> None:
        """Replace the song while playing, position unchanged (e.g. after an edit or a generation). Notes that
        sound and are gone from (or changed in) the new song are released."""
        with self._lock:
            if not self._playing or self._sched is None:
                self._install(song)
                self._position_tick = min(self._position_tick, max(song.end_tick, 0))
                return
            now = self._now_sample()
            old_sec = self._sched.sec_at(now) or 0.0
            tick = int(round(self._tmap.seconds_to_tick(max(old_sec, 0.0))))
            before = self._sched.sounding_notes(old_sec)
            used = self._sched.control_keys()
            in_count_in = self._sched.in_count_in(now)
            self._synth.remove_pending(-1)
            self._install(song)
            new_sec = self._tmap.tick_to_seconds(tick)
            self._sched.release_notes(before - self._sched.sounding_notes(new_sec), now)
            # controllers the new song leaves alone on a channel (its track was removed or moved) go back to rest
            self._sched.reset_controls(np.setdiff1d(used, self._sched.control_keys()))
            if in_count_in:
                self._start_locked(tick, now, count_in=False)
            else:                  # notes still sounding go on; those of a track that moved start on its channel
                self._sched.start(new_sec, now, sounding=before)
                self._sched.pump(now + self._lookahead)

    def _install(self, song: Song) -> None:
        if not isinstance(song, Song):
            raise TypeError("set_song needs a Song")
        self._song = song
        self._tmap = TempoMap.of(song)
        old = self._mixes
        self._mixes = mixes_of(song)
        if self._sched is None:
            return
        for i, mix in enumerate(self._mixes):
            apply_channels(self._synth, i, mix, old[i] if i < len(old) else None)
        end_bar = song.bar_count() + METRONOME_EXTRA_BARS
        events = with_metronome(song_events(song), song, song.bar_start_tick(end_bar))
        self._sched.set_events(events, self._end_sec(), len(self._mixes))
        self._sched.audible = audible_mask(self._mixes, self._metronome)
        if self._loop_ticks is not None:               # the loop is bars: its seconds follow the song's tempo
            self._sched.loop = tuple(self._tmap.tick_to_seconds(t) for t in self._loop_ticks)

    def _end_sec(self) -> float:
        if self._metronome:
            return self._tmap.tick_to_seconds(self._song.bar_start_tick(self._song.bar_count()
                                                                         + METRONOME_EXTRA_BARS))
        return self._tmap.tick_to_seconds(self._song.sound_end_tick)

    # --- transport ----------------------------------------------------------------------------------------------
    @property
    def is_playing(self) -> bool:
        return self._playing

    @property
    def position_tick(self) -> int:
        """The tick being heard now (output latency allowed for); any thread."""
        if not self._playing or self._sched is None or self._synth is None:
            return self._position_tick
        sample = self._now_sample() - int(self.output_latency_sec * self.samplerate)
        sec = self._sched.sec_at(sample)
        if sec is None:
            return self._position_tick
        return int(min(max(self._tmap.seconds_to_tick(max(sec, 0.0)), 0), 2**31 - 1))

    @property
    def count_in_active(self) -> bool:
        """True while the count-in clicks play (the position stays at the start tick meanwhile)."""
        sched = self._sched
        return bool(self._playing and sched is not None and sched.in_count_in(
            self._now_sample() - int(self.output_latency_sec * self.samplerate)))

    @property
    def late_events(self) -> int:
        """Song events the feeder handed to the synth after their time (0 unless the feeder was starved for longer
        than the look-ahead)."""
        return self._sched.late_events if self._sched is not None else 0

    def _now_sample(self) -> int:
        return self._synth.now_ms() * self.samplerate // 1000

    def play(self, from_tick: int | None = None) -> None:
        """Start (or restart) playback at ``from_tick`` (default: the current position), after the count-in."""
        if self._sched is None:
            return
        with self._lock:
            tick = self.position_tick if from_tick is None else int(from_tick)
            if tick < 0:
                raise ValueError(f"Cannot play from a negative position ({tick})")
            if self._loop_ticks and from_tick is None and not (self._loop_ticks[0] <= tick < self._loop_ticks[1]):
                tick = self._loop_ticks[0]
            if self._playing:
                self._stop_locked(rewind=False)
            start = align_start(self._now_sample() + 2 * self.blocksize, self.samplerate)
            self._start_locked(tick, start, count_in=True)

    def _start_locked(self, tick: int, start_sample: int, count_in: bool) -> None:
        clicks = count_in_events(self._song, tick, self._count_in_bars) if count_in else None
        self._sched.end_sec = self._end_sec()
        self._sched.audible = audible_mask(self._mixes, self._metronome)
        self._sched.start(self._tmap.tick_to_seconds(tick), start_sample, clicks)
        self._sched.pump(start_sample + self._lookahead)
        self._position_tick = tick
        self._playing = True
        self._wake.set()

    def pause(self) -> None:
        """Stop where we are; ``play()`` continues from here."""
        with self._lock:
            self._stop_locked(rewind=False)

    def stop(self) -> None:
        """Stop and go back to the start (of the loop, when one is set). Every note is cut."""
        with self._lock:
            self._stop_locked(rewind=True)

    def _stop_locked(self, rewind: bool) -> None:
        if self._playing:
            self._position_tick = self.position_tick
        self._playing = False
        if self._sched is not None:
            self._sched.stop()
        if rewind:
            self._position_tick = self._loop_ticks[0] if self._loop_ticks else 0

    def seek(self, tick: int) -> None:
        """Jump to ``tick``; playing continues from there without stuck notes."""
        tick = max(0, int(tick))
        with self._lock:
            if self._playing and self._sched is not None:
                self._sched.stop()
                start = align_start(self._now_sample() + self.blocksize, self.samplerate)
                self._start_locked(tick, start, count_in=False)
            else:
                self._position_tick = tick

    def set_loop(self, start_tick: int | None, end_tick: int | None) -> None:
        """Loop [start_tick, end_tick) while playing; (None, None) turns looping off."""
        with self._lock:
            if start_tick is None or end_tick is None:
                self._loop_ticks = None
                if self._sched:
                    self._sched.loop = None
                return
            start_tick, end_tick = int(start_tick), int(end_tick)
            if start_tick < 0 or end_tick <= start_tick:
                raise ValueError(f"A loop needs 0 <= start < end, got {start_tick}..{end_tick}")
            self._loop_ticks = (start_tick, end_tick)
            if self._sched:
                self._sched.loop = (self._tmap.tick_to_seconds(start_tick), self._tmap.tick_to_seconds(end_tick))

    # --- mixer --------------------------------------------------------------------------------------------------
    def track_state(self, index: int) -> Mix:
        return self._mixes[index]

    def set_track_state(self, index: int, *, mute=None, solo=None, volume=None, pan=None, program=None) -> None:
        """Change one track's mixer settings; heard within one audio block (mute cuts its sounding notes)."""
        with self._lock:
            if not 0 <= index < len(self._mixes):
                raise IndexError(f"There is no track {index + 1} (the song has {len(self._mixes)} tracks)")
            old = self._mixes[index]
            new = old.with_changes(mute=mute, solo=solo, volume=volume, pan=pan, program=program)
            mixes = list(self._mixes)
            mixes[index] = new
            self._mixes = tuple(mixes)
            if self._sched is None:
                return
            apply_channels(self._synth, index, new, old)
            self._apply_audible()

    def _apply_audible(self) -> None:
        mask = audible_mask(self._mixes, self._metronome)
        if self._playing:
            self._sched.set_audible(mask, self._now_sample())
        else:
            self._sched.audible = mask

    def set_metronome(self, enabled: bool) -> None:
        with self._lock:
            self._metronome = bool(enabled)
            if self._sched is not None:
                self._sched.end_sec = self._end_sec()
                self._apply_audible()

    def set_count_in(self, bars: int) -> None:
        bars = int(bars)
        if not 0 <= bars <= 8:
            raise ValueError(f"Count-in must be 0 to 8 bars, got {bars}")
        self._count_in_bars = bars

    # --- listening volume (any thread; one FluidSynth call under ``_live_lock``, nothing on the audio path) --------
    @property
    def volume(self) -> float:
        """The listening level (1.0: the synth's own level, at which exports are written)."""
        return self._volume

    def set_volume(self, fraction: float) -> None:
        """Play at ``fraction`` (0.01-1.5) x the synth's own level, from the next block on, sounding notes too
        (which outlive a dip to the lowest level: see MIN_VOLUME). Raises ValueError outside that range."""
        self._volume = checked_volume(fraction)
        with self._live_lock:
            if self._synth is not None:
                self._synth.set_gain(DEFAULT_GAIN * self._volume)

    @property
    def gain(self) -> float | None:
        """The live synth's gain as FluidSynth holds it (None once closed, or without FluidSynth)."""
        with self._live_lock:
            return None if self._synth is None else self._synth.gain

    # --- live notes (any thread; direct synth calls under ``_live_lock``, which close() takes too) --------------
    def _live_channel(self, track_index: int) -> int:
        if isinstance(track_index, int) and 0 <= track_index < min(len(self._mixes), MAX_TRACKS):
            return live_channel(track_index)
        return FREE_LIVE_CHANNEL

    def live_note_on(self, pitch: int, velocity: int, track_index: int) -> None:
        t0 = time.perf_counter()
        with self._live_lock:
            if self._synth is None:
                return
            if 0 <= pitch <= 127:
                self._synth.noteon(self._live_channel(track_index), int(pitch), max(1, min(127, int(velocity))))
        self.last_live_call_sec = time.perf_counter() - t0

    def live_note_off(self, pitch: int, track_index: int) -> None:
        with self._live_lock:
            if self._synth is not None and 0 <= pitch <= 127:
                self._synth.noteoff(self._live_channel(track_index), int(pitch))

    def set_sustain(self, on: bool, track_index: int) -> None:
        with self._live_lock:
            if self._synth is not None:
                self._synth.cc(self._live_channel(track_index), SUSTAIN, 127 if on else 0)

    def live_pitch_bend(self, value: int, track_index: int) -> None:
        """Pitch bend from a keyboard: ``value`` -8192..8191 (0 = centre)."""
        with self._live_lock:
            if self._synth is not None:
                self._synth.pitch_bend(self._live_channel(track_index), max(0, min(16383, int(value) + 8192)))

    def live_control(self, control: int, value: int, track_index: int) -> None:
        """A controller from a keyboard (mod wheel CC 1, expression, sustain ..., or its aftertouch:
        CHANNEL_PRESSURE), passed through."""
        value = max(0, min(127, int(value)))
        with self._live_lock:
            if self._synth is None:
                return
            if 0 <= control <= 127:
                self._synth.cc(self._live_channel(track_index), int(control), value)
            elif control == CHANNEL_PRESSURE:
                self._synth.channel_pressure(self._live_channel(track_index), value)

    def all_live_notes_off(self) -> None:
        """Release every live note on every track's live channel, with the pedal up and no aftertouch."""
        with self._live_lock:
            if self._synth is not None:
                for chan in list(range(LIVE_CHANNEL_BASE, LIVE_CHANNEL_BASE + MAX_TRACKS)) + [FREE_LIVE_CHANNEL]:
                    self._synth.cc(chan, SUSTAIN, 0)
                    self._synth.channel_pressure(chan, 0)
                    self._synth.all_notes_off(chan)

    # --- feeder thread ------------------------------------------------------------------------------------------
    def _feed(self) -> None:
        # The feeder briefly holds FluidSynth's sequencer lock, which the audio thread (real-time) also takes: if
        # an ordinary thread were preempted while holding it, another busy process would make the audio thread
        # wait (priority inversion, heard as drop-outs). Real-time round-robin below the audio thread, when the
        # system allows it; the feeder sleeps most of the time, so it takes almost no CPU.
        raise_current_thread(FEEDER_RT_PRIORITY)
        last_ms, last_change = self._synth.now_ms(), time.monotonic()
        while not self._closed:
            self._wake.wait(FEED_PERIOD_SEC if self._playing else 5 * FEED_PERIOD_SEC)
            self._wake.clear()
            if self._closed:
                break
            now_ms = self._synth.now_ms()
            mono = time.monotonic()
            if now_ms != last_ms:
                if self._clock_from is None:
                    self._clock_from = last_ms
                arm_ms = 1000 * (self.blocksize * self.periods / self.samplerate + WATCHDOG_ARM_SEC)
                self._clock_seen = self._clock_seen or now_ms - self._clock_from > arm_ms
                last_ms, last_change = now_ms, mono
            elif (mono - last_change > WATCHDOG_SEC and self._clock_seen and not self.device_lost
                  and self.output is not None):
                # the driver's thread stopped rendering: the device went away (armed once the clock has run,
                # because a sound server can take a second to start a stream)
                self.device_lost = True
                self.available = False
                self.problem = (f"The audio output ({self.output.label}) stopped responding (unplugged?). "
                                "Choose another output device to continue.")
                with self._lock:
                    self._stop_locked(rewind=False)
            if not self._playing:
                continue
            with self._lock:
                if not self._playing:
                    continue
                now = self._now_sample()
                self._sched.pump(now + self._lookahead)
                fin = self._sched.finished_at
                if fin is not None and now - int(self.output_latency_sec * self.samplerate) >= fin:
                    # the end: every note-off has been dispatched, so let the release and reverb ring out
                    self._position_tick = self._song.end_tick if not self._metronome else self.position_tick
                    self._playing = False

    # --- teardown -----------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop playback and the output, free the synth. The engine cannot be used afterwards."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        with self._lock:
            self._playing = False
            with self._live_lock:           # waits for a live call in progress; later ones see no synth
                synth, self._synth = self._synth, None
            if synth is not None:
                synth.close()
            self._sched = None
        self.available = False

    def __enter__(self) -> "PlaybackEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
