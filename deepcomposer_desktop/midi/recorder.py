"""Recording from a MIDI keyboard as pure functions over timestamped input events (no rtmidi, no Qt, no threads).

``decode`` turns raw MIDI bytes into event dataclasses; ``ChordExpander`` is chord mode (one key -> a triad in the
song's key); ``TakeRecorder`` turns events into takes of notes (replace or overdub, loop recording keeping every
take, input quantize with strength); ``apply_take`` / ``takes_as_tracks`` put takes into a Song.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Iterable

from ..core.edits import quantize_notes
from ..core.song import (CHANNEL_PRESSURE, MOD_WHEEL, NOT_TRACK_CONTROLS, PITCH_BEND, KeySignature, Note, Song,
                         SongError, Track, reset_value)
from ..core.song import Control as SongControl
from ..core.timing import TempoMap

# --- input events -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteOn:
    time_sec: float
    pitch: int
    velocity: int
    channel: int = 0


@dataclass(frozen=True, slots=True)
class NoteOff:
    time_sec: float
    pitch: int
    channel: int = 0


@dataclass(frozen=True, slots=True)
class Sustain:
    """The sustain pedal (CC 64): down when the value is 64 or more."""
    time_sec: float
    on: bool
    channel: int = 0


@dataclass(frozen=True, slots=True)
class Control:
    """Any other control change (CC 1 is the mod wheel), or the keyboard's aftertouch (number CHANNEL_PRESSURE)."""
    time_sec: float
    number: int
    value: int
    channel: int = 0


@dataclass(frozen=True, slots=True)
class PitchBend:
    """Pitch bend, -8192 (down) .. 0 (centre) .. 8191 (up)."""
    time_sec: float
    value: int
    channel: int = 0


@dataclass(frozen=True, slots=True)
class DeviceLost:
    """The keyboard that was being played vanished (unplugged); recording stops here."""
    time_sec: float
    port: str


InputEvent = NoteOn | NoteOff | Sustain | Control | PitchBend | DeviceLost
SUSTAIN_CC = 64
MOD_WHEEL_CC = 1


PRE_ROLL_SEC = 0.25     # a note struck up to this long before beat 1 (the count-in's end) lands on it


def decode(message, time_sec: float):
    """One MIDI channel message (a sequence of ints/bytes) as an event, or None for anything else (sysex, clock…)
    and for a malformed message (a data byte above 127: dropped, not masked into another note)."""
    if len(message) < 2:
        return None
    status = message[0]
    if not all(0 <= b <= 0x7F for b in message[1:]):
        return None
    kind, channel = status & 0xF0, status & 0x0F
    if kind == 0x90 and len(message) >= 3:
        if message[2] == 0:
            return NoteOff(time_sec, message[1], channel)
        return NoteOn(time_sec, message[1], message[2], channel)
    if kind == 0x80:
        return NoteOff(time_sec, message[1], channel)
    if kind == 0xB0 and len(message) >= 3:
        if message[1] == SUSTAIN_CC:
            return Sustain(time_sec, message[2] >= 64, channel)
        return Control(time_sec, message[1], message[2], channel)
    if kind == 0xE0 and len(message) >= 3:
        return PitchBend(time_sec, (message[2] << 7 | message[1]) - 8192, channel)
    if kind == 0xD0:
        return Control(time_sec, CHANNEL_PRESSURE, message[1], channel)
    return None


# --- chord mode ---------------------------------------------------------------------------------------------

_MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
_MINOR_STEPS = (0, 2, 3, 5, 7, 8, 10)   # natural minor


def scale_pitch_classes(key: str | KeySignature | None) -> frozenset[int]:
    """The seven pitch classes of a major or (natural) minor key such as "G" or "F#m"; C major when None."""
    if key is None:
        key = "C"
    ks = key if isinstance(key, KeySignature) else KeySignature(0, key)
    steps = _MINOR_STEPS if ks.is_minor else _MAJOR_STEPS
    return frozenset((ks.tonic_pitch_class + s) % 12 for s in steps)


def triad(pitch: int, key: str | KeySignature | None) -> tuple[int, ...]:
    """The triad built on ``pitch`` from the key's own notes (C in C major -> C E G, D -> D F A, B -> B D F).

    A key outside the scale gets a major triad (a borrowed chord, as bVII or the Neapolitan).
    Notes above 127 are left out. Raises SongError for an unknown key.
    """
    scale = scale_pitch_classes(key)
    pc = pitch % 12
    if pc not in scale:
        return tuple(p for p in (pitch, pitch + 4, pitch + 7) if p <= 127)
    third = 4 if (pc + 4) % 12 in scale or (pc + 3) % 12 not in scale else 3
    fifth = 7 if (pc + 7) % 12 in scale or (pc + 6) % 12 not in scale else 6
    return tuple(p for p in (pitch, pitch + third, pitch + fifth) if p <= 127)


