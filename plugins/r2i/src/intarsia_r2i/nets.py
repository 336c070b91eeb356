"""DreamerV3 building blocks: symlog, two-hot symlog distributions, categorical latents, MLPs, CNNs."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def symlog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * (torch.exp(x.abs()) - 1.0)


class Dense(nn.Sequential):
    """Linear -> LayerNorm -> SiLU (DreamerV3's hidden layer)."""

    def __init__(self, inp: int, out: int):
        super().__init__(nn.Linear(inp, out, bias=False), nn.LayerNorm(out), nn.SiLU())


class MLP(nn.Module):
    """``layers`` Dense layers then a linear output (``out`` None: no output layer)."""

    def __init__(self, inp: int, layers: int, units: int, out: int | None = None, zero_out: bool = False):
        super().__init__()
        mods = []
        for i in range(layers):
            mods.append(Dense(inp if i == 0 else units, units))
        self.hidden = nn.Sequential(*mods)
        self.out_dim = units if layers else inp
        self.head = None
        if out is not None:
            self.head = nn.Linear(self.out_dim, out)
            if zero_out:  # DreamerV3 initialises reward and critic outputs at zero (outscale 0)
                nn.init.zeros_(self.head.weight)
                nn.init.zeros_(self.head.bias)
            self.out_dim = out

    def forward(self, x):
        x = self.hidden(x)
        return self.head(x) if self.head is not None else x


class TwoHotSymlog(nn.Module):
    """Two-hot categorical over symlog-spaced bins (DreamerV3 reward and critic heads)."""

    def __init__(self, bins: int = 255, low: float = -20.0, high: float = 20.0):
        super().__init__()
        self.register_buffer("bins", torch.linspace(low, high, bins), persistent=False)

    def mean(self, logits: torch.Tensor) -> torch.Tensor:
        return symexp((logits.softmax(-1) * self.bins).sum(-1))

    def log_prob(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x = symlog(target).clamp(self.bins[0], self.bins[-1])
        idx = torch.searchsorted(self.bins, x.contiguous(), right=True).clamp(1, len(self.bins) - 1)
        lo, hi = self.bins[idx - 1], self.bins[idx]
        w_hi = ((x - lo) / (hi - lo)).clamp(0, 1)
        logp = logits.log_softmax(-1)
        lp_lo = logp.gather(-1, (idx - 1).unsqueeze(-1)).squeeze(-1)
        lp_hi = logp.gather(-1, idx.unsqueeze(-1)).squeeze(-1)
        return (1 - w_hi) * lp_lo + w_hi * lp_hi


def unimix_logits(logits: torch.Tensor, unimix: float) -> torch.Tensor:
    """Mix ``unimix`` of a uniform distribution into softmax(logits); return log-probabilities."""
    probs = logits.softmax(-1)
    if unimix:
        probs = (1 - unimix) * probs + unimix / probs.shape[-1]
    return torch.log(probs)


def sample_onehot(logits: torch.Tensor) -> torch.Tensor:
    """One-hot sample with straight-through gradients."""
    probs = logits.softmax(-1)
    idx = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1).reshape(probs.shape[:-1])
    onehot = F.one_hot(idx, probs.shape[-1]).to(probs.dtype)
    return onehot + probs - probs.detach()


def mode_onehot(logits: torch.Tensor) -> torch.Tensor:
    return F.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)


def categorical_kl(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) of independent categoricals (..., S, C) summed over S and C -> (...)."""
    lp, lq = logits_p.log_softmax(-1), logits_q.log_softmax(-1)
    return (lp.exp() * (lp - lq)).sum((-1, -2))


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of each pixel of an NCHW map: the official Norm('layer') on a conv output
    (it normalises the last, channel, axis of NHWC)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _channel_norm(ch: int) -> nn.Module:
    return ChannelLayerNorm(ch)


class ImageEncoder(nn.Module):
    """Stride-2 4x4 convs (depth doubling) down to ``minres``, flattened. Input HWC uint8 images."""

    def __init__(self, shape: tuple[int, int, int], depth: int = 32, minres: int = 4):
        super().__init__()
        h, w, c = shape
        stages = int(math.log2(h) - math.log2(minres))
        mods, ch = [], c
        for i in range(stages):
            out = depth * 2 ** i
            mods += [nn.Conv2d(ch, out, 4, 2, 1, bias=False), _channel_norm(out), nn.SiLU()]  # norm: no bias
            ch = out
        self.net = nn.Sequential(*mods)
        self.out_dim = ch * (h // 2 ** stages) * (w // 2 ** stages)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        lead = img.shape[:-3]
        x = img.reshape(-1, *img.shape[-3:]).permute(0, 3, 1, 2).float() / 255.0 - 0.5
        return self.net(x).reshape(*lead, -1)


class ImageDecoder(nn.Module):
    """Mirror of :class:`ImageEncoder`: features -> HWC image in [-0.5, 0.5] (MSE target img/255-0.5)."""

    def __init__(self, inp: int, shape: tuple[int, int, int], depth: int = 32, minres: int = 4):
        super().__init__()
        h, w, c = shape
        stages = int(math.log2(h) - math.log2(minres))
        self.start = (depth * 2 ** (stages - 1), minres, minres * w // h)
        self.fc = nn.Linear(inp, int(math.prod(self.start)))
        mods, ch = [], self.start[0]
        for i in reversed(range(stages)):
            last = i == 0
            out = c if last else depth * 2 ** (i - 1)
            mods.append(nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=last))
            if not last:
                mods += [_channel_norm(out), nn.SiLU()]
            ch = out
        self.net = nn.Sequential(*mods)
        self.shape = shape

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        lead = feat.shape[:-1]
        x = self.fc(feat.reshape(-1, feat.shape[-1])).reshape(-1, *self.start)
        return self.net(x).permute(0, 2, 3, 1).reshape(*lead, *self.shape)
