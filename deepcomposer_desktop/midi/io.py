"""Song <-> Standard MIDI Files (parsed and written by ``midi.smf``).

``read_midi`` accepts type 0, 1 (and 2) files, tolerates what real files do (running status, several tempos,
velocity-0 note-ons, overlapping and unterminated notes) and turns every kind of damage into one
``MidiFileError`` with a plain message. ``write_midi`` writes type-1 files as DAWs expect them.
"""
from __future__ import annotations

import os
from bisect import bisect_right
from collections import defaultdict, deque
from pathlib import Path
from typing import BinaryIO

from ..core.analysis import guess_melody_index
from ..core.edits import untangle_notes
from ..core.gm import program_name
from ..core.safe_write import FileRefused, read_capped, write_atomically
from .channels import Turns, assign_channels, channel_turns, heard_controls, heard_volumes, kit_changes
from .smf import SmfError, SmfHeader, header_chunk, key_name, key_payload, meta, parse_smf, track_chunk
from ..core.song import (CHANNEL_PRESSURE, DRUM_CHANNEL, EXPRESSION, MAX_TICK, NOT_TRACK_CONTROLS, PITCH_BEND, Control,
                         KeySignature, Note, Song, SongError, TempoChange, TimeSignature, Track)

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_EVENTS = 5_000_000
MAX_TRACKS = 1024


class MidiFileError(ValueError):
    """A MIDI file that cannot be used; ``str(err)`` is a message for a musician."""


_CP1251_LETTERS = frozenset(range(0xC0, 0x100)) | {0xA8, 0xB8}     # А-я, Ё, ё


