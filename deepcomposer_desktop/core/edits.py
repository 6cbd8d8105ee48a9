"""Pure edits on notes, tracks and songs. Each returns a new object and leaves its input untouched."""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Sequence

from .song import (CHANNEL_PRESSURE, MAX_TICK, MOD_WHEEL, PITCH_BEND, SOFT_PEDAL, SOSTENUTO, SUSTAIN, Control, Note,
                   Song, SongError, Track)


def transpose_notes(notes: Iterable[Note], semitones: int) -> tuple[Note, ...]:
    """Shift pitches by ``semitones``. Raises SongError if a note would leave 0-127."""
    out = []
    for n in notes:
        p = n.pitch + semitones
        if not 0 <= p <= 127:
            raise SongError(f"Transposing by {semitones} would move a note out of the MIDI range (0-127)")
        out.append(replace(n, pitch=p))
    return tuple(out)


def transpose(track: Track, semitones: int) -> Track:
    """Transpose a melodic track; drum tracks are returned unchanged (their pitches are instruments)."""
    if track.is_drum or semitones == 0:
        return track
    return track.with_notes(transpose_notes(track.notes, semitones))


def transpose_song(song: Song, semitones: int) -> Song:
    """Every melodic track and the key signatures ``semitones`` higher (lower when negative). Raises SongError if a
    note would leave 0-127."""
    return song.replace(tracks=tuple(transpose(t, semitones) for t in song.tracks),
                        key_signatures=tuple(k.transposed(semitones) for k in song.key_signatures))


def quantize_notes(notes: Iterable[Note], grid_tick: int, strength: float = 1.0,
                   quantize_end: bool = False) -> tuple[Note, ...]:
    """Move note starts toward the nearest multiple of ``grid_tick`` by ``strength`` (0..1).

    Durations are kept unless ``quantize_end``, which also snaps note ends (never below one grid step). A note
    ends by the last tick a song holds: where the nearest grid line would end it past, it goes to the one below.
    """
    if grid_tick <= 0:
        raise SongError(f"Quantize grid must be positive, got {grid_tick}")
    if not 0.0 <= strength <= 1.0:
        raise SongError(f"Quantize strength must be between 0 and 1, got {strength}")
    out = []
    for n in notes:
        target = int(round(n.start_tick / grid_tick)) * grid_tick
        start = int(round(n.start_tick + (target - n.start_tick) * strength))
        dur = n.duration_tick
        if quantize_end:
            end_target = max(target + grid_tick, int(round(n.end_tick / grid_tick)) * grid_tick)
            end = int(round(n.end_tick + (end_target - n.end_tick) * strength))
            dur = max(1, end - start)
        start = max(0, start)
        if start + dur > MAX_TICK:
            start = min(n.start_tick, MAX_TICK - dur) // grid_tick * grid_tick
            dur = min(dur, MAX_TICK - start)
        out.append(replace(n, start_tick=start, duration_tick=dur))
    return tuple(out)


def quantize(track: Track, grid_tick: int, strength: float = 1.0, quantize_end: bool = False) -> Track:
    return track.with_notes(quantize_notes(track.notes, grid_tick, strength, quantize_end))


def slice_ticks(track: Track, start_tick: int, end_tick: int, shift: bool = True) -> Track:
    """Notes of ``track`` inside [start_tick, end_tick), cut at the edges; shifted to start at 0 if ``shift``.
    Controller changes inside the range come along, led by the value each controller holds at ``start_tick``; a
    pedal, bend or mod wheel the range leaves down or off-centre goes back to rest at its end, as its notes end
    there (a pedal held past the end would otherwise stay down in the slice for good)."""
    if end_tick <= start_tick:
        raise SongError("A slice must end after it starts")
    out = []
    offset = start_tick if shift else 0
    for n in track.notes:
        s, e = max(n.start_tick, start_tick), min(n.end_tick, end_tick)
        if e > s:
            out.append(Note(start_tick=s - offset, pitch=n.pitch, duration_tick=e - s, velocity=n.velocity))
    held = {c.number: (i, c) for i, c in enumerate(track.controls) if c.tick < start_tick}   # the last one wins
    controls = [replace(c, tick=start_tick - offset) for _, c in sorted(held.values(), key=lambda ic: ic[0])]
    controls += [replace(c, tick=c.tick - offset) for c in track.controls if start_tick <= c.tick < end_tick]
    cut = replace(track, notes=tuple(out), controls=tuple(controls))
    return replace(cut, controls=cut.controls + _rest_controls(cut, end_tick - offset))


