"""Tick <-> seconds through a song's tempo map (piecewise-linear, exact at every tempo change)."""
from __future__ import annotations

import bisect

import numpy as np

from .song import Song, SongError, TempoChange


class TempoMap:
    """Converts integer ticks to seconds and back for one PPQ and list of tempo changes.

    Immutable once built; cheap to query (binary search), vectorised for arrays.
    """

    def __init__(self, tempos: tuple[TempoChange, ...], ppq: int) -> None:
        if not tempos or tempos[0].tick != 0:
            raise SongError("A tempo map needs a tempo at tick 0")
        self.ppq = ppq
        self._ticks = [t.tick for t in tempos]
        self._sec_per_tick = [60.0 / (t.bpm * ppq) for t in tempos]
        secs = [0.0]
        for i in range(1, len(tempos)):
            secs.append(secs[-1] + (self._ticks[i] - self._ticks[i - 1]) * self._sec_per_tick[i - 1])
        self._secs = secs
        self._np_ticks = np.asarray(self._ticks, dtype=np.int64)
        self._np_secs = np.asarray(self._secs, dtype=np.float64)
        self._np_spt = np.asarray(self._sec_per_tick, dtype=np.float64)

    @classmethod
    def of(cls, song: Song) -> "TempoMap":
        return cls(song.tempos, song.ppq)

    def bpm_at(self, tick: int) -> float:
        i = bisect.bisect_right(self._ticks, tick) - 1
        return 60.0 / (self._sec_per_tick[max(i, 0)] * self.ppq)

    def tick_to_seconds(self, tick: float) -> float:
        if tick < 0:
            raise SongError(f"Tick must not be negative, got {tick}")
        i = bisect.bisect_right(self._ticks, tick) - 1
        return self._secs[i] + (tick - self._ticks[i]) * self._sec_per_tick[i]

    def seconds_to_tick(self, seconds: float) -> float:
        """Fractional tick at ``seconds`` (round it yourself where an integer is needed)."""
        if seconds < 0:
            raise SongError(f"Time must not be negative, got {seconds}")
        i = bisect.bisect_right(self._secs, seconds) - 1
        return self._ticks[i] + (seconds - self._secs[i]) / self._sec_per_tick[i]

    def ticks_to_seconds(self, ticks: np.ndarray) -> np.ndarray:
        ticks = np.asarray(ticks, dtype=np.int64)
        idx = np.searchsorted(self._np_ticks, ticks, side="right") - 1
        idx = np.clip(idx, 0, None)
        return self._np_secs[idx] + (ticks - self._np_ticks[idx]) * self._np_spt[idx]

    def seconds_to_ticks(self, seconds: np.ndarray) -> np.ndarray:
        seconds = np.asarray(seconds, dtype=np.float64)
        idx = np.clip(np.searchsorted(self._np_secs, seconds, side="right") - 1, 0, None)
        return self._np_ticks[idx] + (seconds - self._np_secs[idx]) / self._np_spt[idx]


def song_duration_seconds(song: Song) -> float:
    return TempoMap.of(song).tick_to_seconds(song.end_tick)
