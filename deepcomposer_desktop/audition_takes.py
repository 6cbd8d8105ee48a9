"""What is done with audition takes once made: keep one as the project's band (a later Keep replaces it, wherever
it is now), add one as muted alternatives, find the bar line to switch takes at, export one or all as MIDI files.
Pure Python (no Qt, no torch); any thread.
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from .audition import AuditionError, Take
from .core.song import Song, Track


# --- keep -----------------------------------------------------------------------------------------------------------
_PART_FIELDS = ("name", "is_drum", "channel", "notes", "controls")     # what a mixer change leaves alone


def band_indices(project: Song, band: Sequence[Track]) -> list[int]:
    """Where the tracks of ``band`` (those an earlier Keep added) are in ``project`` now: the very tracks, or the
    same part with only its mixer settings changed (mute, solo, volume, pan, instrument). An edited track (notes,
    name) is the user's own now, and the melody is never one of them."""
    used = {project.melody_index}
    for old in band:
        same = [i for i, t in enumerate(project.tracks) if i not in used and (
            t is old or all(getattr(t, f) == getattr(old, f) for f in _PART_FIELDS))]
        same.sort(key=lambda i: project.tracks[i] is not old)             # the very track first
        used.update(same[:1])
    return sorted(used - {project.melody_index})


def kept_song(project: Song, take: Take, replacing: Sequence[Track] = ()) -> Song:
    """The project after "Keep take": its own tracks as they are now (with their mixer settings), then the take's
    band, as the Generate panel adds one. ``replacing``: the band an earlier Keep added, which this one takes the
    place of, wherever it is in the project now (``band_indices``)."""
    melody = project.melody
    gone = set(band_indices(project, replacing))
    base = tuple(t for i, t in enumerate(project.tracks) if i not in gone)
    index = next((i for i, t in enumerate(base) if t is melody), 0)
    return project.replace(tracks=base + take.band, melody_index=index)


def with_alternative(project: Song, take: Take) -> Song:
    """The project plus the take's band as muted tracks named ``"rock 2: Bass"`` (keep several, compare later)."""
    extra = tuple(replace(t, name=f"{take.label}: {t.name}", mute=True, solo=False) for t in take.band)
    return project.with_tracks(project.tracks + extra, melody_index=project.melody_index)


# --- bar lines (for switching takes in time) ------------------------------------------------------------------------
def next_bar_tick(song: Song, tick: int) -> int:
    """The first bar line at or after ``tick``."""
    bar = 0
    while song.bar_start_tick(bar) < tick:
        bar += 1
        if bar > 100000:
            break
    return song.bar_start_tick(bar)


def seconds_until(song: Song, from_tick: int, to_tick: int) -> float:
    from .core.timing import TempoMap
    tm = TempoMap.of(song)
    return max(0.0, tm.tick_to_seconds(to_tick) - tm.tick_to_seconds(from_tick))


# --- export ---------------------------------------------------------------------------------------------------------
def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "take"


def take_filename(take: Take, stem: str = "audition") -> str:
    return f"{_safe(stem)}-{_safe(take.genre)}-{take.number}.mid"


def export_take(take: Take, path) -> Path:
    """Write one take (its song: the melody and the musician's tracks it played with, then its band) as a MIDI
    file."""
    from .midi.io import write_midi
    path = Path(path)
    try:
        write_midi(take.song.replace(title=take.song.title or take.label), path)
    except OSError as exc:
        raise AuditionError(f"Could not write {path}: {exc.strerror or exc}") from None
    return path


def export_takes(takes: Sequence[Take], folder, stem: str = "audition") -> list[Path]:
    """One MIDI per take in ``folder`` (created), named ``<stem>-<genre>-<n>.mid``."""
    if not takes:
        raise AuditionError("There are no takes to export yet")
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AuditionError(f"Could not create {folder}: {exc.strerror or exc}") from None
    return [export_take(t, folder / take_filename(t, stem)) for t in takes]