def slice_bars(song: Song, start_bar: int, end_bar: int) -> Song:
    """Bars [start_bar, end_bar) of ``song`` as a new song starting at tick 0 (0-based bar numbers).

    Tempo and time-signature changes inside the range are kept, shifted; the ones in force at the start move to 0.
    """
    if end_bar <= start_bar:
        raise SongError(f"Bar range must end after it starts ({start_bar}..{end_bar})")
    a, b = song.bar_start_tick(start_bar), song.bar_start_tick(end_bar)

    def shift_events(events):
        before = [e for e in events if e.tick <= a]
        inside = [replace(e, tick=e.tick - a) for e in events if a < e.tick < b]
        head = [replace(before[-1], tick=0)] if before else []
        return tuple(head + inside)

    return replace(song, tracks=tuple(slice_ticks(t, a, b) for t in song.tracks),
                   tempos=shift_events(song.tempos), time_signatures=shift_events(song.time_signatures),
                   key_signatures=shift_events(song.key_signatures))


def shift_track(track: Track, ticks: int) -> Track:
    """Notes and controller changes ``ticks`` later (earlier when negative)."""
    if ticks == 0:
        return track
    return replace(track, notes=tuple(replace(n, start_tick=n.start_tick + ticks) for n in track.notes),
                   controls=tuple(replace(c, tick=c.tick + ticks) for c in track.controls))


def merge_tracks(tracks: Sequence[Track], name: str | None = None) -> Track:
    """One track holding every note of ``tracks``; instrument and flags come from the first."""
    if not tracks:
        raise SongError("Nothing to merge")
    notes = [n for t in tracks for n in t.notes]
    controls = [c for t in tracks for c in t.controls]
    return replace(tracks[0], name=name or tracks[0].name, notes=tuple(sorted(notes)), controls=tuple(controls))


def merge_songs(base: Song, other: Song) -> Song:
    """``base`` with the tracks of ``other`` appended (other's ticks rescaled to base's PPQ)."""
    tracks = other.tracks
    if other.ppq != base.ppq:
        tracks = tuple(rescale_track(t, other.ppq, base.ppq) for t in tracks)
    return replace(base, tracks=base.tracks + tuple(tracks))


def concat_songs(first: Song, second: Song) -> Song:
    """``second`` appended after the last bar of ``first``, track by track (matched by position)."""
    second = rescale_song(second, first.ppq)
    end = first.sound_end_tick                          # after a pedal lifted past the last note, too
    offset = 0 if end <= 0 else first.bar_start_tick(first.bar_at(end - 1) + 1)   # the bar line after it
    n = max(len(first.tracks), len(second.tracks))
    tracks = []
    for i in range(n):
        a = first.tracks[i] if i < len(first.tracks) else replace(second.tracks[i], notes=(), controls=())
        if i >= len(second.tracks):
            tracks.append(a)
            continue
        b = shift_track(second.tracks[i], offset)
        # the second song starts with the first's bend, mod wheel and pedals at rest (then its own changes)
        controls = a.controls + _rest_controls(a, offset) + b.controls
        tracks.append(replace(a, notes=a.notes + b.notes, controls=controls))
    return replace(first, tracks=tuple(tracks))


def rescale_track(track: Track, from_ppq: int, to_ppq: int) -> Track:
    if from_ppq == to_ppq:
        return track
    f = to_ppq / from_ppq
    notes = tuple(replace(n, start_tick=int(round(n.start_tick * f)),
                          duration_tick=max(1, int(round(n.duration_tick * f)))) for n in track.notes)
    return replace(track, notes=notes, controls=tuple(replace(c, tick=int(round(c.tick * f))) for c in track.controls))


def rescale_song(song: Song, ppq: int) -> Song:
    """The same music at another resolution (ticks rounded)."""
    if song.ppq == ppq:
        return song
    f = ppq / song.ppq

    def ev(events):
        return tuple(replace(e, tick=int(round(e.tick * f))) for e in events)

    return replace(song, ppq=ppq, tracks=tuple(rescale_track(t, song.ppq, ppq) for t in song.tracks),
                   tempos=ev(song.tempos), time_signatures=ev(song.time_signatures),
                   key_signatures=ev(song.key_signatures))


