"""The song document and its undoable edits: every change to the Song is one QUndoCommand (GUI thread only).

A command keeps the old and the new immutable Song (or track), so undo/redo is a pointer swap and a generation
result of many tracks is still one step.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from ..core.song import Song, Track

# merge ids: consecutive commands with the same id, target and gesture (``merge_key``, see gestures.Gesture) merge
# into one undo step: one drag of a slider, not two drags of it
MERGE_VOLUME, MERGE_PAN, MERGE_TEMPO, MERGE_RENAME = 1, 2, 3, 4


class SongDocument(QObject):
    """Holds the current Song and its QUndoStack. Lives on the GUI thread; nothing else touches it.

    ``song_changed(song, reason)`` fires after every change; ``reason`` is "edit", "undo", "redo" or "load".
    """

    song_changed = Signal(object, str)

    def __init__(self, song: Song, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._song = song
        self.undo_stack = QUndoStack(self)
        self.view_setter = None       # callable(view_state): restores view data (track colours) on undo/redo

    @property
    def song(self) -> Song:
        return self._song

    def _set(self, song: Song, reason: str) -> None:
        self._song = song
        self.song_changed.emit(song, reason)

    def load(self, song: Song) -> None:
        """Replace the song outright (new/open): clears the undo history and marks the document clean."""
        self.undo_stack.clear()
        self._set(song, "load")
        self.undo_stack.setClean()

    def apply(self, new_song: Song, text: str, merge_id: int = -1, merge_key: object = None,
              views: tuple[object, object] | None = None) -> None:
        """Push one undoable step that turns the current song into ``new_song``; ``views`` = (old, new) view
        state (e.g. track colours when tracks are inserted or removed) restored with it."""
        if new_song is self._song or new_song == self._song:
            return
        self.undo_stack.push(SongCommand(self, self._song, new_song, text, merge_id, merge_key, views))

    def apply_track(self, index: int, new_track: Track, text: str, merge_id: int = -1,
                    merge_key: object = None) -> None:
        """Push one undoable step replacing track ``index`` (stores old and new Track)."""
        old = self._song.tracks[index]
        if old == new_track:
            return
        self.undo_stack.push(TrackCommand(self, index, old, new_track, text, merge_id, merge_key))


class SongCommand(QUndoCommand):
    """Swap the whole Song: used for adding/removing tracks, tempo, generation results, recordings."""

    def __init__(self, doc: SongDocument, old: Song, new: Song, text: str, merge_id: int = -1,
                 merge_key: object = None, views: tuple[object, object] | None = None) -> None:
        super().__init__(text)
        self.doc, self.old, self.new = doc, old, new
        self._merge_id, self.merge_key = merge_id, merge_key
        self.views = views

    def _view(self, i: int) -> None:
        if self.views is not None and self.doc.view_setter is not None:
            self.doc.view_setter(self.views[i])

    def redo(self) -> None:
        self._view(1)
        self.doc._set(self.new, "redo")

    def undo(self) -> None:
        self._view(0)
        self.doc._set(self.old, "undo")

    def id(self) -> int:
        return self._merge_id

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SongCommand) or other.merge_key is None or other.merge_key != self.merge_key:
            return False
        self.new = other.new
        self.setText(other.text())                 # "Tempo 100 BPM", not the first value of the drag
        return True


class TrackCommand(QUndoCommand):
    """Replace one track (notes edited, mute/solo/volume/program/name changed)."""

    def __init__(self, doc: SongDocument, index: int, old: Track, new: Track, text: str,
                 merge_id: int = -1, merge_key: object = None) -> None:
        super().__init__(text)
        self.doc, self.index, self.old, self.new = doc, index, old, new
        self._merge_id, self.merge_key = merge_id, merge_key

    def redo(self) -> None:
        self.doc._set(self.doc.song.replace_track(self.index, self.new), "redo")

    def undo(self) -> None:
        self.doc._set(self.doc.song.replace_track(self.index, self.old), "undo")

    def id(self) -> int:
        return self._merge_id

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, TrackCommand) or other.index != self.index or other.merge_key is None \
                or other.merge_key != self.merge_key:                 # another gesture: a step of its own
            return False
        self.new = other.new
        return True
