"""`deepcomposer bench audio`: offline render speed, live-note latency, per-block CPU share, and underruns of both
real-time designs while another thread does heavy Python work.

Design (a): sounddevice callback in Python renders block by block, events at sample offsets (``CallbackPlayer``).
Design (b): FluidSynth's own audio thread, events scheduled ahead through its sequencer (``PlaybackEngine``).
Underruns are counted from what the PulseAudio null sink really played (its monitor, recorded with parec): a
sustained organ chord that drops out for >= 16 frames is one glitch. Length of each playback run:
``$DEEPCOMPOSER_BENCH_AUDIO_SECONDS`` (default 30 s, 3 s with --quick; the issue's full check is 600).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from . import Figure

SR = 48000
BLOCK = 192               # the engine's default block (x 2 periods)
PULSE_SOCKET = Path(os.environ.get("DC_PULSE_DIR", "/tmp/deepcomposer-pulse")) / "pulse" / "native"


def four_track_song(bars: int = 8):
    from ..core.song import Note, Song, TempoChange, Track
    ppq, bar = 480, 1920
    mel = [Note.make(72 + (i * 5) % 12, i * 240, 220, 100) for i in range(bars * 8)]
    chords = [Note.make(p, b * bar, bar, 80) for b in range(bars) for p in (60, 64, 67)]
    bass = [Note.make(36 + (b % 4) * 2, b * bar + q * 480, 440, 100) for b in range(bars) for q in range(4)]
    drums = [Note.make(36 if q % 2 == 0 else 38, b * bar + q * 480, 120, 110) for b in range(bars) for q in range(4)]
    drums += [Note.make(42, i * 240, 60, 80) for i in range(bars * 8)]
    return Song(tracks=(Track("Melody", 0, notes=tuple(mel)), Track("Chords", 48, notes=tuple(chords)),
                        Track("Bass", 33, notes=tuple(bass)), Track("Drums", 0, True, tuple(drums))),
                ppq=ppq, tempos=(TempoChange(0, 120.0),))


def organ_song(seconds: float):
    from ..core.song import Note, Song, TempoChange, Track
    ticks = int(seconds * 960)
    return Song(tracks=(Track("Organ", 16, notes=tuple(Note.make(p, 0, ticks, 100) for p in (48, 55, 60, 64))),),
                tempos=(TempoChange(0, 120.0),))


class BusyPython:
    """A thread that parses MIDI with mido in a loop: pure Python holding the GIL, like a parser or a model's
    pre-processing would."""

    def __init__(self) -> None:
        from ..midi.io import midi_bytes
        self.data = midi_bytes(four_track_song(8))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import io

        import mido
        while not self.stop.is_set():
            mido.MidiFile(file=io.BytesIO(self.data))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def _pulse_env() -> bool:
    """Point clients at a running PulseAudio (CI's null sink) if there is one."""
    if os.environ.get("PULSE_SERVER"):
        return True
    if PULSE_SOCKET.exists():
        os.environ["PULSE_SERVER"] = f"unix:{PULSE_SOCKET}"
        return True
    return bool(os.environ.get("XDG_RUNTIME_DIR")) and Path(os.environ["XDG_RUNTIME_DIR"], "pulse", "native").exists()


def _realtime(pid: int, priority: int) -> None:
    """Round-robin real-time ``priority`` for process ``pid`` where the system allows it (silently not elsewhere)."""
    try:
        os.sched_setscheduler(pid, os.SCHED_RR, os.sched_param(priority))
    except (AttributeError, OSError):
        pass


def _stop(proc: subprocess.Popen) -> None:
    """Terminate a helper process, killing it if it does not end within 5 s."""
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def _recording(path: Path, sink: str = "null"):
    """Record a null sink's monitor into ``path`` for the duration of the block; yields the monotonic time the
    recorder was started (the file's first frame, give or take the recorder's own start-up, the same for every
    recording). The recorder (a real-time process) is always stopped, even when the run fails: left running, it
    competes with the audio path."""
    fh = open(path, "wb")
    started = time.monotonic()
    proc = subprocess.Popen(["parec", "-d", f"{sink}.monitor", "--raw", "--format=float32le", "--rate=48000",
                             "--channels=2", "--latency-msec=500"], stdout=fh, stderr=subprocess.DEVNULL)
    try:
        _realtime(proc.pid, 40)        # the recorder must not be what drops out
        time.sleep(0.3)
        yield started
    finally:
        _stop(proc)
        fh.close()


ONSET_LEVEL = 0.02            # the organ chord peaks near 0.1; a dying reverb tail stays below 0.01


def _dropouts(path: Path, seconds: float, skip: float = 0.5) -> tuple[np.ndarray, float]:
    """(start of each drop-out in seconds after the sound's attack, share of time silent) in the steady part of a
    recorded chord: from ``skip`` s after it starts to 0.25 s before ``seconds``. A drop-out is a run of >= 16
    silent frames; missing audio counts too. No sound at all: (array([-1.]), 1.0)."""
    x = np.fromfile(path, "<f4")
    x = np.abs(x[: len(x) // 2 * 2].reshape(-1, 2)[:, 0])
    # the chord's attack, not the quiet reverb tail of a previous run that the recording may begin with (its
    # near-zero samples once passed for drop-outs, and a load's start-up time before play() for a long one)
    loud = np.flatnonzero(x > ONSET_LEVEL)
    if not len(loud):
        return np.array([-1.0]), 1.0
    a, b = loud[0] + int(skip * SR), loud[0] + int(seconds * SR) - SR // 4
    part = np.zeros(max(b - a, 1), np.float32)
    got = x[a:b]
    part[: len(got)] = got
    quiet = (part < 1e-6).astype(np.int8)
    edges = np.diff(np.concatenate([[0], quiet, [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    runs = ends - starts
    long = runs >= 16
    return (starts[long] + int(skip * SR)) / SR, float(runs[long].sum() / len(part))


def _attack_sec(path: Path) -> float:
    """Seconds from the start of a recording to the attack of its chord (as :func:`_dropouts` finds it); 0.0 when
    none is heard in its first minute."""
    x = np.fromfile(path, "<f4", count=SR * 2 * 60)
    loud = np.flatnonzero(np.abs(x[: len(x) // 2 * 2].reshape(-1, 2)[:, 0]) > ONSET_LEVEL)
    return float(loud[0]) / SR if len(loud) else 0.0


def _count(starts: np.ndarray) -> int:
    """Drop-outs in :func:`_dropouts`'s answer; -1 when nothing was heard."""
    return -1 if len(starts) == 1 and starts[0] < 0 else len(starts)


def _glitches(path: Path, seconds: float) -> tuple[int, float]:
    """(drop-outs, share of time silent): see :func:`_dropouts`; -1 drop-outs when nothing was heard."""
    starts, silent = _dropouts(path, seconds)
    return _count(starts), silent


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _offline(figs: list[Figure]) -> None:
    from ..audio.render import render_cores, render_song, resolve_soundfont
    from ..audio.synth import Synth
    from ..core.timing import song_duration_seconds
    song = four_track_song(8)
    sf = resolve_soundfont(None)
    t0 = time.perf_counter()       # what render_song pays before rendering (presets load when a channel picks them)
    s = Synth(sf, 44100, cpu_cores=render_cores(), dynamic_samples=True)
    load = time.perf_counter() - t0
    s.close()
    times, cpu = [], []
    for _ in range(2):
        t0, c0 = time.perf_counter(), time.process_time()
        audio = render_song(song, sf, 44100)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    dur = len(audio) / 44100
    best = min(times)
    figs.append(Figure(f"offline render 4 tracks x 8 bars ({song_duration_seconds(song):.0f} s + tail), "
                       f"incl. loading {Path(sf).name}", dur / best, "x realtime", ">= 100"))
    figs.append(Figure("offline render, rendering only (soundfont already loaded)", dur / max(best - load, 1e-6),
                       "x realtime", ">= 100"))
    figs.append(Figure("offline render incl. loading, per CPU second (what an idle core gives)", dur / min(cpu),
                       "x realtime", ">= 100"))
    dry = []
    for _ in range(2):             # FluidSynth runs reverb and chorus on one core, after the voices: their share
        t0 = time.perf_counter()
        audio_dry = render_song(song, sf, 44100, effects=False)
        dry.append(time.perf_counter() - t0)
    figs.append(Figure("offline render incl. loading, dry (--dry: no reverb / chorus)",
                       len(audio_dry) / 44100 / min(dry), "x realtime", ">= 100"))
    for cores in (1, 2, 4, 8):      # why the renderer takes render_cores() threads: the effects stay on one core
        if cores <= (os.cpu_count() or 1) and cores != render_cores():
            best = min(_timed(lambda c=cores: render_song(song, sf, 44100, cpu_cores=c)) for _ in range(2))
            figs.append(Figure(f"offline render incl. loading, FluidSynth on {cores} core(s) "
                               f"(the renderer takes {render_cores()})", dur / best, "x realtime", ""))
    # stems: one pass with a reverb and chorus unit per track, against one solo render per track
    from ..audio.render import render_stems
    one_pass = min(_timed(lambda: render_stems(song, sf, 44100)) for _ in range(2))
    per_track = min(_timed(lambda: [render_song(song, sf, 44100, solo=(i,)) for i in range(len(song.tracks))])
                    for _ in range(2))
    figs.append(Figure(f"stems of the {len(song.tracks)} tracks in one pass, incl. loading (song seconds per second)",
                       dur / one_pass, "x realtime", ""))
    figs.append(Figure(f"  the same as {len(song.tracks)} solo renders (the stems would not add up to the mix)",
                       dur / per_track, "x realtime", ""))
    # FluidSynth's cost for one block of this song (what design (b)'s C thread spends per block)
    from ..audio.mixer import apply_channels, mixes_of, setup_metronome
    from ..audio.scheduler import Scheduler
    from ..audio.events import song_events
    synth = Synth(sf, SR)
    for i, m in enumerate(mixes_of(song)):
        apply_channels(synth, i, m)
    setup_metronome(synth)
    sched = Scheduler(synth, SR)
    sched.set_events(song_events(song), song_duration_seconds(song), 4)
    sched.start(0.0, 0)
    buf = np.zeros((BLOCK, 2), np.float32)
    per_block = []
    for k in range(int(song_duration_seconds(song) * SR) // BLOCK):
        sched.pump((k + 1) * BLOCK + SR // 4)
        t0 = time.perf_counter()
        synth.write_float(buf, 0, BLOCK)
        per_block.append(time.perf_counter() - t0)
    synth.close()
    block_sec = BLOCK / SR
    figs.append(Figure(f"(b) FluidSynth render per {BLOCK}-frame block, mean share of block", 100 * np.mean(per_block)
                       / block_sec, "%", "< 50"))
    figs.append(Figure(f"(b) FluidSynth render per {BLOCK}-frame block, p99 share of block",
                       100 * np.percentile(per_block, 99) / block_sec, "%", "< 50"))


def _live_note(figs: list[Figure]) -> None:
    """A note "arrives" at a known instant on its own thread (as from the MIDI callback); we time how late the
    synth call starts. With a busy Python thread that includes waiting for the GIL."""
    import sys

    from ..audio.engine import PlaybackEngine
    eng = PlaybackEngine(device="null")

    calls = []

    def measure(n=200) -> np.ndarray:
        late = []
        for i in range(n):
            target = time.perf_counter() + 0.002
            time.sleep(0.002)
            late.append(time.perf_counter() - target)
            eng.live_note_on(60 + i % 12, 100, 0)
            calls.append(eng.last_live_call_sec)
            eng.live_note_off(60 + i % 12, 0)
        return np.array(late)

    old = sys.getswitchinterval()
    try:
        eng.set_song(four_track_song(1))
        engine_interval = sys.getswitchinterval()
        idle = measure()
        call = float(np.median(calls))
        with BusyPython():
            busy = measure()
        sys.setswitchinterval(0.005)
        with BusyPython():
            busy_default = measure()
    finally:
        sys.setswitchinterval(old)
        eng.close()
    figs.append(Figure("live note: the synth call itself, median (ctypes fluid_synth_noteon, idle)", 1000 * call,
                       "ms", "<= 1"))
    for label, arr in (("idle", idle),
                       (f"busy thread, GIL switch {engine_interval * 1000:g} ms as the engine sets it", busy),
                       ("busy thread, Python's default 5 ms GIL switch", busy_default)):
        figs.append(Figure(f"live note arrives -> synth call, median ({label})", 1000 * np.median(arr), "ms",
                           "<= 1"))
        figs.append(Figure(f"live note arrives -> synth call, p99 ({label})", 1000 * np.percentile(arr, 99), "ms",
                           "<= 1"))


def _pulse_latency_ms() -> float:
    try:
        out = subprocess.run(["pactl", "list", "sink-inputs"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return float("nan")
    total = 0.0
    for line in out.splitlines():
        line = line.strip()
        if line.startswith(("Buffer Latency:", "Sink Latency:")):
            total += float(line.split(":")[1].split()[0]) / 1000.0
    return total if total else float("nan")


def _wait_clock(eng, seconds: float = 0.5, timeout: float = 5.0) -> None:
    """Let a fresh output settle (a sound server can take a second to start a low-latency stream)."""
    start, t_end = eng._synth.now_ms(), time.monotonic() + timeout
    while eng._synth.now_ms() - start < seconds * 1000 and time.monotonic() < t_end:
        time.sleep(0.05)


def _design_b(figs: list[Figure], seconds: float, tmp: Path) -> None:
    for periods, loads in ((2, ("idle", "thread", "audition", "process")), (4, ("thread",))):
        _design_b_runs(figs, seconds, tmp, periods, loads)


def _design_b_runs(figs: list[Figure], seconds: float, tmp: Path, periods: int, loads) -> None:
    from ..audio.engine import PlaybackEngine
    eng = PlaybackEngine(samplerate=SR, blocksize=BLOCK, periods=periods)
    buf = f"{BLOCK * periods}-frame buffer"
    try:
        if eng.output is None or eng.output.driver != "pulseaudio":
            figs.append(Figure("(b) underruns: no PulseAudio output (" + (eng.problem or "?") + ")", float("nan"),
                               "", "0"))
            return
        eng.set_song(organ_song(seconds + 1.0))
        _wait_clock(eng)
        for kind in loads:
            with _recording(tmp / "b.raw"):
                with _load(kind):
                    eng.play(0)
                    time.sleep(1.0)
                    latency = float(np.median([_pulse_latency_ms() for _ in range(3)]))
                    cpu = []
                    t_end = time.monotonic() + seconds - 1.0
                    while time.monotonic() < t_end:
                        cpu.append(eng._synth.cpu_load)
                        time.sleep(0.1)
                eng.stop()
                time.sleep(0.2)
            glitches, silent = _glitches(tmp / "b.raw", seconds)
            figs.append(Figure(f"(b) drop-outs in {seconds:g} s, {buf}, {_WHAT[kind]}", glitches, "drop-outs", "0"))
            figs.append(Figure("(b) time lost to drop-outs, same run", 100 * silent, "%", "0"))
    finally:
        eng.close()
    if periods == 2:
        _feeder_under_load(figs, seconds)
        figs.append(Figure("(b) FluidSynth's own CPU load while playing (4-voice organ)", float(np.mean(cpu)), "%",
                           ""))
    figs.append(Figure(f"(b) output latency, {buf} (PulseAudio buffer + sink)", latency, "ms", ""))
    figs.append(Figure(f"(b) live note -> heard, estimate ({buf} + half a block)",
                       latency + 1000 * BLOCK / SR / 2, "ms", "<= 12"))


def _feeder_under_load(figs: list[Figure], seconds: float) -> None:
    """The 4-track song looped for ``seconds`` with a busy Python thread: does the feeder stay ahead?"""
    from ..audio.engine import PlaybackEngine
    song = four_track_song(8)
    eng = PlaybackEngine(samplerate=SR, blocksize=BLOCK, device="null")
    try:
        eng.set_song(song)
        eng.set_loop(0, song.end_tick)
        with BusyPython():
            eng.play(0)
            time.sleep(seconds)
            late = eng.late_events
        eng.stop()
    finally:
        eng.close()
    figs.append(Figure(f"(b) events handed over late in {seconds:g} s of the 4-track song, busy Python thread",
                       late, "events", "0"))


class BusyProcess:
    """The same MIDI-parsing loop in a separate process: the same CPU load, but no GIL shared with us."""

    def __enter__(self):
        import sys
        code = ("import io, mido, sys\nfrom deepcomposer_desktop.bench.audio import four_track_song\n"
                "from deepcomposer_desktop.midi.io import midi_bytes\nd = midi_bytes(four_track_song(8))\n"
                "while True: mido.MidiFile(file=io.BytesIO(d))\n")
        self.proc = subprocess.Popen([sys.executable, "-c", code])
        self.loops = 0
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


class AuditionLoad:
    """What the app does when the user auditions: every genre x 4 takes on the worker-process pool, back to back
    (both cores busy on a 2-core machine)."""

    def __enter__(self):
        from ..audition import AuditionRun, process_workers, warm_process_pool
        from ..ml.gan.generate import available_genres
        from .audition import eight_bar_melody
        self.genres = available_genres()
        self.stop = threading.Event()
        self.loops = 0
        if not self.genres:
            return self
        for f in warm_process_pool(process_workers()):
            f.result(120)
        song = eight_bar_melody()

        def run() -> None:
            while not self.stop.is_set():
                AuditionRun(song, self.genres, 4, seed=self.loops, backend="process").start().wait()
                self.loops += 1
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        if self.genres:
            self.thread.join(timeout=30)
        from ..audition import shutdown_process_pool
        shutdown_process_pool()


def _load(kind: str):
    return {"idle": _Idle, "thread": BusyPython, "process": BusyProcess, "audition": AuditionLoad}[kind]()


_WHAT = {"idle": "nothing else running", "thread": "busy Python thread in this process",
         "process": "busy Python process (CPU load, no shared GIL)",
         "audition": "auditioning all genres on worker processes, back to back"}


class _Idle:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def _design_a(figs: list[Figure], seconds: float, tmp: Path) -> None:
    try:
        import sounddevice as sd
        names = [d["name"] for d in sd.query_devices() if d["max_output_channels"] > 0]
    except Exception as exc:  # no PortAudio / no device
        figs.append(Figure(f"(a) not measured: {exc}", float("nan"), "", ""))
        return
    if not names:
        figs.append(Figure("(a) not measured: no audio output device (run .ci/audio_setup.sh)", float("nan"), "", ""))
        return
    device = "pulse" if "pulse" in names else None
    from ..audio.callback_output import CallbackPlayer
    from ..audio.events import song_events
    from ..audio.mixer import apply_channels, mixes_of
    from ..audio.render import resolve_soundfont
    from ..audio.synth import Synth
    song = organ_song(seconds + 1.0)
    synth = Synth(resolve_soundfont(None), SR, gain=0.4)
    for i, m in enumerate(mixes_of(song)):
        apply_channels(synth, i, m)
    for kind in ("idle", "thread", "process"):
        player = CallbackPlayer(synth, song_events(song), np.arange(len(song.tracks)), SR, BLOCK, device=device)
        try:
            with _recording(tmp / "a.raw"):
                with _load(kind):
                    player.start()
                    time.sleep(seconds + 0.5)
                player.stop()
            glitches, silent = _glitches(tmp / "a.raw", seconds)
            latency = player.output_latency_sec
        finally:
            player.close()
            synth.all_sounds_off()
        figs.append(Figure(f"(a) drop-outs in {seconds:g} s, {_WHAT[kind]}", glitches, "drop-outs", "0"))
        if kind == "thread":
            waits, cbs = list(player.gil_wait_sec[10:]), list(player.callback_sec[10:])
        figs.append(Figure("(a) time lost to drop-outs, same run", 100 * silent, "%", "0"))
        figs.append(Figure("(a) PortAudio output-underflow flags, same run", player.underflows, "blocks", "0"))
    synth.close()
    gil = np.maximum(np.array(waits), 0) / (BLOCK / SR)
    cb = np.array(cbs) / (BLOCK / SR) + gil
    figs.append(Figure("(a) wait for the GIL before the callback runs, p99 share of block (busy thread)",
                       100 * np.percentile(gil, 99), "%", "< 50"))
    figs.append(Figure("(a) callback incl. GIL wait, mean share of block (busy thread)", 100 * cb.mean(), "%", "< 50"))
    figs.append(Figure("(a) callback incl. GIL wait, p99 share of block (busy thread)", 100 * np.percentile(cb, 99),
                       "%", "< 50"))
    figs.append(Figure("(a) callback incl. GIL wait, max share of block (busy thread)", 100 * cb.max(), "%", "< 100"))
    figs.append(Figure("(a) output latency reported by PortAudio", 1000 * latency, "ms", "<= 12"))


def run(quick: bool) -> list[Figure]:
    from ..audio.synth import library_problem
    problem = library_problem()
    if problem:
        return [Figure("audio not measured: " + problem[:80], float("nan"), "", "")]
    figs: list[Figure] = []
    soak_seconds = float(os.environ.get("DEEPCOMPOSER_BENCH_AUDIO_SOAK", 0))
    if soak_seconds > 0:                   # the long check on its own (see bench/audio_soak.py)
        from .audio_soak import soak
        return soak(soak_seconds)
    seconds = float(os.environ.get("DEEPCOMPOSER_BENCH_AUDIO_SECONDS", 2.5 if quick else 30))
    if _pulse_env() and shutil.which("parec") is not None:
        with tempfile.TemporaryDirectory() as tmp:
            _design_b(figs, seconds, Path(tmp))
            _design_a(figs, seconds, Path(tmp))
    else:
        figs.append(Figure("drop-outs not measured: no PulseAudio server (run .ci/audio_setup.sh)", float("nan"),
                           "", "0"))
    _live_note(figs)
    _offline(figs)
    return figs
