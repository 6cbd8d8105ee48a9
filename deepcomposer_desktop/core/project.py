"""Song <-> versioned JSON-ready dicts (the project file format). Pure: writing files is the caller's job."""
from __future__ import annotations

import json
from typing import Any

from .song import MAX_TICK, Control, KeySignature, Note, Song, SongError, TempoChange, TimeSignature, Track

FORMAT = "deepcomposer-desktop-project"
VERSION = 1


class ProjectError(SongError):
    """A project file that cannot be read; the message says why in plain words."""


def song_to_dict(song: Song, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A dict that ``json.dump`` writes; notes are compact ``[pitch, start, duration, velocity]`` lists, controller
    changes ``[tick, number, value]`` (number 128: pitch bend, 129: aftertouch). Files from before controllers
    load without them."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "title": song.title,
        "ppq": song.ppq,
        "melody_index": song.melody_index,
        "tempos": [[t.tick, t.bpm] for t in song.tempos],
        "time_signatures": [[t.tick, t.numerator, t.denominator] for t in song.time_signatures],
        "key_signatures": [[k.tick, k.key] for k in song.key_signatures],
        "tracks": [
            {"name": t.name, "program": t.program, "is_drum": t.is_drum, "channel": t.channel, "mute": t.mute,
             "solo": t.solo, "volume": t.volume, "pan": t.pan,
             "notes": [[n.pitch, n.start_tick, n.duration_tick, n.velocity] for n in t.notes],
             "controls": [[c.tick, c.number, c.value] for c in t.controls]}
            for t in song.tracks
        ],
        "extra": extra or {},
    }


def song_from_dict(data: Any) -> Song:
    """Rebuild a Song; raises ProjectError for anything that is not a valid project of a known version."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ProjectError("This is not a DeepComposer Desktop project file")
    version = data.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise ProjectError(f"This project was saved by a newer version (format {version!r}); please update the app")
    try:
        tracks = []
        for t in data["tracks"]:
            # a note that ends past the last tick (earlier versions let a nudge put one there) ends on it
            notes = tuple(Note(start_tick=int(n[1]), pitch=int(n[0]), velocity=int(n[3]),
                               duration_tick=min(int(n[2]), max(1, MAX_TICK - int(n[1]))))
                          for n in t["notes"])
            controls = tuple(Control(int(c[0]), int(c[1]), int(c[2])) for c in t.get("controls", ()))
            tracks.append(Track(name=str(t["name"]), program=int(t["program"]), is_drum=bool(t["is_drum"]),
                                channel=None if t.get("channel") is None else int(t["channel"]),
                                mute=bool(t.get("mute", False)), solo=bool(t.get("solo", False)),
                                volume=int(t.get("volume", 100)), pan=int(t.get("pan", 64)), notes=notes,
                                controls=controls))
        return Song(tracks=tuple(tracks), ppq=int(data["ppq"]), title=str(data.get("title", "")),
                    melody_index=int(data.get("melody_index", 0)),
                    tempos=tuple(TempoChange(int(a), float(b)) for a, b in data["tempos"]),
                    time_signatures=tuple(TimeSignature(int(a), int(b), int(c)) for a, b, c in data["time_signatures"]),
                    key_signatures=tuple(KeySignature(int(a), str(b)) for a, b in data.get("key_signatures", [])))
    except SongError as exc:
        raise ProjectError(f"The project file is damaged: {exc}") from None
    except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
        raise ProjectError(f"The project file is damaged or incomplete ({type(exc).__name__}: {exc})") from None


def dumps(song: Song, extra: dict[str, Any] | None = None) -> bytes:
    return json.dumps(song_to_dict(song, extra), separators=(",", ":")).encode("utf-8")


def parse_json(raw: bytes) -> Any:
    """The JSON in a project file's bytes; ProjectError for anything a damaged file can hold instead."""
    try:
        return json.loads(raw.decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise ProjectError(f"The project file is damaged: it is not readable JSON (line {exc.lineno}, column "
                           f"{exc.colno})") from None
    except UnicodeDecodeError:
        raise ProjectError("The project file is damaged: it is not text (not UTF-8 JSON)") from None
    except RecursionError:
        raise ProjectError("The project file is damaged (nested far deeper than any project)") from None
    except ValueError as exc:                      # e.g. an integer of thousands of digits
        raise ProjectError(f"The project file is damaged ({exc})") from None


def loads(raw: bytes) -> Song:
    return song_from_dict(parse_json(raw))
