"""Training studio runner: trains a GAN genre in a separate process and reports structured events on a queue.

Plain Python, no Qt (``ui/training.py`` polls :meth:`TrainingJob.poll` from a timer). A run lives in its own
folder (``runs_dir()/<name>/``: ``run.json``, ``data.npz``, ``melody.mid``, ``gan-<name>.pt/.state/.log``,
``checkpoints.jsonl`` + ``samples/`` (``training_records``: each checkpoint's figures and sample, shown again on a
resume), and ``running.lock``, locked while a job runs it, so that no second job of that name starts over it);
when it finishes, the model and a card are copied into the user's model folder, so the genre joins the list.
Pause stops at the next step and keeps the folder (resume later, also after a restart; a pause before the first
checkpoint has nothing to keep and removes it); Cancel removes it, and so does a finished install.
Folder scanning (what the UI shows before training) lives in :mod:`training_data`.
"""
from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import os
import queue as queue_mod
import re
import shutil
import time
import traceback
from dataclasses import dataclass, field, fields
from pathlib import Path

from .ml.common import Cancelled, ModelError, check_stop

EVAL_WINDOWS = 4          # held-out melodies whose arrangement is measured at every checkpoint
SAMPLE_BARS = 16          # the user's melody is cut to this many bars for the sample arrangement


# --- events (child -> parent) ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataReady:
    """The training data is read: windows trained on (8-bar pieces), songs (all of them), held-out windows (not
    trained on, used for the metrics), accompaniment tracks, and how many of the songs are held out."""
    windows: int
    songs: int
    held_out: int
    tracks: list
    held_songs: int = 0


@dataclass(frozen=True)
class Reference:
    """Metrics of the real accompaniment of the held-out melodies (computed once): the reference lines."""
    figures: dict


@dataclass(frozen=True)
class Progress:
    fraction: float
    message: str
    iteration: int = 0
    eta_sec: float | None = None


@dataclass(frozen=True)
class Losses:
    """One line of the trainer's log: smoothed losses at ``iteration`` (generator steps)."""
    iteration: int
    total: int
    epoch: float
    wdist: float          # critic's estimate of the Wasserstein distance real vs generated
    gp: float             # gradient penalty
    adv: float            # generator's adversarial loss (-critic score of its output)
    rec: float            # reconstruction loss against the real accompaniment
    rate: float           # iterations per second


@dataclass(frozen=True)
class Checkpoint:
    """A model was saved: metrics of its arrangements of the held-out melodies and a sample of the user's melody."""
    iteration: int
    epoch: float
    model_path: str
    figures: dict
    sample: object = None          # core.song.Song or None
    final: bool = False


@dataclass(frozen=True)
class LogLine:
    text: str


@dataclass(frozen=True)
class Finished:
    """The child is done: status is "done", "paused", "cancelled" or "failed"; ``message`` is for the user."""
    status: str
    message: str
    model_path: str = ""
    name: str = ""
    iteration: int = 0


# --- what to train ------------------------------------------------------------------------------------------------
@dataclass
class TrainingSpec:
    """Everything a run needs. ``source`` is a folder of MIDI files or a ``.npz`` genre cache (built-in set);
    ``melody_overrides`` maps a file (relative to the folder) to the index of its melody track."""

    name: str
    source: str
    melody_overrides: dict = field(default_factory=dict)
    preset: str = "small"
    epochs: int = 20
    lr: float = 5e-4
    update_ratio: int = 2
    batch_size: int = 16
    sample_every: int = 2          # epochs between checkpoints (each brings metrics and a sample)
    checkpoint_seconds: float = 300.0
    device: str = "auto"
    threads: int = 1
    max_iterations: int = 0
    eval_windows: int = EVAL_WINDOWS
    init_from: str = ""            # an installed GAN model to start from (its network size decides the preset)
    melody: object = None          # core.song.Song to arrange at each checkpoint (not stored in run.json)

    def overrides(self) -> dict:
        return {"epochs": int(self.epochs), "lr": float(self.lr), "update_ratio": int(self.update_ratio),
                "batch_size": int(self.batch_size), "checkpoint_every": max(1, int(self.sample_every)),
                "checkpoint_seconds": float(self.checkpoint_seconds), "samples": 0,
                "max_iterations": int(self.max_iterations)}      # no time limit (the trainer logs every 2 s)

    def to_json(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "melody"}
        d["melody_overrides"] = {str(k): int(v) for k, v in self.melody_overrides.items()}
        return d

    @classmethod
    def from_json(cls, d: dict) -> "TrainingSpec":
        names = {f.name for f in fields(cls)} - {"melody"}
        return cls(**{k: v for k, v in d.items() if k in names})


