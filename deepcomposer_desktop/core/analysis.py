"""Small pure analyses of songs: which track is the melody, what key it is in, polyphony."""
from __future__ import annotations

from collections import Counter

import numpy as np

from .song import SUSTAIN, KeySignature, Song, Track, control_name

_MELODY_WORDS = ("melody", "lead", "vocal", "voice", "soprano", "tune", "melodie", "hauptstimme")
# Krumhansl-Kessler key profiles
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MAJOR_KEYS = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_KEYS = ("Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm")


def max_polyphony(track: Track) -> int:
    """Most notes sounding at once in ``track``."""
    events = sorted([(n.start_tick, 1) for n in track.notes] + [(n.end_tick, -1) for n in track.notes])
    cur = best = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def monophonic_ratio(track: Track) -> float:
    """Share of notes that start while no other note of the track is still sounding (1.0 = a pure melody)."""
    if not track.notes:
        return 0.0
    mono, latest_end = 0, -1
    for n in track.notes:
        if n.start_tick >= latest_end:
            mono += 1
        latest_end = max(latest_end, n.end_tick)
    return mono / len(track.notes)


def bar_coverage(track: Track, song: Song, end_tick: int | None = None) -> float:
    """Share of the song's 4/4 bars (up to its last note, ``end_tick`` when the caller has it: ``Song.end_tick``
    reads every note) in which ``track`` starts a note (0.0 for no notes)."""
    if not track.notes:
        return 0.0
    bar = 4 * song.ppq
    bars = max(1, -(-(song.end_tick if end_tick is None else end_tick) // bar))
    return min(1.0, len({n.start_tick // bar for n in track.notes}) / bars)


def guess_melody_index(song: Song) -> int:
    """The track most likely to be the melody: named so, else the most monophonic, highest-pitched non-drum part
    that plays through the song (a part of a few notes, or of one repeated pitch, is rarely the tune).

    Returns 0 when no track is a pitched one with notes."""
    best, best_score = 0, -1e9
    end = song.end_tick
    for i, t in enumerate(song.tracks):
        if t.is_drum or not t.notes:
            continue
        name = t.name.lower()
        score = 10.0 if any(w in name for w in _MELODY_WORDS) else 0.0
        score += 4.0 * monophonic_ratio(t)
        pitch = float(np.mean([n.pitch for n in t.notes]))
        score += pitch / 32.0
        score -= 2.0 * (t.program // 8 == 4 or pitch < 48)     # basses (and bass lines) are rarely the tune
        score += 4.0 * bar_coverage(t, song, end)     # a tune has notes in most bars
        score -= 2.0 * (len({n.pitch for n in t.notes}) < 3)   # one or two pitches: a pedal, a signal, not a tune
        if score > best_score:
            best, best_score = i, score
    return best


def pitch_class_histogram(song: Song, include_drums: bool = False) -> np.ndarray:
    """Duration-weighted pitch-class histogram (12,) over the song's tracks."""
    hist = np.zeros(12)
    for t in song.tracks:
        if t.is_drum and not include_drums:
            continue
        for n in t.notes:
            hist[n.pitch % 12] += n.duration_tick
    return hist


def estimate_key(song: Song) -> KeySignature | None:
    """Krumhansl-Schmuckler key estimate, or None for a song without pitched notes."""
    hist = pitch_class_histogram(song)
    if hist.sum() == 0:
        return None
    best, best_r = "C", -2.0
    for tonic in range(12):
        for profile, names in ((_MAJOR, MAJOR_KEYS), (_MINOR, MINOR_KEYS)):
            r = np.corrcoef(hist, np.roll(profile, tonic))[0, 1]
            if np.isfinite(r) and r > best_r:
                best, best_r = names[tonic], r
    return KeySignature(0, best)


def pedal_spans(controls, end_tick: int) -> list[tuple[int, int]]:
    """[(down, up)] tick spans of the sustain pedal (down at a value of 64 or more), from a track's controls; a
    pedal still down at the end is taken up at ``end_tick`` (or where it went down, if later)."""
    spans, down = [], None
    for c in controls:
        if c.number != SUSTAIN:
            continue
        if c.value >= 64 and down is None:
            down = c.tick
        elif c.value < 64 and down is not None:
            if c.tick > down:
                spans.append((down, c.tick))
            down = None
    if down is not None:
        spans.append((down, max(down + 1, end_tick)))
    return spans


def controls_summary(track: Track) -> str:
    """``"sustain pedal (24), pitch bend (310)"``: which controllers a track changes and how often, most used first;
    "" when it has none."""
    counts = Counter(c.number for c in track.controls)
    return ", ".join(f"{control_name(n)} ({k})" for n, k in sorted(counts.items(), key=lambda nk: (-nk[1], nk[0])))
