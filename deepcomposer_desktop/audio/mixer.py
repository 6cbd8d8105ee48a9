"""Per-track mixer state (mute, solo, volume, pan, instrument) and how it maps onto synth channels.

A ``Mix`` is immutable; the engine swaps the whole tuple at once, so every reader sees one consistent state.
Each track owns its own synth channel (tracks that share a MIDI channel in the file still mute separately);
drum tracks get FluidSynth's drum bank on their channel.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..core.song import Song, Track
from .scheduler import MAX_TRACKS, METRONOME_CHANNEL, live_channel, song_channel
from .synth import Synth

CC_VOLUME, CC_PAN = 7, 10


@dataclass(frozen=True, slots=True)
class Mix:
    mute: bool = False
    solo: bool = False
    volume: int = 100
    pan: int = 64
    program: int = 0
    is_drum: bool = False

    @classmethod
    def of(cls, track: Track) -> "Mix":
        return cls(track.mute, track.solo, track.volume, track.pan, track.program, track.is_drum)

    def with_changes(self, mute=None, solo=None, volume=None, pan=None, program=None) -> "Mix":
        changes = {k: v for k, v in (("mute", mute), ("solo", solo), ("volume", volume), ("pan", pan),
                                     ("program", program)) if v is not None}
        for key in ("volume", "pan", "program"):
            if key in changes:
                v = changes[key]
                if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 127:
                    raise ValueError(f"Track {key} must be a whole number from 0 to 127, got {v!r}")
                changes[key] = int(v)
        for key in ("mute", "solo"):
            if key in changes:
                changes[key] = bool(changes[key])
        return replace(self, **changes)


def mixes_of(song: Song, solo=(), mute=()) -> tuple[Mix, ...]:
    """The song's own track flags, plus extra solos/mutes by track index (a solo list replaces the song's)."""
    solo, mute = set(solo), set(mute)
    out = []
    for i, t in enumerate(song.tracks[:MAX_TRACKS]):
        m = Mix.of(t)
        if solo:
            m = replace(m, solo=i in solo)
        if i in mute:
            m = replace(m, mute=True)
        out.append(m)
    return tuple(out)


def audible_mask(mixes: tuple[Mix, ...], metronome: bool) -> np.ndarray:
    """Index 0: the metronome; index i+1: track i. Several solos sound together, as on a mixer."""
    any_solo = any(m.solo for m in mixes)
    mask = np.zeros(len(mixes) + 1, bool)
    mask[0] = metronome
    for i, m in enumerate(mixes):
        mask[i + 1] = (not m.mute) and (m.solo or not any_solo)
    return mask


def apply_channels(synth: Synth, index: int, mix: Mix, old: Mix | None = None) -> None:
    """Program, volume and pan of track ``index`` on its song channel and its live-note channel."""
    for chan in (song_channel(index), live_channel(index)):
        if old is None or old.program != mix.program or old.is_drum != mix.is_drum:
            synth.setup_channel(chan, mix.program, mix.is_drum)
        if old is None or old.volume != mix.volume:
            synth.cc(chan, CC_VOLUME, mix.volume)
        if old is None or old.pan != mix.pan:
            synth.cc(chan, CC_PAN, mix.pan)


def setup_metronome(synth: Synth) -> None:
    synth.setup_channel(METRONOME_CHANNEL, 0, is_drum=True)
    synth.cc(METRONOME_CHANNEL, CC_VOLUME, 110)
