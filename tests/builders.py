"""Fixture builders (note-seq testing_lib style): songs from (pitch, start, duration, velocity) tuples."""
from __future__ import annotations

from deepcomposer_desktop.core.song import Note, Song, TempoChange, TimeSignature, Track


def track(name="Piano", notes=(), program=0, is_drum=False, channel=None) -> Track:
    return Track(name=name, program=program, is_drum=is_drum, channel=channel,
                 notes=tuple(Note.make(p, s, d, v) for p, s, d, v in notes))


def song(*tracks: Track, ppq=480, bpm=120.0, meter=(4, 4), tempos=None, sigs=None) -> Song:
    return Song(tracks=tuple(tracks), ppq=ppq,
                tempos=tempos or (TempoChange(0, bpm),),
                time_signatures=sigs or (TimeSignature(0, *meter),))


def band_song() -> Song:
    """A small 4-track song: melody, chords, bass, drums over 2 bars."""
    mel = track("Melody", [(72, 0, 480, 100), (74, 480, 480, 90), (76, 960, 960, 80), (79, 1920, 1920, 100)],
                program=73)
    chords = track("Chords", [(p, s, 1920, 70) for s in (0, 1920) for p in (60, 64, 67)], program=0)
    bass = track("Bass", [(36, 0, 960, 100), (43, 960, 960, 100), (41, 1920, 1920, 100)], program=33)
    drums = track("Drums", [(36, s, 120, 110) for s in range(0, 3840, 960)] +
                  [(42, s, 60, 80) for s in range(0, 3840, 240)], is_drum=True, channel=9)
    return song(mel, chords, bass, drums)
