"""The song model: Song / Track / Note in integer ticks, immutable and self-validating.

Every object here is a frozen dataclass; edits build new objects (see ``core.edits``), so a Song can be handed
to a worker thread or to the audio engine without copying or locking.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Iterable

DEFAULT_PPQ = 480
MAX_PPQ = 32767          # the MIDI header field is 15 bits
MAX_TICK = 2**31 - 1     # beyond this, files are corrupt or absurd
DRUM_CHANNEL = 9         # "channel 10" in musicians' numbering


class SongError(ValueError):
    """Raised when a song, track or note is invalid; the message is meant for a musician."""


def _check_int(name: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SongError(f"{name} must be a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise SongError(f"{name} must be between {lo} and {hi}, got {value}")


@dataclass(frozen=True, slots=True, order=True)
class Note:
    """One note. Sort order is (start_tick, pitch, duration_tick, velocity)."""

    start_tick: int
    pitch: int
    duration_tick: int
    velocity: int = 100

    def __post_init__(self) -> None:
        _check_int("Note pitch", self.pitch, 0, 127)
        _check_int("Note start", self.start_tick, 0, MAX_TICK)
        _check_int("Note length", self.duration_tick, 1, MAX_TICK - self.start_tick)    # it ends by the last tick
        _check_int("Note velocity", self.velocity, 1, 127)

    @property
    def end_tick(self) -> int:
        return self.start_tick + self.duration_tick

    @classmethod
    def make(cls, pitch: int, start_tick: int, duration_tick: int, velocity: int = 100) -> "Note":
        """Keyword-friendly constructor in the order musicians think: pitch first."""
        return cls(start_tick=start_tick, pitch=pitch, duration_tick=duration_tick, velocity=velocity)


_NOTE_KEY = attrgetter("start_tick", "pitch", "duration_tick", "velocity")
_TICK = attrgetter("tick")


PITCH_BEND = 128          # Control.number of a pitch-bend event (value -8192..8191, 0 = centre)
CHANNEL_PRESSURE = 129    # Control.number of a (channel) aftertouch event (value 0..127)
MOD_WHEEL, EXPRESSION, SUSTAIN, SOSTENUTO, SOFT_PEDAL = 1, 11, 64, 66, 67      # MIDI controller numbers
# Controllers a track does not keep as events: the mixer owns volume and pan (CC 7/39, 10/42), the track's program
# owns bank select (CC 0/32), and the channel-mode messages (CC 120-127) are the transport's business.
NOT_TRACK_CONTROLS = frozenset({0, 7, 10, 32, 39, 42} | set(range(120, 128)))
# What a channel holds before a track changes it (MIDI's reset values, as FluidSynth's): balance centred,
# expression full; 0 for the others and for the pitch bend (centred)
CONTROL_RESET = {8: 64, 11: 127, 43: 127}


def reset_value(number: int) -> int:
    """The value controller ``number`` (or PITCH_BEND) has before any change of it."""
    return CONTROL_RESET.get(number, 0)


@dataclass(frozen=True, slots=True)
class Control:
    """A controller change (sustain pedal, mod wheel, expression ...) or, with ``number == PITCH_BEND``, a pitch
    bend (-8192 .. 8191), or with ``number == CHANNEL_PRESSURE`` the keyboard's aftertouch (0 .. 127). Tracks
    keep them as they came, in time order; notes and edits do not move them."""

    tick: int
    number: int
    value: int

    def __post_init__(self) -> None:
        _check_int("Controller position", self.tick, 0, MAX_TICK)
        _check_int("Controller number", self.number, 0, CHANNEL_PRESSURE)
        if self.number == PITCH_BEND:
            _check_int("Pitch bend", self.value, -8192, 8191)
        else:
            if self.number in NOT_TRACK_CONTROLS:
                raise SongError(f"Controller {self.number} belongs to the mixer or the transport, not to a track")
            _check_int(f"Controller {self.number}'s value", self.value, 0, 127)

    @property
    def name(self) -> str:
        return control_name(self.number)


_CONTROL_NAMES = {1: "mod wheel", 2: "breath", 4: "foot pedal", 5: "portamento time", 11: "expression",
                  64: "sustain pedal", 65: "portamento", 66: "sostenuto pedal", 67: "soft pedal", 68: "legato",
                  91: "reverb send", 93: "chorus send", PITCH_BEND: "pitch bend", CHANNEL_PRESSURE: "aftertouch"}


def control_name(number: int) -> str:
    return _CONTROL_NAMES.get(number, f"CC {number}")


MIN_BPM = 60_000_000 / 0xFFFFFF   # about 3.58: a MIDI tempo holds at most 16,777,215 microseconds per beat
MAX_BPM = 1000.0


@dataclass(frozen=True, slots=True)
class TempoChange:
    tick: int
    bpm: float

    def __post_init__(self) -> None:
        _check_int("Tempo position", self.tick, 0, MAX_TICK)
        if not isinstance(self.bpm, (int, float)) or not MIN_BPM <= float(self.bpm) <= MAX_BPM:
            raise SongError(f"Tempo must be between {MIN_BPM:.2f} and {MAX_BPM:g} BPM (a MIDI file holds no "
                            f"slower tempo), got {self.bpm!r}")

    @property
    def microseconds_per_beat(self) -> int:
        return int(round(60_000_000 / self.bpm))


@dataclass(frozen=True, slots=True)
class TimeSignature:
    tick: int
    numerator: int = 4
    denominator: int = 4

    def __post_init__(self) -> None:
        _check_int("Time signature position", self.tick, 0, MAX_TICK)
        _check_int("Time signature numerator", self.numerator, 1, 64)
        if self.denominator not in (1, 2, 4, 8, 16, 32, 64):
            raise SongError(f"Time signature denominator must be a power of two, got {self.denominator!r}")

    def bar_ticks(self, ppq: int) -> int:
        return self.numerator * ppq * 4 // self.denominator


KEY_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MAJOR_SPELLING = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_SPELLING = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
_PITCH_CLASS = {"C": 0, "B#": 0, "C#": 1, "Db": 1, "D": 2, "D#": 3, "Eb": 3, "E": 4, "Fb": 4, "F": 5, "E#": 5,
                "F#": 6, "Gb": 6, "G": 7, "G#": 8, "Ab": 8, "A": 9, "A#": 10, "Bb": 10, "B": 11, "Cb": 11}


@dataclass(frozen=True, slots=True)
class KeySignature:
    """A key such as ``"C"``, ``"F#m"`` or ``"Bb"`` (mido's spelling) starting at ``tick``."""

    tick: int
    key: str

    def __post_init__(self) -> None:
        _check_int("Key position", self.tick, 0, MAX_TICK)
        tonic = self.key[:-1] if self.key.endswith("m") else self.key
        if tonic not in _PITCH_CLASS:
            raise SongError(f"Unknown key {self.key!r}")

    @property
    def is_minor(self) -> bool:
        return self.key.endswith("m")

    @property
    def tonic_pitch_class(self) -> int:
        return _PITCH_CLASS[self.key[:-1] if self.is_minor else self.key]

    def transposed(self, semitones: int) -> "KeySignature":
        """The key ``semitones`` higher, spelled with the fewest accidentals (``transposed(0)``: this key in that
        spelling, e.g. D# -> Eb)."""
        pc = (self.tonic_pitch_class + int(semitones)) % 12
        return KeySignature(self.tick, _MINOR_SPELLING[pc] + "m" if self.is_minor else _MAJOR_SPELLING[pc])


@dataclass(frozen=True, slots=True)
class Track:
    """One part: a name, a General MIDI program, its notes (kept sorted) and its controller changes (sustain pedal,
    pitch bend ...; in time order).

    ``volume`` and ``pan`` use MIDI's 0-127 (pan 64 = centre). ``channel`` is the MIDI channel the part came from
    or should go to (None: assign on export); drum tracks always use channel 10 (index 9).
    """

    name: str = "Track"
    program: int = 0
    is_drum: bool = False
    notes: tuple[Note, ...] = ()
    channel: int | None = None
    mute: bool = False
    solo: bool = False
    volume: int = 100
    pan: int = 64
    controls: tuple[Control, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise SongError(f"Track name must be text, got {self.name!r}")
        _check_int("Instrument (GM program)", self.program, 0, 127)
        _check_int("Track volume", self.volume, 0, 127)
        _check_int("Track pan", self.pan, 0, 127)
        if self.channel is not None:
            _check_int("MIDI channel", self.channel, 0, 15)
        notes = self.notes if isinstance(self.notes, tuple) else tuple(self.notes)
        if not set(map(type, notes)) <= {Note}:
            bad = next(n for n in notes if not isinstance(n, Note))
            raise SongError(f"Track {self.name!r} holds something that is not a note: {bad!r}")
        # sorted by (start, pitch, duration, velocity); a C-level key sort is O(n) on already sorted input
        object.__setattr__(self, "notes", tuple(sorted(notes, key=_NOTE_KEY)))
        controls = self.controls if isinstance(self.controls, tuple) else tuple(self.controls)
        if not set(map(type, controls)) <= {Control}:
            bad = next(c for c in controls if not isinstance(c, Control))
            raise SongError(f"Track {self.name!r} holds something that is not a controller change: {bad!r}")
        # a stable sort by time: events at one tick keep their order (an RPN's select comes before its data)
        object.__setattr__(self, "controls", tuple(sorted(controls, key=_TICK)))

    @property
    def end_tick(self) -> int:
        return max((n.end_tick for n in self.notes), default=0)

    def with_notes(self, notes: Iterable[Note]) -> "Track":
        return replace(self, notes=tuple(notes))

    def with_controls(self, controls: Iterable[Control]) -> "Track":
        return replace(self, controls=tuple(controls))


def _default_tempos() -> tuple[TempoChange, ...]:
    return (TempoChange(0, 120.0),)


def _default_time_signatures() -> tuple[TimeSignature, ...]:
    return (TimeSignature(0, 4, 4),)


@dataclass(frozen=True, slots=True)
class Song:
    """A whole piece: tracks plus the tempo map, time signatures and (when known) keys.

    ``melody_index`` names the track the generative models read (the "input melody"). The tempo map and the time
    signatures always start at tick 0: a first tempo (or metre) given later is taken to hold from the start, so
    ``Song(tempos=(TempoChange(960, 90),))`` is at 90 BPM throughout. (A MIDI file is at 120 BPM in 4/4 until its
    first tempo and metre: ``midi.io`` adds those at tick 0 when it reads one.)
    """

    tracks: tuple[Track, ...] = ()
    ppq: int = DEFAULT_PPQ
    tempos: tuple[TempoChange, ...] = field(default_factory=_default_tempos)
    time_signatures: tuple[TimeSignature, ...] = field(default_factory=_default_time_signatures)
    key_signatures: tuple[KeySignature, ...] = ()
    melody_index: int = 0
    title: str = ""

    def __post_init__(self) -> None:
        _check_int("Ticks per quarter note (PPQ)", self.ppq, 1, MAX_PPQ)
        for attr, kind in (("tracks", Track), ("tempos", TempoChange), ("time_signatures", TimeSignature),
                           ("key_signatures", KeySignature)):
            items = getattr(self, attr)
            items = items if isinstance(items, tuple) else tuple(items)
            for it in items:
                if not isinstance(it, kind):
                    raise SongError(f"Song.{attr} must hold {kind.__name__} objects, got {it!r}")
            if attr != "tracks":
                items = tuple(sorted(items, key=lambda e: e.tick))
                # one event per tick: the last one given wins
                dedup: dict[int, object] = {}
                for it in items:
                    dedup[it.tick] = it
                items = tuple(dedup.values())
            object.__setattr__(self, attr, items)
        if not self.tempos or self.tempos[0].tick != 0:
            first = self.tempos[0].bpm if self.tempos else 120.0
            object.__setattr__(self, "tempos", (TempoChange(0, first),) + self.tempos)
        if not self.time_signatures or self.time_signatures[0].tick != 0:
            first = self.time_signatures[0] if self.time_signatures else TimeSignature(0)
            object.__setattr__(self, "time_signatures",
                               (TimeSignature(0, first.numerator, first.denominator),) + self.time_signatures)
        if self.tracks:
            _check_int("Melody track number", self.melody_index, 0, len(self.tracks) - 1)
        elif self.melody_index != 0:
            raise SongError("A song without tracks has no melody track")

    # --- queries ---------------------------------------------------------------------------------------------
    @property
    def end_tick(self) -> int:
        return max((t.end_tick for t in self.tracks), default=0)

    @property
    def sound_end_tick(self) -> int:
        """Where playback and rendering end: the last note's end or, when later, the last controller change (a
        pianist lifts the pedal after the final chord)."""
        last = max((t.controls[-1].tick for t in self.tracks if t.controls), default=0)
        return max(self.end_tick, last)

    @property
    def note_count(self) -> int:
        return sum(len(t.notes) for t in self.tracks)

    @property
    def melody(self) -> Track | None:
        return self.tracks[self.melody_index] if self.tracks else None

    @property
    def bar_ticks(self) -> int:
        """Length of a bar in the first time signature."""
        return self.time_signatures[0].bar_ticks(self.ppq)

    @property
    def meter_index(self) -> int:
        """Which time signature the song is in: the first, or the second when the first is a pickup (one bar,
        shorter than the next metre's, which begins right after it)."""
        sigs = self.time_signatures
        if len(sigs) > 1 and sigs[1].tick == sigs[0].bar_ticks(self.ppq) < sigs[1].bar_ticks(self.ppq):
            return 1
        return 0

    @property
    def key(self) -> KeySignature | None:
        return self.key_signatures[0] if self.key_signatures else None

    def bar_start_tick(self, bar: int) -> int:
        """Tick where 0-based ``bar`` starts, honouring time-signature changes."""
        if bar < 0:
            raise SongError(f"Bar number must not be negative, got {bar}")
        tick, remaining = 0, bar
        sigs = self.time_signatures
        for i, ts in enumerate(sigs):
            length = ts.bar_ticks(self.ppq)
            if i + 1 < len(sigs):
                bars_here = max(1, -(-(sigs[i + 1].tick - ts.tick) // length))
                if remaining < bars_here:
                    return ts.tick + remaining * length
                remaining -= bars_here
                tick = sigs[i + 1].tick
            else:
                return ts.tick + remaining * length
        return tick

    def bar_at(self, tick: int) -> int:
        """The 0-based bar that ``tick`` falls in (the inverse of :meth:`bar_start_tick`); one pass over the
        time signatures, so a note far out does not cost a loop over every bar."""
        bars_before = 0
        sigs = self.time_signatures
        for i, ts in enumerate(sigs):
            length = ts.bar_ticks(self.ppq)
            if i + 1 == len(sigs) or tick < sigs[i + 1].tick:
                return bars_before + max(0, tick - ts.tick) // length
            bars_before += max(1, -(-(sigs[i + 1].tick - ts.tick) // length))
        return bars_before

    def bar_count(self) -> int:
        """Bars up to the last note's end (the first bar line at or after it)."""
        end = self.end_tick
        return 0 if end <= 0 else self.bar_at(end - 1) + 1

    # --- copies -----------------------------------------------------------------------------------------------
    def with_tracks(self, tracks: Iterable[Track], melody_index: int | None = None) -> "Song":
        tracks = tuple(tracks)
        mi = self.melody_index if melody_index is None else melody_index
        return replace(self, tracks=tracks, melody_index=min(mi, max(0, len(tracks) - 1)))

    def replace_track(self, index: int, track: Track) -> "Song":
        tracks = list(self.tracks)
        tracks[index] = track
        return replace(self, tracks=tuple(tracks))

    def replace(self, **changes) -> "Song":
        return replace(self, **changes)
