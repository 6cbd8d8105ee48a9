"""GAN networks (torch). Rolls are images: ``(batch, channels, steps, pitches)``; time is height, pitch is width.

``UNetGenerator`` (ours): melody features -> per-track frame and onset logits ``(B, T, 2, S, P)``.
``DeepComposerGenerator``: AWS DeepComposer's sample GAN, tanh rolls ``(B, T + 1, S, P)`` with the melody as
instrument 0. Each generator knows how to make noise, how to present real and fake data to its critic and how to
turn its output into probabilities, so training and generation need not know which one they hold.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .config import GanArch

STEPS_PER_BAR = 16


def melody_features(frames: torch.Tensor, onsets: torch.Tensor) -> torch.Tensor:
    """(B, S, P) melody frames + onsets -> (B, 4, S, P): frames, onsets, and the melody's pitch classes folded
    onto every octave, per step and per bar (so every pitch cell sees whether its pitch class is in the tune)."""
    b, s, p = frames.shape
    pc_index = torch.arange(p, device=frames.device) % 12
    octaves = -(-p // 12)
    chroma = F.pad(frames, (0, octaves * 12 - p)).reshape(b, s, octaves, 12).amax(dim=2)   # (B, S, 12)
    bars = max(1, s // STEPS_PER_BAR)
    bar_chroma = chroma.reshape(b, bars, s // bars, 12).amax(dim=2)                   # (B, bars, 12)
    bar_chroma = bar_chroma.repeat_interleave(s // bars, dim=1)                       # (B, S, 12)
    fold = lambda c: c[:, :, pc_index]                                                # (B, S, P)  # noqa: E731
    return torch.stack([frames, onsets, fold(chroma), fold(bar_chroma)], dim=1)


class _Down(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 4, stride=2, padding=1)
        self.norm = nn.GroupNorm(min(8, cout), cout)

    def forward(self, x):
        return F.leaky_relu(self.norm(self.conv(x)), 0.2)


def _subpixel_kernels(w: torch.Tensor) -> torch.Tensor:
    """A 3x3 kernel ``w`` (O, I, 3, 3) meant for a nearest-2x-upsampled input -> the same map as four 2x2
    kernels (4*O, I, 2, 2), one per output phase (row parity a, column parity b; index (2a + b) * O + o), applied
    to the low-resolution input padded by one cell. Rows: phase 0 sees low rows (i-1, i) with taps (w0, w1 + w2),
    phase 1 sees (i, i+1) with (w0 + w1, w2); columns alike."""
    taps = [(w[:, :, 0], w[:, :, 1] + w[:, :, 2]), (w[:, :, 0] + w[:, :, 1], w[:, :, 2])]   # per row phase: (O, I, 3)
    out = []
    for a in (0, 1):
        rows = torch.stack(taps[a], dim=2)                                                 # (O, I, 2, 3)
        cols = [(rows[..., 0], rows[..., 1] + rows[..., 2]), (rows[..., 0] + rows[..., 1], rows[..., 2])]
        for b in (0, 1):
            out.append(torch.stack(cols[b], dim=3))                                       # (O, I, 2, 2)
    return torch.cat(out, dim=0).contiguous()


class _Up(nn.Module):
    def __init__(self, cin: int, cskip: int, cout: int):
        super().__init__()
        self.cin = cin
        self.conv = nn.Conv2d(cin + cskip, cout, 3, padding=1)
        self.norm = nn.GroupNorm(min(8, cout), cout)
        self._fast = None                # (weight version key, sub-pixel kernels for x, 3x3 kernel for the skip)

    def forward(self, x, skip):
        if self.training or torch.is_grad_enabled():
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            return F.relu(self.norm(self.conv(torch.cat([x, skip], dim=1))))
        return F.relu(self.norm(self._conv_upsampled(x, skip)))

    def _conv_upsampled(self, x, skip):
        """Inference: ``conv(cat(upsample2x(x), skip))`` without making the upsampled copy. The 3x3 kernel over a
        nearest-upsampled map is four 2x2 kernels over the original (one per output phase): 4/9 of the work on
        x's channels, the same sums up to float rounding."""
        w = self.conv.weight
        try:
            key = (w.data_ptr(), w._version)
        except RuntimeError:             # an inference tensor (loaded under inference_mode) has no version counter
            key = (w.data_ptr(), -1)
        if self._fast is None or self._fast[0] != key:
            self._fast = (key, _subpixel_kernels(w[:, :self.cin]), w[:, self.cin:].contiguous())
        _, kx, ks = self._fast
        b, _, h, wd = x.shape
        o = self.conv.out_channels
        y = F.conv2d(F.pad(x, (1, 1, 1, 1)), kx)                                          # (B, 4*O, h+1, w+1)
        out = F.conv2d(skip, ks, self.conv.bias, padding=1)                              # (B, O, 2h, 2w)
        view = out.view(b, o, h, 2, wd, 2)
        for a in (0, 1):
            for c in (0, 1):
                ph = 2 * a + c
                view[:, :, :, a, :, c] += y[:, ph * o:(ph + 1) * o, a:a + h, c:c + wd]
        return out


