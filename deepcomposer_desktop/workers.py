"""Worker threads: the only module that joins Qt and the torch-using code (imported lazily, on the worker).

``Worker`` (a QThread) runs one function with ``progress``/``should_stop`` callbacks and reports back by signals,
which Qt queues to the GUI thread. The GUI never waits on a worker; Cancel sets a flag the function polls.
"""
from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal

from .core.song import Song, SongError
from .ml.common import Cancelled, ModelError


class Worker(QThread):
    """Runs ``fn(**kwargs)`` on its own thread.

    Threads: ``start``/``cancel`` on the GUI thread; ``run`` (and the ``progress``/``should_stop`` callbacks it
    hands to ``fn`` when ``with_callbacks``) on the worker thread. Signals are delivered on the GUI thread:
    ``progressed(fraction, message)``, ``succeeded(result)``, ``failed(message)``, ``cancelled()``; exactly one
    of the last three fires, then ``done()``.
    """

    progressed = Signal(float, str)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    done = Signal()

    def __init__(self, fn: Callable[..., Any], kwargs: dict[str, Any] | None = None, label: str = "",
                 with_callbacks: bool = True, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.fn, self.kwargs, self.label = fn, dict(kwargs or {}), label
        self.with_callbacks = with_callbacks
        self._stop = threading.Event()
        self.result: Any = None
        self.error: str = ""

    def cancel(self) -> None:
        """GUI thread: ask the function to stop at its next check."""
        self._stop.set()

    @property
    def cancel_requested(self) -> bool:
        return self._stop.is_set()

    def _progress(self, fraction: float, message: str = "") -> None:
        self.progressed.emit(float(fraction), str(message))

    def run(self) -> None:  # worker thread
        kwargs = dict(self.kwargs)
        if self.with_callbacks:
            kwargs.update(progress=self._progress, should_stop=self._stop.is_set)
        try:
            self.result = self.fn(**kwargs)
        except Cancelled:
            self.cancelled.emit()
        except (SongError, ModelError, ValueError, OSError) as exc:
            self.error = str(exc) or type(exc).__name__
            self.failed.emit(self.error)
        except ImportError as exc:
            self.error = f"This part of the app is not available: {exc}"
            self.failed.emit(self.error)
        except Exception as exc:
            if type(exc).__module__.startswith("deepcomposer_desktop") and str(exc):
                self.error = str(exc)               # our typed errors carry a message for the musician
            else:                                   # a bug: report it instead of killing the app
                self.error = f"Unexpected error: {type(exc).__name__}: {exc}"
                traceback.print_exc()
            self.failed.emit(self.error)
        else:
            if self._stop.is_set():
                self.cancelled.emit()
            else:
                self.succeeded.emit(self.result)
        self.done.emit()


# --- functions that run on a worker thread ------------------------------------------------------------------------
def _torch_one_thread() -> None:
    try:
        from .ml.common import limit_threads
        limit_threads(1)
    except ImportError:
        pass


TECHNIQUE_MODULES = {"gan": "deepcomposer_desktop.ml.gan.generate",
                     "arcnn": "deepcomposer_desktop.ml.arcnn.generate",
                     "transformer": "deepcomposer_desktop.ml.transformer.generate"}
TECHNIQUE_FUNCS = {"gan": "accompany", "arcnn": "enhance", "transformer": "extend"}


def load_torch(progress=None, should_stop=None) -> bool:
    """Import torch ahead of the first generation, on a worker a moment after start-up. Its import holds the GIL
    for up to ~150 ms at a time (``torch._C``'s initialisation) and ~0.3 s all told here: done on the first
    Generate, Generate again or jam pass, it froze the window for that long; done here, while the musician is still
    looking at the new window, the first generation starts at once. False when torch is not installed."""
    try:
        import torch
    except ImportError:
        return False
    _torch_one_thread()
    torch.zeros(4).add_(1)                          # the first op sets up torch's CPU kernels
    return True


def probe_techniques(progress=None, should_stop=None) -> dict[str, dict[str, Any]]:
    """Import each technique module (they load torch only when they run: see :func:`load_torch`) and say which
    ones work; lists the GAN genres."""
    import importlib
    import importlib.util
    out: dict[str, dict[str, Any]] = {}
    if importlib.util.find_spec("torch") is None:     # every technique runs a torch model (found without importing)
        problem = "PyTorch is not installed: run packaging/setup.sh (see the README) to install it"
        return {name: {"available": False, "problem": problem, "genres": []} for name in TECHNIQUE_MODULES}
    for i, (name, modname) in enumerate(TECHNIQUE_MODULES.items()):
        if progress:
            progress(i / len(TECHNIQUE_MODULES), f"Loading {name}")
        info: dict[str, Any] = {"available": False, "problem": "", "genres": []}
        try:
            mod = importlib.import_module(modname)
            if not hasattr(mod, TECHNIQUE_FUNCS[name]):
                raise ImportError(f"{modname} has no {TECHNIQUE_FUNCS[name]}()")
            if name == "gan":
                info["genres"] = list(mod.available_genres())
                if not info["genres"]:
                    raise ModelError("no GAN genre models are installed yet")
            info["available"] = True
        except Exception as exc:      # missing module, missing model, broken install: all "not available"
            if isinstance(exc, ModuleNotFoundError):
                info["problem"] = "not available yet (its module is missing)"
            elif isinstance(exc, (ModelError, ImportError)):
                info["problem"] = str(exc)
            else:
                info["problem"] = f"{type(exc).__name__}: {exc}"
        out[name] = info
    if progress:
        progress(1.0, "")
    return out


def run_technique(technique: str, song: Song, progress=None, should_stop=None, **options) -> Any:
    """Worker thread: run GAN ``accompany`` / AR-CNN ``enhance`` / Transformer ``extend`` on an immutable song."""
    import importlib
    if technique not in TECHNIQUE_MODULES:
        raise ValueError(f"Unknown technique {technique!r}")
    _torch_one_thread()
    mod = importlib.import_module(TECHNIQUE_MODULES[technique])
    fn = getattr(mod, TECHNIQUE_FUNCS[technique])
    try:
        from torch import inference_mode
    except ImportError:
        from contextlib import nullcontext as inference_mode
    with inference_mode():
        return fn(song, progress=progress, should_stop=should_stop, **options)


def load_song_file(path: str, progress=None, should_stop=None) -> Song:
    """Worker thread: read a MIDI file (big files take a while)."""
    from .midi.io import read_midi
    if progress:
        progress(0.0, f"Reading {path}")
    return read_midi(path)


def create_engine(soundfont: str | None = None, blocksize: int = 256, device: str | None = None,
                  progress=None, should_stop=None):
    """Worker thread: build the PlaybackEngine (loading a soundfont takes a moment). Raises ImportError when the
    audio package is missing."""
    from .audio.engine import PlaybackEngine
    return PlaybackEngine(soundfont=soundfont or None, blocksize=blocksize, device=device or None)


def render_wav(song: Song, path: str, soundfont: str | None = None, effects: bool = True, progress=None,
               should_stop=None):
    """Worker thread: render the song to a WAV file through the audio package's offline path (``effects=False``:
    dry, without reverb and chorus). Returns ``audio.render.export_mix``'s ``MixWritten`` (path, seconds, and the
    gain the mix took so as not to clip, to tell the user)."""
    from .audio.render import RenderStopped, export_mix
    if progress:
        progress(0.0, "Rendering audio")
    try:
        return export_mix(song, path, soundfont=soundfont or None, effects=effects, progress=progress,
                          should_stop=should_stop)
    except RenderStopped:
        raise Cancelled() from None


def render_stems(song: Song, folder: str, soundfont: str | None = None, effects: bool = True, progress=None,
                 should_stop=None) -> list:
    """Worker thread: one WAV per audible track into ``folder`` (see ``audio.render.write_stems``)."""
    from .audio.render import write_stems
    if progress:
        progress(0.0, "Rendering stems")
    paths = write_stems(song, folder, soundfont=soundfont or None, effects=effects, progress=progress,
                        should_stop=should_stop)
    if not paths and should_stop is not None and should_stop():
        raise Cancelled()                    # stopped: the folder is as it was
    return paths
