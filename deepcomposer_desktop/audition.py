"""Audition: the melody in every GAN genre x N takes at once, each take tagged and measured; regenerate one take
(keeping locked tracks); keeping and exporting takes is ``audition_takes``. Pure Python (no Qt); torch only inside
the GAN calls.

Threads: ``AuditionRun.start``/``cancel``/``wait`` on the caller's (GUI) thread. Backend "thread": the jobs run on
a private ``ThreadPoolExecutor`` (torch limited to one intra-op thread; convolutions release the GIL, the Python
parts of decoding and metrics do not). Backend "process": a persistent spawn-started process pool (each worker
imports torch and loads the models once; no GIL sharing). ``on_take``/``on_error`` run on a pool thread (thread
backend) or the executor's result thread (process backend), so a Qt caller must re-emit them as signals, which Qt
queues to the GUI thread.
"""
from __future__ import annotations

import math
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from .core.song import Song, Track

MAX_TAKES = 8                 # per genre in one audition
REGEN_STRIDE = 7919           # seed step between successive regenerations of one take (a prime: no collisions)
SHOWN_METRICS = ("in_scale_rate", "empty_bar_rate", "note_density", "polyphony", "tonal_distance_melody")


class AuditionError(ValueError):
    """Audition cannot run or export (no melody, no genre, bad take number...); the message is for a musician."""


