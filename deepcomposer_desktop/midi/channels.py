"""Which (MIDI port, channel) each track of a song is written on, and where a track sets up a channel it shares
(drum kits on channel 10; melodic tracks taking turns when there are more than port 0's 15 channels): the channel
plan of ``io.midi_bytes``; and how ``io.read_midi`` gives each part of a shared channel its own controller changes
back. Note spans as sorted numpy arrays (a song of 100 tracks x 5,000 notes is planned in a fraction of a second)."""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from operator import attrgetter

import numpy as np

from ..core.song import DRUM_CHANNEL, Control, Track, reset_value

_MELODIC_CHANNELS = tuple(c for c in range(16) if c != DRUM_CHANNEL)
_NEVER = np.iinfo(np.int64).max                         # "until the end": later than any tick
# controllers that only mean something with others (data entry, (N)RPN select): their reset values would change
# the parameter another track selected; and pedals (switches) held down from the start hold every note
_PARAMETERS = frozenset({6, 38, 96, 97, 98, 99, 100, 101})
_SWITCHES = range(64, 70)
_START, _LENGTH, _PITCH = attrgetter("start_tick"), attrgetter("duration_tick"), attrgetter("pitch")


def assign_channels(tracks: tuple[Track, ...]) -> list[tuple[int, int]]:
    """A (MIDI port, channel) per track: every drum track on channel 10 of port 0 (GM has one drum channel: a player
    that ignores ports would play a drum track of port 1 there anyway, with its kit from the start); each melodic
    track on a channel of its own while port 0 has room for them all (15). More melodic tracks take turns on
    channels where their notes never sound at once (:func:`_shared_channels`); only those that cannot go on ports
    1, 2 ... (the file names each track's port, meta event 0x21), which most players ignore."""
    slots = _own_channels(tracks)
    if all(port == 0 for port, _ in slots):
        return slots
    return _shared_channels(tracks)


def _own_channels(tracks: tuple[Track, ...]) -> list[tuple[int, int]]:
    """A (port, channel) per track so that no two melodic tracks share a channel: drums on channel 10 of port 0,
    melodic tracks on their own channels where those are free, the others in order (skipping 10); port 0 holds 15
    melodic tracks, more go on ports 1, 2 ..."""
    used: set[tuple[int, int]] = set()
    result: list[tuple[int, int] | None] = []
    for t in tracks:
        if t.is_drum:
            result.append((0, DRUM_CHANNEL))
        elif t.channel is not None and t.channel != DRUM_CHANNEL and (0, t.channel) not in used:
            result.append((0, t.channel))
        else:
            result.append(None)
            continue
        used.add(result[-1])
    return _on_further_ports(result)


def _on_further_ports(slots: list) -> list[tuple[int, int]]:
    """``slots`` with each track still without one (None) on the first free (port, channel), in order."""
    used = {s for s in slots if s is not None}
    for i, slot in enumerate(slots):
        if slot is None:
            slots[i] = next((p, c) for p in range(len(slots) + 1) for c in _MELODIC_CHANNELS if (p, c) not in used)
            used.add(slots[i])
    return slots


def sets_up_only(track: Track) -> bool:
    """Whether ``track`` has notes and its controller changes only set up its channel: each at or before its first
    note, one per controller (reverb and chorus send, mod wheel, pedal up, pitch bend ...), none that selects or
    sets a parameter (RPN, NRPN, data entry) and no pedal held down. Such a track may take turns on a channel: it
    sends them again where it takes over (:func:`channel_turns`). One that changes controllers while its notes
    play (a pedal, a bend, a swell) keeps a channel to itself: they are the channel's."""
    if not track.notes:
        return False
    first, numbers = track.notes[0].start_tick, set()
    for c in track.controls:
        if c.tick > first or c.number in numbers or c.number in _PARAMETERS or (c.number in _SWITCHES and
                                                                                c.value >= 64):
            return False
        numbers.add(c.number)
    return True


