"""A song as one immutable, time-sorted numpy event array (the only thing the playback path reads), plus the
metronome's click grid.

Times are song seconds (the tempo map is baked in); the scheduler turns them into sample positions. Track index
``METRONOME`` (-1) marks clicks. At equal times note-offs sort before controller changes and those before note-ons,
so repeated notes re-strike.
"""
from __future__ import annotations

import numpy as np

from ..core.song import CHANNEL_PRESSURE, PITCH_BEND, Song
from ..core.timing import TempoMap

METRONOME = -1
NOTE_OFF, NOTE_ON = 0, 1
# controller changes: CONTROL (pitch: the controller's number, value: 0-127), BEND (value -8192..8191) and
# BEND_RANGE (value: semitones; from a track's RPN 0 data entry, which the sequencer could not keep in order),
# PRESSURE (channel aftertouch, value 0-127)
CONTROL, BEND, BEND_RANGE, PRESSURE = 4, 5, 6, 7
_RPN_CCS = (6, 38, 96, 97, 98, 99, 100, 101)    # data entry, increment/decrement, NRPN and RPN selects
CLICK_SEC = 0.05            # how long a click note is held
ACCENT_PITCH, BEAT_PITCH = 76, 77          # GM drum kit: high / low wood block
ACCENT_VELOCITY, BEAT_VELOCITY = 127, 90

EVENT_DTYPE = np.dtype([
    ("sec", np.float64),      # song time of this event
    ("end_sec", np.float64),  # for a note-on: when its note-off comes (else equal to sec)
    ("tick", np.int64),       # song tick of the note's start (identifies a note across song edits)
    ("kind", np.int8),        # NOTE_OFF / NOTE_ON / CONTROL / BEND / BEND_RANGE / PRESSURE
    ("track", np.int16),      # track index, or METRONOME
    ("pitch", np.uint8),      # a note's pitch; a controller's number
    ("vel", np.uint8),
    ("value", np.int16),      # a controller's value or the bend
    ("seq", np.int32),        # a controller change's place in its track (events at one time keep their order)
])

# at equal times: note-offs, then controller changes (so a pedal pressed as a note ends does not hold it, and a
# bend is in place before the note it bends), then note-ons
_RANK = np.zeros(256, np.int8)
_RANK[NOTE_ON], _RANK[CONTROL], _RANK[BEND], _RANK[BEND_RANGE], _RANK[PRESSURE] = 2, 1, 1, 1, 1


def _sorted(ev: np.ndarray) -> np.ndarray:
    order = np.lexsort((ev["pitch"], ev["seq"], ev["track"], _RANK[ev["kind"].astype(np.uint8)], ev["sec"]))
    out = ev[order]
    out.flags.writeable = False
    return out


def _control_events(track, index: int, tmap: TempoMap) -> np.ndarray:
    controls = track.controls
    n = len(controls)
    ev = np.zeros(n, EVENT_DTYPE)
    ticks = np.fromiter((c.tick for c in controls), np.int64, n)
    number = np.fromiter((c.number for c in controls), np.int64, n)
    ev["sec"] = ev["end_sec"] = tmap.ticks_to_seconds(ticks)
    ev["tick"] = ticks
    ev["kind"] = np.where(number == PITCH_BEND, BEND, np.where(number == CHANNEL_PRESSURE, PRESSURE, CONTROL))
    ev["track"] = index
    ev["pitch"] = np.where(number >= PITCH_BEND, 0, number)
    ev["value"] = np.fromiter((c.value for c in controls), np.int16, n)
    ev["seq"] = np.arange(n)
    rpn = np.isin(number, _RPN_CCS)
    if not rpn.any():
        return ev
    # RPN 0 (pitch-bend range) becomes one BEND_RANGE event; other RPNs and NRPNs are kept in the track (and in
    # exported files) but not played
    keep = ~rpn
    select = [127, 127]                       # (RPN MSB, LSB); null until selected
    for i in np.flatnonzero(rpn):
        num, value = int(number[i]), controls[i].value
        if num in (101, 100):
            select[101 - num] = value
        elif num in (99, 98):
            select = [127, 127]               # an NRPN is selected: data entry goes there
        elif num == 6 and select == [0, 0]:
            ev["kind"][i], ev["pitch"][i] = BEND_RANGE, 0
            keep[i] = True
    return ev[keep]


