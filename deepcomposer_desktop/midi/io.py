"""Song <-> Standard MIDI Files through mido.

``read_midi`` accepts type 0, 1 (and 2) files, tolerates what real files do (running status, several tempos,
velocity-0 note-ons, overlapping and unterminated notes) and turns every kind of damage into one
``MidiFileError`` with a plain message. ``write_midi`` writes type-1 files as DAWs expect them.
"""
from __future__ import annotations

import io
import os
from collections import defaultdict, deque
from pathlib import Path
from typing import BinaryIO

import mido

from ..core.analysis import guess_melody_index
from ..core.gm import program_name
from ..core.song import (DRUM_CHANNEL, MAX_TICK, KeySignature, Note, Song, SongError, TempoChange, TimeSignature,
                         Track)

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_EVENTS = 5_000_000
MAX_TRACKS = 1024


class MidiFileError(ValueError):
    """A MIDI file that cannot be used; ``str(err)`` is a message for a musician."""


def _text_in(text: str) -> str:
    """MIDI text is bytes; we write UTF-8 (what DAWs read) and mido decodes latin-1: undo that where it fits."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


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
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise MidiFileError(f"{name} is {size // (1024 * 1024)} MB: too large to be a MIDI file we can open")
        return path.read_bytes(), name
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


def parse_midi_file(data: bytes, name: str = "the file") -> mido.MidiFile:
    """Parse raw bytes with mido, mapping every failure to MidiFileError."""
    if len(data) == 0:
        raise MidiFileError(f"{name} is empty")
    if len(data) > MAX_FILE_BYTES:
        raise MidiFileError(f"{name} is too large to be a MIDI file we can open")
    if data[:4] != b"MThd":
        if data[:4] == b"RIFF" and b"RMID" in data[:16]:
            raise MidiFileError(f"{name} is an RMID file; save it as a standard .mid file first")
        raise MidiFileError(f"{name} is not a MIDI file (it does not start with 'MThd')")
    try:
        mf = mido.MidiFile(file=io.BytesIO(data), clip=True)
    except MidiFileError:
        raise
    except Exception as exc:  # mido raises OSError, EOFError, ValueError, KeyError, IndexError, TypeError ...
        raise MidiFileError(f"{name} is damaged or truncated and cannot be read ({type(exc).__name__}: {exc})") from None
    if mf.type not in (0, 1, 2):
        raise MidiFileError(f"{name} has an unknown MIDI file type {mf.type}")
    if not mf.ticks_per_beat or mf.ticks_per_beat <= 0 or mf.ticks_per_beat > 32767:
        raise MidiFileError(f"{name} uses SMPTE timing or an invalid resolution, which is not supported")
    if len(mf.tracks) > MAX_TRACKS:
        raise MidiFileError(f"{name} has {len(mf.tracks)} tracks, more than the {MAX_TRACKS} we can handle")
    if sum(len(t) for t in mf.tracks) > MAX_EVENTS:
        raise MidiFileError(f"{name} has more than {MAX_EVENTS:,} events: too large to open")
    return mf


def read_midi(source: str | os.PathLike | bytes | BinaryIO, *, require_notes: bool = True) -> Song:
    """Read a MIDI file (path, bytes or binary file object) into a Song.

    Raises MidiFileError for anything that is not a usable MIDI file (not MIDI, truncated, empty, no notes,
    absurd sizes or times).
    """
    data, name = _load_bytes(source)
    mf = parse_midi_file(data, name)
    try:
        song = _convert(mf, name)
    except SongError as exc:
        raise MidiFileError(f"{name} contains invalid values: {exc}") from None
    except RecursionError:
        raise MidiFileError(f"{name} is too complex to read") from None
    if require_notes and song.note_count == 0:
        raise MidiFileError(f"{name} contains no notes")
    if isinstance(source, (str, os.PathLike)) and not song.title:
        song = song.replace(title=Path(source).stem)
    return song


def _convert(mf: mido.MidiFile, name: str) -> Song:
    ppq = mf.ticks_per_beat
    tempos: list[TempoChange] = []
    sigs: list[TimeSignature] = []
    keys: list[KeySignature] = []
    title = ""
    # programs / volume / pan seen per channel anywhere (type 0 files and conductor tracks set them globally)
    global_program: dict[int, int] = {}
    parts: list[dict] = []   # per (mido track, channel): notes and settings

    for ti, mtrack in enumerate(mf.tracks):
        tick = 0
        track_name = ""
        pending: dict[tuple[int, int], deque] = defaultdict(deque)
        by_channel: dict[int, dict] = {}

        def part(ch: int) -> dict:
            p = by_channel.get(ch)
            if p is None:
                p = by_channel[ch] = {"channel": ch, "notes": [], "program": None, "volume": None, "pan": None,
                                      "order": ti}
            return p

        for msg in mtrack:
            tick += msg.time
            if tick > MAX_TICK:
                raise MidiFileError(f"{name} has event times far beyond any real song (corrupt time values)")
            t = msg.type
            if t == "note_on" and msg.velocity > 0:
                pending[(msg.channel, msg.note)].append((tick, msg.velocity))
                part(msg.channel)
            elif t == "note_off" or t == "note_on":
                q = pending.get((msg.channel, msg.note))
                if q:
                    start, vel = q.popleft()
                    part(msg.channel)["notes"].append(
                        Note(start_tick=start, pitch=msg.note, duration_tick=max(1, tick - start), velocity=max(1, vel)))
            elif t == "program_change":
                p = part(msg.channel)
                if p["program"] is None or not p["notes"]:
                    p["program"] = msg.program
                global_program.setdefault(msg.channel, msg.program)
            elif t == "control_change" and msg.control in (7, 10):
                key = "volume" if msg.control == 7 else "pan"
                p = part(msg.channel)
                if p[key] is None:
                    p[key] = msg.value
            elif t == "set_tempo":
                if msg.tempo > 0:
                    tempos.append(TempoChange(tick, _bpm_from_tempo(msg.tempo)))
            elif t == "time_signature":
                if msg.numerator > 0 and msg.denominator in (1, 2, 4, 8, 16, 32, 64):
                    sigs.append(TimeSignature(tick, min(64, msg.numerator), msg.denominator))
            elif t == "key_signature":
                keys.append(KeySignature(tick, msg.key))
            elif t == "track_name" and not track_name:
                track_name = _text_in(msg.name).strip()
        end = tick
        # unterminated notes end where the track ends (at least one beat long)
        for (ch, pitch), q in pending.items():
            for start, vel in q:
                dur = end - start if end > start else ppq
                by_channel[ch]["notes"].append(Note(start_tick=start, pitch=pitch, duration_tick=dur,
                                                    velocity=max(1, vel)))
        if ti == 0 and track_name and (mf.type == 0 or not any(p["notes"] for p in by_channel.values())):
            title = track_name
        with_notes = [p for p in by_channel.values() if p["notes"]]
        for p in with_notes:
            p["name"] = track_name
            p["multi"] = len(with_notes) > 1
            parts.append(p)

    tracks = []
    for p in sorted(parts, key=lambda p: (p["order"], p["channel"])):
        ch = p["channel"]
        is_drum = ch == DRUM_CHANNEL
        program = p["program"] if p["program"] is not None else global_program.get(ch, 0)
        track_name = p["name"] if mf.type != 0 or not title else ""
        if not track_name or p["multi"]:
            base = track_name or program_name(program, is_drum)
            track_name = f"{base} (ch {ch + 1})" if p["multi"] and track_name else base
        tracks.append(Track(name=track_name, program=program, is_drum=is_drum, notes=tuple(p["notes"]), channel=ch,
                            volume=100 if p["volume"] is None else p["volume"],
                            pan=64 if p["pan"] is None else p["pan"]))
    song = Song(tracks=tuple(tracks), ppq=ppq, tempos=tuple(tempos), time_signatures=tuple(sigs),
                key_signatures=tuple(keys), title=title)
    if tracks:
        song = song.replace(melody_index=guess_melody_index(song))
    return song


def assign_channels(tracks: tuple[Track, ...]) -> list[int]:
    """A MIDI channel per track: drums on 10, kept channels where they are free, others in order (skipping 10)."""
    free = [c for c in range(16) if c != DRUM_CHANNEL]
    used: set[int] = set()
    result: list[int | None] = []
    for t in tracks:
        if t.is_drum:
            result.append(DRUM_CHANNEL)
        elif t.channel is not None and t.channel != DRUM_CHANNEL and t.channel not in used:
            used.add(t.channel)
            result.append(t.channel)
        else:
            result.append(None)
    cursor = 0
    for i, ch in enumerate(result):
        if ch is None:
            avail = [c for c in free if c not in used]
            if avail:
                ch = avail[0]
                used.add(ch)
            else:                        # more than 15 melodic parts: channels have to be shared
                ch = free[cursor % len(free)]
                cursor += 1
            result[i] = ch
    return result  # type: ignore[return-value]


def _vlq(value: int) -> bytes:
    """MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def _meta(kind: int, payload: bytes) -> bytes:
    return bytes((0xFF, kind)) + _vlq(len(payload)) + payload