def _shared_channels(tracks: tuple[Track, ...]) -> list[tuple[int, int]]:
    """A (port, channel) per track when port 0 has fewer channels than there are melodic tracks: a player that
    ignores ports still plays every note with its own track's instrument, volume, pan and set-up, as the tracks take
    turns on a channel and each sets it up where it takes over (:func:`channel_turns`).

    Tracks with notes come first: those that change controllers while they play (:func:`sets_up_only`) each take
    a channel of their own, then the others take free channels while there are, then each joins a channel whose
    notes never sound with its own (:class:`_Sounding`): its own (``Track.channel``: a file we wrote, read and
    written again, keeps its plan) or else the one where it changes hands least. Tracks without notes come last:
    those with controller changes each take a channel left free, the others share one (nothing of theirs sounds);
    if leaving those free would put a track with notes on a further port, they go there instead. What fits nowhere
    goes on ports 1, 2 ..."""
    melodic = [i for i, t in enumerate(tracks) if not t.is_drum]
    sounding = [i for i in melodic if tracks[i].notes]
    playing = [i for i in sounding if sets_up_only(tracks[i])]
    alone = sorted(set(sounding) - set(playing))
    bare = [i for i in melodic if not tracks[i].notes and not tracks[i].controls]
    noteless = sorted([i for i in melodic if not tracks[i].notes and tracks[i].controls] + bare[:1])
    sounds = {i: _Sounding.of(tracks[i]) for i in playing}
    room = len(_MELODIC_CHANNELS)
    plan, low, high = None, 0, min(len(noteless), room)     # how many channels to keep for the tracks without notes:
    while low < high:                                      # the most that costs no track with notes its channel
        free = (low + high + 1) // 2
        slots, channels = _place_sounding(tracks, alone, playing, sounds, room - free)
        if all(slots[i] is not None for i in sounding):
            plan, low = (slots, channels), free
        else:
            high = free - 1
    slots, channels = plan or _place_sounding(tracks, alone, playing, sounds, room)
    if not _open_channels(tracks, noteless, slots, channels, len(_MELODIC_CHANNELS), shared=False):
        for i in bare[1:]:
            slots[i] = slots[bare[0]]
    return _on_further_ports(slots)


def _place_sounding(tracks: tuple[Track, ...], alone: list[int], playing: list[int], sounds: dict, room: int
                    ) -> tuple[list, dict]:
    """Port-0 channels for the tracks with notes, using at most ``room`` channels (see :func:`_shared_channels`):
    (a (0, channel) or None per track, {channel: when its notes sound, or None where it is not shared})."""
    slots: list = [(0, DRUM_CHANNEL) if t.is_drum else None for t in tracks]
    channels: dict[int, _Sounding | None] = {}
    _open_channels(tracks, alone, slots, channels, room, shared=False)
    for i in _open_channels(tracks, playing, slots, channels, room, shared=True, sounds=sounds):
        best = None
        for c, there in channels.items():
            if there is not None and not there.overlaps(sounds[i]):
                changes = (c != tracks[i].channel, there.hand_changes(sounds[i]))
                if (best is None or changes < best[0]) and not there.touches(sounds[i]):
                    best = (changes, c)
        if best is not None:
            channels[best[1]] = channels[best[1]].joined(sounds[i])
            slots[i] = (0, best[1])
    return slots, channels


def _open_channels(tracks: tuple[Track, ...], group: list[int], slots: list, channels: dict, room: int,
                   shared: bool, sounds: dict | None = None) -> list[int]:
    """Give the tracks of ``group`` port-0 channels of their own while fewer than ``room`` are taken: first those
    whose own channel (``Track.channel``) is free, then the others in order. ``shared``: others may join them
    later (``channels`` records when the notes sound, from ``sounds``). Returns the tracks left without one."""
    def take(i: int, c: int) -> None:
        channels[c] = sounds[i] if shared else None
        slots[i] = (0, c)

    for i in group:
        c = tracks[i].channel
        if c in _MELODIC_CHANNELS and c not in channels and len(channels) < room:
            take(i, c)
    for i in group:
        if slots[i] is None and len(channels) < room:
            take(i, next(c for c in _MELODIC_CHANNELS if c not in channels))
    return [i for i in group if slots[i] is None]


def _note_arrays(track: Track) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, pitches) of a track's notes, in its order (by start)."""
    n = len(track.notes)
    starts = np.fromiter(map(_START, track.notes), np.int64, n)
    ends = starts + np.fromiter(map(_LENGTH, track.notes), np.int64, n)
    return starts, ends, np.fromiter(map(_PITCH, track.notes), np.int64, n)