class _Attention(nn.Module):
    """One pre-norm transformer block over the bottleneck cells (bars x pitch bands) with learned positions."""

    def __init__(self, channels: int, heads: int, h: int, w: int):
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(1, h * w, channels))
        self.norm1 = nn.LayerNorm(channels)
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(nn.Linear(channels, 2 * channels), nn.GELU(), nn.Linear(2 * channels, channels))

    def forward(self, x):
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2) + self.pos                                     # (B, h*w, C)
        q = self.norm1(t)
        t = t + self.attn(q, q, q, need_weights=False)[0]
        t = t + self.mlp(self.norm2(t))
        return t.transpose(1, 2).reshape(b, c, h, w)


class UNetGenerator(nn.Module):
    """Ours: 4-level U-Net on (4, S, P) melody features, per-bar noise and attention at the bottleneck, and one
    small head per track giving frame and onset logits."""

    def __init__(self, arch: GanArch):
        super().__init__()
        self.arch = arch
        c = arch.channels
        self.downs = nn.ModuleList([_Down(4, c[0]), _Down(c[0], c[1]), _Down(c[1], c[2]), _Down(c[2], c[3])])
        self.mix = nn.Conv2d(c[3] + arch.z_dim, c[3], 1)
        bh, bw = arch.steps // 16, arch.pitches // 16
        self.attn = _Attention(c[3], arch.attn_heads, bh, bw) if arch.attn_heads else None
        self.ups = nn.ModuleList([_Up(c[3], c[2], c[2]), _Up(c[2], c[1], c[1]), _Up(c[1], c[0], c[0]),
                                  _Up(c[0], 4, c[0])])
        t, hc = arch.n_tracks, arch.head_channels
        self.head = nn.Sequential(nn.Conv2d(c[0], hc * t, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(hc * t, 2 * t, 1, groups=t))

    def sample_z(self, batch: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        """Noise (B, z_dim, bars, 1): one vector per bar."""
        return torch.randn(batch, self.arch.z_dim, self.arch.steps // 16, 1, generator=generator, device=device)

    def forward(self, frames, onsets, z):
        """frames, onsets: (B, S, P) in {0, 1}; z: (B, z_dim, S/16, 1) -> logits (B, T, 2, S, P)."""
        return self.decode(self.encode(frames, onsets), z)

    def encode(self, frames, onsets) -> list:
        """The melody half of the U-Net (no noise): what every take of one melody shares."""
        x = melody_features(frames, onsets)
        skips = [x]
        h = x
        for d in self.downs:
            h = d(h)
            skips.append(h)
        return skips

    def decode(self, skips: list, z):
        """The noise half: ``encode``'s output (not modified) + z -> logits (B, T, 2, S, P)."""
        skips = list(skips)
        h = skips.pop()
        h = F.leaky_relu(self.mix(torch.cat([h, z.expand(-1, -1, -1, h.shape[3])], dim=1)), 0.2)
        if self.attn is not None:
            h = self.attn(h)
        for up in self.ups:
            h = up(h, skips.pop())
        out = self.head(h)                                                              # (B, 2T, S, P)
        b, _, s, p = out.shape
        return out.reshape(b, self.arch.n_tracks, 2, s, p)

    # --- what the critic and the decoder see ---------------------------------------------------------------
    def fake_for_critic(self, out):
        return torch.sigmoid(out).flatten(1, 2)                                          # (B, 2T, S, P)

    def real_for_critic(self, mel, acc, acc_on):
        return torch.cat([acc, acc_on], dim=1)

    def probabilities(self, out):
        """(frame probs (B, T, S, P), onset probs (B, T, S, P))."""
        p = torch.sigmoid(out)
        return p[:, :, 0], p[:, :, 1]

    def critic_channels_in(self) -> int:
        return 2 * self.arch.n_tracks


def _same4(x):
    """TensorFlow's 'same' padding for a 4x4 kernel at stride 1: one cell before, two after."""
    return F.pad(x, (1, 2, 1, 2))


class DeepComposerGenerator(nn.Module):
    """AWS DeepComposer's sample generator: 4 strided convs (64..512, LeakyReLU, BatchNorm from level 2),
    latent (512, 2, 8) concatenated at the bottleneck, 3 upsample+conv levels with skips, tanh output of
    n_tracks + 1 instruments (the melody regenerated as instrument 0)."""

    def __init__(self, arch: GanArch):
        super().__init__()
        self.arch = arch
        f = arch.channels
        self.d = nn.ModuleList([nn.Conv2d(1, f[0], 4, 2, 1), nn.Conv2d(f[0], f[1], 4, 2, 1),
                                nn.Conv2d(f[1], f[2], 4, 2, 1), nn.Conv2d(f[2], f[3], 4, 2, 1)])
        self.d_bn = nn.ModuleList([nn.BatchNorm2d(f[1], momentum=0.2), nn.BatchNorm2d(f[2], momentum=0.2),
                                   nn.BatchNorm2d(f[3], momentum=0.2)])
        self.u = nn.ModuleList([nn.Conv2d(f[3] + arch.z_dim, f[2], 4), nn.Conv2d(2 * f[2], f[1], 4),
                                nn.Conv2d(2 * f[1], f[0], 4)])
        self.u_bn = nn.ModuleList([nn.BatchNorm2d(f[2], momentum=0.2), nn.BatchNorm2d(f[1], momentum=0.2),
                                   nn.BatchNorm2d(f[0], momentum=0.2)])
        self.out = nn.Conv2d(2 * f[0], arch.n_tracks + 1, 4)

    def sample_z(self, batch: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        """Truncated-normal latent (B, 512, S/16, P/16) as in the recipe."""
        z = torch.randn(batch, self.arch.z_dim, self.arch.steps // 16, self.arch.pitches // 16,
                        generator=generator, device=device)
        return z.clamp_(-2.0, 2.0)

    def forward(self, frames, onsets, z):
        c = frames.unsqueeze(1) * 2.0 - 1.0                                              # (B, 1, S, P) in {-1, 1}
        d1 = F.leaky_relu(self.d[0](c), 0.2)
        d2 = self.d_bn[0](F.leaky_relu(self.d[1](d1), 0.2))
        d3 = self.d_bn[1](F.leaky_relu(self.d[2](d2), 0.2))
        d4 = self.d_bn[2](F.leaky_relu(self.d[3](d3), 0.2))
        h = torch.cat([d4, z], dim=1)
        for conv, bn, skip in zip(self.u, self.u_bn, (d3, d2, d1)):
            h = F.relu(bn(conv(_same4(F.interpolate(h, scale_factor=2, mode="nearest")))))
            h = torch.cat([h, skip], dim=1)
        return torch.tanh(self.out(_same4(F.interpolate(h, scale_factor=2, mode="nearest"))))  # (B, T+1, S, P)

    def fake_for_critic(self, out):
        return out

    def real_for_critic(self, mel, acc, acc_on):
        return torch.cat([mel.unsqueeze(1), acc], dim=1) * 2.0 - 1.0

    def probabilities(self, out):
        return (out[:, 1:] + 1.0) / 2.0, None

    def critic_channels_in(self) -> int:
        return self.arch.n_tracks + 1


class Critic(nn.Module):
    """WGAN critic: the rolls (real or generated) plus the melody condition -> 4 strided convs (LeakyReLU, no
    normalisation) -> dense -> one score. Ours also sees the melody's pitch-class features."""

    def __init__(self, arch: GanArch, channels_in: int):
        super().__init__()
        self.arch = arch
        self.cond = 4 if arch.kind == "unet" else 1
        c = arch.critic_channels
        chans = (channels_in + self.cond,) + tuple(c)
        self.convs = nn.ModuleList([nn.Conv2d(chans[i], chans[i + 1], 4, 2, 1) for i in range(4)])
        self.dense = nn.Linear(c[3] * (arch.steps // 16) * (arch.pitches // 16), 1)

    def forward(self, rolls, frames, onsets):
        if self.cond == 4:
            cond = melody_features(frames, onsets)
        else:
            cond = frames.unsqueeze(1) * 2.0 - 1.0
        h = torch.cat([rolls, cond], dim=1)
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.2)
        return self.dense(h.flatten(1)).squeeze(1)


def build_generator(arch: GanArch) -> nn.Module:
    return UNetGenerator(arch) if arch.kind == "unet" else DeepComposerGenerator(arch)


def build_critic(arch: GanArch, generator: nn.Module) -> Critic:
    return Critic(arch, generator.critic_channels_in())


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
