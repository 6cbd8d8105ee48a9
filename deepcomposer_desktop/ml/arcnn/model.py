"""The AR-CNN U-Net (AWS DeepComposer's layout): conv-conv-pool encoder levels, a bottleneck, upsample+skip
decoder levels, and a 1x1 output conv with two heads over every cell of the roll:

* channel 0, "toggle" logits: a softmax over all cells = which cell to flip next (DeepComposer's output);
* channel 1, "note" logits: per-cell Bernoulli probability that the cell is on in the clean music (used for the
  frame-level NLL and as a training regulariser).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .config import ArcnnConfig


class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2(F.relu(self.conv1(x))))


class ArcnnUNet(nn.Module):
    """``forward(roll)``: roll float ``(batch, steps, pitches)`` in {0, 1} -> logits ``(batch, 2, steps, pitches)``."""

    def __init__(self, cfg: ArcnnConfig) -> None:
        super().__init__()
        self.cfg = cfg
        widths = [min(cfg.filters * cfg.growth ** i, cfg.max_filters) for i in range(cfg.levels + 1)]
        self.down = nn.ModuleList()
        c = 1
        for i in range(cfg.levels):
            self.down.append(_Block(c, widths[i]))
            c = widths[i]
        self.bottleneck = _Block(c, widths[cfg.levels])
        c = widths[cfg.levels]
        self.up = nn.ModuleList()
        for i in reversed(range(cfg.levels)):
            self.up.append(_Block(c + widths[i], widths[i]))
            c = widths[i]
        self.drop = nn.Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()
        self.head = nn.Conv2d(c, 2, 1)

    def forward(self, roll: torch.Tensor) -> torch.Tensor:
        x = roll.unsqueeze(1)                          # (batch, 1, steps, pitches)
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)                            # (batch, c_i, steps / 2**i, pitches / 2**i)
            x = self.drop(F.max_pool2d(x, 2))
        x = self.bottleneck(x)                         # (batch, c_L, steps / 2**L, pitches / 2**L)
        for block, skip in zip(self.up, reversed(skips)):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = self.drop(block(torch.cat([x, skip], dim=1)))
        return self.head(x)                            # (batch, 2, steps, pitches)


def build_model(cfg: ArcnnConfig) -> ArcnnUNet:
    return ArcnnUNet(cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