@dataclass(frozen=True)
class _Sounding:
    """When the notes of a channel sound: their [start, end) spans merged (disjoint, in order), each note's
    (pitch, start) and (pitch, end) as sorted keys, and the note starts in order with the track each is of; says
    whether a track may take turns with them there, and how often the channel would change hands."""
    span_starts: np.ndarray
    span_ends: np.ndarray
    start_keys: np.ndarray
    end_keys: np.ndarray
    starts: np.ndarray
    owners: np.ndarray

    @classmethod
    def of(cls, track: Track) -> _Sounding:
        starts, ends, pitches = _note_arrays(track)
        return cls(*_merged_spans(starts, ends), np.sort(pitches << 32 | starts), np.sort(pitches << 32 | ends),
                   starts, np.zeros(len(starts), np.int64))

    def overlaps(self, other: _Sounding) -> bool:
        """Whether notes of both sound at once."""
        for part in (slice(0, 64), slice(64, None)):          # most clash early on: the first spans alone first
            starts, ends = other.span_starts[part], other.span_ends[part]
            k = np.searchsorted(self.span_ends, starts, "right")          # the first span sounding after each start
            inside = k < len(self.span_ends)
            if np.any(self.span_starts[k[inside]] < ends[inside]):
                return True
        return False

    def touches(self, other: _Sounding) -> bool:
        """Whether a note of one ends where a note of that pitch of the other begins: a player takes the events of
        two tracks at one tick in an order of its own, and the one's note-off coming second would end the other's
        new note."""
        return _meet(self.end_keys, other.start_keys) or _meet(other.end_keys, self.start_keys)

    def hand_changes(self, other: _Sounding) -> int:
        """How many more times the channel changes hands with ``other``'s notes (which do not clash) on it too."""
        at = np.searchsorted(self.starts, other.starts)                   # in order: where its runs of notes go
        gaps = at[np.concatenate(([True], at[1:] != at[:-1]))]
        inner = gaps[(gaps > 0) & (gaps < len(self.starts))]
        return int(np.count_nonzero(gaps > 0) + np.count_nonzero(gaps < len(self.starts))
                   - np.count_nonzero(self.owners[inner - 1] != self.owners[inner]))

    def joined(self, other: _Sounding) -> _Sounding:
        """These notes and ``other``'s (of a track of its own: ``owners`` tells them apart)."""
        owner = self.owners.max() + 1
        starts = np.concatenate((self.starts, other.starts))
        order = np.argsort(starts, kind="stable")
        spans = _merged_spans(np.concatenate((self.span_starts, other.span_starts)),
                              np.concatenate((self.span_ends, other.span_ends)))
        return _Sounding(*spans, np.sort(np.concatenate((self.start_keys, other.start_keys))),
                         np.sort(np.concatenate((self.end_keys, other.end_keys))), starts[order],
                         np.concatenate((self.owners, other.owners + owner))[order])


def _meet(sorted_keys: np.ndarray, keys: np.ndarray) -> bool:
    """Whether any of ``keys`` is one of ``sorted_keys``."""
    k = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return bool(np.any(sorted_keys[k] == keys))


