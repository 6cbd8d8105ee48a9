"""What a training run keeps of its checkpoints in its run folder, so that a resume after a restart shows them
again: ``checkpoints.jsonl`` (one JSON line per checkpoint the child reported, append-only) and ``samples/`` (each
checkpoint's sample arrangement as a MIDI file). Written by the training child (``training_process._train``), read
by the Training studio (``ui/training.py``). No Qt, no torch."""
from __future__ import annotations

import json
import os
from pathlib import Path

from .training_process import Checkpoint

CHECKPOINTS_FILE = "checkpoints.jsonl"      # one JSON line per checkpoint the child reported (append-only)
SAMPLES_DIR = "samples"                     # their sample arrangements: sample-<iteration>.mid


def record_checkpoint(run_dir, ev: Checkpoint) -> None:
    """Keep a checkpoint the child reports in its run folder, so that a resume after a restart shows it again: the
    sample as ``samples/sample-<iteration>.mid`` (written atomically), then one line appended to
    ``checkpoints.jsonl`` (iteration, epoch, final, model file relative to the run folder, figures, sample file).
    A checkpoint with nothing to show (the unmeasured save of a pause) is not kept. Raises OSError, and
    ValueError or TypeError for figures that are not numbers."""
    if not ev.figures and ev.sample is None:
        return
    run = Path(run_dir)
    rec = {"iteration": int(ev.iteration), "epoch": float(ev.epoch), "final": bool(ev.final),
           "model": _relative(ev.model_path, run), "figures": {str(k): float(v) for k, v in ev.figures.items()}}
    if ev.sample is not None:
        from .midi.io import write_midi
        rec["sample"] = f"{SAMPLES_DIR}/sample-{int(ev.iteration)}.mid"
        rec["melody_index"] = int(ev.sample.melody_index)
        (run / SAMPLES_DIR).mkdir(parents=True, exist_ok=True)
        write_midi(ev.sample, run / rec["sample"])
    _append_line(run / CHECKPOINTS_FILE, json.dumps(rec))


def logged_checkpoints(run_dir) -> list[Checkpoint]:
    """The checkpoints kept by :func:`record_checkpoint`, as the Checkpoint events the child sent, by iteration (to
    redraw the metric plots and the sample list when a paused run is resumed after a restart). A later record of an
    iteration replaces an earlier one (the final re-measure); a damaged line is skipped, and so is a sample file that
    is missing or unreadable (its figures still count). Never raises."""
    run = Path(run_dir)
    try:
        text = (run / CHECKPOINTS_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    kept: dict[int, Checkpoint] = {}
    for line in text.splitlines():
        ev = _checkpoint_from(line, run)
        if ev is not None:
            kept[ev.iteration] = ev
    return [kept[k] for k in sorted(kept)]


def _checkpoint_from(line: str, run: Path) -> Checkpoint | None:
    """One line of ``checkpoints.jsonl`` as a Checkpoint; None when it is damaged or has nothing left to show."""
    try:
        rec = json.loads(line)
        figures = {str(k): float(v) for k, v in rec.get("figures", {}).items()}
        iteration, epoch, final = int(rec["iteration"]), float(rec["epoch"]), bool(rec.get("final"))
        model = str(run / str(rec.get("model", "")))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None
    sample = _read_sample(run, rec.get("sample"), rec.get("melody_index"))
    if not figures and sample is None:
        return None
    return Checkpoint(iteration, epoch, model, figures, sample, final)


def _read_sample(run: Path, name, melody_index):
    """The sample Song kept as ``run/name`` (its melody track as it was), or None when there is none to read."""
    if not isinstance(name, str) or not name:
        return None
    from .midi.io import read_midi
    try:
        song = read_midi(run / name)
    except Exception:  # noqa: BLE001 - missing or damaged (MidiFileError, OSError): the figures still count
        return None
    if isinstance(melody_index, int) and 0 <= melody_index < len(song.tracks):
        song = song.replace(melody_index=melody_index)
    return song


def _relative(path, run: Path) -> str:
    """``path`` relative to the run folder (a file elsewhere: its name), in ``/`` form."""
    try:
        return Path(path).resolve().relative_to(run.resolve()).as_posix()
    except (ValueError, OSError):
        return Path(path).name


def _append_line(path: Path, line: str) -> None:
    """Append ``line`` and make it durable; a last line a crash cut short is ended first, so that it stays one
    damaged line and the new one reads."""
    with open(path, "a+b") as fh:
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        if end:
            fh.seek(end - 1)
            ended = fh.read(1) == b"\n"
        else:
            ended = True
        fh.write((b"" if ended else b"\n") + line.encode("utf-8") + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