def runs_dir() -> Path:
    """Where unfinished runs live: a hidden folder inside the user's model folder (the registry ignores it)."""
    from .ml.registry import user_models_dir
    return user_models_dir() / ".training"


def paused_runs(folder: Path | None = None) -> list[Path]:
    """Run folders that can be resumed (a ``run.json`` and a resume file), newest first."""
    folder = Path(folder) if folder else runs_dir()
    if not folder.is_dir():
        return []
    runs = [p for p in folder.iterdir() if (p / "run.json").is_file() and any(p.glob("gan-*.state"))]
    return sorted(runs, key=lambda p: -p.stat().st_mtime)


def logged_losses(run_dir) -> list:
    """The Losses lines of a run's log (to redraw the plot when a paused run is resumed after a restart)."""
    out = []
    for log in Path(run_dir).glob("gan-*.log"):
        try:
            text = log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            m = LOSS_RE.search(line)
            if m:
                g = m.groups()
                out.append(Losses(int(g[0]), int(g[1]), float(g[2]), *(float(x) for x in g[3:7]), float(g[7])))
    return out


# --- parent side ---------------------------------------------------------------------------------------------------
class TrainingJob:
    """One training run in a child process (multiprocessing, spawn context).

    Threads: every method runs on the caller's thread (the GUI thread in the app); the training runs in the
    child process, which only talks through the event queue and two flags (pause, cancel).
    """

    def __init__(self, spec: TrainingSpec, folder: Path | None = None) -> None:
        from .ml.gan.train import NAME_RE
        if not NAME_RE.match(spec.name or ""):
            raise ModelError("Name the genre with lower-case letters, digits, '-' or '_' (e.g. my-genre)")
        self.spec = spec
        self.run_dir = Path(folder) if folder else runs_dir() / spec.name
        self._ctx = mp.get_context("spawn")
        self._proc = None
        self._queue = None
        self._pause = self._cancel = None
        self._lock = None               # the run folder's lock file, held while this job's run is live
        self.finished: Finished | None = None

    @classmethod
    def from_run(cls, run_dir) -> "TrainingJob":
        """A paused run, to resume with ``start(resume=True)``. Raises ModelError when it cannot be read."""
        run_dir = Path(run_dir)
        try:
            spec = TrainingSpec.from_json(json.loads((run_dir / "run.json").read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise ModelError(f"The paused training in {run_dir} cannot be read ({type(exc).__name__})") from None
        mel = run_dir / "melody.mid"
        if mel.is_file():
            try:
                from .midi.io import read_midi
                spec.melody = read_midi(mel)
            except Exception:                       # the sample melody is a convenience
                spec.melody = None
        return cls(spec, run_dir)

    @property
    def running(self) -> bool:
        """True from ``start`` until the Finished event arrives (the process may take a moment more to exit)."""
        return self._proc is not None and self.finished is None and self._proc.is_alive()

    def start(self, resume: bool = False) -> None:
        """Start the child process (returns at once). With ``resume`` the run goes on from its resume file (and its
        own copy of the data: the MIDI folder may have moved since). Raises ModelError when it cannot start."""
        if self.running:
            raise ModelError("This training is already running")
        src = os.fspath(self.spec.source or "")
        own_data = resume and (self.run_dir / "data.npz").is_file()     # a paused run goes on with its own copy
        if not (own_data or os.path.isdir(src) or (src.lower().endswith(".npz") and os.path.isfile(src))):
            raise ModelError(f"No training data at {src or '(nothing chosen)'}: pick a folder of MIDI files or a "
                             f"built-in data set")
        if resume and not any(self.run_dir.glob("gan-*.state")):
            raise ModelError(f"There is nothing to resume in {self.run_dir}")
        if not resume:
            refuse_builtin_name(self.spec.name)
        self._lock = lock_run(self.run_dir)
        if self._lock is None:
            raise ModelError(f"The training '{self.spec.name}' is already running (in this or another window of the "
                             f"app): pause or cancel it there first, or train under another name")
        try:
            self._start(resume)
        except BaseException:
            self._unlock()
            raise

    def _start(self, resume: bool) -> None:
        if not resume:                                          # a fresh run replaces an old paused one
            for old in self.run_dir.iterdir():                  # (its lock file stays: this job holds it)
                if old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
                elif old.name != LOCK_FILE:
                    old.unlink(missing_ok=True)
        (self.run_dir / "run.json").write_text(json.dumps(self.spec.to_json(), indent=1))
        if self.spec.melody is not None and not resume:
            try:
                from .midi.io import write_midi
                write_midi(self.spec.melody, self.run_dir / "melody.mid")
            except Exception:
                pass
        self.finished = None
        self._queue = self._ctx.Queue()
        self._pause, self._cancel = self._ctx.Event(), self._ctx.Event()
        self._proc = self._ctx.Process(target=child_main, name=f"train-{self.spec.name}", daemon=True,
                                       args=(self.spec, str(self.run_dir), resume, self._queue, self._pause,
                                             self._cancel, os.getpid()))
        self._proc.start()

    def pause(self) -> None:
        """Stop at the next step; the run folder (with its resume file) is kept."""
        if self._pause is not None:
            self._pause.set()

    def cancel(self) -> None:
        """Stop at the next step and throw the run away."""
        if self._cancel is not None:
            self._cancel.set()

    def poll(self) -> list:
        """Events that arrived since the last call (never blocks). Ends with a Finished event exactly once."""
        out = []
        if self._queue is None:
            return out
        while True:
            try:
                ev = self._queue.get_nowait()
            except queue_mod.Empty:
                break
            except Exception:  # noqa: BLE001 - a child killed mid-message leaves a broken pipe: treated as gone
                break
            out.append(ev)
            if isinstance(ev, Finished):
                self.finished = ev
                self._unlock()
        if self.finished is None and self._proc is not None and not self._proc.is_alive():
            try:                                 # the last events may still be in the pipe
                while True:
                    ev = self._queue.get(timeout=0.2)
                    out.append(ev)
                    if isinstance(ev, Finished):
                        self.finished = ev
                        break
            except Exception:  # noqa: BLE001 - Empty, or a broken pipe
                pass
            if self.finished is None:
                again = ("; press Resume to go on from the last checkpoint" if any(self.run_dir.glob("gan-*.state"))
                         else "")
                self.finished = Finished("failed", f"The training process stopped unexpectedly (exit code "
                                                   f"{self._proc.exitcode}){again}", name=self.spec.name)
                out.append(self.finished)
            self._unlock()
        if self.finished is not None and self._proc is not None:
            self._proc.join(timeout=0)           # reap it if it has exited; never block the caller
        return out

    def wait(self, timeout: float = 60.0, interval: float = 0.1) -> list:
        """Poll until Finished or ``timeout`` seconds (for scripts, tests and shutdown); returns the events."""
        events, end = [], time.monotonic() + timeout
        while self.finished is None and time.monotonic() < end:
            events += self.poll()
            if self.finished is None:
                time.sleep(interval)
        return events

    def kill(self) -> None:
        """Last resort (the child did not stop in time): terminate it; the last checkpoint stays on disk."""
        if self._proc is not None and self._proc.is_alive():
            self._proc.join(timeout=2)
        if self._proc is not None and self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(timeout=5)
        if self._proc is not None and not self._proc.is_alive():
            self._unlock()

    def _unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()                  # closing the file ends its lock
            self._lock = None


LOCK_FILE = "running.lock"


def lock_run(run_dir: Path):
    """Lock ``run_dir`` (made here if missing) for one live run: an open file holding an exclusive ``flock`` on
    ``LOCK_FILE``, which ends when it is closed or its process ends, however that happens. Returns None when another
    job (in this process or another) holds it. Where there is no ``fcntl`` (Windows) nothing is locked."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    fh = open(run_dir / LOCK_FILE, "a+")
    try:
        import fcntl
    except ImportError:                         # pragma: no cover - not POSIX
        return fh
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    return fh


def refuse_builtin_name(name: str) -> None:
    """Raise ModelError when a genre trained as ``name`` would take the place of a built-in one (as ``train`` refuses
    it without ``--overwrite``)."""
    from .ml.common import hides_shipped
    from .ml.registry import user_models_dir
    if hides_shipped(user_models_dir() / f"gan-{name}.pt"):
        raise ModelError(f"'{name}' is a built-in genre, and one trained under that name would take its place "
                         f"everywhere: choose another name")


# --- child side ----------------------------------------------------------------------------------------------------
LOSS_RE = re.compile(r"it (\d+)/(\d+) epoch ([\d.]+) wdist (\S+) gp (\S+) adv (\S+) rec (\S+) \| ([\d.]+) it/s")
SAVED_RE = re.compile(r"saved (\S+) at iteration (\d+) \(epoch ([\d.]+)\)( \[final\])?")
ITER_RE = re.compile(r"iteration (\d+)")


def child_main(spec: TrainingSpec, run_dir: str, resume: bool, q, pause_ev, cancel_ev,
               parent: int | None = None) -> None:
    """Entry point of the training process: never raises; always ends with one Finished event (unless the app
    itself dies: then the training ends too, its last checkpoint kept for Resume)."""
    from .child import exit_with_parent
    exit_with_parent(parent)
    try:
        os.nice(5)                                   # the app (GUI, audio) comes first
    except (AttributeError, OSError):
        pass
    state = {"iteration": 0}
    stop = lambda: pause_ev.is_set() or cancel_ev.is_set()  # noqa: E731
    run = Path(run_dir)
    try:
        path = _train(spec, run, resume, q.put, stop, state)
        q.put(Finished("done", f"'{spec.name}' is trained ({state['iteration']} iterations) and is now in the "
                               f"genre list", str(path), spec.name, state["iteration"]))
    except Cancelled:
        if cancel_ev.is_set():
            shutil.rmtree(run, ignore_errors=True)
            q.put(Finished("cancelled", "Training cancelled; nothing was kept", name=spec.name,
                           iteration=state["iteration"]))
        elif not any(run.glob("gan-*.state")):       # paused before the first checkpoint: nothing to go on from
            shutil.rmtree(run, ignore_errors=True)
            q.put(Finished("cancelled", "Stopped before the first checkpoint, so there is nothing to resume; "
                                        "press Train to start again", name=spec.name, iteration=state["iteration"]))
        else:
            q.put(Finished("paused", f"Paused at iteration {state['iteration']}; press Resume to go on",
                           name=spec.name, iteration=state["iteration"]))
    except (ModelError, ValueError) as exc:          # DataError and GanDataError are ValueErrors
        q.put(Finished("failed", str(exc), name=spec.name, iteration=state["iteration"]))
    except Exception as exc:  # noqa: BLE001 - reported to the user, the app goes on
        q.put(LogLine(traceback.format_exc()))
        q.put(Finished("failed", f"Training stopped: {type(exc).__name__}: {exc}", name=spec.name,
                       iteration=state["iteration"]))
    finally:
        q.close()
        q.join_thread()


def _train(spec: TrainingSpec, run: Path, resume: bool, put, stop, state: dict) -> Path:
    check_stop(stop)                                 # cancelled before it began: do not even load torch
    import numpy as np
    import torch
    torch.set_num_threads(max(1, int(spec.threads)))
    from .ml.gan.data import load_training_data, split_by_song
    from .ml.gan.evaluate import generated_figures, real_figures
    from .ml.gan.generate import load_model
    from .ml.gan.train import run_training
    from .training_data import build_data

    check_stop(stop)
    put(Progress(0.0, "reading the training data"))
    data_path = run / "data.npz"
    src = os.fspath(spec.source)
    if src.lower().endswith(".npz") and os.path.isfile(src):
        data_path = Path(src)
    elif not (resume and data_path.is_file()):
        def data_progress(frac: float, msg: str) -> None:
            put(Progress(0.0, msg))
        *_, rep = build_data(src, spec.melody_overrides, out=data_path, progress=data_progress, should_stop=stop)
        put(LogLine(f"{rep['songs']} songs, {rep['bars']} bars, {rep['windows']} windows; "
                    f"{len(rep['skipped'])} files skipped"))
    check_stop(stop)
    data = load_training_data(data_path)
    _, held = split_by_song(data)
    k = max(1, min(int(spec.eval_windows), len(held)))
    idx = held[np.linspace(0, len(held) - 1, k).round().astype(int)] if len(held) else np.arange(min(k, len(data)))
    put(DataReady(len(data) - len(held), len(set(data.song_id.tolist())), len(held), data.tracks,
                  len(set(data.song_id[held].tolist()))))
    reference = real_figures(data, idx)
    put(Reference(reference))
    last = {"figures": {}, "t0": None, "f0": 0.0, "sent": 0.0}

    def progress(frac: float, msg: str) -> None:
        m = ITER_RE.search(msg)
        if m:
            state["iteration"] = int(m.group(1))
        now = time.monotonic()
        if last["t0"] is None and m:
            last["t0"], last["f0"] = now, frac
        if now - last["sent"] < 0.25 and frac < 1.0:
            return
        last["sent"] = now
        eta = None
        if last["t0"] is not None and frac > last["f0"]:
            eta = (now - last["t0"]) / (frac - last["f0"]) * (1.0 - frac)
        put(Progress(frac, msg, state["iteration"], eta))

    def log(line: str) -> None:
        put(LogLine(line))
        m = LOSS_RE.search(line)
        if m:
            g = m.groups()
            put(Losses(int(g[0]), int(g[1]), float(g[2]), *(float(x) for x in g[3:7]), float(g[7])))
            return
        m = SAVED_RE.search(line)
        if m:
            model_path = run / m.group(1)
            state["iteration"] = int(m.group(2))
            final = bool(m.group(4))
            if last.get("ckpt") == state["iteration"] and not final:
                return
            last["ckpt"] = state["iteration"]         # the final save may repeat it: measured again (its decoding
            figures, sample = {}, None                # was fitted since), as the model that is installed
            if not stop():                       # a pause or cancel should not wait for the evaluation
                try:
                    model = load_model(model_path)
                    figures = generated_figures(model, data, idx)
                    if spec.melody is not None:
                        sample = arrange(model, spec.melody)
                except Exception as exc:  # noqa: BLE001 - never stop training for the preview
                    put(LogLine(f"could not evaluate the checkpoint: {type(exc).__name__}: {exc}"))
            last["figures"] = figures if final else figures or last["figures"]
            ev = Checkpoint(int(m.group(2)), float(m.group(3)), str(model_path), figures, sample, final)
            try:
                from .training_records import record_checkpoint
                record_checkpoint(run, ev)           # shown again when the run is resumed after a restart
            except Exception as exc:  # noqa: BLE001 - never stop training for the record
                put(LogLine(f"could not keep the checkpoint for a resume: {type(exc).__name__}: {exc}"))
            put(ev)

    preset = preset_for_model(spec.init_from) if spec.init_from else spec.preset
    model_path = run_training(data_path, spec.name, run, preset, spec.overrides(), spec.device, resume,
                              progress=progress, should_stop=stop, log=log, init_from=spec.init_from or None)
    check_stop(stop)                                 # stopped just after the last step: not installed
    return install(model_path, spec, data, reference, last["figures"], len(idx), run, held=len(held) > 0)


def preset_for_model(path) -> str:
    """The preset whose network a GAN model file has (so training can start from it); raises ModelError."""
    from .ml.checkpoint import load_checkpoint
    from .ml.gan.config import ARCH_PRESETS, GanArch
    payload = load_checkpoint(path, "gan")
    try:
        have = GanArch.from_dict(payload["model_args"])
    except (KeyError, TypeError, ValueError):
        have = None
    for preset in ("small", "default", "tiny"):
        if have is not None and have == GanArch(n_tracks=have.n_tracks, **ARCH_PRESETS.get(preset, {})):
            return preset
    raise ModelError(f"{Path(path).name} has a network the studio cannot start from; train from scratch instead")


def arrange(model, song, seed: int = 0, bars: int = SAMPLE_BARS):
    """The song's melody (its first ``bars`` bars) plus the model's accompaniment, as a new Song."""
    from .core.edits import rescale_track
    from .core.grid import roll_to_notes, track_to_roll
    from .core.song import Track
    from .ml.gan.generate import accompany_rolls, split_sections
    melody = song.melody
    if melody is None or not melody.notes:
        return None
    ppq = song.ppq if song.ppq % 4 == 0 else 480
    melody = melody if ppq == song.ppq else rescale_track(melody, song.ppq, ppq)
    steps = -(-melody.end_tick // (ppq // 4))
    steps = min(bars * 16, max(16, -(-steps // 16) * 16))        # whole bars of 16 steps
    roll, on = track_to_roll(melody, ppq, 4, steps)
    frames, onsets = accompany_rolls(model, roll > 0, on, seed=seed)
    cut = dataclasses.replace(melody, notes=tuple(n for n in melody.notes if n.start_tick < steps * (ppq // 4)))
    tracks = [cut]
    for i, info in enumerate(model.tracks):
        drum = bool(info.get("is_drum"))
        tracks.extend(split_sections(Track(
            name=str(info.get("name", f"Part {i + 1}")), program=int(info.get("program", 0)) % 128, is_drum=drum,
            notes=tuple(roll_to_notes(frames[i], ppq, 4, onsets=onsets[i], velocity=90 if drum else 80)),
            channel=9 if drum else None), info))
    return song.replace(tracks=tuple(tracks), melody_index=0, ppq=ppq)


def install(model_path: Path, spec: TrainingSpec, data, reference: dict, figures: dict, windows: int,
            run: Path, held: bool = True) -> Path:
    """Copy the finished model into the user's model folder with a card, then remove the run folder (the window
    already has the log, plots and samples: they came as events)."""
    from .ml.registry import user_models_dir
    dest_dir = user_models_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"gan-{spec.name}.pt"
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.copyfile(model_path, tmp)
    os.replace(tmp, dest)
    dest.with_suffix(".md").write_text(card_text(spec, data, reference, figures, windows, held), encoding="utf-8")
    shutil.rmtree(run, ignore_errors=True)
    return dest


def card_text(spec: TrainingSpec, data, reference: dict, figures: dict, windows: int, held: bool = True) -> str:
    """A short model card for a genre trained in the studio (``figures``: of the installed model; ``held``: measured
    on held-out songs, else, with one song, on windows it was trained on)."""
    from .ml.gan.evaluate import markdown_table
    songs = len(set(data.song_id.tolist()))
    src = os.path.basename(os.path.normpath(spec.source)) or spec.source
    lines = [f"# GAN accompaniment: {spec.name}", "",
             f"Your own genre '{spec.name}', trained in the Training studio on {src} ({songs} songs, "
             f"{len(data)} 8-bar windows).", "", "## Tracks", ""]
    lines += [f"- {t.get('name')}: GM program {t.get('program')}" + (" (drums)" if t.get("is_drum") else "")
              + (f" — {t.get('origin')}" if t.get("origin") else "") for t in data.tracks]
    lines += ["", "## Training", "", f"- Data: `{spec.source}` (the user's own files; their licence applies)",
              f"- Preset {spec.preset}, {spec.epochs} epoch{'' if spec.epochs == 1 else 's'}, "
              f"learning rate {spec.lr:g}, {spec.update_ratio} critic steps per generator step, batch {spec.batch_size}, device {spec.device}",
              f"- Finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", ""]
    if figures and held:
        lines += ["## Metrics on held-out melodies", "",
                  f"{windows} held-out 8-bar windows: this model's accompaniment next to the real one.", "",
                  markdown_table(reference, {"this model": figures}), ""]
    elif figures:
        lines += ["## Metrics on training melodies", "",
                  f"One song, so none was held out: {windows} 8-bar windows it was trained on, this model's "
                  "accompaniment next to the real one (train on more songs for a fair measure).", "",
                  markdown_table(reference, {"this model": figures}), ""]
    return "\n".join(lines)

