"""What every technique shares: progress/cancel callbacks and the Cancelled error. No torch here."""
from __future__ import annotations

from typing import Callable, Optional

ProgressFn = Optional[Callable[[float, str], None]]   # (fraction 0..1, message) -> None; any thread
StopFn = Optional[Callable[[], bool]]                 # True when the user pressed Cancel


class Cancelled(Exception):
    """Raised inside a generation or training run when ``should_stop()`` became true."""


class ModelError(Exception):
    """A model that cannot be used (missing, damaged, wrong kind); the message is for a musician."""


def report(progress: ProgressFn, fraction: float, message: str = "") -> None:
    if progress is not None:
        progress(max(0.0, min(1.0, fraction)), message)


def check_stop(should_stop: StopFn) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled()


def limit_threads(n: int | None = None) -> None:
    """Keep torch to ``n`` CPU threads (default: leave one core to the audio and GUI threads)."""
    import os

    import torch
    if n is None:
        n = max(1, (os.cpu_count() or 2) - 1)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


MAX_INPUT_BARS = 1024         # 34 minutes at 120 BPM in 4/4: far beyond a song, far below what exhausts memory


def too_long(song, end_tick: int, what: str) -> str | None:
    """A message when ``end_tick`` (where the input the model reads ends) lies beyond :data:`MAX_INPUT_BARS` bars
    of ``song``; None when it fits."""
    bars = -(-int(end_tick) // max(1, song.bar_ticks))
    if bars <= MAX_INPUT_BARS:
        return None
    return (f"The input is {bars:,} bars long; {what} reads at most {MAX_INPUT_BARS:,} bars. Trim the song "
            "(or move its far-away notes) first")
