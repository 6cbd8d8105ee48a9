"""The issue's soak test: drop-outs during long playback while a generation runs and the piano roll repaints.

`DEEPCOMPOSER_BENCH_AUDIO_SOAK=600 deepcomposer bench audio` plays a steady organ chord through FluidSynth's own
driver into the PulseAudio null sink for that many seconds, while a worker thread generates GAN accompaniments
back to back (torch, one thread) and the GUI thread repaints a 10 000-note piano roll at ~60 frames a second
(offscreen Qt); the sink's monitor is recorded and every run of >= 16 silent frames counts as a drop-out.

A control runs beside it: ``pacat`` (PulseAudio's own C client, no Python, no FluidSynth) plays a steady sine chord
into a second null sink with the same buffer (2 x 192 frames) and the same real-time priority as our audio feeder,
recorded the same way. Drop-outs that both streams show at the same moment come from the machine (a stalled
virtual CPU, the sound server), not from the engine.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from . import Figure


REFERENCE_SINK = "reference"
COINCIDE_S = 0.25          # drop-outs of the two streams this close in time count as the same event
CONTROL_MARGIN_S = 2.5     # the control starts this long before the soak and stops this long after: its sink only
                           # runs (and is recorded) while it plays, and a PulseAudio stream's first second or two
                           # may stutter while it fills its tiny buffer; the comparison skips that start


def _pactl(*args: str) -> str:
    return subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=10).stdout.strip()


def sine_chord(seconds: float, sr: int) -> np.ndarray:
    """A steady 4-note chord (stereo int16), never silent for even a few frames."""
    t = np.arange(int(seconds * sr)) / sr
    x = sum(np.sin(2 * np.pi * f * t + k) for k, f in enumerate((130.81, 164.81, 196.0, 261.63))) * 0.03 + 0.05
    x = np.round(x * 32767).astype("<i2")           # a small DC offset keeps every sample away from zero
    return np.repeat(x[:, None], 2, axis=1)


@contextlib.contextmanager
def reference_sink(sr: int):
    """A second null sink for the control stream; yields its name, or None when PulseAudio's tools are missing.
    The sink is always removed."""
    import shutil
    if shutil.which("pacat") is None or shutil.which("pactl") is None:
        yield None
        return
    module = _pactl("load-module", "module-null-sink", f"sink_name={REFERENCE_SINK}", f"rate={sr}")
    try:
        yield REFERENCE_SINK if module.isdigit() else None
    finally:
        if module.isdigit():
            _pactl("unload-module", module)


class ReferencePlayer:
    """``pacat`` playing a raw s16 stereo file into ``sink`` with a buffer of ``latency_frames``, at real-time
    ``priority`` (as our audio feeder) when the system allows it."""

    def __init__(self, data: Path, sink: str, latency_frames: int, sr: int, priority: int = 20) -> None:
        self.args = ["pacat", "--playback", "-d", sink, "--raw", "--format=s16le", f"--rate={sr}", "--channels=2",
                     f"--latency={latency_frames * 4}", str(data)]
        self.priority = priority
        self.proc = None

    def start(self) -> None:
        from .audio import _realtime
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _realtime(self.proc.pid, self.priority)

    def stop(self) -> None:
        from .audio import _stop
        if self.proc is not None:
            _stop(self.proc)


def coinciding(a, b, window: float = COINCIDE_S) -> int:
    """How many times in ``a`` have a time in ``b`` within ``window`` seconds."""
    b = np.sort(np.asarray(b, float))
    if not len(b):
        return 0
    i = np.clip(np.searchsorted(b, a), 1, len(b)) if len(b) > 1 else np.zeros(len(a), int)
    near = np.minimum(np.abs(b[np.clip(i - 1, 0, len(b) - 1)] - a), np.abs(b[np.clip(i, 0, len(b) - 1)] - a))
    return int(np.sum(near <= window))


def clock_offset(a, b, window: float = COINCIDE_S, within: float = 3.0) -> float:
    """The shift of ``b`` (within +-``within`` s) that lines up the most of its times with ``a``'s: the two
    recordings' clocks differ by their recorders' start-up (a sink that was idle wakes up late), which no timing on
    this side sees. 0.0 when nothing lines up."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    shifts = [d for d in (a[:, None] - b[None, :]).ravel() if abs(d) <= within] if len(a) and len(b) else []
    if not shifts:
        return 0.0
    return float(max(shifts, key=lambda d: (coinciding(a, b + d, window), -abs(d))))


def _moments(times) -> str:
    """Up to 12 times as "12.3, 45.6 ..." ("none" for none)."""
    times = [t for t in np.asarray(times, float) if t >= 0]
    return ", ".join(f"{t:.2f}" for t in times[:12]) + (" ..." if len(times) > 12 else "") if times else "none"