def _text(payload: bytes) -> str:
    """MIDI text is bytes: UTF-8 where it decodes (what we and most DAWs write); else Windows Cyrillic (cp1251)
    when it reads as a Cyrillic word (at least half its characters are cp1251 letters, no other byte over 127:
    "Чунга-Чанга", which latin-1 shows as "×óíãà-×àíãà"); else latin-1."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        pass
    high = [b for b in payload if b >= 0x80]
    visible = sum(1 for b in payload if b > 0x20)
    if high and set(high) <= _CP1251_LETTERS and 2 * len(high) >= visible:
        return payload.decode("cp1251")
    return payload.decode("latin-1")


def _load_bytes(source: str | os.PathLike | bytes | BinaryIO) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source), "the data"
    if hasattr(source, "read"):
        return source.read(MAX_FILE_BYTES + 1), getattr(source, "name", "the data")
    path = Path(source)
    name = path.name
    try:
        if path.is_dir():
            raise MidiFileError(f"{name} is a folder, not a MIDI file")
        return read_capped(path, MAX_FILE_BYTES, "MIDI file"), name
    except FileRefused as exc:
        raise MidiFileError(f"{name} {exc}") from None
    except FileNotFoundError:
        raise MidiFileError(f"{name} does not exist") from None
    except PermissionError:
        raise MidiFileError(f"{name} cannot be read (permission denied)") from None
    except OSError as exc:
        raise MidiFileError(f"{name} cannot be read: {exc.strerror or exc}") from None


def _bpm_from_tempo(us_per_beat: int) -> float:
    """BPM for a MIDI tempo, rounded to 0.01 when that maps back to the same microseconds (110, not 109.9999)."""
    bpm = 60_000_000 / us_per_beat
    nice = round(bpm, 2)
    if nice > 0 and int(round(60_000_000 / nice)) == us_per_beat:
        bpm = nice
    return min(1000.0, max(1.0, bpm))


def parse_midi_file(data: bytes, name: str = "the file") -> tuple[SmfHeader, list[list[tuple]]]:
    """Parse raw bytes (``smf.parse_smf``), mapping every failure to MidiFileError."""
    if len(data) == 0:
        raise MidiFileError(f"{name} is empty")
    if len(data) > MAX_FILE_BYTES:
        raise MidiFileError(f"{name} is too large to be a MIDI file we can open")
    if data[:4] != b"MThd":
        if data[:4] == b"RIFF" and b"RMID" in data[:16]:
            raise MidiFileError(f"{name} is an RMID file; save it as a standard .mid file first")
        raise MidiFileError(f"{name} is not a MIDI file (it does not start with 'MThd')")
    try:
        return parse_smf(data, MAX_EVENTS, MAX_TRACKS)
    except SmfError as exc:
        msg = str(exc)
        if "SMPTE" in msg:
            raise MidiFileError(f"{name} uses SMPTE timing, which is not supported") from None
        if "far beyond" in msg:
            raise MidiFileError(f"{name} has event times far beyond any real song (corrupt time values)") from None
        if "more than" in msg:
            raise MidiFileError(f"{name} has {msg}: too large to open") from None
        raise MidiFileError(f"{name} is damaged or truncated and cannot be read ({msg})") from None


def read_midi(source: str | os.PathLike | bytes | BinaryIO, *, require_notes: bool = True) -> Song:
    """Read a MIDI file (path, bytes or binary file object) into a Song.

    Raises MidiFileError for anything that is not a usable MIDI file (not MIDI, truncated, empty, no notes,
    absurd sizes or times). A file of named parts without notes yet (an empty project, exported) reads as those
    empty tracks.
    """
    data, name = _load_bytes(source)
    header, tracks = parse_midi_file(data, name)
    if header.format == 2:
        tracks = _patterns_in_a_row(tracks)
    try:
        song = _convert(header, tracks)
    except SongError as exc:
        raise MidiFileError(f"{name} contains invalid values: {exc}") from None
    if require_notes and not song.tracks:
        raise MidiFileError(f"{name} contains no notes")
    if isinstance(source, (str, os.PathLike)) and not song.title:
        song = song.replace(title=Path(source).stem)
    return song


def _patterns_in_a_row(smf_tracks: list[list[tuple]]) -> list[list[tuple]]:
    """A type-2 file holds independent patterns, each timed from 0: they play one after the other."""
    out, offset = [], 0
    for events in smf_tracks:
        out.append([(tick + offset, *rest) for tick, *rest in events])
        offset += events[-1][0] if events else 0
    if offset > MAX_TICK:
        raise MidiFileError("The patterns of this type-2 file last far longer than any song (corrupt times)")
    return out


def _convert(header: SmfHeader, smf_tracks: list[list[tuple]]) -> Song:
    ppq = header.division
    tempos: list[TempoChange] = []
    sigs: list[TimeSignature] = []
    keys: list[KeySignature] = []
    title = ""
    # programs seen per channel anywhere (type 0 files and conductor tracks set them globally)
    global_program: dict[int, int] = {}
    parts: list[dict] = []   # per (file track, channel): notes and settings
    Line = tuple[int, int]                            # (port, channel)
    loose_controls: list[tuple[Line, Control]] = []   # (line, change) from file tracks without notes
    loose_volumes: list[tuple[Line, tuple]] = []      # (line, (tick, place in the file, CC 7 value)) from them too
    loose_pans: dict[Line, int] = {}                  # line -> its first pan there

    for ti, events in enumerate(smf_tracks):
        track_name = ""
        pending: dict[tuple[int, int], deque] = defaultdict(deque)
        by_channel: dict[int, dict] = {}
        raw_notes: dict[int, list] = {}

        def part(ch: int) -> dict:
            p = by_channel.get(ch)
            if p is None:
                p = by_channel[ch] = {"channel": ch, "notes": [], "program": None, "volumes": [], "pan": None,
                                      "order": ti, "controls": [], "programs": [], "places": [], "program_at": {}}
                raw_notes[ch] = p["notes"]
            return p

        def control(ch: int, c: Control, at: int) -> None:
            p = part(ch)
            p["controls"].append(c)
            p["places"].append(at)

        port = 0                                     # the file track's MIDI port (meta event 0x21), if named
        for at, (tick, status, a, b) in enumerate(events):
            kind = status & 0xF0
            if kind == 0x90 and b > 0:
                ch = status & 0x0F
                pending[(ch, a)].append((tick, b))
                if ch not in by_channel:
                    part(ch)
            elif kind == 0x80 or kind == 0x90:
                q = pending.get((status & 0x0F, a))
                if q:
                    start, vel = q.popleft()
                    raw_notes[status & 0x0F].append((start, a, tick - start if tick > start else 1, vel))
            elif status == 0xFF:
                if a == 0x51 and len(b) == 3:
                    us = int.from_bytes(b, "big")
                    if us > 0:
                        tempos.append(TempoChange(tick, _bpm_from_tempo(us)))
                elif a == 0x58 and len(b) >= 2:
                    num, den = b[0], 1 << min(b[1], 7)
                    if 0 < num <= 64 and den <= 64:
                        sigs.append(TimeSignature(tick, num, den))
                elif a == 0x59:
                    key = key_name(b)
                    if key:
                        keys.append(KeySignature(tick, key))
                elif a == 0x03 and not track_name:
                    track_name = _text(b).strip()
                elif a == 0x21 and len(b) == 1:
                    port = b[0]
            elif kind == 0xC0:
                p = part(status & 0x0F)
                if p["program"] is None or not p["notes"]:
                    p["program"] = a
                p["programs"].append((tick, a))
                p["program_at"][tick] = at
                global_program.setdefault(status & 0x0F, a)
            elif kind == 0xB0 and a == 7:
                part(status & 0x0F)["volumes"].append((tick, (ti, at), b))
            elif kind == 0xB0 and a == 10:
                p = part(status & 0x0F)
                if p["pan"] is None:
                    p["pan"] = b
            elif kind == 0xB0 and a not in NOT_TRACK_CONTROLS:
                control(status & 0x0F, Control(tick, a, b), at)
            elif kind == 0xE0:
                control(status & 0x0F, Control(tick, PITCH_BEND, (b << 7 | a) - 8192), at)
            elif kind == 0xD0:
                control(status & 0x0F, Control(tick, CHANNEL_PRESSURE, a), at)
        end = events[-1][0] if events else 0
        # unterminated notes end where the track ends (at least one beat long)
        for (ch, pitch), q in pending.items():
            for start, vel in q:
                raw_notes[ch].append((start, pitch, end - start if end > start else ppq, vel))
        if ti == 0 and track_name and (header.format == 0 or not any(p["notes"] for p in by_channel.values())):
            title = track_name
        with_notes = [p for p in by_channel.values() if p["notes"]]
        if not with_notes and ti > 0 and track_name:
            # a named part with its instrument but no notes yet (a DAW's, or our own export of an empty track);
            # if another file track plays on its channel it is that channel's set-up track instead (below)
            with_notes = [p for p in by_channel.values() if p["program"] is not None][:1]
            for p in with_notes:
                p["empty"] = True
        # controllers in a file track of their own (an automation track) join their channel's notes below; a
        # channel is the port's: channel 1 of port 2 is not channel 1 of port 1
        kept = {id(p) for p in with_notes}
        for p in by_channel.values():
            p["line"] = (port, p["channel"])
            if id(p) not in kept:
                loose_controls.extend((p["line"], c) for c in p["controls"])
                loose_volumes.extend((p["line"], v) for v in p["volumes"])
                if p["pan"] is not None:
                    loose_pans.setdefault(p["line"], p["pan"])
        for p in with_notes:
            p["name"] = track_name
            p["multi"] = len(with_notes) > 1
            parts.append(p)

    played = {p["line"] for p in parts if p["notes"]}
    setup = [p for p in parts if p.get("empty") and p["line"] in played]       # named set-up tracks
    parts = [p for p in parts if not any(p is q for q in setup)]
    for p in setup:
        loose_controls.extend((p["line"], c) for c in p["controls"])
        loose_volumes.extend((p["line"], v) for v in p["volumes"])
        if p["pan"] is not None:
            loose_pans.setdefault(p["line"], p["pan"])
    # a controller change is the channel's: every part playing on that channel hears it (a piano's left hand in a
    # file track of its own shares the pedal of the right hand's), as do parts an instrument change splits off
    on_channel: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for p in sorted(parts, key=lambda p: p["order"]):
        on_channel[p["line"]].append(p)
    for ch, c in loose_controls:
        for p in on_channel.get(ch, ()):
            p["controls"].append(c)              # Track sorts them by time, stably
    for ch, v in loose_volumes:                  # a set-up track's volumes (and pans) are the channel's too
        for p in on_channel.get(ch, ()):
            p["volumes"].append(v)
    for ch, pan in loose_pans.items():
        for p in on_channel.get(ch, ()):
            p["pan"] = pan if p["pan"] is None else p["pan"]
    for ps in on_channel.values():
        if len(ps) > 1:
            spans = [[(start, start + length) for start, _, length, _ in p["notes"]] for p in ps]
            heard = heard_controls([(s, p["controls"], p["places"], p["program_at"]) for s, p in zip(spans, ps)])
            volumes = heard_volumes(sorted({v for p in ps for v in p["volumes"]}),
                                    [(s, p["volumes"]) for s, p in zip(spans, ps)])
            for p, controls, vols in zip(ps, heard, volumes):
                p["controls"], p["volumes"] = controls, vols
    parts = [piece for p in parts for piece in _split_by_program(p)]
    tracks = []
    for p in sorted(parts, key=lambda p: (p["order"], p["channel"])):
        ch = p["channel"]
        is_drum = ch == DRUM_CHANNEL
        program = p["program"] if p["program"] is not None else global_program.get(ch, 0)
        track_name = p["name"] if header.format != 0 or not title else ""
        if p.get("split"):
            track_name = f"{track_name} ({program_name(program, is_drum)})" if track_name else ""
        if not track_name or p["multi"]:
            base = track_name or program_name(program, is_drum)
            track_name = f"{base} (ch {ch + 1})" if p["multi"] and track_name else base
        p["notes"].sort()
        notes = tuple(Note(s, pitch, min(d, MAX_TICK - s), v) for s, pitch, d, v in p["notes"] if s < MAX_TICK)
        volume, controls = fold_volume(p["volumes"], p["controls"])
        tracks.append(Track(name=track_name, program=program, is_drum=is_drum, notes=notes, channel=ch,
                            volume=volume, pan=64 if p["pan"] is None else p["pan"], controls=controls))
    # until its first tempo and metre a MIDI file is at 120 BPM in 4/4 (the standard's defaults, as mido and
    # pretty_midi read it); a Song would stretch its first ones back to tick 0 instead (see core.song.Song)
    if tempos and min(t.tick for t in tempos) > 0:
        tempos.insert(0, TempoChange(0, 120.0))
    if sigs and min(t.tick for t in sigs) > 0:
        sigs.insert(0, TimeSignature(0, 4, 4))
    sigs = _meter_changes(sigs)
    song = Song(tracks=tuple(tracks), ppq=ppq, tempos=tuple(tempos), time_signatures=tuple(sigs),
                key_signatures=tuple(keys), title=title)
    if tracks:
        song = song.replace(melody_index=guess_melody_index(song))
    return song


def _meter_changes(sigs: list[TimeSignature]) -> list[TimeSignature]:
    """The file's time signatures as changes of metre: of several at one tick the last counts, and one that repeats
    the metre in force is left out (a second 4/4 nine ticks into a 4/4 song made a bar nine ticks long)."""
    at: dict[int, TimeSignature] = {}
    for ts in sorted(sigs, key=lambda t: t.tick):            # stable: the file's order at one tick
        at[ts.tick] = ts
    out: list[TimeSignature] = []
    for ts in at.values():
        if not out or (ts.numerator, ts.denominator) != (out[-1].numerator, out[-1].denominator):
            out.append(ts)
    return out


def fold_volume(volumes: list[tuple], controls) -> tuple[int, tuple[Control, ...]]:
    """A part's channel-volume changes (tick, place in the file, CC 7 value) -> (the track's volume, its controls).

    The mixer owns CC 7 (the track's fader), so a part whose volume moves (a fade-out, a swell) keeps those moves
    as expression (CC 11) under a fader at their loudest volume: the GM gain curves of CC 7 and CC 11 multiply, so
    the expression 127 * v / loudest plays each volume v as it was. A part that has expression changes of its own
    gets the product of both. The first volume counts from the start; one volume alone is just the fader. Of
    several changes at one tick the last in the file counts, as a synth plays them."""
    vols: list[tuple[int, int]] = []
    for tick, _, value in sorted(volumes):
        if vols and vols[-1][0] == tick:
            vols[-1] = (tick, value)
        else:
            vols.append((tick, value))
    if not vols:
        return 100, tuple(controls)
    loudest = max(v for _, v in vols)
    if len({v for _, v in vols}) == 1 or loudest == 0:
        return vols[0][1], tuple(controls)
    vols[0] = (0, vols[0][1])
    own = sorted((c for c in controls if c.number == EXPRESSION), key=lambda c: c.tick)       # stable: file order
    changes = sorted([(t, 0, i, v) for i, (t, v) in enumerate(vols)] + [(c.tick, 1, i, c.value)
                                                                          for i, c in enumerate(own)])
    level, expression, out, last = vols[0][1], 127, [], 127
    for i, (tick, which, _, value) in enumerate(changes):
        if which == 0:
            level = value
        else:
            expression = value
        if i + 1 < len(changes) and changes[i + 1][0] == tick:
            continue                                          # one change per tick: the last values there
        folded = round(expression * level / loudest)
        if folded != last:
            out.append(Control(tick, EXPRESSION, folded))
            last = folded
    return loudest, tuple(c for c in controls if c.number != EXPRESSION) + tuple(out)


def _split_by_program(p: dict) -> list[dict]:
    """A part whose channel changes instrument between its notes, as one part per instrument (each note goes to
    the one in force when it starts; the controller changes go to all); a track keeps one instrument."""
    changes = p["programs"]
    if len({prog for _, prog in changes}) < 2 or not p["notes"]:
        return [p]
    ticks = [t for t, _ in changes]
    by_program: dict[int, list] = {}
    for n in sorted(p["notes"]):
        i = bisect_right(ticks, n[0]) - 1
        by_program.setdefault(changes[max(i, 0)][1], []).append(n)
    if len(by_program) == 1:
        return [dict(p, program=next(iter(by_program)))]
    return [dict(p, notes=notes, program=prog, split=True) for prog, notes in by_program.items()]


def midi_bytes(song: Song) -> bytes:
    """The song as a type-1 Standard MIDI File: a conductor track (tempo, meter, key) then one track per part
    with its name, program change, volume and pan, its notes and controller changes (pedal, pitch bend ...); drums on
    channel 10 (several drum kits: each set where its notes begin, :func:`kit_changes`); more melodic tracks than
    channels take turns on channels, each set up where it takes over (instrument, volume, pan, its set-up controller
    values, before them the reset values of those others there set: :func:`channel_turns`); at equal ticks
    note-offs, then controllers, then note-ons. Notes of one pitch that overlap are written as they sound
    (:func:`core.edits.untangle_notes`): a MIDI file cannot say which note-off ends which."""
    conductor: list[tuple[int, int, bytes]] = []
    if song.title:
        conductor.append((0, 0, meta(0x03, song.title.encode("utf-8"))))
    for ts in song.time_signatures:
        dd = ts.denominator.bit_length() - 1
        conductor.append((ts.tick, 1, meta(0x58, bytes((ts.numerator, dd, 24, 8)))))
    for ks in song.key_signatures:
        payload = key_payload(ks.key)
        if payload:
            conductor.append((ks.tick, 2, meta(0x59, payload)))
    for tc in song.tempos:
        conductor.append((tc.tick, 3, meta(0x51, tc.microseconds_per_beat.to_bytes(3, "big"))))
    chunks = [track_chunk(conductor)]
    slots = assign_channels(song.tracks)
    ports = any(port for port, _ in slots)
    kits = kit_changes(song.tracks)
    turns = channel_turns(song.tracks, slots)
    for i, (track, (port, ch)) in enumerate(zip(song.tracks, slots)):
        turn = turns.get(i, Turns((0,), (), tuple((c.tick, c) for c in track.controls)))
        program_ticks = kits.get(i, ()) if track.is_drum and kits else turn.ticks
        defaults = [_control_bytes(ch, c) for c in turn.defaults]      # before its program where it takes over
        program, volume, pan = bytes((0xC0 | ch, track.program)), bytes((0xB0 | ch, 7, track.volume)), \
            bytes((0xB0 | ch, 10, track.pan))
        events: list[tuple[int, int, bytes]] = [
            (0, 0, meta(0x03, track.name.encode("utf-8"))),
            *([(0, 0, meta(0x21, bytes((port,))))] if ports else []),
            *[(tick, 0, raw) for tick in turn.ticks for raw in defaults],
            *[(tick, 1, program) for tick in program_ticks],
            *[(tick, 2, volume) for tick in turn.ticks],
            *[(tick, 3, pan) for tick in turn.ticks],
        ]
        on, off = 0x90 | ch, 0x80 | ch
        for n in untangle_notes(track.notes):       # two notes of one pitch overlapping: as the synth plays them
            events.append((n.start_tick, 5, bytes((on, n.pitch, n.velocity))))
            events.append((n.end_tick, 4, bytes((off, n.pitch, 0))))
        # after the note-offs and before the note-ons of their tick, in their own order (the sort is stable)
        events += [(tick, 4, _control_bytes(ch, c)) for tick, c in turn.controls]
        again = [_control_bytes(ch, c) for c in turn.again]            # a set-up sent again where it takes over
        events += [(tick, 4, raw) for tick in turn.ticks[1:] for raw in again]
        chunks.append(track_chunk(events))
    return header_chunk(1, len(chunks), song.ppq) + b"".join(chunks)


def _control_bytes(ch: int, c: Control) -> bytes:
    """The MIDI event of controller change (or pitch bend, or aftertouch) ``c`` on channel ``ch``."""
    if c.number == PITCH_BEND:
        v = c.value + 8192
        return bytes((0xE0 | ch, v & 0x7F, v >> 7))
    if c.number == CHANNEL_PRESSURE:
        return bytes((0xD0 | ch, c.value))
    return bytes((0xB0 | ch, c.number, c.value))


def write_midi(song: Song, path: str | os.PathLike) -> None:
    """Write ``song`` as a type-1 MIDI file, atomically (see ``core.safe_write``): a failed write leaves what was
    there. Raises OSError."""
    data = midi_bytes(song)
    write_atomically(path, lambda fh: fh.write(data))