def _merged_spans(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) spans with those that overlap merged into one: (starts, ends), disjoint and in order."""
    order = np.argsort(starts, kind="stable")
    starts, reach = starts[order], np.maximum.accumulate(ends[order])
    first = np.flatnonzero(np.concatenate(([True], starts[1:] >= reach[:-1])))    # where a new span begins
    return starts[first], reach[np.concatenate((first[1:] - 1, [len(starts) - 1]))]


@dataclass(frozen=True)
class Turns:
    """How a melodic track sets up a channel it shares (:func:`channel_turns`): its program, volume and pan at each
    of ``ticks``; before them there, ``defaults``: the reset value of each controller that another track on the
    channel sets and it does not (their ticks mean nothing); ``controls``: (tick, change) of its controller changes
    where it writes them; ``again``: those it sends again after its program, volume and pan at each of its ticks
    but the first (their ticks mean nothing)."""
    ticks: tuple[int, ...]
    defaults: tuple[Control, ...] = ()
    controls: tuple[tuple[int, Control], ...] = ()
    again: tuple[Control, ...] = ()


def channel_turns(tracks: tuple[Track, ...], slots: list[tuple[int, int]]) -> dict[int, Turns]:
    """How each melodic track that takes turns on a channel with others (``slots``, :func:`assign_channels`) sets it
    up: just before the first note of each run of its notes (the first at tick 0), as :func:`kit_changes` sets drum
    kits, its instrument, volume, pan and controller values (:func:`sets_up_only`), and before them the reset value
    of each controller that another track there sets and it does not (``core.song.reset_value``: what the app's
    synth, FluidSynth, plays a track with that does not set it: reverb send 0, not GM2's 40); so a player that merges
    the tracks and ignores ports plays every note with its own track's set-up. Its controller changes go where they
    are when no other note on the channel sounds from there to its first note, else to that note (a file read back
    has them there).

    When port 0 has too few channels for the melodic tracks, a track without notes sets up its channel at the
    song's end, after every note: a player that ignores ports would apply it to that channel of port 0 at once; on
    a further port its controller changes go there too (a channel of port 0 of its own has nothing to change).
    {} when no two melodic tracks share a channel (and none waits for the end)."""
    melodic = [i for i, t in enumerate(tracks) if not t.is_drum]
    if len(melodic) <= len(_MELODIC_CHANNELS):
        return {}
    noteless = [i for i in melodic if not tracks[i].notes]
    end = max((t.end_tick for t in tracks), default=0) if noteless else 0          # the song's last note-off
    turns = {i: Turns((end,), (), tuple((end if slots[i][0] and end else c.tick, c) for c in tracks[i].controls))
             for i in noteless}
    users: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i in melodic:
        if tracks[i].notes:
            users[slots[i]].append(i)
    for on_channel in users.values():
        if len(on_channel) > 1:
            turns.update(_turns_on_channel(tracks, on_channel))
    return turns


def _turns_on_channel(tracks: tuple[Track, ...], users: list[int]) -> dict[int, Turns]:
    """:class:`Turns` of the tracks (with notes) ``users`` of one channel."""
    arrays = [_note_arrays(tracks[i]) for i in users]
    starts = np.concatenate([a[0] for a in arrays])
    ends = np.concatenate([a[1] for a in arrays])
    owners = np.repeat(np.arange(len(users)), [len(a[0]) for a in arrays])
    order = np.lexsort((owners, starts))
    starts, owners, reach = starts[order], owners[order], np.maximum.accumulate(ends[order])
    take = np.flatnonzero(np.concatenate(([True], owners[1:] != owners[:-1])))    # where a track takes over
    ticks, who = starts[take], owners[take]
    free = np.concatenate(([0], reach[take[1:] - 1]))      # when the notes before each turn have all ended
    ticks[0] = 0
    numbers = {c.number for i in users for c in tracks[i].controls}
    out = {}
    for k, i in enumerate(users):
        mine = np.flatnonzero(who == k)
        at, first, since = ticks[mine].tolist(), int(starts[take[mine[0]]]), int(free[mine[0]])
        own = tracks[i].controls
        controls = tuple((c.tick if c.tick >= since else first, c) for c in own)
        defaults = tuple(Control(0, n, reset_value(n)) for n in sorted(numbers - {c.number for c in own}))
        out[i] = Turns(tuple(at), defaults, controls, own)
    return out


def kit_changes(tracks: tuple[Track, ...]) -> dict[int, list[int]]:
    """Where each drum track sets its kit, {track index: [ticks]}, when the drum tracks (which share channel 10,
    see :func:`assign_channels`) have different kits; {} when they have one kit (each sets it at tick 0). A kit is
    set just before the first note of a run of its notes (the first at tick 0), so the kit changes where the
    music does (a file whose drums change kit mid-song, imported as one track per kit, comes out as it came in);
    a drum track without notes sets none: it would change the others' kit."""
    drums = [i for i, t in enumerate(tracks) if t.is_drum]
    if len({tracks[i].program for i in drums}) < 2:
        return {}
    changes: dict[int, list[int]] = {i: [] for i in drums}
    kit = None
    for tick, i in sorted((n.start_tick, i) for i in drums for n in tracks[i].notes):
        if tracks[i].program != kit:
            changes[i].append(0 if kit is None else tick)
            kit = tracks[i].program
    return changes


# --- reading: each part of a shared channel keeps its own controller changes ----------------------------------------
_PLAIN, _SETUP, _DEFAULT = 0, 1, 2


def _control_kinds(controls: list[Control], places: list[int], first_note: float, program_places: dict[int, int]
                   ) -> list[int]:
    """What each of a part's controller changes is: those of its own file track (``places``: where each is there;
    ``program_places``: {tick: place} of its instrument changes) _SETUP when made at or before the part's first
    note or where it sets its instrument (as a track taking turns on a channel sets it up, :func:`channel_turns`),
    _DEFAULT when such a change to the controller's reset value comes just before an instrument change at that tick
    (as such a track resets a controller that another track there set), else _PLAIN; the rest (its channel's
    automation tracks') _PLAIN."""
    kinds = []
    for c, place in zip(controls, places):
        setup = c.tick <= first_note or c.tick in program_places
        default = setup and c.value == reset_value(c.number) and program_places.get(c.tick, -1) > place
        kinds.append(_DEFAULT if default else _SETUP if setup else _PLAIN)
    return kinds + [_PLAIN] * (len(controls) - len(places))


def sounds_during(spans: list[tuple[int, int]], begins, untils) -> np.ndarray:
    """For each [begin, until) (ticks, as sequences of one length): whether a note of ``spans`` ([start, end) each,
    in any order) sounds in it."""
    begins, untils = np.asarray(begins, np.int64), np.asarray(untils, np.int64)
    if not spans:
        return np.zeros(len(begins), bool)
    spans = sorted(spans)
    starts = np.fromiter((s for s, _ in spans), np.int64, len(spans))
    reach = np.maximum.accumulate(np.fromiter((e for _, e in spans), np.int64, len(spans)))   # latest end so far
    k = np.searchsorted(starts, untils)                     # the notes that start before ``until``
    return (begins < untils) & (k > 0) & (reach[np.maximum(k - 1, 0)] > begins)


def heard_volumes(line: list[tuple], parts: list[tuple[list[tuple[int, int]], list[tuple]]]) -> list[list[tuple]]:
    """The volume changes (tick, place in the file, CC 7 value) of a channel, ``line`` (sorted, each once), that
    each of its parts hears, from (its note spans, its own file track's volume changes) per part: its own, and
    another part's only where that one is in force (until the channel's next change) while a note of the part
    sounds. Parts that take turns on a channel, as our export of more parts than channels writes them
    (:func:`channel_turns`), each set their volume where they take over: that is no move of the other parts'
    volume, which would come back as expression they never had."""
    begins = np.fromiter((v[0] for v in line), np.int64, len(line))
    untils = np.append(begins[1:], _NEVER)
    return [sorted(set(own).union(line[k] for k in np.flatnonzero(sounds_during(spans, begins, untils)).tolist()))
            for spans, own in parts]


def heard_controls(parts: list[tuple[list[tuple[int, int]], list[Control], list[int], dict[int, int]]]
                   ) -> list[list[Control]]:
    """The controller changes each of several parts on one channel keeps, from (its note spans, the changes of its
    file track then those of the channel's automation tracks, where each of the former is in its file track, where
    its instrument changes are there {tick: place}) per part.

    A change is the channel's: every part hears it (a piano's left hand in a file track of its own shares the
    pedal of the right hand's); but one that sets up the channel (made at or before the part's first note, or where
    it sets its instrument, :func:`_control_kinds`) only where it is in force (until the channel's next change of
    that controller) while a note of the part sounds: parts that take turns on a channel each set it up where they
    take over (:func:`channel_turns`), which is no change of the other parts'. A set-up that leaves the value as it
    was (one sent again) is left out, as is one that resets a controller before the part's instrument where the
    part had not changed it (a reset for the part before)."""
    kinds = [_control_kinds(controls, places, min((s for s, _ in spans), default=math.inf), programs)
             for spans, controls, places, programs in parts]
    ticks, owner, place, number = [], [], [], []
    for j, (_, controls, _, _) in enumerate(parts):
        for k, c in enumerate(controls):
            ticks.append(c.tick), owner.append(j), place.append(k), number.append(c.number)
    ticks, owner, place, number = (np.array(a, np.int64) for a in (ticks, owner, place, number))
    order = np.lexsort((place, owner, ticks))
    ticks, owner, place, number = ticks[order], owner[order], place[order], number[order]
    by_number = np.argsort(number, kind="stable")            # each controller's changes, in time order
    next_same = np.concatenate((number[by_number][1:] == number[by_number][:-1], [False]))
    untils = np.full(len(ticks), _NEVER)
    untils[by_number[:-1][next_same[:-1]]] = ticks[by_number[1:]][next_same[:-1]]
    plain = np.array([kinds[j][k] == _PLAIN for j, k in zip(owner.tolist(), place.tolist())], bool)
    out = []
    for j, (spans, _, _, _) in enumerate(parts):
        keep = plain | (owner == j) | sounds_during(spans, ticks, untils)
        value: dict[int, int] = {}
        kept, seen = [], set()
        for j2, k in zip(owner[keep].tolist(), place[keep].tolist()):
            c, kind = parts[j2][1][k], kinds[j2][k]
            if kind == _PLAIN:
                if c in seen:
                    continue
                seen.add(c)
            elif value.get(c.number, c.value if kind == _DEFAULT and j2 == j else None) == c.value:
                continue
            kept.append(c)
            value[c.number] = c.value
        out.append(kept)
    return out
