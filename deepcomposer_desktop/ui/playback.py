"""The GUI's edge of the audio engine: starts it off the GUI thread, keeps it fed with the Song and track states,
and moves the playhead from ``engine.position_tick`` on a ~16 ms timer. Also records live notes into a track.
GUI thread only (the engine itself runs its own audio callback thread).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, Signal

from ..core.song import NOT_TRACK_CONTROLS, SUSTAIN, Control, Note, Song, SongError
from ..core.timing import TempoMap
from ..midi.recorder import PRE_ROLL_SEC, count_in_seconds

TRACK_STATE_FIELDS = ("mute", "solo", "volume", "pan", "program")


class NullEngine:
    """Stand-in while the real engine starts or when audio is unavailable: silent, but its clock runs, so the
    transport, playhead and recording still work. Same interface as audio.engine.PlaybackEngine."""

    available = False
    volume = 1.0

    def __init__(self, problem: str = "Starting audio…") -> None:
        self.problem = problem
        self._song = Song()
        self._tempo = TempoMap.of(self._song)
        self._origin_tick = 0
        self._t0: float | None = None
        self._loop: tuple[int, int] | None = None

    def set_song(self, song: Song) -> None:
        self._song, self._tempo = song, TempoMap.of(song)

    swap_song = set_song

    @property
    def is_playing(self) -> bool:
        return self._t0 is not None

    @property
    def position_tick(self) -> int:
        if self._t0 is None:
            return self._origin_tick
        sec = self._tempo.tick_to_seconds(self._origin_tick) + time.monotonic() - self._t0
        tick = int(self._tempo.seconds_to_tick(sec))
        if self._loop and tick >= self._loop[1] > self._loop[0]:
            span = self._loop[1] - self._loop[0]
            tick = self._loop[0] + (tick - self._loop[0]) % span
        return tick

    def play(self, from_tick: int | None = None) -> None:
        if from_tick is not None:
            self._origin_tick = max(0, int(from_tick))
        self._t0 = time.monotonic()

    def pause(self) -> None:
        self._origin_tick = self.position_tick
        self._t0 = None

    def stop(self) -> None:
        self.pause()

    def seek(self, tick: int) -> None:
        self._origin_tick = max(0, int(tick))
        if self._t0 is not None:
            self._t0 = time.monotonic()

    def set_loop(self, start_tick, end_tick) -> None:
        self._loop = None if start_tick is None or end_tick is None else (int(start_tick), int(end_tick))

    def set_track_state(self, index: int, **state) -> None:
        pass

    def live_note_on(self, pitch: int, velocity: int, track_index: int) -> None:
        pass

    def live_note_off(self, pitch: int, track_index: int) -> None:
        pass

    def set_sustain(self, on: bool, track_index: int) -> None:
        pass

    def set_metronome(self, enabled: bool) -> None:
        pass

    def set_count_in(self, bars: int) -> None:
        pass

    def set_volume(self, fraction: float) -> None:
        self.volume = float(fraction)

    def close(self) -> None:
        self.pause()


@dataclass
class Recording:
    """What is played while recording, in song ticks (GUI thread): notes, held on while the sustain pedal is down
    (as :class:`midi.recorder.TakeRecorder` does), and the controllers moved (pitch bend, mod wheel ...).
    A tick of None (see :meth:`PlaybackController.take_tick`) is the count-in: only the pedal's state counts."""

    track_index: int                                # -1 once the track is gone (deleted while recording)
    start_tick: int
    notes: list[Note] = field(default_factory=list)
    open_notes: dict[int, tuple[int, int]] = field(default_factory=dict)  # pitch -> (start, velocity)
    loop: tuple[int, int] | None = None            # recording over a loop: one take per pass
    passes: list[list[Note]] = field(default_factory=list)   # finished passes (loop recording)
    last_tick: int = -1
    pedal: bool = False
    sustained: set[int] = field(default_factory=set)         # keys up, held by the pedal
    controls: list[Control] = field(default_factory=list)
    pass_controls: list[list[Control]] = field(default_factory=list)
    beat_one_sec: float = 0.0          # PlaybackController.clock's time at which the transport passes start_tick

    def follow(self, tick: int) -> None:
        """The transport is at ``tick`` (each event's, and the window's timer's while recording, so a pass played
        where the last one was is noticed): a jump backwards while looping means the loop wrapped, and the pass so
        far becomes a take."""
        if self.loop is not None and tick + max(1, (self.loop[1] - self.loop[0]) // 4) < self.last_tick:
            for pitch in list(self.open_notes):
                self._close(pitch, self.loop[1])
            self.sustained.clear()
            self.passes.append(self.notes)
            self.pass_controls.append(self.controls)
            self.notes, self.controls = [], []
        self.last_tick = tick

    def _clamp(self, tick: int) -> int:
        return max(self.start_tick if self.loop is None else self.loop[0], tick)  # count-in lands on beat 1

    def note_on(self, pitch: int, velocity: int, tick: int | None) -> None:
        if tick is None:
            return
        tick = self._clamp(tick)
        self.follow(tick)
        if pitch in self.open_notes:
            self._close(pitch, tick)
        self.sustained.discard(pitch)
        self.open_notes[pitch] = (tick, velocity)

    def note_off(self, pitch: int, tick: int | None) -> None:
        if tick is None:
            return
        self.follow(tick)
        if self.pedal and pitch in self.open_notes:
            self.sustained.add(pitch)
        else:
            self._close(pitch, tick)

    def sustain(self, on: bool, tick: int | None) -> None:
        """The sustain pedal: released keys sound on until it is lifted."""
        self.pedal = bool(on)
        if tick is None:
            return
        self.follow(tick)
        if not on:
            for pitch in sorted(self.sustained):
                self._close(pitch, tick)
            self.sustained.clear()

    def control(self, number: int, value: int, tick: int | None) -> None:
        """A controller change (``number`` PITCH_BEND for the bend, -8192..8191); the mixer's own (volume, pan
        ...) are not the track's to keep."""
        if number in NOT_TRACK_CONTROLS or number == SUSTAIN or tick is None:
            return
        tick = self._clamp(tick)
        self.follow(tick)
        try:
            self.controls.append(Control(tick, number, value))
        except SongError:
            pass

    def _close(self, pitch: int, tick: int) -> None:
        if pitch in self.open_notes:
            start, vel = self.open_notes.pop(pitch)
            self.notes.append(Note.make(pitch, start, max(1, tick - start), max(1, min(127, vel))))

    def finish(self, tick: int) -> list[Note]:
        """The notes of the last pass (all notes when not looping)."""
        self.follow(tick)
        for pitch in list(self.open_notes):
            self._close(pitch, max(tick, self.open_notes[pitch][0] + 1))
        self.sustained.clear()
        return sorted(self.notes)

    def takes(self, tick: int) -> list[tuple[list[Note], list[Control]]]:
        """Every pass that got notes or controller changes, oldest first, as (notes, controls) (one when not
        looping). Call once, at the end."""
        last = self.finish(tick)
        out = list(zip(self.passes, self.pass_controls)) + [(last, self.controls)]
        return [(sorted(n), list(c)) for n, c in out if n or c]


def play_in_place(owner, song: Song) -> None:
    """``song`` (a take, the jam's band) plays in the project's place, in time: through ``owner.stage`` (the
    window's PlaybackController) when the panel has one, else straight on ``owner.engine_getter()``."""
    if owner.stage is not None:
        owner.stage.play_guest(owner, song)
    else:
        owner.engine_getter().swap_song(song)


def state_changes(old: Song, new: Song) -> dict[int, dict] | None:
    """Per-track mixer changes between two songs, or None when anything else (notes, tracks, tempo, metre) changed."""
    if len(old.tracks) != len(new.tracks) or old.tempos != new.tempos or old.ppq != new.ppq or \
            old.time_signatures != new.time_signatures:             # the metronome follows the metre
        return None
    changes: dict[int, dict] = {}
    for i, (a, b) in enumerate(zip(old.tracks, new.tracks)):
        if a is b:
            continue
        if a.notes is not b.notes and a.notes != b.notes or a.is_drum != b.is_drum:
            return None
        diff = {f: getattr(b, f) for f in TRACK_STATE_FIELDS if getattr(a, f) != getattr(b, f)}
        if diff:
            changes[i] = diff
    return changes


class PlaybackController(QObject):
    """Owns the engine (or a NullEngine) and the playhead timer.

    Signals (GUI thread): ``position_changed(tick)`` every timer tick while playing (and after seeks),
    ``playing_changed(bool)``, ``engine_status(str)`` (what is wrong in plain words: that audio is off and why,
    or what a working engine had to do instead, such as using the default soundfont; "" when all is well),
    ``guest_ended(owner)`` when an edit of the project ended another song playing in its place (see
    :meth:`play_guest`), ``recording_interrupted()`` when a new engine arrives while recording (the owner ends the
    take now, as Stop does; one it leaves running is ended without its take before the swap),
    ``sounding_song_changed(song)`` when another Song plays in the engine (:attr:`sounding_song`): an edit of the
    project, a song put in its place (a training sample), a guest's take or band, the project back after a guest.
    """

    position_changed = Signal(int)
    playing_changed = Signal(bool)
    engine_status = Signal(str)
    guest_ended = Signal(object)
    recording_interrupted = Signal()
    sounding_song_changed = Signal(object)
    clock = staticmethod(time.perf_counter)      # the MIDI input's clock (its events' time_sec): see position_at

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = NullEngine()
        self.song = Song()
        self.loop_enabled = False
        self.loop_range: tuple[int, int] | None = None
        self.metronome = False
        self.count_in_bars = 1
        self.volume = 1.0                     # the listening level (see set_volume), kept for every new engine
        self.play_from = 0
        self.recording: Recording | None = None
        self.guest: object | None = None      # who has another song playing in the project's place (a take ...)
        self._guest_song: Song | None = None
        self._sounding: Song = self.song      # as last announced by sounding_song_changed
        self._was_playing = False
        self._last_tick = -1
        self._tempo_map: tuple = (None, None)         # (song, its TempoMap) for position_at
        self.timer = QTimer(self)
        self.timer.setInterval(16)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    # --- engine ----------------------------------------------------------------------------------------------------
    def attach_engine(self, engine) -> None:
        """Use ``engine`` from now on (a real PlaybackEngine, or anything with its interface)."""
        self._end_take()
        old = self.engine
        # an engine that is not "available" may still run silently (no sound device): keep it, so the
        # transport and live notes work; one without any output at all (no FluidSynth) is swapped for a clock
        if not getattr(engine, "available", False) and getattr(engine, "output", None) is None \
                and not isinstance(engine, NullEngine):
            problem = getattr(engine, "problem", "") or "Audio output is not available"
            try:
                engine.close()
            except Exception:
                pass
            engine = NullEngine(problem)
        pos, was_playing = old.position_tick, old.is_playing and self.guest is None
        try:
            old.stop()
            if not isinstance(old, NullEngine):
                old.close()
        except Exception:
            pass
        self.engine = engine
        owner, self.guest = self.guest, None           # another song played in the old engine: the project now
        engine.set_song(self.song)
        self._apply_mixer()
        engine.set_metronome(self.metronome)
        engine.set_count_in(0)                      # count-in is for recording only
        engine.set_volume(self.volume)              # a new soundfont or device: the user's level still
        engine.set_loop(*(self.loop_range if self.looping else (None, None)))
        engine.seek(pos)
        if was_playing:                             # a new soundfont or device: the song plays on from there
            engine.play(pos)
        if owner is not None:
            self.guest_ended.emit(owner)
        self._announce_sounding()
        # a working engine may still have a problem to tell (e.g. the chosen soundfont replaced by the default)
        self.engine_status.emit(getattr(engine, "problem", "") if getattr(engine, "available", False) else
                                (getattr(engine, "problem", "") or "Audio output is not available"))

    def _end_take(self) -> None:
        """Before the engine changes: a take in progress ends on the engine it was recorded against (the window
        puts it into the song, as Stop does)."""
        if self.recording is not None:
            self.recording_interrupted.emit()
            if self.recording is not None:
                self.stop_recording()

    def engine_failed(self, problem: str) -> None:
        self._end_take()
        self.engine = NullEngine(problem)
        self.engine.set_song(self.song)
        self.engine_status.emit(problem)

    def close(self) -> None:
        self.timer.stop()
        try:
            self.engine.stop()
            self.engine.close()
        except Exception:
            pass

    # --- song ------------------------------------------------------------------------------------------------------
    def set_song(self, song: Song) -> None:
        """The project changed. While another song plays in its place (:meth:`play_guest`) a mixer change waits
        for the project to play again (the engine's tracks are the other song's); any other change ends it."""
        old, self.song = self.song, song
        changes = state_changes(old, song)
        if self.guest is not None:
            if changes is not None:
                return
            owner, self.guest = self.guest, None
            self._install_project()
            self.guest_ended.emit(owner)
        elif changes is not None:
            for i, diff in changes.items():
                self.engine.set_track_state(i, **diff)
        else:
            self._install_project()
        self._announce_sounding()

    @property
    def sounding_song(self) -> Song:
        """The Song the engine plays: the project's (:attr:`song`), or a guest's in its place (:meth:`play_guest`)."""
        return self._guest_song if self.guest is not None else self.song

    def _announce_sounding(self) -> None:
        if self.sounding_song is not self._sounding:
            self._sounding = self.sounding_song
            self.sounding_song_changed.emit(self._sounding)

    def _install_project(self) -> None:
        song = self.song
        if self.engine.is_playing:
            self.engine.swap_song(song)
        else:
            self.engine.set_song(song)
        self._apply_mixer()

    def _apply_mixer(self) -> None:
        """The project's mute, solo, volume, pan and instrument of every track, on the engine."""
        for i, t in enumerate(self.song.tracks):
            self.engine.set_track_state(i, mute=t.mute, solo=t.solo, volume=t.volume, pan=t.pan, program=t.program)

    def play_guest(self, owner: object, song: Song) -> None:
        """Let ``owner`` (the Audition's take, the Jam's band) play ``song`` in the project's place, in time."""
        self.guest, self._guest_song = owner, song
        self.engine.swap_song(song)
        self._announce_sounding()

    def end_guest(self, owner: object) -> None:
        """The project plays again (with any mixer change made meanwhile) if ``owner``'s song was playing."""
        if self.guest is owner:
            self.guest = None
            self.engine.swap_song(self.song)
            self._apply_mixer()
            self._announce_sounding()

    # --- transport -------------------------------------------------------------------------------------------------
    @property
    def is_playing(self) -> bool:
        return bool(self.engine.is_playing)

    @property
    def position(self) -> int:
        return int(self.engine.position_tick)

    def toggle_play(self) -> None:
        if self.is_playing:
            self.pause()
        else:
            self.play()

    @property
    def looping(self) -> bool:
        """Whether a loop plays: the loop button on *and* a range set in the ruler."""
        return bool(self.loop_enabled and self.loop_range)

    def play(self, from_tick: int | None = None) -> None:
        start = self.position if from_tick is None else from_tick
        if start >= self.song.end_tick:             # at the end: again from the top (of the loop, when looping)
            start = self.loop_range[0] if self.looping else 0
        self.play_from = start
        self.engine.play(start)
        self._tick()

    def pause(self) -> None:
        """Pause; a take in progress ends here, into the song (as Stop does)."""
        self._end_take()                            # recording stops paused
        self.engine.pause()
        self._tick()

    def stop(self, was_playing: bool | None = None) -> None:
        """Stop; a second stop (or stop while stopped) returns to the start. ``was_playing``: whether it played
        just before (a recording that just ended has paused it already)."""
        was = self.is_playing if was_playing is None else was_playing
        self.engine.stop()
        self.engine.seek(self.play_from if was else 0)
        if not was:
            self.play_from = 0
        self._tick(force=True)

    def seek(self, tick: int) -> None:
        self._end_take()                            # a take in progress ends where it was, into the song
        self.engine.seek(max(0, int(tick)))
        if not self.is_playing:
            self.play_from = max(0, int(tick))
        self._tick(force=True)

    def set_loop_enabled(self, on: bool) -> None:
        self.loop_enabled = on
        self._push_loop()

    def set_loop_range(self, start, end) -> None:
        self.loop_range = None if start is None or end is None or end <= start else (int(start), int(end))
        self._push_loop()

    def _push_loop(self) -> None:
        if self.looping:
            self.engine.set_loop(*self.loop_range)
        else:
            self.engine.set_loop(None, None)

    def set_metronome(self, on: bool) -> None:
        self.metronome = on
        self.engine.set_metronome(on)

    def set_count_in(self, bars: int) -> None:
        """Bars of count-in before recording starts (plain playback starts at once)."""
        self.count_in_bars = int(bars)

    def set_volume(self, fraction: float) -> None:
        """The listening level, 0.01-1.5 x the synth's own level (PlaybackEngine.set_volume), heard at once; every
        engine attached later gets it too."""
        self.engine.set_volume(fraction)
        self.volume = float(fraction)

    # --- live notes and recording ------------------------------------------------------------------------------------
    def live_note_on(self, pitch: int, velocity: int, track_index: int) -> None:
        self.engine.live_note_on(pitch, velocity, track_index)
        if self.recording is not None:
            self.recording.note_on(pitch, velocity, self._live_tick())

    def live_note_off(self, pitch: int, track_index: int) -> None:
        self.engine.live_note_off(pitch, track_index)
        if self.recording is not None:
            self.recording.note_off(pitch, self._live_tick())

    def _live_tick(self) -> int | None:
        """Where a note of the on-screen or computer keyboard goes in the recording, as one from a MIDI keyboard
        played now: nowhere during the count-in, except just before beat 1, which lands on it (``take_tick``)."""
        if getattr(self.engine, "count_in_active", False):
            return self.take_tick()
        return self.position

    def set_sustain(self, on: bool, track_index: int) -> None:
        self.engine.set_sustain(on, track_index)

    def position_at(self, time_sec: float) -> int:
        """The song tick the transport was at when ``self.clock()`` read ``time_sec`` (a moment ago: a MIDI
        event's ``time_sec``); while the count-in plays, the start tick, as ``position`` says."""
        tick = self.position
        age = self.clock() - time_sec
        if age <= 0 or not self.is_playing or getattr(self.engine, "count_in_active", False):
            return tick
        if self._tempo_map[0] is not self.song:          # one map per song, not one per MIDI event (bend streams)
            self._tempo_map = (self.song, TempoMap.of(self.song))
        tm = self._tempo_map[1]
        sec = tm.tick_to_seconds(tick) - age
        if self.looping and tick >= self.loop_range[0]:
            lo, hi = (tm.tick_to_seconds(t) for t in self.loop_range)
            if sec < lo:                             # the loop wrapped since
                sec = hi - (lo - sec) % (hi - lo)
        return int(round(tm.seconds_to_tick(max(sec, 0.0))))

    def take_tick(self, time_sec: float | None = None) -> int | None:
        """Where an event played at ``time_sec`` (``self.clock()``'s time; None: now) goes in the recording: None
        during the count-in, the start tick when struck up to PRE_ROLL_SEC before it, as TakeRecorder does."""
        rec = self.recording
        time_sec = self.clock() if time_sec is None else time_sec
        if rec is not None and time_sec < rec.beat_one_sec:
            return None if time_sec < rec.beat_one_sec - PRE_ROLL_SEC else rec.start_tick
        return self.position_at(time_sec)

    def start_recording(self, track_index: int, pedal: bool = False) -> None:
        """Record from the position (the loop's start when outside it) after the count-in; ``pedal``: the sustain
        pedal is down already."""
        start = self.position
        loop = self.loop_range if self.looping else None
        if loop is not None and not loop[0] <= start < loop[1]:
            start = loop[0]
            self.seek(start)
        self.recording = Recording(track_index, start, loop=loop, pedal=bool(pedal))
        self.engine.set_metronome(True)
        self.engine.set_count_in(self.count_in_bars)
        self.engine.play(start)
        lead = count_in_seconds(self.song, start, self.count_in_bars) \
            if getattr(self.engine, "count_in_active", False) else 0.0      # engines without one start at once
        self.recording.beat_one_sec = self.clock() + lead + getattr(self.engine, "output_latency_sec", 0.0)
        self.play_from = start
        self._tick()

    def stop_recording(self) -> tuple[Recording, list[tuple[list[Note], list[Control]]]] | None:
        """(the recording, its takes: see ``Recording.takes``), or None when nothing was being recorded."""
        rec, self.recording = self.recording, None
        if rec is None:
            return None
        takes = rec.takes(self.position)
        self.engine.pause()
        self.engine.set_metronome(self.metronome)
        self.engine.set_count_in(0)
        self._tick(force=True)
        return rec, takes

    # --- timer -----------------------------------------------------------------------------------------------------
    def _tick(self, force: bool = False) -> None:
        playing = self.is_playing
        if playing != self._was_playing:
            self._was_playing = playing
            self.playing_changed.emit(playing)
            force = True                    # stopped by itself at the end: show where it stopped
        if playing or force:
            tick = self.position
            if tick != self._last_tick or force:
                self._last_tick = tick
                self.position_changed.emit(tick)
            if playing and self.recording is not None and not getattr(self.engine, "count_in_active", False):
                self.recording.follow(tick)
            if playing and not self.looping and self.recording is None and tick > self.song.sound_end_tick + \
                    self.song.ppq:                  # a pedal lifted after the last note rings until it lifts
                self.engine.stop()          # ran past the end
                self.engine.seek(self.play_from)
                self._tick(force=True)