def chord_table(key: str | KeySignature | None) -> tuple[tuple[int, ...], ...]:
    """``triad`` for every pitch 0-127, precomputed so that the MIDI callback only looks it up."""
    return tuple(triad(p, key) for p in range(128))


class ChordExpander:
    """Chord mode's state: which output notes each held key started, with reference counts so that two held
    keys sharing a note (C-E-G and E-G-B) do not cut each other off. A key held down on several MIDI channels at
    once (a layered or split controller) is one key: it sounds once and stops when its last channel lets go.

    Not thread-safe: used from the MIDI callback thread only (``MidiInputManager``), or in tests.
    """

    def __init__(self, table: tuple[tuple[int, ...], ...] | None = None) -> None:
        self.table = table            # None: chord mode off (keys pass through unchanged)
        self._held: dict[int, tuple[int, ...]] = {}
        self._count = [0] * 128
        self._channels = [0] * 128    # key -> bit mask of the MIDI channels holding it down

    def press(self, pitch: int, channel: int = 0) -> tuple[int, ...]:
        """Notes to switch on for a key going down on ``channel`` (already sounding ones are not struck twice;
        nothing for a key another channel already holds)."""
        bit = 1 << channel
        others = self._channels[pitch] & ~bit
        self._channels[pitch] |= bit
        if others:
            return ()
        if pitch in self._held:               # a repeated note-on without its note-off
            self._release_key(pitch)
        notes = self.table[pitch] if self.table is not None else (pitch,)
        self._held[pitch] = notes
        started = []
        for p in notes:
            if self._count[p] == 0:
                started.append(p)
            self._count[p] += 1
        return tuple(started)

    def release(self, pitch: int, channel: int = 0) -> tuple[int, ...]:
        """Notes to switch off for a key going up on ``channel`` (those no other held key still needs; nothing
        while another channel still holds the key)."""
        held, bit = self._channels[pitch], 1 << channel
        if not held & bit:                    # let go on a channel that did not press it (its channel changed)
            bit = held & -held
        self._channels[pitch] = held & ~bit
        if self._channels[pitch]:
            return ()
        return self._release_key(pitch)

    def _release_key(self, pitch: int) -> tuple[int, ...]:
        notes = self._held.pop(pitch, None)
        if notes is None:
            return (pitch,) if self._count[pitch] == 0 else ()
        stopped = []
        for p in notes:
            self._count[p] -= 1
            if self._count[p] == 0:
                stopped.append(p)
        return tuple(stopped)

    def release_all(self) -> tuple[int, ...]:
        """Every sounding note (for an unplugged device), and forget them."""
        sounding = tuple(p for p in range(128) if self._count[p] > 0)
        self._held.clear()
        self._count = [0] * 128
        self._channels = [0] * 128
        return sounding


def expand_chords(events: Iterable, key: str | KeySignature | None) -> list:
    """Chord mode applied to a list of events (what the live path does message by message)."""
    ex = ChordExpander(chord_table(key))
    out = []
    for ev in events:
        if isinstance(ev, NoteOn):
            out.extend(NoteOn(ev.time_sec, p, ev.velocity, ev.channel) for p in ex.press(ev.pitch))
        elif isinstance(ev, NoteOff):
            out.extend(NoteOff(ev.time_sec, p, ev.channel) for p in ex.release(ev.pitch))
        else:
            out.append(ev)
    return out


# --- quantize -----------------------------------------------------------------------------------------------

GRIDS = {"1/8": (1, 2), "1/16": (1, 4), "1/8T": (1, 3)}   # fraction of a quarter note


