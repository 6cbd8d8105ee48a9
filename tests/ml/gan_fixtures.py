"""Shared builders for the GAN tests: a tiny architecture, a registered tiny model, synthetic songs and caches."""
import numpy as np

from deepcomposer_desktop.core.song import Note, Song, Track

TINY = dict(channels=(4, 8, 8, 8), z_dim=4, attn_heads=2, critic_channels=(4, 8, 8, 8), head_channels=2)
TRACKS = [{"name": "Bass", "program": 33, "is_drum": False, "origin": "test"},
          {"name": "Drums", "program": 0, "is_drum": True, "origin": "test"}]


def tiny_arch(**kw):
    from deepcomposer_desktop.ml.gan.config import GanArch
    return GanArch(n_tracks=len(TRACKS), **dict(TINY, **kw))


def save_tiny_model(path, seed=0, arch=None, decode=None):
    """A randomly initialised tiny generator saved as a model file; decode keeps the 2 likeliest pitches."""
    import torch
    from deepcomposer_desktop.ml.checkpoint import save_checkpoint
    from deepcomposer_desktop.ml.gan.decode import DecodeParams
    from deepcomposer_desktop.ml.gan.model import build_generator
    arch = arch or tiny_arch()
    torch.manual_seed(seed)
    g = build_generator(arch)
    dec = decode or DecodeParams((0.0, 0.0), (0.9, 0.9), (2, 2))
    save_checkpoint(path, technique="gan", name=path.stem, model_args=arch.to_dict(), state_dict=g.state_dict(),
                    meta={"tracks": TRACKS, "decode": dec.to_dict()})
    return path


def melody_song(pitches, bars=None, ppq=480, extra_tracks=()):
    """One quarter note per pitch (None = rest) on a melody track, plus optional extra tracks."""
    notes = [Note.make(p, i * ppq, ppq) for i, p in enumerate(pitches) if p is not None]
    return Song(tracks=(Track("Melody", 0, False, tuple(notes)),) + tuple(extra_tracks), ppq=ppq)


def synthetic_windows(n=12, steps=128, seed=0):
    """Melody in C major + bass on the tonic/fifth + kick/snare drums, bool rolls like a genre cache."""
    rng = np.random.default_rng(seed)
    scale = np.array([60, 62, 64, 65, 67, 69, 71, 72])
    mel = np.zeros((n, steps, 128), bool)
    acc = np.zeros((n, 2, steps, 128), bool)
    for i in range(n):
        for s in range(0, steps, 4):
            mel[i, s:s + 3, rng.choice(scale)] = True
        for s in range(0, steps, 8):
            acc[i, 0, s:s + 6, 36 + (7 if (s // 16) % 2 else 0)] = True
        acc[i, 1, ::8, 36] = True
        acc[i, 1, 4::8, 38] = True
    on = lambda r: r & ~np.concatenate([np.zeros_like(r[..., :1, :]), r[..., :-1, :]], axis=-2)  # noqa: E731
    return mel, acc, on(mel), on(acc)


def write_synthetic_cache(path, n=12, tracks=None, sources=None):
    """A genre cache of ``n`` synthetic windows (two windows per song) at ``path``; returns ``path``."""
    from deepcomposer_desktop.ml.data import save_cache
    mel, acc, om, oa = synthetic_windows(n=n)
    save_cache(path, mel, acc, om, oa, np.arange(n) // 2,
               {"genre": "synth", "tracks": tracks or TRACKS, "sources": sources or [{"folder": "made in the test"}]})
    return path
