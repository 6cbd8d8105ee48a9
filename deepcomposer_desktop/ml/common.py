"""What every technique shares: progress/cancel callbacks, the Cancelled error, and the checks every ``train``
command makes before it starts (device, model name, output folder, data file). No torch at import time."""
from __future__ import annotations

import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
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


def resolve_device(name: str | None = "auto") -> str:
    """``auto`` -> ``cuda`` when a GPU is there, else ``cpu``; ``cpu``, ``cuda`` and ``cuda:N`` are checked.

    Raises ModelError (a device name torch does not know, or no CUDA GPU here) with a message for the user.
    """
    import torch
    if name in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return name
    if not re.fullmatch(r"cuda(:\d+)?", name):
        raise ModelError(f"Unknown device {name!r}: use auto, cpu or cuda")
    if not torch.cuda.is_available():
        raise ModelError("No CUDA GPU is available here; use --device cpu")
    if ":" in name and int(name.split(":")[1]) >= torch.cuda.device_count():
        raise ModelError(f"There is no GPU {name!r} here ({torch.cuda.device_count()} found)")
    return name


MIDI_SUFFIXES = (".mid", ".midi", ".kar", ".smf")


def is_midi_file(path) -> bool:
    """True when ``path`` is a file that looks like a MIDI file (by its suffix or its ``MThd`` header)."""
    path = Path(path)
    if not path.is_file():
        return False
    if path.suffix.lower() in MIDI_SUFFIXES:
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"MThd"
    except OSError:
        return False


def claim_model_path(technique: str, name: str, out, replace: bool = False, resume_from=None) -> Path:
    """Where ``train`` will write the model ``<technique>-<name>.pt`` in the folder ``out`` (created here).

    Refuses a name that is not a model name, a model of that name already in ``out`` (unless ``replace``:
    ``--overwrite``, or ``--resume``), and - when ``out`` is the user's model folder - a name that a shipped model
    has (the new one would hide it from every later generate) unless ``replace`` (``--overwrite``; ``--resume``
    is not enough). ``resume_from``: with ``--resume``, the file the run continues from; refused when missing.
    Raises ModelError with a message for the user.
    """
    from ..model_files import NAME_RE
    if not NAME_RE.match(name or ""):
        raise ModelError("Name the model with lower-case letters, digits, '-' or '_' (e.g. my-genre)")
    out = Path(out)
    dest = out / f"{technique}-{name}.pt"
    if not replace and resume_from is None and dest.exists():
        raise ModelError(f"A model called '{name}' is already in {out}: choose another --name, continue it "
                         "with --resume, or pass --overwrite to train a new one in its place")
    if not replace and hides_shipped(dest):
        raise ModelError(f"The {technique} model '{name}' ships with the app, and one trained under that name "
                         "would take its place: choose another --name, or pass --overwrite to replace it"
                         + (" (with --resume to continue your run)" if resume_from is not None else ""))
    if resume_from is not None and not Path(resume_from).is_file():
        raise ModelError(f"Nothing to resume: there is no {Path(resume_from).name} from an earlier run of '{name}' "
                         f"in {Path(resume_from).parent}; leave out --resume to train from the start"
                         + (" (with --overwrite to replace the model there)" if dest.exists() else ""))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"Cannot create the output folder {out}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK):
        raise ModelError(f"Cannot write in the output folder {out}: permission denied")
    return dest


def hides_shipped(dest: Path) -> bool:
    """Whether a model written to ``dest`` would take the place of a shipped one of that name (it is in the user's
    model folder, which list_models reads after the shipped one)."""
    from .registry import SHIPPED_DIR, user_models_dir
    try:
        return (SHIPPED_DIR / dest.name).exists() and dest.parent.resolve() == user_models_dir().resolve()
    except OSError:
        return False


@contextmanager
def sigint_stops(message: str = "Stopping: saving the model so far (Ctrl+C again to quit at once)"):
    """Within the block, Ctrl+C (SIGINT) asks the run to stop as Cancel does: yields a StopFn that turns true;
    a second Ctrl+C raises KeyboardInterrupt. The old handler comes back after. Main thread only (elsewhere the
    StopFn just stays false)."""
    import signal
    import threading
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop.is_set
        return

    def on_sigint(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print(f"\n{message}", file=sys.stderr, flush=True)
    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield stop.is_set
    finally:
        signal.signal(signal.SIGINT, old)


MAX_INPUT_BARS = 1024         # 34 minutes at 120 BPM in 4/4: far beyond a song, far below what exhausts memory


def too_long(song, end_tick: int, what: str) -> str | None:
    """A message when ``end_tick`` (where the input the model reads ends) lies beyond :data:`MAX_INPUT_BARS` bars
    of ``song``; None when it fits."""
    bars = song.bar_at(int(end_tick) - 1) + 1 if end_tick > 0 else 0       # the song's own bars (a pickup is one)
    if bars <= MAX_INPUT_BARS:
        return None
    return (f"The input is {bars:,} bars long; {what} reads at most {MAX_INPUT_BARS:,} bars. Trim the song "
            "(or move its far-away notes) first")
