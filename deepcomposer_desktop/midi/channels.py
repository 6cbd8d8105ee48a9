"""Which (MIDI port, channel) each track of a song is written on, and where a track sets up a channel it shares
(drum kits on channel 10; melodic tracks taking turns when there are more than port 0's 15 channels): the channel
plan of ``io.midi_bytes``. Pure Python."""
from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict

from ..core.song import DRUM_CHANNEL, Track


_MELODIC_CHANNELS = tuple(c for c in range(16) if c != DRUM_CHANNEL)


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


def _shared_channels(tracks: tuple[Track, ...]) -> list[tuple[int, int]]:
    """A (port, channel) per track when port 0 has fewer channels than there are melodic tracks: a player that
    ignores ports still plays every note with its own track's instrument, volume and pan, as the tracks take turns
    on a channel and each sets it up where it takes over (:func:`channel_turns`).

    A track with controller changes of its own (pedal, pitch bend ...) keeps a channel to itself: they are the
    channel's, a held pedal would hold the next track's notes; these are placed first. Tracks with notes take free
    channels while there are, then each joins a channel whose notes never sound with its own (:class:`_Sounding`).
    Tracks without notes share one channel (nothing of theirs sounds). What fits nowhere goes on ports 1, 2 ..."""
    slots: list = [(0, DRUM_CHANNEL) if t.is_drum else None for t in tracks]
    melodic = [i for i, t in enumerate(tracks) if not t.is_drum]
    alone = [i for i in melodic if tracks[i].controls]
    silent = [i for i in melodic if not tracks[i].controls and not tracks[i].notes]
    playing = [i for i in melodic if not tracks[i].controls and tracks[i].notes]
    channels: dict[int, _Sounding | None] = {}          # port-0 channel -> when its notes sound (None: not shared)
    room = len(_MELODIC_CHANNELS)
    _open_channels(tracks, alone, slots, channels, room, shared=False)
    for i in _open_channels(tracks, playing, slots, channels, room - bool(silent), shared=True):
        sound = _Sounding(tracks[i])
        c = next((c for c, s in channels.items() if s is not None and not s.clashes(sound)), None)
        if c is not None:
            channels[c].add(sound)
            slots[i] = (0, c)
    if not _open_channels(tracks, silent[:1], slots, channels, room, shared=False):
        for i in silent[1:]:
            slots[i] = slots[silent[0]]
    return _on_further_ports(slots)


def _open_channels(tracks: tuple[Track, ...], group: list[int], slots: list, channels: dict, room: int,
                   shared: bool) -> list[int]:
    """Give the tracks of ``group`` port-0 channels of their own while fewer than ``room`` are taken: first those
    whose own channel (``Track.channel``) is free, then the others in order. ``shared``: others may join them
    later (``channels`` records when the notes sound). Returns the tracks left without a channel."""
    def take(i: int, c: int) -> None:
        channels[c] = _Sounding(tracks[i]) if shared else None
        slots[i] = (0, c)

    for i in group:
        c = tracks[i].channel
        if c in _MELODIC_CHANNELS and c not in channels and len(channels) < room:
            take(i, c)
    for i in group:
        if slots[i] is None and len(channels) < room:
            take(i, next(c for c in _MELODIC_CHANNELS if c not in channels))
    return [i for i in group if slots[i] is None]


class _Sounding:
    """When notes sound on a channel: their [start, end) spans merged, in order, and each note's (pitch, start)
    and (pitch, end); says whether a track may take turns with them there."""

    def __init__(self, track: Track) -> None:
        self.spans = _merged_spans(sorted((n.start_tick, n.end_tick) for n in track.notes))
        self.starts = {(n.pitch, n.start_tick) for n in track.notes}
        self.ends = {(n.pitch, n.end_tick) for n in track.notes}

    def clashes(self, other: _Sounding) -> bool:
        """Whether notes of both sound at once, or a note of one ends where a note of that pitch of the other
        begins: a player takes the events of two tracks at one tick in an order of its own, and the one's
        note-off coming second would end the other's new note."""
        if self.ends & other.starts or other.ends & self.starts:
            return True
        ends = [e for _, e in self.spans]
        for start, end in other.spans:
            k = bisect_right(ends, start)                   # the first span still sounding after ``start``
            if k < len(ends) and self.spans[k][0] < end:
                return True
        return False

    def add(self, other: _Sounding) -> None:
        self.spans = _merged_spans(sorted(self.spans + other.spans))
        self.starts |= other.starts
        self.ends |= other.ends


def _merged_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted [start, end) spans with those that overlap merged into one."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def channel_turns(tracks: tuple[Track, ...], slots: list[tuple[int, int]]) -> dict[int, list[int]]:
    """Where each melodic track that takes turns on a channel with others (``slots``, :func:`assign_channels`)
    sets it up (instrument, volume, pan), {track index: [ticks]}: just before the first note of each run of its
    notes, the first at tick 0, as :func:`kit_changes` sets drum kits; so a player that merges the tracks and
    ignores ports plays every note with its own track's set-up. {} when no two melodic tracks share a channel."""
    users: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, (track, slot) in enumerate(zip(tracks, slots)):
        if not track.is_drum:
            users[slot].append(i)
    turns: dict[int, list[int]] = {}
    for on_channel in users.values():
        if len(on_channel) < 2:
            continue
        owner = None
        for tick, i in sorted((n.start_tick, i) for i in on_channel for n in tracks[i].notes):
            if i != owner:
                turns.setdefault(i, []).append(0 if owner is None else tick)
                owner = i
    return turns


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
