"""AR-CNN configuration: architecture (``ArcnnConfig``, saved in every checkpoint) apart from training
(``TrainConfig``). No torch here."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

STEPS_PER_BEAT = 4          # the model's grid: sixteenth notes
WINDOW_STEPS = 128          # 8 bars of 4/4, as in AWS DeepComposer


@dataclass(frozen=True)
class ArcnnConfig:
    """The U-Net over a ``(steps, pitches)`` roll.

    DeepComposer's network is 5 levels, 32 filters, growth factor 2, dropout 0.5 over 128 x 128 cells. We keep
    that topology but trim the pitch axis to ``n_pitches`` MIDI pitches from ``low_pitch`` (Bach chorales use
    36-81; +-6 semitones of transposition augmentation stays inside 27-90), and ``max_filters`` caps the growth
    (DeepComposer's uncapped 1024-filter bottleneck is ~31 M parameters: too big to ship and too slow on a CPU).
    """

    steps: int = WINDOW_STEPS
    low_pitch: int = 27
    n_pitches: int = 64
    levels: int = 5
    filters: int = 32
    growth: int = 2
    max_filters: int = 128
    dropout: float = 0.5

    def __post_init__(self) -> None:
        div = 2 ** self.levels
        if self.steps % div or self.n_pitches % div:
            raise ValueError(f"steps ({self.steps}) and n_pitches ({self.n_pitches}) must be multiples of "
                             f"2**levels = {div}")
        if self.low_pitch < 0 or self.low_pitch + self.n_pitches > 128:
            raise ValueError("pitch range must lie within MIDI 0-127")

    @property
    def high_pitch(self) -> int:
        """Highest modelled MIDI pitch (inclusive)."""
        return self.low_pitch + self.n_pitches - 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ArcnnConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


TINY = ArcnnConfig(steps=32, low_pitch=48, n_pitches=32, levels=2, filters=4, max_filters=8, dropout=0.0)


@dataclass
class TrainConfig:
    """How to train (not saved as architecture)."""

    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    minutes: float = 5.0            # wall-time budget (the loop stops when it runs out)
    max_steps: int = 0              # 0 = no step limit
    remove_lo: float = 0.0          # DeepComposer: remove a uniform 0-100 % of the notes ...
    remove_hi: float = 1.0
    add_lo: float = 0.01            # ... and turn on 1-1.5 % of the empty cells as noise
    add_hi: float = 0.015
    block_prob: float = 0.0         # share of examples whose removal blanks whole beats instead of random cells
    transpose: int = 6              # random transposition in [-transpose, transpose] semitones
    bce_weight: float = 1.0         # weight of the per-cell denoising head (see train.py)
    eval_every: int = 500           # steps between validation passes / checkpoints
    seed: int = 0
    amp: bool = True                # bf16 autocast on CUDA
