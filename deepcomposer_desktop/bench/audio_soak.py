"""The issue's soak test: drop-outs during long playback while a generation runs and the piano roll repaints.

`DEEPCOMPOSER_BENCH_AUDIO_SOAK=600 deepcomposer bench audio` plays a steady organ chord through FluidSynth's own
driver into the PulseAudio null sink for that many seconds, while a worker thread generates GAN accompaniments
back to back (torch, one thread) and the GUI thread repaints a 10 000-note piano roll at ~60 frames a second
(offscreen Qt); the sink's monitor is recorded and every run of >= 16 silent frames counts as a drop-out.
"""
from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

from . import Figure


def soak(seconds: float) -> list[Figure]:
    from .audio import SR, _glitches, _pulse_env, _recording, _wait_clock, organ_song
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
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "soak.raw"
            with _recording(path):
                worker = threading.Thread(target=generate_forever, daemon=True)
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
                time.sleep(0.2)
            glitches, silent = _glitches(path, seconds)
    finally:
        stop.set()
        eng.close()
        editor.close()
    figs.append(Figure(f"soak {seconds:g} s: drop-outs while generating and repainting", glitches, "drop-outs",
                       "0"))
    figs.append(Figure("soak: time lost to drop-outs", 100 * silent, "%", "0"))
    figs.append(Figure("soak: GAN accompaniments generated meanwhile", generations[0], ""))
    figs.append(Figure("soak: piano-roll frames painted meanwhile (10 000 notes)", frames, ""))
    figs.append(Figure("soak: events handed to the synth late", late, "events", "0"))
    return figs