def untangle_notes(notes: Iterable[Note]) -> tuple[Note, ...]:
    """``notes`` with no two of one pitch overlapping, as a synth plays them and a MIDI file can say them: two
    struck together become one (the longer, at the louder velocity), and a note still sounding when its pitch is
    struck again ends there (see :func:`remove_overlaps`)."""
    struck: dict[tuple[int, int], Note] = {}            # one note per (start, pitch): the longest, the loudest
    for n in notes:
        was = struck.get((n.start_tick, n.pitch))
        if was is not None:
            n = replace(max(n, was, key=lambda x: x.duration_tick), velocity=max(n.velocity, was.velocity))
        struck[(n.start_tick, n.pitch)] = n
    return remove_overlaps(Track(notes=tuple(struck.values()))).notes


def remove_overlaps(track: Track) -> Track:
    """Shorten notes so that no two notes of the same pitch overlap (what most synths and DAWs expect); of two
    struck at the same tick only the later in the track's order is kept (see :func:`untangle_notes`, which
    keeps the longer)."""
    last: dict[int, int] = {}
    out: list[Note | None] = list(track.notes)
    for i, n in enumerate(out):
        j = last.get(n.pitch)
        if j is not None and out[j].end_tick > n.start_tick:
            prev = out[j]
            out[j] = replace(prev, duration_tick=n.start_tick - prev.start_tick) if n.start_tick > prev.start_tick \
                else None
        last[n.pitch] = i
    return track.with_notes(n for n in out if n is not None)


MIXER_FIELDS = ("name", "program", "mute", "solo", "volume", "pan")
_NO_MIX = {f: getattr(Track(), f) for f in MIXER_FIELDS}


def same_music(a: Song, b: Song) -> bool:
    """True when ``a`` and ``b`` differ at most in their tracks' mixer settings (name, instrument, mute, solo,
    volume, pan): the same tracks with the same notes and controllers, the same tempo map and melody track."""
    if a is b:
        return True
    if len(a.tracks) != len(b.tracks) or a.melody_index != b.melody_index:
        return False
    if replace(a, tracks=(), melody_index=0) != replace(b, tracks=(), melody_index=0):
        return False
    return all(replace(x, **_NO_MIX) == replace(y, **_NO_MIX) for x, y in zip(a.tracks, b.tracks))


def carry_mixer(song: Song, source: Song) -> Song:
    """``song`` with the mixer settings (:data:`MIXER_FIELDS`) of ``source``'s tracks, track by track by position
    (tracks beyond ``source``'s keep their own)."""
    tracks = list(song.tracks)
    for i, t in enumerate(source.tracks[:len(tracks)]):
        tracks[i] = replace(tracks[i], **{f: getattr(t, f) for f in MIXER_FIELDS})
    return song.with_tracks(tracks)


# controllers a new passage should not inherit: bend, mod wheel, aftertouch and the sustain / sostenuto / soft pedals
_AT_REST = {PITCH_BEND: 0, MOD_WHEEL: 0, CHANNEL_PRESSURE: 0, SUSTAIN: 0, SOSTENUTO: 0, SOFT_PEDAL: 0}


def append_passage(track: Track, notes: Iterable[Note], at_tick: int) -> Track:
    """``track`` continued by ``notes`` (a new passage from ``at_tick`` on, e.g. a model's continuation).

    The passage starts with the bend centred and the mod wheel, aftertouch and pedals at rest where the track left them
    otherwise. No two notes of one pitch overlap (a MIDI file cannot say which note-off ends which): among the
    new notes, two struck together become one and the earlier one ends where the next starts, and an old note
    still sounding when the passage plays its pitch ends there. Other old notes and controller changes are kept
    as they are."""
    new = untangle_notes(notes)
    first_new: dict[int, int] = {}
    for n in new:
        first_new.setdefault(n.pitch, n.start_tick)
    old = tuple(replace(n, duration_tick=max(1, first_new[n.pitch] - n.start_tick))
                if n.start_tick < first_new.get(n.pitch, -1) < n.end_tick else n for n in track.notes)
    return replace(track, notes=old + new, controls=track.controls + _rest_controls(track, at_tick))


def _rest_controls(track: Track, at_tick: int) -> tuple[Control, ...]:
    """Changes at ``at_tick`` that put the track's bend, mod wheel and pedals back at rest where they are not."""
    state: dict[int, int] = {}
    for c in track.controls:
        if c.tick <= at_tick:
            state[c.number] = c.value
    return tuple(Control(at_tick, number, value) for number, value in _AT_REST.items()
                 if state.get(number, value) != value)
