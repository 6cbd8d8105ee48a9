"""Design (a), kept for measurement: a sounddevice OutputStream whose Python callback renders the synth block by
block and applies the song's events inside each block at their exact sample offsets.

The engine does not use it (see ``engine.py``): its callback needs the GIL every block, so any busy Python thread
can make it miss its deadline. ``deepcomposer bench audio`` runs it side by side with design (b) to show that.

Threads: ``start``/``stop``/``close`` on the caller's thread; ``_callback`` on PortAudio's audio thread.
"""
from __future__ import annotations

import time

import numpy as np

from .events import NOTE_ON
from .synth import Synth


class CallbackPlayer:
    """Plays one event array (song seconds, tracks -> channels) through a Python audio callback."""

    def __init__(self, synth: Synth, events: np.ndarray, channels: np.ndarray, samplerate: int = 48000,
                 blocksize: int = 256, device=None, latency="low") -> None:
        import sounddevice as sd
        self.synth = synth
        self.sr = samplerate
        ev = events[(events["track"] >= 0) & (events["kind"] <= NOTE_ON)]     # notes only: it is a measurement
        # everything the callback reads is prepared here, as plain arrays
        self._at = np.round(ev["sec"] * samplerate).astype(np.int64)
        self._on = (ev["kind"] == NOTE_ON)
        self._chan = channels[ev["track"].astype(np.int64)].astype(np.int64)
        self._pitch = ev["pitch"].astype(np.int64)
        self._vel = ev["vel"].astype(np.int64)
        self._next = 0
        self._pos = 0
        self.underflows = 0
        self.blocks = 0
        self.callback_sec: list[float] = []
        self.gil_wait_sec: list[float] = []
        self._scratch = np.zeros((blocksize * 8, 2), np.float32)
        from .synth import _thread_ids
        self._threads_before = _thread_ids()
        self.stream = sd.OutputStream(samplerate=samplerate, blocksize=blocksize, channels=2, dtype="float32",
                                      device=device, latency=latency, callback=self._callback)

    def _callback(self, outdata, frames, time_info, status) -> None:
        t0 = time.perf_counter()
        # PortAudio stamped currentTime before this Python code could get the GIL: the gap is the GIL wait
        self.gil_wait_sec.append(self.stream.time - time_info.currentTime)
        if status.output_underflow:
            self.underflows += 1
        buf = self._scratch
        pos, end, done, i = self._pos, self._pos + frames, 0, self._next
        at = self._at
        while done < frames:
            stop = frames
            if i < len(at) and at[i] < end:
                stop = max(done, int(at[i] - pos))
            if stop > done:
                self.synth.write_float(buf, done, stop - done)
                done = stop
            while i < len(at) and at[i] <= pos + done:
                if self._on[i]:
                    self.synth.noteon(int(self._chan[i]), int(self._pitch[i]), int(self._vel[i]))
                else:
                    self.synth.noteoff(int(self._chan[i]), int(self._pitch[i]))
                i += 1
        outdata[:] = buf[:frames]
        self._next, self._pos = i, end
        self.blocks += 1
        self.callback_sec.append(time.perf_counter() - t0)

    def start(self) -> None:
        """Start the stream; its audio threads get the same real-time priority as design (b)'s, where allowed, so
        that the two designs differ only in where the rendering runs."""
        from .synth import _raise_new_threads, _thread_ids
        before = self._threads_before
        self.stream.start()
        _raise_new_threads(before, None)

    def stop(self) -> None:
        self.stream.stop()

    def close(self) -> None:
        self.stream.close()

    @property
    def output_latency_sec(self) -> float:
        return float(self.stream.latency)
