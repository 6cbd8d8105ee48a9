"""GAN configuration: architecture parameters (saved in every checkpoint) apart from the training recipe.

Two architectures: ``deepcomposer`` reproduces AWS DeepComposer's sample GAN (2-bar U-Net, tanh output, one
channel per instrument, melody regenerated as instrument 0) and ``unet`` is ours (8-bar windows, per-track
frame + onset heads, melody pitch-class features, attention bottleneck, key-normalised input).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace


@dataclass(frozen=True)
class GanArch:
    """What the networks look like. Stored as ``model_args`` in the checkpoint, so a model rebuilds itself."""

    kind: str = "unet"                       # "unet" (ours) or "deepcomposer" (baseline)
    n_tracks: int = 3                        # accompaniment tracks generated
    steps: int = 128                         # time steps per window (16 per 4/4 bar)
    pitches: int = 128
    channels: tuple = (32, 64, 128, 256)     # encoder widths; the time and pitch axes halve at each level
    z_dim: int = 32                          # noise channels per bar at the bottleneck
    attn_heads: int = 4                      # 0: no attention block at the bottleneck
    critic_channels: tuple = (64, 128, 256, 256)
    head_channels: int = 16                  # per-track head width
    key_normalise: bool = True               # transpose melodies to C major / A minor before the model

    def __post_init__(self) -> None:
        if self.kind not in ("unet", "deepcomposer"):
            raise ValueError(f"unknown GAN architecture {self.kind!r}")
        if self.n_tracks < 1:
            raise ValueError("a GAN must generate at least one track")
        levels = 4
        if self.steps % (2 ** levels) or self.pitches % (2 ** levels):
            raise ValueError(f"steps and pitches must be multiples of {2 ** levels}")
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "critic_channels", tuple(int(c) for c in self.critic_channels))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        d["critic_channels"] = list(self.critic_channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "GanArch":
        names = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in names})


def deepcomposer_arch(n_tracks: int = 3) -> GanArch:
    """The sample GAN of AWS DeepComposer: 2 bars x 128 pitches, filters 64, latent (512, 2, 8)."""
    return GanArch(kind="deepcomposer", n_tracks=n_tracks, steps=32, channels=(64, 128, 256, 512), z_dim=512,
                   attn_heads=0, critic_channels=(64, 128, 256, 512), key_normalise=False)


@dataclass(frozen=True)
class TrainConfig:
    """How to train (not stored as architecture). ``minutes`` > 0 bounds the wall time (GPU runs)."""

    epochs: int = 200
    lr: float = 2e-4
    betas: tuple = (0.5, 0.9)
    update_ratio: int = 2                    # critic steps per generator step
    batch_size: int = 32
    gp_weight: float = 10.0
    recon_weight: float = 10.0               # auxiliary BCE against the real accompaniment of the same melody
    adv_weight: float = 1.0
    max_iterations: int = 0                  # generator steps; 0 = no limit
    minutes: float = 0.0                     # wall-time budget; 0 = none
    checkpoint_every: int = 10               # epochs (or checkpoint_seconds, whichever comes first)
    checkpoint_seconds: float = 60.0
    samples: int = 3                         # sample MIDI files written with each checkpoint
    seed: int = 0
    transpose_augment: int = 0               # random +-semitones on top of key normalisation

    def with_overrides(self, **kw) -> "TrainConfig":
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


PRESETS = {
    # AWS DeepComposer's recipe: batch 64, Adam 1e-3 (0.5, 0.9), 5 critic steps, GP 10, 2000 iterations, no
    # reconstruction term.
    "deepcomposer": TrainConfig(epochs=100000, lr=1e-3, betas=(0.5, 0.9), update_ratio=5, batch_size=64,
                                gp_weight=10.0, recon_weight=0.0, max_iterations=2000, checkpoint_every=100000),
    "default": TrainConfig(),
    "laptop": TrainConfig(epochs=30, batch_size=16, update_ratio=2, minutes=12.0),
    "small": TrainConfig(epochs=1000, batch_size=16, update_ratio=2, lr=5e-4, checkpoint_seconds=120.0, samples=2),
    "tiny": TrainConfig(epochs=2, batch_size=4, update_ratio=1, checkpoint_every=1, samples=1),
}


# Architecture changes that go with a preset (the rest of GanArch keeps its defaults).
ARCH_PRESETS = {
    "small": {"channels": (16, 32, 64, 128), "z_dim": 16, "critic_channels": (32, 64, 128, 128),
              "head_channels": 8},
    "tiny": {"channels": (4, 8, 8, 8), "z_dim": 4, "attn_heads": 2, "critic_channels": (4, 8, 8, 8),
             "head_channels": 2},
}
