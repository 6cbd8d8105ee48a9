"""Song model in integer ticks. Imports nothing of Qt or torch (a test checks)."""
from .song import (DEFAULT_PPQ, DRUM_CHANNEL, KeySignature, Note, Song, SongError, TempoChange, TimeSignature,
                   Track)
from .timing import TempoMap

__all__ = ["DEFAULT_PPQ", "DRUM_CHANNEL", "KeySignature", "Note", "Song", "SongError", "TempoChange", "TempoMap",
           "TimeSignature", "Track"]