def soak(seconds: float) -> list[Figure]:
    from .audio import SR, _attack_sec, _count, _dropouts, _pulse_env, _recording, _wait_clock, organ_song
    from ..audio.engine import PlaybackEngine
    if not _pulse_env():
        return [Figure("soak not run: no PulseAudio server (run .ci/audio_setup.sh)", float("nan"), "", "0")]
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from ..core.song import Song
    from ..ui.piano_roll import PianoRollEditor
    from .gui import dense_track   # the GUI bench's 10 000-note track
    app = QApplication.instance() or QApplication([])
    editor = PianoRollEditor()
    editor.resize(1600, 900)
    editor.set_song(Song(tracks=(dense_track(10_000, 1),)), 0)
    editor.show()

    stop = threading.Event()
    generations = [0]

    def generate_forever() -> None:
        import torch
        torch.set_num_threads(1)
        from ..ml.gan.generate import accompany, available_genres
        from ..samples import load_sample
        genres = available_genres() or ["chorale"]
        song = load_sample("ode_to_joy")
        while not stop.is_set():
            accompany(song, genres[generations[0] % len(genres)], seed=generations[0])
            generations[0] += 1

    eng = PlaybackEngine(samplerate=SR)
    figs: list[Figure] = []
    try:
        if eng.output is None or eng.output.driver != "pulseaudio":
            return [Figure("soak not run: no PulseAudio output (" + (eng.problem or "?") + ")", float("nan"), "",
                           "0")]
        eng.set_song(organ_song(seconds + 1.0))
        _wait_clock(eng)
        with tempfile.TemporaryDirectory() as tmp, reference_sink(SR) as ref_sink, contextlib.ExitStack() as rec:
            path, ref_path = Path(tmp) / "soak.raw", Path(tmp) / "reference.raw"
            t_rec = rec.enter_context(_recording(path))
            player = None
            if ref_sink:
                data = Path(tmp) / "reference.s16"
                sine_chord(seconds + 3 * CONTROL_MARGIN_S, SR).tofile(data)
                t_ref_rec = rec.enter_context(_recording(ref_path, ref_sink))
                player = ReferencePlayer(data, ref_sink, eng.blocksize * eng.periods, SR)
            worker = threading.Thread(target=generate_forever, daemon=True)
            if player:
                player.start()
                time.sleep(CONTROL_MARGIN_S)
            eng.play(0)
            worker.start()
            frames, t_end = 0, time.monotonic() + seconds
            playhead = 0
            while time.monotonic() < t_end:
                playhead = (playhead + 40) % 200_000
                editor.set_playhead(playhead)
                editor.repaint()
                app.processEvents()
                frames += 1
                time.sleep(1 / 60)
            stop.set()
            worker.join(timeout=30)
            late = eng.late_events
            eng.stop()
            if player:
                time.sleep(CONTROL_MARGIN_S)
                player.stop()
            time.sleep(0.2)
            rec.close()
            starts, silent = _dropouts(path, seconds)            # a 10-minute recording: read once
            glitches = _count(starts)
            ref = None
            if player:
                ref_starts, ref_silent = _dropouts(ref_path, seconds + CONTROL_MARGIN_S - 0.5,
                                                   skip=CONTROL_MARGIN_S - 0.5)
                # on one clock: each recording's start, then its chord's attack in it (timing the play calls
                # instead missed by the two streams' different start-up delays)
                ours = starts + t_rec + _attack_sec(path)
                theirs = ref_starts + t_ref_rec + _attack_sec(ref_path)
                shift = clock_offset(ours, theirs)
                ref = (_count(ref_starts), ref_silent, coinciding(ours, theirs + shift), ours - t_rec,
                       theirs - t_rec, shift, len(ours) * len(theirs) * 2 * COINCIDE_S / max(seconds, 1.0))
    finally:
        stop.set()
        eng.close()
        editor.close()
    figs.append(Figure(f"soak {seconds:g} s: drop-outs while generating and repainting", glitches, "drop-outs",
                       "0"))
    figs.append(Figure("soak: time lost to drop-outs", 100 * silent, "%", "0"))
    if ref is None:
        figs.append(Figure("soak control not run: no pacat / pactl", float("nan"), "", ""))
    else:
        figs.append(Figure("soak control: pacat (C client) playing a sine chord, same buffer and priority, same time",
                           ref[0], "drop-outs", ""))
        figs.append(Figure("soak control: time lost to drop-outs", 100 * ref[1], "%", ""))
        figs.append(Figure(f"soak: our drop-outs within {COINCIDE_S:g} s of a control drop-out (its recording's clock "
                           f"shifted {ref[5]:+.2f} s to line up; by chance ~{ref[6]:.1g})", ref[2], "drop-outs", ""))
        figs.append(Figure("soak: when (s into the recording): ours " + _moments(ref[3]) + "; the control's "
                           + _moments(ref[4]), float("nan"), ""))
    figs.append(Figure("soak: GAN accompaniments generated meanwhile", generations[0], ""))
    figs.append(Figure("soak: piano-roll frames painted meanwhile (10 000 notes)", frames, ""))
    figs.append(Figure("soak: events handed to the synth late", late, "events", "0"))
    return figs