def _key_signature_bytes(key: str) -> bytes | None:
    from mido.midifiles.meta import _key_signature_decode
    for (sharps, minor), name in _key_signature_decode.items():
        if name == key:
            return _meta(0x59, bytes((sharps & 0xFF, minor)))
    return None   # a spelling without a standard signature (e.g. 'D#'): the key is optional information


def _chunk(events: list[tuple[int, int, bytes]]) -> bytes:
    events.sort(key=lambda e: (e[0], e[1]))
    body = bytearray()
    last = 0
    for tick, _, data in events:
        body += _vlq(tick - last)
        body += data
        last = tick
    body += b"\x00\xff\x2f\x00"
    return b"MTrk" + len(body).to_bytes(4, "big") + bytes(body)


def midi_bytes(song: Song) -> bytes:
    """The song as a type-1 Standard MIDI File: a conductor track (tempo, meter, key) then one track per part
    with its name, program change, volume and pan; drums on channel 10; note-offs before note-ons at equal ticks."""
    conductor: list[tuple[int, int, bytes]] = []
    if song.title:
        conductor.append((0, 0, _meta(0x03, song.title.encode("utf-8"))))
    for ts in song.time_signatures:
        dd = ts.denominator.bit_length() - 1
        conductor.append((ts.tick, 1, _meta(0x58, bytes((ts.numerator, dd, 24, 8)))))
    for ks in song.key_signatures:
        data = _key_signature_bytes(ks.key)
        if data:
            conductor.append((ks.tick, 2, data))
    for tc in song.tempos:
        conductor.append((tc.tick, 3, _meta(0x51, tc.microseconds_per_beat.to_bytes(3, "big"))))
    chunks = [_chunk(conductor)]
    for track, ch in zip(song.tracks, assign_channels(song.tracks)):
        events: list[tuple[int, int, bytes]] = [
            (0, 0, _meta(0x03, track.name.encode("utf-8"))),
            (0, 1, bytes((0xC0 | ch, track.program))),
            (0, 2, bytes((0xB0 | ch, 7, track.volume))),
            (0, 3, bytes((0xB0 | ch, 10, track.pan))),
        ]
        on, off = 0x90 | ch, 0x80 | ch
        for n in track.notes:
            events.append((n.start_tick, 5, bytes((on, n.pitch, n.velocity))))
            events.append((n.end_tick, 4, bytes((off, n.pitch, 0))))
        chunks.append(_chunk(events))
    header = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + len(chunks).to_bytes(2, "big") + \
        song.ppq.to_bytes(2, "big")
    return header + b"".join(chunks)


def write_midi(song: Song, path: str | os.PathLike) -> None:
    """Write ``song`` as a type-1 MIDI file (atomically: a temporary file renamed over the target)."""
    path = Path(path)
    data = midi_bytes(song)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
