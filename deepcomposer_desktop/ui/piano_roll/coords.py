"""One coordinate mapper (ticks/pitches <-> viewport pixels) shared by painting and hit-testing, plus the snap grid
and the bar/beat grid. Plain Python, no Qt: the roll, ruler, key column and velocity lane all read the same object.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

from ...core.song import Song, TimeSignature

PITCHES = 128
MIN_PX_PER_BEAT = 0.25       # a whole 10-minute song fits in ~300 px
MAX_PX_PER_BEAT = 1200.0
MIN_KEY_HEIGHT = 2.0
MAX_KEY_HEIGHT = 40.0


def snap_choices(ppq: int) -> list[tuple[str, int | None]]:
    """Snap values a musician picks from: 1/4 .. 1/32, their triplets, and off (None). Ticks from ``ppq``."""
    def t(num: int, den: int) -> int:
        return max(1, round(ppq * num / den))
    return [("1 bar", t(4, 1)), ("1/4", t(1, 1)), ("1/8", t(1, 2)), ("1/16", t(1, 4)), ("1/32", t(1, 8)),
            ("1/4 triplet", t(2, 3)), ("1/8 triplet", t(1, 3)), ("1/16 triplet", t(1, 6)),
            ("1/32 triplet", t(1, 12)), ("Off", None)]


def snap_floor(tick: float, snap: int | None) -> int:
    return int(math.floor(tick / snap) * snap) if snap else int(math.floor(tick))


def snap_round(tick: float, snap: int | None) -> int:
    return int(math.floor(tick / snap + 0.5) * snap) if snap else int(round(tick))


def snap_ceil(tick: float, snap: int | None) -> int:
    return int(math.ceil(tick / snap) * snap) if snap else int(math.ceil(tick))


class RollCoords:
    """Maps ticks and pitches to viewport pixels and back.

    ``scroll_x``/``scroll_y`` are the content pixels scrolled off the left/top edge. Row ``r`` (0 = pitch 127 at the
    top) spans ``[r * key_height, (r + 1) * key_height)`` in content pixels. All methods run on the GUI thread.
    """

    def __init__(self, ppq: int = 480, px_per_beat: float = 64.0, key_height: float = 12.0) -> None:
        self.ppq = ppq
        self.px_per_tick = px_per_beat / ppq
        self.key_height = float(key_height)
        self.scroll_x = 0.0
        self.scroll_y = 0.0

    # --- zoom ------------------------------------------------------------------------------------------------
    @property
    def px_per_beat(self) -> float:
        return self.px_per_tick * self.ppq

    def set_ppq(self, ppq: int) -> None:
        """Keep the on-screen zoom (pixels per beat) when the song's resolution changes."""
        ppb = self.px_per_beat
        self.ppq = ppq
        self.px_per_tick = ppb / ppq

    def set_px_per_beat(self, px: float) -> None:
        self.px_per_tick = min(MAX_PX_PER_BEAT, max(MIN_PX_PER_BEAT, px)) / self.ppq

    def set_key_height(self, h: float) -> None:
        self.key_height = min(MAX_KEY_HEIGHT, max(MIN_KEY_HEIGHT, float(h)))

    @property
    def content_height(self) -> float:
        return PITCHES * self.key_height

    # --- mapping ---------------------------------------------------------------------------------------------
    def tick_to_x(self, tick: float) -> float:
        return tick * self.px_per_tick - self.scroll_x

    def x_to_tick(self, x: float) -> float:
        return (x + self.scroll_x) / self.px_per_tick

    def pitch_to_y(self, pitch: int) -> float:
        """Top edge of ``pitch``'s row."""
        return (PITCHES - 1 - pitch) * self.key_height - self.scroll_y

    def y_to_pitch(self, y: float) -> int:
        """Pitch whose row holds ``y``, clamped to 0..127."""
        row = math.floor((y + self.scroll_y) / self.key_height)
        return min(PITCHES - 1, max(0, PITCHES - 1 - row))

    def note_rect(self, start_tick: int, pitch: int, duration_tick: int) -> tuple[float, float, float, float]:
        """(x, y, w, h) of a note; at least 1 px wide."""
        return (self.tick_to_x(start_tick), self.pitch_to_y(pitch),
                max(1.0, duration_tick * self.px_per_tick), self.key_height)

    def point(self, tick: float, pitch: int) -> tuple[int, int]:
        """Integer viewport point at ``tick`` in the middle of ``pitch``'s row (what tests click on)."""
        return (int(round(self.tick_to_x(tick))), int(self.pitch_to_y(pitch) + self.key_height / 2))

    def visible_ticks(self, x0: float, x1: float) -> tuple[float, float]:
        return self.x_to_tick(x0), self.x_to_tick(x1)

    def visible_pitches(self, y0: float, y1: float) -> tuple[int, int]:
        """(lowest, highest) pitch with a row between viewport y0 and y1."""
        return self.y_to_pitch(y1), self.y_to_pitch(y0)

    def center_on_pitch(self, pitch: int, viewport_height: float) -> None:
        self.scroll_y = max(0.0, min(self.content_height - viewport_height,
                                     self.pitch_to_y(pitch) + self.scroll_y - viewport_height / 2))


@dataclass(frozen=True, slots=True)
class Bar:
    number: int          # 0-based
    start_tick: int
    length_tick: int
    beat_tick: int       # length of one beat (denominator note)
    numerator: int


class BarGrid:
    """Bars and beats of a song, honouring time-signature changes. Pure; built once per song."""

    def __init__(self, song: Song | None) -> None:
        self.ppq = song.ppq if song else 480
        sigs = song.time_signatures if song else (TimeSignature(0),)
        # segments: (first bar number, start tick, bar length, beat length, numerator)
        self._segments: list[tuple[int, int, int, int, int]] = []
        bar = 0
        for i, ts in enumerate(sigs):
            length = ts.bar_ticks(self.ppq)
            beat = self.ppq * 4 // ts.denominator
            start = ts.tick      # a change restarts the bar grid at its own tick (as Song.bar_start_tick does)
            self._segments.append((bar, start, max(1, length), max(1, beat), ts.numerator))
            if i + 1 < len(sigs):
                bar += max(1, -(-(sigs[i + 1].tick - start) // max(1, length)))

    def bar_at(self, tick: float) -> Bar:
        seg = self._segments[0]
        for s in self._segments:
            if s[1] <= tick:
                seg = s
            else:
                break
        first, start, length, beat, num = seg
        n = max(0, int((tick - start) // length))
        return Bar(first + n, start + n * length, length, beat, num)

    def bars(self, t0: float, t1: float, every: int = 1) -> Iterator[Bar]:
        """Bars overlapping [t0, t1); with ``every`` > 1 only bars whose number is a multiple of it."""
        every = max(1, int(every))
        segs = self._segments
        for k, (first, start, length, beat, num) in enumerate(segs):
            seg_end = segs[k + 1][1] if k + 1 < len(segs) else math.inf
            if seg_end <= t0 or start >= t1:
                continue
            n = max(0, int((max(t0, start) - start) // length))
            n += (-(first + n)) % every                    # first multiple of ``every`` from here
            while True:
                tick = start + n * length
                if tick >= t1 or tick >= seg_end:
                    break
                yield Bar(first + n, tick, length, beat, num)
                n += every

    def beat_tick_at(self, tick: float) -> int:
        return self.bar_at(tick).beat_tick
