"""Rule-based parts from chord symbols (used where a source has harmony but no played accompaniment).

A chord event is ``Chord(start_step, end_step, root_pc, intervals, bass_interval)``; voicings and rhythms
below are fixed rules, named as such in each genre's track ``origin`` and in models/DATA.md.
"""
from __future__ import annotations

from dataclasses import dataclass

MAJOR, MINOR = (0, 4, 7), (0, 3, 7)


@dataclass(frozen=True)
class Chord:
    start: int                    # step (inclusive)
    end: int                      # step (exclusive)
    root: int                     # pitch class 0..11
    intervals: tuple[int, ...]    # semitones above the root, root (0) first
    bass: int = 0                 # interval above the root that is in the bass (inversions)


def _place(pc: int, low: int) -> int:
    """The lowest MIDI pitch >= ``low`` with pitch class ``pc``."""
    return low + (pc - low) % 12


def close_voicing(ch: Chord, low: int) -> list[int]:
    """Root position, close: the root at or above ``low``, the other chord tones stacked above it."""
    r = _place(ch.root, low)
    return sorted({r + (i % 12) for i in ch.intervals})


def bass_pitch(ch: Chord, low: int) -> int:
    return _place((ch.root + ch.bass) % 12, low)


def power_voicing(ch: Chord, low: int = 40) -> list[int]:
    """Guitar-style: root, fifth (or the chord's own fifth), octave and third/top tone."""
    r = _place(ch.root, low)
    fifth = next((i for i in ch.intervals if i in (6, 7, 8)), 7)
    third = next((i for i in ch.intervals if i in (3, 4, 5)), 4)
    return [r, r + fifth, r + 12, r + 12 + third]


def repeated(chords, pitches_of, every: int, length: int | None = None, bar_restrike: bool = True):
    """Step notes striking each chord's ``pitches_of(chord)`` at its start and then every ``every`` steps.

    ``length`` (steps) caps each strike; by default a strike lasts until the next one.
    """
    out = []
    for ch in chords:
        starts = list(range(ch.start, ch.end, every))
        if bar_restrike:
            starts = sorted(set(starts) | {s for s in range(ch.start, ch.end) if s % 16 == 0})
        for k, s in enumerate(starts):
            e = starts[k + 1] if k + 1 < len(starts) else ch.end
            if length is not None:
                e = min(e, s + length)
            for p in pitches_of(ch):
                if 0 <= p < 128:
                    out.append((s, e, p))
    return out


def bass_line(chords, every: int = 4, low: int = 28):
    """The chord's bass note (root or inversion) in the register from ``low``, struck on every beat."""
    return repeated(chords, lambda ch: [bass_pitch(ch, low)], every)


def pad_part(chords, low: int = 55):
    """Sustained close chords, re-struck at each chord change and each bar."""
    return repeated(chords, lambda ch: close_voicing(ch, low), 10**6)
