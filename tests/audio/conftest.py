"""Audio test fixtures: a small real soundfont, a real FluidSynth (never mocked), an offline runner that drives the
Scheduler exactly as the engine does, and a PulseAudio null sink for the real-time comparison."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from deepcomposer_desktop.audio.synth import library_problem

REPO = Path(__file__).resolve().parents[2]
PULSE_DIR = Path(os.environ.get("DC_PULSE_DIR", "/tmp/deepcomposer-pulse"))


def _small_soundfont() -> str | None:
    import importlib.util
    spec = importlib.util.find_spec("pretty_midi")
    if spec and spec.origin:
        p = Path(spec.origin).parent / "TimGM6mb.sf2"
        if p.is_file():
            return str(p)
    return None


@pytest.fixture(scope="session")
def fluid():
    problem = library_problem()
    if problem:
        pytest.skip(f"libfluidsynth missing: {problem}")


@pytest.fixture(scope="session")
def soundfont(fluid) -> str:
    """TimGM6mb (6 MB, loads in ~0.1 s) keeps the suite fast; the tests do not depend on which GM font it is."""
    sf = _small_soundfont()
    if sf is None:
        from deepcomposer_desktop.audio.soundfont import find_soundfont
        path, problem = find_soundfont()
        if path is None:
            pytest.skip(problem)
        sf = str(path)
    return sf


def _pulse_ok(env) -> bool:
    try:
        return subprocess.run(["pactl", "info"], env=env, capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def pulse_server():
    """PULSE_SERVER of a running PulseAudio with a null sink: the one `.ci/audio_setup.sh` started, or one this
    fixture starts the same way. Skips (with the reason) when PulseAudio cannot run here."""
    if shutil.which("pactl") is None or shutil.which("pulseaudio") is None:
        pytest.skip("PulseAudio is not installed (apt install pulseaudio pulseaudio-utils libasound2-plugins, "
                    "or run .ci/audio_setup.sh)")
    server = os.environ.get("PULSE_SERVER") or f"unix:{PULSE_DIR}/pulse/native"
    env = dict(os.environ, PULSE_SERVER=server)
    if not _pulse_ok(env):
        script = REPO / ".ci" / "audio_setup.sh"
        out = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, DC_PULSE_DIR=str(PULSE_DIR)))
        server = f"unix:{PULSE_DIR}/pulse/native"
        env = dict(os.environ, PULSE_SERVER=server)
        if not _pulse_ok(env):
            pytest.skip(f"could not start a PulseAudio null sink: {out.stdout.strip()} {out.stderr.strip()}")
    sinks = subprocess.run(["pactl", "list", "short", "sinks"], env=env, capture_output=True, text=True).stdout
    if "null" not in sinks:
        subprocess.run(["pactl", "load-module", "module-null-sink", "sink_name=null", "rate=48000"], env=env,
                       capture_output=True)
    os.environ["PULSE_SERVER"] = server
    return server


class Capture:
    """Records what the null sink plays (its monitor source) with parec, as float32 stereo at 48 kHz."""

    def __init__(self, server: str, path: Path) -> None:
        self.path = path
        self.fh = open(path, "wb")
        self.proc = subprocess.Popen(["parec", "-d", "null.monitor", "--raw", "--format=float32le", "--rate=48000",
                                      "--channels=2", "--latency-msec=50"], stdout=self.fh,
                                     env=dict(os.environ, PULSE_SERVER=server))
        time.sleep(0.3)

    def stop(self) -> np.ndarray:
        self.proc.terminate()
        self.proc.wait(timeout=5)
        self.fh.close()
        data = np.fromfile(self.path, dtype="<f4")
        return data[: len(data) // 2 * 2].reshape(-1, 2)


@pytest.fixture
def capture(pulse_server, tmp_path):
    if shutil.which("parec") is None:
        pytest.skip("parec (pulseaudio-utils) is not installed")
    caps = []

    def start() -> Capture:
        cap = Capture(pulse_server, tmp_path / f"cap{len(caps)}.raw")
        caps.append(cap)
        return cap
    yield start
    for c in caps:
        if c.proc.poll() is None:
            c.proc.kill()


@pytest.fixture
def null_engine(soundfont):
    """A real PlaybackEngine on the silent output (no device needed), closed after the test."""
    from deepcomposer_desktop.audio.engine import PlaybackEngine
    eng = PlaybackEngine(soundfont=soundfont, device="null")
    yield eng
    eng.close()