def combined_song(takes: Sequence[Take], layout: str = "sequence") -> Song:
    """All takes in one Song, each with what it played with: the take's own tracks (those before
    ``Take.first_new``: the melody and the musician's tracks, with their instruments, mixer settings and
    controllers) and its band.

    ``"sequence"``: one take after another, each from a bar line, with the melody and the musician's tracks repeated
    in every take (notes and controllers; a pedal, bend or mod wheel a take leaves down goes back to rest where the
    next begins); each instrument of a genre on its own track, so the file plays straight through.
    ``"parallel"``: the melody and the musician's tracks once and every take's band as its own tracks named
    ``"rock 2: Bass"``, all from bar 1. The Song mutes all but the first take's band (and a track of the
    musician's that the take played muted), but a MIDI file cannot mark a track muted: written
    (:func:`export_combined`), every take plays at once, so mute or solo takes in your DAW.

    Raises AuditionError when there are no takes or ``layout`` is neither.
    """
    if not takes:
        raise AuditionError("There are no takes to export yet")
    if layout not in ("sequence", "parallel"):
        raise AuditionError(f"Unknown layout {layout!r} (use 'sequence' or 'parallel')")
    first = takes[0]
    if layout == "parallel":
        tracks = [replace(tr, solo=False) for tr in _own_tracks(first)]
        for k, t in enumerate(takes):
            tracks += [replace(tr, name=f"{t.label}: {tr.name}", mute=k > 0, solo=False, channel=tr.channel
                               if tr.is_drum else None) for tr in t.band]
        return first.song.replace(tracks=tuple(tracks), melody_index=first.song.melody_index,
                                  title="Audition: all takes")
    from .core.edits import shift_track, slice_ticks
    bar = first.song.bar_ticks
    lanes: dict[tuple, Track] = {}                  # one track per own track and per instrument of a genre
    notes: dict[tuple, list] = {}
    controls: dict[tuple, list] = {}
    offset = 0
    for t in takes:
        length = max(bar, -(-t.song.sound_end_tick // bar) * bar)         # to the bar line after its last sound
        own = [(("own", i), tr, replace(tr, solo=False)) for i, tr in enumerate(_own_tracks(t))]
        band = [((t.genre, tr.name, tr.program, tr.is_drum), tr,
                 replace(tr, name=f"{t.genre}: {tr.name}", mute=False, solo=False)) for tr in t.band]
        for key, tr, lane in own + band:
            if key not in lanes:
                lanes[key], notes[key], controls[key] = replace(lane, notes=(), controls=()), [], []
            part = shift_track(slice_ticks(tr, 0, length), offset)             # controllers at rest at its end
            notes[key] += part.notes
            controls[key] += part.controls
        offset += length
    tracks = tuple(replace(lane, notes=tuple(notes[k]), controls=tuple(controls[k])) for k, lane in lanes.items())
    return first.song.replace(tracks=tracks, melody_index=list(lanes).index(("own", first.song.melody_index)),
                              title="Audition: all takes")


def _own_tracks(take: Take) -> tuple[Track, ...]:
    """The tracks a take played along with its band: the melody and the musician's own tracks."""
    return take.song.tracks[:take.first_new]


def export_combined(takes: Sequence[Take], path, layout: str = "sequence") -> Path:
    """Write :func:`combined_song` as one MIDI file: the melody and the musician's own tracks (once, or with every
    take in ``"sequence"``) and the bands. With ``"parallel"`` every take's band is in it as ordinary tracks that
    all play (a MIDI file has no mute): the user mutes the takes they do not want in a DAW. Raises AuditionError
    (no takes, unknown layout, the file cannot be written)."""
    from .midi.io import write_midi
    path = Path(path)
    try:
        write_midi(combined_song(takes, layout), path)
    except OSError as exc:
        raise AuditionError(f"Could not write {path}: {exc.strerror or exc}") from None
    return path
