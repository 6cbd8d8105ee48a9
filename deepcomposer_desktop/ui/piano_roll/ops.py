"""Pure note edits and the note index the piano roll culls and hit-tests with. No Qt.

Every edit takes the edited track's note tuple (sorted by start, as ``Track`` keeps it) plus selected indices and
returns an ``Edit``: the complete new sorted tuple and the notes that should be selected afterwards. Nothing here
mutates its input.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Iterable, Mapping, Sequence

import numpy as np

from ...core.song import MAX_TICK, Note

MAX_PITCH = 127


@dataclass(frozen=True)
class Edit:
    notes: tuple[Note, ...]
    selected: tuple[Note, ...]   # the notes to select after the edit (values; mapped to indices by the editor)
    description: str
    # how ``notes`` was made from the old tuple, when few notes changed (lets the index be patched, not rebuilt):
    removed: tuple[int, ...] | None = None        # old indices taken out
    inserted_at: tuple[int, ...] | None = None    # ``np.insert`` positions (in the old-minus-removed order)
    inserted: tuple[Note, ...] = ()               # the notes inserted there, sorted


class NoteIndex:
    """Columns (numpy) of a sorted note tuple for culling by bisection and vectorised hit-tests.

    Notes with ``end > t0`` and ``start < t1`` are found by bisecting the sorted starts between ``t0 - max_dur`` and
    ``t1``, then masking: no per-note Python loop over the whole track.
    """

    def __init__(self, notes: Sequence[Note]) -> None:
        self.notes = tuple(notes)
        n = len(self.notes)
        self.start = np.fromiter((x.start_tick for x in self.notes), np.int64, n)
        self.pitch = np.fromiter((x.pitch for x in self.notes), np.int64, n)
        self.dur = np.fromiter((x.duration_tick for x in self.notes), np.int64, n)
        self.vel = np.fromiter((x.velocity for x in self.notes), np.int64, n)
        self.end = self.start + self.dur
        self.max_dur = int(self.dur.max()) if n else 0

    @classmethod
    def merged(cls, parts: Sequence["NoteIndex"]) -> "NoteIndex":
        """One index over the notes of several tracks (columns only: ``notes`` is empty), for painting."""
        out = cls(())
        parts = [q for q in parts if len(q.start)]
        if parts:
            start = np.concatenate([q.start for q in parts])
            order = np.argsort(start, kind="stable")
            out.start = start[order]
            out.pitch = np.concatenate([q.pitch for q in parts])[order]
            out.dur = np.concatenate([q.dur for q in parts])[order]
            out.vel = np.concatenate([q.vel for q in parts])[order]
            out.end = out.start + out.dur
            out.max_dur = int(out.dur.max())
        return out

    def patched(self, edit: "Edit") -> "NoteIndex | None":
        """The index of ``edit.notes`` made from this one (the old notes) by deleting and inserting rows: O(n) in
        numpy instead of reading every note again. None when the edit does not say how it was made."""
        if edit.removed is None or edit.inserted_at is None:
            return None
        out = NoteIndex(())
        out.notes = edit.notes
        rows = list(edit.removed)
        at = list(edit.inserted_at)
        ins = edit.inserted
        for name, attr in (("start", "start_tick"), ("pitch", "pitch"), ("dur", "duration_tick"), ("vel", "velocity")):
            col = np.delete(getattr(self, name), rows)
            setattr(out, name, np.insert(col, at, [getattr(n, attr) for n in ins]).astype(np.int64))
        out.end = out.start + out.dur
        out.max_dur = int(out.dur.max()) if len(out.dur) else 0
        if len(out.start) != len(edit.notes):
            return None
        return out

    def __len__(self) -> int:
        return len(self.start)

    def candidates(self, t0: float, t1: float) -> tuple[int, int]:
        """Index slice [lo, hi) that holds every note overlapping [t0, t1) (and maybe a few that end before t0)."""
        lo = int(np.searchsorted(self.start, t0 - self.max_dur, side="right"))
        hi = int(np.searchsorted(self.start, t1, side="left"))
        return lo, max(lo, hi)

    def visible(self, t0: float, t1: float, p_lo: int = 0, p_hi: int = MAX_PITCH) -> np.ndarray:
        """Indices of notes overlapping ticks [t0, t1) and pitches [p_lo, p_hi], in start order."""
        lo, hi = self.candidates(t0, t1)
        if hi <= lo:
            return np.empty(0, np.int64)
        p = self.pitch[lo:hi]
        mask = (self.end[lo:hi] > t0) & (p >= p_lo) & (p <= p_hi)
        return np.nonzero(mask)[0] + lo

    def at(self, tick: float, pitch: int) -> int | None:
        """Index of the note under (tick, pitch); the latest-starting one when notes overlap (it is painted on top)."""
        lo, hi = self.candidates(tick, tick + 1e-9)
        if hi <= lo:
            return None
        sl = slice(lo, hi)
        mask = (self.pitch[sl] == pitch) & (self.start[sl] <= tick) & (self.end[sl] > tick)
        hits = np.nonzero(mask)[0]
        return int(hits[-1]) + lo if len(hits) else None

    def find(self, wanted: Iterable[Note]) -> list[int]:
        """Indices of ``wanted`` note values (each index used once; values not present are skipped)."""
        taken: set[int] = set()
        out = []
        for note in wanted:
            i = int(np.searchsorted(self.start, note.start_tick, side="left"))
            while i < len(self.notes) and self.start[i] == note.start_tick:
                if i not in taken and self.notes[i] == note:
                    taken.add(i)
                    out.append(i)
                    break
                i += 1
        return sorted(out)


_SORT_KEY = attrgetter("start_tick", "pitch", "duration_tick", "velocity")   # Note's own order, compared in C
_FEW = 64


def _rebuild(notes: Sequence[Note], removed: Iterable[int], added: Sequence[Note], selected: Sequence[Note],
             description: str) -> Edit:
    """``notes`` (sorted) minus ``removed`` plus ``added``, sorted again without re-sorting the untouched notes."""
    drop = sorted(set(removed), reverse=True)
    if len(drop) <= _FEW:
        kept = list(notes)
        for i in drop:                       # C-level memmove per deletion
            del kept[i]
    else:
        gone = set(drop)
        kept = [n for i, n in enumerate(notes) if i not in gone]
    if len(added) <= _FEW:
        ins = sorted(added, key=_SORT_KEY)
        at = []
        for k, n in enumerate(ins):
            pos = bisect_right(kept, _SORT_KEY(n), key=_SORT_KEY)     # log(n) comparisons each
            kept.insert(pos, n)
            at.append(pos - k)               # ascending inserts: position among the notes that were kept
        few = len(drop) <= _FEW
        return Edit(tuple(kept), tuple(selected), description, tuple(sorted(drop)) if few else None,
                    tuple(at) if few else None, tuple(ins))
    return Edit(tuple(sorted(kept + list(added), key=_SORT_KEY)), tuple(selected), description)


def add_note(notes: Sequence[Note], note: Note) -> Edit:
    return _rebuild(notes, (), [note], [note], "Draw note")


def delete(notes: Sequence[Note], indices: Iterable[int]) -> Edit | None:
    idx = sorted(set(indices))
    if not idx:
        return None
    return _rebuild(notes, idx, [], [], "Delete notes" if len(idx) > 1 else "Delete note")


def clamp_move(notes: Sequence[Note], indices: Sequence[int], dt: int, dp: int) -> tuple[int, int]:
    """Limit a move so that no selected note starts before 0 or ends after the last tick a song holds, or leaves
    the MIDI pitch range."""
    if not indices:
        return 0, 0
    min_start = min(notes[i].start_tick for i in indices)
    max_end = max(notes[i].end_tick for i in indices)
    lo_p = min(notes[i].pitch for i in indices)
    hi_p = max(notes[i].pitch for i in indices)
    dt = max(-min_start, min(max(0, MAX_TICK - max_end), dt))   # a note already past the end moves no further
    dp = max(-lo_p, min(MAX_PITCH - hi_p, dp))
    return dt, dp


def moved(notes: Sequence[Note], indices: Sequence[int], dt: int, dp: int) -> list[Note]:
    return [replace(notes[i], start_tick=notes[i].start_tick + dt, pitch=notes[i].pitch + dp) for i in indices]


def move(notes: Sequence[Note], indices: Sequence[int], dt: int, dp: int, description: str = "Move notes"
         ) -> Edit | None:
    dt, dp = clamp_move(notes, indices, dt, dp)
    if not indices or (dt == 0 and dp == 0):
        return None
    new = moved(notes, indices, dt, dp)
    return _rebuild(notes, indices, new, new, description)


def resized(notes: Sequence[Note], indices: Sequence[int], d_end: int, min_dur: int = 1) -> list[Note]:
    """The notes with their ends moved by ``d_end``: never shorter than ``min_dur`` (or than they are), never ending
    past the last tick a song holds."""
    return [replace(n, duration_tick=max(1, min(MAX_TICK - n.start_tick,
                                                max(min(min_dur, n.duration_tick), n.duration_tick + d_end))))
            for n in (notes[i] for i in indices)]


def resize(notes: Sequence[Note], indices: Sequence[int], d_end: int, min_dur: int = 1) -> Edit | None:
    """Move the end of every note in ``indices`` by ``d_end`` ticks (never shorter than ``min_dur`` or 1 tick, never
    past MAX_TICK)."""
    if not indices or d_end == 0:
        return None
    new = resized(notes, indices, d_end, min_dur)
    if all(a.duration_tick == notes[i].duration_tick for a, i in zip(new, indices)):
        return None
    return _rebuild(notes, indices, new, new, "Resize notes" if len(indices) > 1 else "Resize note")


def duplicate(notes: Sequence[Note], indices: Sequence[int], snap: int | None) -> Edit | None:
    """Copies of the selection placed right after it (the offset rounded up to the snap grid)."""
    if not indices:
        return None
    first = min(notes[i].start_tick for i in indices)
    last = max(notes[i].end_tick for i in indices)
    span = last - first
    if snap:
        span = max(snap, -(-span // snap) * snap)
    if last + span > MAX_TICK:
        return None                           # a copy would end past the last tick a song holds: no room for it
    copies = [replace(notes[i], start_tick=notes[i].start_tick + span) for i in indices]
    return _rebuild(notes, (), copies, copies, "Duplicate notes")


def transpose(notes: Sequence[Note], indices: Sequence[int], semitones: int) -> Edit | None:
    """Shift selected pitches; None when nothing is selected or a note would leave 0-127."""
    if not indices or semitones == 0:
        return None
    if any(not 0 <= notes[i].pitch + semitones <= MAX_PITCH for i in indices):
        return None
    new = [replace(notes[i], pitch=notes[i].pitch + semitones) for i in indices]
    return _rebuild(notes, indices, new, new, f"Transpose {semitones:+d}")


def quantize(notes: Sequence[Note], indices: Sequence[int], grid: int) -> Edit | None:
    """Snap selected note starts to the nearest multiple of ``grid`` (the one below where the nearest would end a
    note past MAX_TICK); lengths kept. None if nothing changes."""
    from ...core.edits import quantize_notes
    if not indices or grid <= 0:
        return None
    new = list(quantize_notes([notes[i] for i in indices], grid))        # (they end by MAX_TICK)
    if all(a == notes[i] for a, i in zip(new, indices)):
        return None
    return _rebuild(notes, indices, new, new, "Quantize notes")


def set_velocities(notes: Sequence[Note], changes: Mapping[int, int], selected: Sequence[int]) -> Edit | None:
    """New velocities (clamped to 1-127) for the notes at the given indices; the selection is kept."""
    changes = {i: max(1, min(127, int(v))) for i, v in changes.items() if notes[i].velocity != max(1, min(127, int(v)))}
    if not changes:
        return None
    out = list(notes)
    for i, v in changes.items():
        out[i] = replace(out[i], velocity=v)
    # only velocities changed: the order (start, pitch, duration, velocity) may shift among exact twins only
    sel = [out[i] for i in selected]
    return Edit(tuple(sorted(out, key=_SORT_KEY)), tuple(sel), "Change velocity")