def song_events(song: Song) -> np.ndarray:
    """Every note of every track as a note-on and a note-off, and every controller change, sorted by time
    (read-only array)."""
    tmap = TempoMap.of(song)
    parts = []
    for index, track in enumerate(song.tracks):
        if track.controls:
            parts.append(_control_events(track, index, tmap))
        n = len(track.notes)
        if not n:
            continue
        start = np.fromiter((x.start_tick for x in track.notes), np.int64, n)
        dur = np.fromiter((x.duration_tick for x in track.notes), np.int64, n)
        pitch = np.fromiter((x.pitch for x in track.notes), np.uint8, n)
        vel = np.fromiter((x.velocity for x in track.notes), np.uint8, n)
        on_sec = tmap.ticks_to_seconds(start)
        off_sec = tmap.ticks_to_seconds(start + dur)
        ev = np.zeros(2 * n, EVENT_DTYPE)
        ev["sec"][:n], ev["sec"][n:] = on_sec, off_sec
        ev["end_sec"][:n], ev["end_sec"][n:] = off_sec, off_sec
        ev["tick"][:n], ev["tick"][n:] = start, start
        ev["kind"][:n], ev["kind"][n:] = NOTE_ON, NOTE_OFF
        ev["track"] = index
        ev["pitch"][:n], ev["pitch"][n:] = pitch, pitch
        ev["vel"][:n], ev["vel"][n:] = vel, 0
        parts.append(ev)
    if not parts:
        return _sorted(np.zeros(0, EVENT_DTYPE))
    return _sorted(np.concatenate(parts))


def beat_grid(song: Song, until_tick: int) -> tuple[np.ndarray, np.ndarray]:
    """Ticks of every beat (the time signature's denominator note) before ``until_tick``, and whether each one
    starts a bar."""
    ticks, accents = [], []
    sigs = song.time_signatures
    for i, ts in enumerate(sigs):
        seg_end = sigs[i + 1].tick if i + 1 < len(sigs) else until_tick
        seg_end = min(seg_end, until_tick)
        if seg_end <= ts.tick:
            continue
        beat = max(1, song.ppq * 4 // ts.denominator)
        bar = max(1, ts.bar_ticks(song.ppq))
        t = np.arange(ts.tick, seg_end, beat, dtype=np.int64)
        ticks.append(t)
        accents.append((t - ts.tick) % bar == 0)
    if not ticks:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    return np.concatenate(ticks), np.concatenate(accents)


def click_events(secs: np.ndarray, accents: np.ndarray) -> np.ndarray:
    """Metronome clicks (note-on and note-off of a wood block) at ``secs``; accented clicks are higher and louder."""
    n = len(secs)
    ev = np.zeros(2 * n, EVENT_DTYPE)
    pitch = np.where(accents, ACCENT_PITCH, BEAT_PITCH).astype(np.uint8)
    ev["sec"][:n], ev["sec"][n:] = secs, secs + CLICK_SEC
    ev["end_sec"][:n], ev["end_sec"][n:] = secs + CLICK_SEC, secs + CLICK_SEC
    ev["kind"][:n], ev["kind"][n:] = NOTE_ON, NOTE_OFF
    ev["track"] = METRONOME
    ev["pitch"][:n], ev["pitch"][n:] = pitch, pitch
    ev["vel"][:n] = np.where(accents, ACCENT_VELOCITY, BEAT_VELOCITY)
    return ev


def metronome_events(song: Song, until_tick: int) -> np.ndarray:
    ticks, accents = beat_grid(song, until_tick)
    ev = click_events(TempoMap.of(song).ticks_to_seconds(ticks), accents)
    ev["tick"][: len(ticks)] = ticks
    ev["tick"][len(ticks):] = ticks
    return ev


def count_in_events(song: Song, from_tick: int, bars: int) -> tuple[np.ndarray, float]:
    """Clicks for ``bars`` bars at the tempo and metre found at ``from_tick``, starting at second 0; and the
    count-in's length in seconds."""
    if bars <= 0:
        return _sorted(np.zeros(0, EVENT_DTYPE)), 0.0
    ts = song.time_signatures[0]
    for sig in song.time_signatures:
        if sig.tick <= from_tick:
            ts = sig
    bpm = TempoMap.of(song).bpm_at(from_tick)
    beat_sec = 60.0 / bpm * 4.0 / ts.denominator
    n = bars * ts.numerator
    idx = np.arange(n)
    ev = click_events(idx * beat_sec, idx % ts.numerator == 0)
    return _sorted(ev), n * beat_sec


def with_metronome(events: np.ndarray, song: Song, until_tick: int) -> np.ndarray:
    """``events`` plus metronome clicks up to ``until_tick`` (the scheduler filters them when the click is off)."""
    return _sorted(np.concatenate([np.asarray(events), metronome_events(song, until_tick)]))
