"""WAV files: 16-bit PCM for a finished mix, 32-bit float for stems (written block by block), and a reader for both.

Float stems need no scaling and cannot clip, so a DAW that lines them up gets back the mix exactly. The 16-bit mix
keeps the synth's level unless it would clip; then it is scaled down (:func:`clip_gain`), and stems written with
it take the same gain so that they still add up to it. Python's
``wave`` module writes only PCM, so the float header is written here (WAVE_FORMAT_IEEE_FLOAT, with the ``fact``
chunk that format asks for).
"""
from __future__ import annotations

import os
import struct
import wave

import numpy as np

from ..core.safe_write import write_atomically

PCM, IEEE_FLOAT = 1, 3


def clip_gain(audio: np.ndarray) -> float:
    """The gain a 16-bit file of ``audio`` needs so that nothing clips: 1.0 (none) when its peak is at most full
    scale, else 1 / peak. A constant gain: the level changes only for audio that would clip."""
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    return 1.0 / peak if peak > 1.0 else 1.0


def to_int16(audio: np.ndarray, gain: float | None = None) -> np.ndarray:
    """Float samples times ``gain`` (default :func:`clip_gain`'s: scaled down, never up, so that nothing clips)
    to 16-bit."""
    scale = 32767.0 * (clip_gain(audio) if gain is None else float(gain))
    return np.round(np.clip(audio * scale, -32767.0, 32767.0)).astype("<i2")


def write_pcm16(audio: np.ndarray, path, samplerate: int, gain: float | None = None) -> float:
    """A stereo 16-bit WAV file of ``audio`` times ``gain`` (default :func:`clip_gain`'s), written atomically: a
    failure leaves what was there (raises OSError). Returns the gain it was written at."""
    gain = clip_gain(audio) if gain is None else float(gain)

    def write(fh) -> None:
        with wave.open(fh, "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(int(samplerate))
            w.writeframes(to_int16(audio, gain).tobytes())
    write_atomically(path, write)
    return gain


class FloatWavWriter:
    """A 32-bit float WAV file written block by block; :meth:`close` may cut it to a length found at the end."""

    HEADER = 58      # RIFF(12) + fmt(8 + 18) + fact(8 + 4) + data(8)

    def __init__(self, path, samplerate: int, channels: int = 2) -> None:
        self.path = os.fspath(path)
        self.samplerate, self.channels = int(samplerate), int(channels)
        self.frames = 0
        self._fh = open(self.path, "wb")
        self._fh.write(self._header(0))

    def _header(self, frames: int) -> bytes:
        ch, sr = self.channels, self.samplerate
        data = frames * ch * 4
        return (b"RIFF" + struct.pack("<I", self.HEADER - 8 + data) + b"WAVE"
                + b"fmt " + struct.pack("<IHHIIHHH", 18, IEEE_FLOAT, ch, sr, sr * ch * 4, ch * 4, 32, 0)
                + b"fact" + struct.pack("<II", 4, frames)
                + b"data" + struct.pack("<I", data))

    def write(self, block: np.ndarray) -> None:
        """``block``: (frames, channels) samples."""
        self._fh.write(np.ascontiguousarray(block, "<f4").tobytes())
        self.frames += len(block)

    def close(self, frames: int | None = None) -> None:
        """Finish the file, cut to ``frames`` frames when given (fewer than written)."""
        if self._fh.closed:
            return
        if frames is not None and frames < self.frames:
            self.frames = int(frames)
            self._fh.truncate(self.HEADER + self.frames * self.channels * 4)
        self._fh.seek(0)
        self._fh.write(self._header(self.frames))
        self._fh.close()

    def discard(self) -> None:
        """Close and delete the unfinished file (never raises: it runs while another error is on its way)."""
        try:
            self._fh.close()                  # may fail to flush on a full disk: the file goes anyway
        except OSError:
            pass
        try:
            os.remove(self.path)
        except OSError:
            pass


def read_wav(path) -> tuple[np.ndarray, int]:
    """A 16-bit PCM or 32-bit float WAV file as float32 (frames, channels) and its sample rate. Raises ValueError
    for anything else."""
    with open(os.fspath(path), "rb") as fh:
        raw = fh.read()
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise ValueError(f"{path} is not a WAV file")
    fmt = data = None
    pos = 12
    while pos + 8 <= len(raw):
        cid, size = raw[pos:pos + 4], struct.unpack("<I", raw[pos + 4:pos + 8])[0]
        body = raw[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif cid == b"data":
            data = body
        pos += 8 + size + (size & 1)
    if fmt is None or data is None:
        raise ValueError(f"{path} has no fmt or data chunk")
    tag, channels, rate, _, _, bits = fmt
    if tag == PCM and bits == 16:
        samples = np.frombuffer(data[: len(data) // 2 * 2], "<i2").astype(np.float32) / 32767.0
    elif tag == IEEE_FLOAT and bits == 32:
        samples = np.frombuffer(data[: len(data) // 4 * 4], "<f4").astype(np.float32)
    else:
        raise ValueError(f"{path}: only 16-bit PCM and 32-bit float WAV files are read (format {tag}, {bits} bits)")
    return samples[: len(samples) // channels * channels].reshape(-1, channels), rate