def grid_ticks(grid: str, ppq: int) -> int:
    """Ticks per grid step for "1/8", "1/16" or "1/8T" (eighth-note triplets). Raises SongError otherwise."""
    try:
        num, den = GRIDS[grid]
    except KeyError:
        raise SongError(f"Unknown quantize grid {grid!r}; choose one of {', '.join(GRIDS)}") from None
    return max(1, ppq * num // den)


@dataclass(frozen=True, slots=True)
class InputQuantize:
    """Input quantize: move note starts toward the ``grid`` by ``strength`` (0 = not at all, 1 = fully)."""
    grid: str = "1/16"
    strength: float = 1.0

    def __post_init__(self) -> None:
        grid_ticks(self.grid, 480)
        if not 0.0 <= float(self.strength) <= 1.0:
            raise SongError(f"Quantize strength must be between 0 and 1, got {self.strength}")


# --- recording ------------------------------------------------------------------------------------------------

REPLACE, OVERDUB = "replace", "overdub"


@dataclass(frozen=True, slots=True)
class Take:
    """One recorded pass: notes in song ticks inside [start_tick, end_tick). ``complete`` is False for a pass
    cut short (stopped or unplugged before its end)."""
    index: int
    start_tick: int
    end_tick: int
    notes: tuple[Note, ...]
    complete: bool = True
    controls: tuple[SongControl, ...] = ()  # pitch bend, mod wheel ... as played (the pedal is in the notes)


@dataclass(frozen=True, slots=True)
class Recording:
    """Every take of one recording (one, or one per loop pass that got notes) and why it stopped:
    "stopped" (the user), "device lost" (the keyboard vanished) or "punch out" (reached ``stop_tick``)."""
    takes: tuple[Take, ...]
    reason: str = "stopped"

    @property
    def last(self) -> Take | None:
        return self.takes[-1] if self.takes else None


def count_in_seconds(song: Song, start_tick: int, bars: int) -> float:
    """How long ``bars`` bars of count-in last at the tempo in force at ``start_tick``."""
    if bars <= 0:
        return 0.0
    return bars * song.bar_ticks * 60.0 / (TempoMap.of(song).bpm_at(start_tick) * song.ppq)


class TakeRecorder:
    """Builds takes from timestamped input events while the transport plays.

    ``start_sec`` is the input clock's time (``MidiInputManager.clock``) at which playback passes ``start_tick``
    (after any count-in: see ``count_in_seconds``). With ``loop=(start, end)`` the transport is taken to jump back
    to ``start`` at ``end`` and each pass becomes its own take. Notes played up to ``pre_roll_sec`` before the
    start land on it; earlier ones (the count-in) are ignored. With ``apply_sustain`` a note released while the
    pedal is down lasts until the pedal lifts (so the models read the notes as they sounded). Pitch bend and the
    other controllers (mod wheel, expression ...) are kept as the take's controller changes.
    A ``DeviceLost`` event stops recording cleanly, keeping the notes so far.
    Pure state, no threads: feed it on the GUI thread from ``MidiInputManager.drain()``.
    """

    def __init__(self, song: Song, *, start_tick: int, start_sec: float, loop: tuple[int, int] | None = None,
                 stop_tick: int | None = None, quantize: InputQuantize | None = None, apply_sustain: bool = True,
                 latency_sec: float = 0.0, pre_roll_sec: float = PRE_ROLL_SEC) -> None:
        if start_tick < 0:
            raise SongError("Recording cannot start before the song does")
        self.ppq = song.ppq
        self._tm = TempoMap.of(song)
        self.start_tick = start_tick
        self.start_sec = start_sec
        self.quantize = quantize
        self.apply_sustain = apply_sustain
        self.latency_sec = latency_sec
        self.pre_roll_sec = pre_roll_sec
        self.stop_tick = stop_tick
        if loop is not None:
            lo, hi = loop
            if not 0 <= lo < hi:
                raise SongError("A loop must end after it starts")
            if not lo <= start_tick < hi:
                raise SongError("Loop recording must start inside the loop")
        self.loop = loop
        self._base_sec = self._tm.tick_to_seconds(start_tick)
        if loop is not None:
            self._loop_sec = (self._tm.tick_to_seconds(loop[0]), self._tm.tick_to_seconds(loop[1]))
        self._open: dict[int, tuple[int, int, int]] = {}     # pitch -> (pass, tick, velocity)
        self._sustained: set[int] = set()                   # released while the pedal is down
        self._pedal = False
        self._notes: dict[int, list[Note]] = {}               # pass -> notes
        self._controls: dict[int, list[SongControl]] = {}    # pass -> controller changes
        self._last_pos = (0, start_tick)
        self.result: Recording | None = None

    # -- time -> (pass, tick) --
    def position(self, time_sec: float) -> tuple[int, int]:
        """Which loop pass (0 without a loop) and song tick the transport is at, at input time ``time_sec``."""
        offset = time_sec - self.start_sec - self.latency_sec
        if offset < 0:
            offset = 0.0
        if self.loop is None:
            tick = int(round(self._tm.seconds_to_tick(self._base_sec + offset)))
            if self.stop_tick is not None:
                tick = min(tick, self.stop_tick)
            return 0, tick
        lo_sec, hi_sec = self._loop_sec
        span = hi_sec - lo_sec
        into = self._base_sec - lo_sec + offset
        n = int(math.floor(into / span))
        tick = int(round(self._tm.seconds_to_tick(lo_sec + (into - n * span))))
        if tick >= self.loop[1]:
            n, tick = n + 1, self.loop[0]
        return n, tick

    @property
    def finished(self) -> bool:
        return self.result is not None

    # -- feeding --
    def feed(self, events: Iterable) -> Recording | None:
        """Consume events in time order (anything else the manager queued is skipped); returns the Recording once
        a ``DeviceLost`` (or punch-out) ended it."""
        for ev in events:
            if self.result is not None:
                break
            self._feed_one(ev)
        return self.result

    def _feed_one(self, ev) -> None:
        if not isinstance(ev, (NoteOn, NoteOff, Sustain, Control, PitchBend, DeviceLost)):
            return          # device notices and the like
        t = ev.time_sec
        if isinstance(ev, DeviceLost):
            self.stop(t, reason="device lost")
            return
        if isinstance(ev, (Control, PitchBend)):
            self._record_control(ev)
            return
        if isinstance(ev, Sustain):
            self._pedal = ev.on
            if not ev.on:
                pos = self.position(t)
                for p in sorted(self._sustained):
                    self._close(p, pos)
                self._sustained.clear()
            return
        early = t - self.latency_sec < self.start_sec - self.pre_roll_sec
        pos = self.position(t)
        if self.stop_tick is not None and self.loop is None and pos[1] >= self.stop_tick:
            self.stop(t, reason="punch out")
            return
        self._last_pos = max(self._last_pos, pos)
        if isinstance(ev, NoteOn):
            if early:
                return
            if ev.pitch in self._open:
                self._close(ev.pitch, pos)
            self._sustained.discard(ev.pitch)
            self._open[ev.pitch] = (pos[0], pos[1], ev.velocity)
        elif ev.pitch in self._open:
            if self.apply_sustain and self._pedal:
                self._sustained.add(ev.pitch)
            else:
                self._close(ev.pitch, pos)

    def _record_control(self, ev) -> None:
        """Pitch bend and controllers (mod wheel, expression ...) as played, into the pass they fall in."""
        if isinstance(ev, Control) and ev.number in NOT_TRACK_CONTROLS:
            return
        if ev.time_sec - self.latency_sec < self.start_sec - self.pre_roll_sec:
            return
        n, tick = self.position(ev.time_sec)
        if self.stop_tick is not None and self.loop is None and tick >= self.stop_tick:
            return
        number, value = (PITCH_BEND, ev.value) if isinstance(ev, PitchBend) else (ev.number, ev.value)
        self._controls.setdefault(n, []).append(SongControl(tick, number, value))

    def _close(self, pitch: int, end: tuple[int, int]) -> None:
        opened = self._open.pop(pitch, None)
        if opened is None:
            return
        n, tick, vel = opened
        end_n, end_tick = end
        while n < end_n and self.loop is not None:        # held across the loop end: cut, restart next pass
            self._add(n, Note.make(pitch, tick, max(1, self.loop[1] - tick), vel))
            n, tick = n + 1, self.loop[0]
        self._add(n, Note.make(pitch, tick, max(1, end_tick - tick), vel))

    def _add(self, n: int, note: Note) -> None:
        self._notes.setdefault(n, []).append(note)

    # -- stopping --
    def stop(self, time_sec: float, reason: str = "stopped") -> Recording:
        """End the recording at input time ``time_sec`` (held notes end there) and return every take."""
        if self.result is not None:
            return self.result
        pos = max(self.position(time_sec), self._last_pos)
        for p in sorted(self._open):
            self._close(p, pos)
        self._sustained.clear()
        takes = []
        for n in sorted(set(self._notes) | set(self._controls)):
            start = self.start_tick if n == 0 else (self.loop[0] if self.loop else self.start_tick)
            if self.loop is not None:
                end = self.loop[1] if n < pos[0] else max(pos[1], start + 1)
                complete = n < pos[0]
            else:
                end, complete = max(pos[1], start + 1, max((x.end_tick for x in self._notes.get(n, ())),
                                                           default=0)), True
            notes = self._finish_notes(self._notes.get(n, []), start, end)
            takes.append(Take(index=n, start_tick=start, end_tick=end, notes=notes, complete=complete,
                              controls=settle_controls(self._controls.get(n, []), end)))
        self.result = Recording(tuple(takes), reason)
        return self.result

    def _finish_notes(self, notes: list[Note], start: int, end: int) -> tuple[Note, ...]:
        if self.quantize is None:
            return tuple(sorted(notes))
        q = quantize_notes(notes, grid_ticks(self.quantize.grid, self.ppq), float(self.quantize.strength))
        out = []
        for n in q:
            if self.loop is not None and n.start_tick >= self.loop[1]:    # played just before the loop's downbeat
                n = replace(n, start_tick=n.start_tick - (self.loop[1] - self.loop[0]))
            out.append(n)
        return tuple(sorted(out))


# --- putting takes into the song --------------------------------------------------------------------------------

def apply_take(track: Track, take: Take, mode: str = REPLACE) -> Track:
    """The track with ``take`` recorded into it. ``replace`` clears [start_tick, end_tick) first (notes reaching
    into the range from before are cut at its start); ``overdub`` keeps everything. Raises SongError for a bad mode."""
    if mode == OVERDUB:
        return replace(track, notes=track.notes + take.notes, controls=track.controls + take.controls)
    if mode != REPLACE:
        raise SongError(f"Recording mode must be 'replace' or 'overdub', got {mode!r}")
    kept = []
    for n in track.notes:
        if take.start_tick <= n.start_tick < take.end_tick:
            continue
        if n.start_tick < take.start_tick < n.end_tick:
            n = replace(n, duration_tick=take.start_tick - n.start_tick)
        kept.append(n)
    # the take's controllers replace the track's in its range (only those it played: the pedal of an imported
    # part stays); after it, each is back at the value the track had there, so the rest plays as before
    played = {c.number for c in take.controls}
    back = _restored(track.controls, take.controls, take.end_tick)
    instead = {(c.tick, c.number) for c in back}            # of the take's own return to rest there
    controls = [c for c in track.controls
                if not (c.number in played and take.start_tick <= c.tick < take.end_tick)]
    controls += [c for c in take.controls if (c.tick, c.number) not in instead]
    return replace(track, notes=tuple(kept) + take.notes, controls=tuple(controls) + back)


def _restored(before, take, end_tick: int) -> tuple[SongControl, ...]:
    """Changes at ``end_tick`` that put each controller ``take`` played back where the controls ``before`` had it
    then (its reset value if they never set it), unless ``before`` changes it right there anyway."""
    was: dict[int, int] = {}
    at_end = set()
    for c in before:
        if c.tick < end_tick:
            was[c.number] = c.value
        elif c.tick == end_tick:
            at_end.add(c.number)
    now: dict[int, tuple[int, int]] = {}
    for c in take:
        now[c.number] = (c.tick, c.value)
    return tuple(SongControl(max(end_tick, tick), number, was.get(number, reset_value(number)))
                 for number, (tick, value) in now.items()
                 if number not in at_end and value != was.get(number, reset_value(number)))


def settle_controls(controls: list[SongControl], end_tick: int) -> tuple[SongControl, ...]:
    """A take's controller changes, with the pitch bend centred and the mod wheel and aftertouch down where the
    take ends (if they were still moved when it stopped), so the rest of the song plays in tune and without
    vibrato."""
    wheels = [c for c in controls if c.number in (PITCH_BEND, MOD_WHEEL, CHANNEL_PRESSURE)]
    return tuple(controls) + _restored((), wheels, end_tick)


def apply_recording(song: Song, track_index: int, recording: Recording, mode: str = REPLACE,
                    take_index: int | None = None) -> Song:
    """The song with one take (the last by default) recorded into track ``track_index``."""
    if not 0 <= track_index < len(song.tracks):
        raise SongError(f"There is no track {track_index + 1} to record into")
    if not recording.takes:
        return song
    take = recording.last if take_index is None else next(
        (t for t in recording.takes if t.index == take_index), None)
    if take is None:
        raise SongError(f"There is no take {take_index}")
    return song.replace_track(track_index, apply_take(song.tracks[track_index], take, mode))


def takes_as_tracks(track: Track, recording: Recording) -> tuple[Track, ...]:
    """Every take as its own muted track (same instrument), e.g. "Melody take 2", so none is ever lost."""
    return tuple(replace(track, name=f"{track.name} take {t.index + 1}", notes=t.notes, controls=t.controls,
                         mute=True, solo=False) for t in recording.takes)