@dataclass(frozen=True)
class Take:
    """One generated arrangement: ``genre``, 1-based take ``number``, the ``seed`` it came from, the full ``song``
    (input tracks first, the band from ``first_new`` on), its ``metrics`` (``ml.metrics.evaluate``), the
    generation time, how often it was regenerated and which of its band tracks are locked. ``parts``: how many band
    tracks each of the model's parts became (a part played by register, e.g. the woodwinds, is one track per
    section: ``ml.gan.generate.split_sections``); empty: one track each."""

    genre: str
    number: int
    seed: int
    song: Song
    first_new: int
    metrics: Mapping[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    generation: int = 0
    locked: frozenset = frozenset()
    parts: tuple = ()

    @property
    def key(self) -> tuple[str, int]:
        return (self.genre, self.number)

    @property
    def label(self) -> str:
        return f"{self.genre} {self.number}"

    @property
    def band(self) -> tuple[Track, ...]:
        """The generated tracks."""
        return self.song.tracks[self.first_new:]

    def instruments(self) -> list[str]:
        """Band track names, e.g. ``["Piano", "Bass", "Drums"]``."""
        return [t.name for t in self.band]


# --- inputs and metrics ---------------------------------------------------------------------------------------------
def audition_input(song: Song) -> Song:
    """The song reduced to its melody track (what every genre accompanies); raises AuditionError when the melody
    has no notes."""
    if not isinstance(song, Song) or not song.tracks or song.melody is None or not song.melody.notes:
        raise AuditionError("The melody track has no notes: play or import a melody first")
    # not soloed: a soloed melody would silence every take's band
    return song.with_tracks((replace(song.melody, solo=False),), melody_index=0)


def take_metrics(song: Song, first_new: int, parts: Sequence[int] = ()) -> dict[str, float]:
    """``ml.metrics.evaluate`` of the band (tracks from ``first_new``) against the melody, on 16-step bars.
    ``parts``: band tracks per model part (``Take.parts``); a part's sections are scored together as one part,
    as the model's card scores it. Empty (or not adding up to the band): one part per track."""
    from .core.grid import track_to_roll
    from .ml import metrics as M
    ppq = song.ppq
    if ppq % 4 or first_new >= len(song.tracks):
        return {}
    steps = -(-song.end_tick // (ppq // 4))
    steps = max(16, -(-steps // 16) * 16)                      # whole 16-step bars
    mel, _ = track_to_roll(song.melody, ppq, 4, steps)
    band = song.tracks[first_new:]
    if sum(parts) != len(band) or min(parts, default=0) < 1:
        parts = [1] * len(band)
    rolls, ons, drums, i = [], [], [], 0
    for size in parts:                              # a part's sections: one roll, each note in one section
        pairs = [track_to_roll(t, ppq, 4, steps) for t in band[i:i + size]]
        rolls.append(np.logical_or.reduce([r > 0 for r, _ in pairs]))
        ons.append(np.logical_or.reduce([o > 0 for _, o in pairs]))
        drums.append(band[i].is_drum)
        i += size
    try:
        return M.evaluate(mel > 0, np.stack(rolls), drums, np.stack(ons))
    except ValueError:
        return {}


# a card's figures in a musician's words, and how each value reads; ml.metrics.evaluate's keys, in card order
FIGURE_WORDS = {
    "in_scale_rate": ("in the melody's key", "{:.0%}"),
    "empty_bar_rate": ("bars a part rests", "{:.0%}"),
    "note_density": ("notes per bar, each part", "{:.1f}"),
    "polyphony": ("notes at once, each part", "{:.1f}"),
    "used_pitch_classes": ("different notes per bar, each part", "{:.1f}"),
    "qualified_note_rate": ("notes a dotted eighth or longer", "{:.0%}"),
    "drum_pattern_rate": ("drum hits on the eighth notes", "{:.0%}"),
    "tonal_distance_melody": ("harmony distance to the melody (0 = the same chords)", "{:.2f}"),
    "tonal_distance_tracks": ("harmony distance between the parts (0 = the same chords)", "{:.2f}"),
}


def _figure(metrics: Mapping[str, float], key: str) -> float | None:
    v = metrics.get(key, math.nan)
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def format_metrics(metrics: Mapping[str, float]) -> str:
    """A short line for a card: in key %, empty bars %, notes per bar, notes at once."""
    parts = []
    if (v := _figure(metrics, "in_scale_rate")) is not None:
        parts.append(f"in key {v * 100:.0f}%")
    if (v := _figure(metrics, "empty_bar_rate")) is not None:
        parts.append(f"empty bars {v * 100:.0f}%")
    if (v := _figure(metrics, "note_density")) is not None:
        parts.append(f"{v:.1f} notes/bar")
    if (v := _figure(metrics, "polyphony")) is not None:
        parts.append(f"{v:.1f} notes at once")
    return " · ".join(parts) or "no figures"


def describe_metrics(metrics: Mapping[str, float]) -> str:
    """Every figure of a take on a line of its own, in words: "In the melody's key: 97%" (a card's tooltip)."""
    lines = []
    for key, (words, shown) in FIGURE_WORDS.items():
        if (v := _figure(metrics, key)) is not None:
            lines.append(f"{words[0].upper()}{words[1:]}: {shown.format(v)}")
    return "\n".join(lines) or "No figures for this take"


# --- one take (worker thread) ---------------------------------------------------------------------------------------
def _one_thread() -> None:
    from .ml.common import limit_threads
    limit_threads(1)


def generate_take(source: Song, genre: str, number: int = 1, seed: int = 0, generation: int = 0,
                  should_stop=None, shared: dict | None = None) -> Take:
    """Worker thread: one GAN take of ``source`` (already an ``audition_input``) in ``genre``. ``shared``: a dict
    kept for this source and genre across takes (the melody's encoding is computed once).

    Raises ModelError (unknown or damaged model) and Cancelled (``should_stop``)."""
    from .ml.gan.generate import accompany
    _one_thread()
    t0 = time.perf_counter()
    import torch
    with torch.inference_mode():
        song = accompany(source, genre, takes=1, seed=int(seed), should_stop=should_stop, shared=shared)[0]
    first_new = len(source.tracks)
    parts = band_parts(genre)
    metrics = take_metrics(song, first_new, parts)
    return Take(genre, int(number), int(seed), song, first_new, metrics, time.perf_counter() - t0, generation,
                parts=parts)


def band_parts(genre: str) -> tuple[int, ...]:
    """How many tracks each part of ``genre``'s model makes (its sections, or 1), e.g. ``(1, 1, 3, 1)``."""
    from .ml.gan.generate import model_for_genre, sections_of
    return tuple(max(1, len(sections_of(info))) for info in model_for_genre(genre).tracks)


def take_seed(base_seed: int, number: int) -> int:
    """Seed of take ``number`` (1-based) in an audition started with ``base_seed`` (same as ``accompany``'s)."""
    return int(base_seed) + int(number) - 1


def with_locked(new: Take, old: Take, locked: Iterable[int]) -> Take:
    """``new`` with its band tracks at the indices ``locked`` (0-based, within the band) taken from ``old``."""
    locked = frozenset(int(i) for i in locked)
    if not locked:
        return replace(new, locked=frozenset())
    if len(new.band) != len(old.band):
        raise AuditionError("The regenerated take has a different band; cannot keep the locked tracks")
    bad = [i for i in locked if not 0 <= i < len(old.band)]
    if bad:
        raise AuditionError(f"There is no band track {bad[0] + 1} to lock (the band has {len(old.band)})")
    tracks = list(new.song.tracks)
    for i in locked:
        tracks[new.first_new + i] = old.band[i]
    song = new.song.with_tracks(tracks, melody_index=new.song.melody_index)
    return replace(new, song=song, metrics=take_metrics(song, new.first_new, new.parts), locked=locked)


def regenerate(take: Take, locked: Iterable[int] = (), seed: int | None = None, should_stop=None) -> Take:
    """Worker thread: a fresh take in the same genre and slot; band tracks in ``locked`` stay as they are."""
    source = take.song.with_tracks(take.song.tracks[:take.first_new], melody_index=take.song.melody_index)
    gen = take.generation + 1
    seed = take.seed + REGEN_STRIDE * gen if seed is None else int(seed)
    fresh = generate_take(source, take.genre, take.number, seed, gen, should_stop)
    return with_locked(fresh, take, locked)


# --- the whole set --------------------------------------------------------------------------------------------------
def default_workers(jobs: int) -> int:
    """One worker per core, leaving one core to audio and GUI when there are more than two."""
    cores = os.cpu_count() or 2
    return max(1, min(jobs, cores - 1 if cores > 2 else cores))


MAX_PROCESS_WORKERS = 4       # each worker process holds torch and every model (~300 MB): more cores stay idle
BACKEND_ENV = "DEEPCOMPOSER_AUDITION_BACKEND"
_process_broken = False       # a worker process died or could not start: "auto" falls back to threads


def resolve_backend(backend: str = "auto") -> str:
    """"auto" (the app's choice; ``$DEEPCOMPOSER_AUDITION_BACKEND`` overrides it): worker processes when there are
    two cores or more (no GIL shared with the GUI: 0.6 s instead of 1.0 s for 6 genres x 4 takes on 2 cores),
    threads on one core or after the process pool broke."""
    if backend == "auto":
        backend = os.environ.get(BACKEND_ENV, "auto")
    if backend == "auto":
        return "thread" if _process_broken or (os.cpu_count() or 1) < 2 else "process"
    return backend


def process_workers() -> int:
    return min(MAX_PROCESS_WORKERS, default_workers(1 << 16))


# --- the process backend: a persistent pool (spawned once, models stay loaded in its workers) -----------------------
_proc_lock = threading.Lock()
_proc: tuple[ProcessPoolExecutor, int, object] | None = None       # (pool, workers, shared "cancelled up to" run id)
_run_ids = iter(range(1, 1 << 62))
_CANCELLED = None                                                   # in a worker: the shared value


WORKER_NICE = 5               # worker processes yield to the GUI thread (audio runs real-time anyway)


def _process_init(cancelled, parent: int) -> None:  # worker process
    global _CANCELLED
    from .child import exit_with_parent
    exit_with_parent(parent)
    _CANCELLED = cancelled
    try:
        os.nice(WORKER_NICE)
    except (AttributeError, OSError):  # Windows has no nice(); not allowed: keep the priority
        pass
    _one_thread()


_ENCODINGS: dict = {}                                               # in a worker: (run id, genre) -> shared dict


def _use_models_dir(models_dir: str | None) -> None:  # worker process: the parent's model folder
    if models_dir is None:
        os.environ.pop("DEEPCOMPOSER_MODELS", None)
    else:
        os.environ["DEEPCOMPOSER_MODELS"] = models_dir


def _process_job(source: Song, genre: str, number: int, seed: int, run_id: int, models_dir: str | None) -> Take:
    """Worker process: one take; stops when the parent cancelled ``run_id``."""
    _use_models_dir(models_dir)
    for key in [k for k in _ENCODINGS if k[0] != run_id]:            # keep only this run's encodings
        del _ENCODINGS[key]
    shared = _ENCODINGS.setdefault((run_id, genre), {})
    return generate_take(source, genre, number, seed, should_stop=lambda: _CANCELLED.value >= run_id, shared=shared)


def _process_warm(models_dir: str | None) -> int:  # worker process
    """Import torch and load every installed GAN model, so the first audition does not pay for it."""
    _use_models_dir(models_dir)
    from .ml.gan.generate import available_genres, model_for_genre
    genres = available_genres()
    for g in genres:
        model_for_genre(g)
    return len(genres)


def warm_process_pool(workers: int | None = None) -> list[Future]:
    """Start the process pool and load the models in every worker (returns at once; the futures say when done)."""
    workers = workers or process_workers()
    pool, _, _ = process_pool(workers)
    models = os.environ.get("DEEPCOMPOSER_MODELS")
    return [pool.submit(_process_warm, models) for _ in range(workers)]


def process_pool(workers: int):
    """The shared process pool with ``workers`` workers (started on first use; restarted if the size changes)."""
    global _proc
    import multiprocessing
    with _proc_lock:
        if _proc is not None and _proc[1] != workers:
            _proc[0].shutdown(wait=False, cancel_futures=True)
            _proc = None
        if _proc is None:
            ctx = multiprocessing.get_context("spawn")
            cancelled = ctx.Value("q", 0)
            pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_process_init,
                                       initargs=(cancelled, os.getpid()))
            if _proc is None and not getattr(process_pool, "_atexit", False):
                import atexit
                atexit.register(shutdown_process_pool)
                process_pool._atexit = True
            _proc = (pool, workers, cancelled)
        return _proc


def shutdown_process_pool() -> None:
    """Stop the process backend's workers (at exit)."""
    global _proc
    with _proc_lock:
        if _proc is not None:
            _proc[0].shutdown(wait=False, cancel_futures=True)
            _proc = None


class AuditionRun:
    """All ``genres`` x ``takes`` on a worker pool; results arrive as they finish.

    ``backend``: "thread" (default) or "process" (see the module docstring). ``on_take(take)`` and
    ``on_error(genre, number, message)`` run on a pool thread. ``start`` returns at once; ``wait`` blocks until
    every job ended (or the timeout) and returns the takes in (genre, number) order.
    """

    def __init__(self, song: Song, genres: Sequence[str], takes: int = 4, seed: int = 0,
                 max_workers: int | None = None, on_take: Callable[[Take], None] | None = None,
                 on_error: Callable[[str, int, str], None] | None = None, backend: str = "thread") -> None:
        if backend not in ("thread", "process", "auto"):
            raise AuditionError(f"Unknown audition backend {backend!r} (use 'thread', 'process' or 'auto')")
        self.backend = resolve_backend(backend)
        if self.backend not in ("thread", "process"):
            raise AuditionError(f"Unknown audition backend {self.backend!r} in ${BACKEND_ENV}")
        self.source = audition_input(song)
        if not genres:
            raise AuditionError("No GAN genre is installed: train one or install a model first")
        if isinstance(takes, bool) or not isinstance(takes, int) or not 1 <= takes <= MAX_TAKES:
            raise AuditionError(f"Ask for between 1 and {MAX_TAKES} takes per genre, not {takes!r}")
        self.genres = list(dict.fromkeys(genres))
        self.takes = takes
        self.seed = int(seed)
        # the process pool keeps one size (a restart would lose its loaded models): one worker per spare core
        self.max_workers = max_workers or (default_workers(len(self.genres) * takes) if self.backend == "thread"
                                           else process_workers())
        self.on_take, self.on_error = on_take, on_error
        self.results: dict[tuple[str, int], Take] = {}
        self.errors: dict[tuple[str, int], str] = {}
        self.seconds = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._futures: list[Future] = []
        self._proc_futures: list[Future] = []
        self._pool: ThreadPoolExecutor | None = None
        self._encodings: dict[str, dict] = {}       # genre -> the melody's encoding, shared by that genre's takes
        self._t0 = 0.0

    @property
    def jobs(self) -> list[tuple[str, int]]:
        # take 1 of every genre first, so a first comparison is on screen as soon as possible
        return [(g, n) for n in range(1, self.takes + 1) for g in self.genres]

    def start(self) -> "AuditionRun":
        self._t0 = time.perf_counter()
        if self._stop.is_set():
            return self
        if self.backend == "process":
            try:
                self._start_processes()
                return self
            except (BrokenProcessPool, RuntimeError, OSError):    # the pool is broken or cannot start
                global _process_broken
                _process_broken = True
                shutdown_process_pool()
                for f in self._proc_futures:
                    f.cancel()
                self.backend = "thread"
                self.max_workers = default_workers(len(self.genres) * self.takes)
                self._futures, self._proc_futures = [], []
        self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="audition")
        self._futures = [self._pool.submit(self._job, g, n) for g, n in self.jobs]
        self._pool.shutdown(wait=False)
        return self

    def _start_processes(self) -> None:
        pool, _, self._cancelled = process_pool(self.max_workers)
        self._run_id = next(_run_ids)
        models = os.environ.get("DEEPCOMPOSER_MODELS")
        for g, n in self.jobs:               # wait() waits on our own future, done once the take is delivered
            job = Future()
            job.set_running_or_notify_cancel()
            f = pool.submit(_process_job, self.source, g, n, take_seed(self.seed, n), self._run_id, models)
            self._futures.append(job)
            self._proc_futures.append(f)
            f.add_done_callback(lambda f, g=g, n=n, job=job: self._finish(g, n, f, job))

    def _finish(self, genre: str, number: int, f: Future, job: Future) -> None:  # process backend
        global _process_broken
        exc = None if f.cancelled() else f.exception()
        if isinstance(exc, BrokenProcessPool) and not self._stop.is_set():
            # a worker died (out of memory, killed) or could not start: this and later runs go to threads
            _process_broken = True
            shutdown_process_pool()
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(default_workers(len(self.genres) * self.takes),
                                                    thread_name_prefix="audition")
                fallback = self._pool.submit(self._job, genre, number)
            fallback.add_done_callback(lambda _: job.set_result(None))
            return
        try:
            if f.cancelled():
                return
            if exc is None:
                self._deliver(f.result(), None, genre, number)
            else:
                self._deliver(None, exc, genre, number)
        finally:
            job.set_result(None)

    def _job(self, genre: str, number: int) -> None:  # pool thread
        if self._stop.is_set():
            return
        try:
            with self._lock:
                shared = self._encodings.setdefault(genre, {})
            take = generate_take(self.source, genre, number, take_seed(self.seed, number),
                                 should_stop=self._stop.is_set, shared=shared)
        except Exception as exc:
            self._deliver(None, exc, genre, number)
        else:
            self._deliver(take, None, genre, number)

    def _deliver(self, take: Take | None, exc: BaseException | None, genre: str, number: int) -> None:
        from .ml.common import Cancelled, ModelError
        if isinstance(exc, Cancelled):
            return
        if exc is not None:
            if not isinstance(exc, (ModelError, ValueError, OSError, ImportError)):
                exc_text = f"{type(exc).__name__}: {exc}"            # a bug, or a worker process that died
            else:
                exc_text = str(exc) or type(exc).__name__
            with self._lock:
                self.errors[(genre, number)] = exc_text
            if self.on_error:
                self.on_error(genre, number, exc_text)
            return
        with self._lock:
            self.results[take.key] = take
            self.seconds = time.perf_counter() - self._t0
        if self.on_take and not self._stop.is_set():
            self.on_take(take)

    @property
    def done(self) -> bool:
        return bool(self._futures) and all(f.done() for f in self._futures)

    def cancel(self) -> None:
        """Any thread: pending jobs are dropped, running ones stop at their next check."""
        self._stop.set()
        for f in self._futures + self._proc_futures:
            f.cancel()
        if self.backend == "process" and getattr(self, "_cancelled", None) is not None:
            with self._cancelled.get_lock():
                self._cancelled.value = max(self._cancelled.value, self._run_id)

    def wait(self, timeout: float | None = None) -> list[Take]:
        end = None if timeout is None else time.monotonic() + timeout
        for f in self._futures:
            left = None if end is None else max(0.0, end - time.monotonic())
            try:
                f.result(left)
            except Exception:          # timeouts: the results dict says what finished
                pass
        with self._lock:
            return [self.results[k] for k in sorted(self.results, key=self._order)]

    def _order(self, key: tuple[str, int]) -> tuple[int, int]:
        return (self.genres.index(key[0]) if key[0] in self.genres else len(self.genres), key[1])


def run_audition(song: Song, genres: Sequence[str] | None = None, takes: int = 4, seed: int = 0,
                 max_workers: int | None = None, on_take=None, backend: str = "thread") -> list[Take]:
    """Blocking: every genre (default: all installed) x ``takes``; raises the first error when nothing worked."""
    if genres is None:
        from .ml.gan.generate import available_genres
        genres = available_genres()
    run = AuditionRun(song, genres, takes, seed, max_workers, on_take, backend=backend).start()
    result = run.wait()
    if not result and run.errors:
        raise AuditionError(next(iter(run.errors.values())))
    return result
