"""DreamerV3 building blocks: symlog, two-hot symlog distributions, categorical latents, MLPs, CNNs."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NORM_EPS = 1e-3
"""LayerNorm epsilon of the official ``Norm('layer')`` (torch's default is 1e-5)"""

TRUNC_STD = 0.87962566103423978
"""std of a standard normal truncated to [-2, 2]: the official initialiser divides by it"""


def fan_avg(weight: torch.Tensor) -> float:
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(weight)
    return (fan_in + fan_out) / 2


@torch.no_grad()
def trunc_normal_fan_avg_(weight: torch.Tensor, scale: float = 1.0, fan: float | None = None) -> torch.Tensor:
    """The official ``Initializer('normal', scale, fan='avg')``: a normal truncated at two standard deviations,
    rescaled so that the samples' std is sqrt(scale / fan), fan the mean of fan-in and fan-out."""
    std = math.sqrt(scale / (fan or fan_avg(weight))) / TRUNC_STD
    return nn.init.trunc_normal_(weight, std=std, a=-2 * std, b=2 * std)


@torch.no_grad()
def uniform_fan_avg_(weight: torch.Tensor, scale: float = 1.0, fan: float | None = None) -> torch.Tensor:
    """The official ``Initializer('uniform', scale, fan='avg')`` (its Linear's default, used by the output and
    latent-statistics layers): U(-l, l) with l = sqrt(3 scale / fan), so the std is sqrt(scale / fan)."""
    limit = math.sqrt(3 * scale / (fan or fan_avg(weight)))
    return nn.init.uniform_(weight, -limit, limit)


def linear(inp: int, out: int, bias: bool = True, init: str = "normal", scale: float = 1.0) -> nn.Linear:
    """nn.Linear with the official initialisation: kernel by ``init`` ('normal' or 'uniform', fan avg; scale 0:
    zeros), bias zeros."""
    layer = nn.Linear(inp, out, bias=bias)
    if scale == 0:
        nn.init.zeros_(layer.weight)
    elif init == "normal":
        trunc_normal_fan_avg_(layer.weight, scale)
    else:
        uniform_fan_avg_(layer.weight, scale)
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


def symlog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * (torch.exp(x.abs()) - 1.0)


class Dense(nn.Sequential):
    """Linear -> LayerNorm -> SiLU (DreamerV3's hidden layer; official init and norm epsilon)."""

    def __init__(self, inp: int, out: int):
        super().__init__(linear(inp, out, bias=False), nn.LayerNorm(out, eps=NORM_EPS), nn.SiLU())


class MLP(nn.Module):
    """``layers`` Dense layers then a linear output (``out`` None: no output layer). The output layer is
    initialised as the official ``Dist`` layer's: uniform, fan avg (``zero_out``: zeros, outscale 0)."""

    def __init__(self, inp: int, layers: int, units: int, out: int | None = None, zero_out: bool = False):
        super().__init__()
        mods = []
        for i in range(layers):
            mods.append(Dense(inp if i == 0 else units, units))
        self.hidden = nn.Sequential(*mods)
        self.out_dim = units if layers else inp
        self.head = None
        if out is not None:
            # DreamerV3 initialises reward and critic outputs at zero (outscale 0)
            self.head = linear(self.out_dim, out, init="uniform", scale=0.0 if zero_out else 1.0)
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
    return ChannelLayerNorm(ch, eps=NORM_EPS)


def _conv_init(conv: nn.Module, init: str = "normal") -> nn.Module:
    (trunc_normal_fan_avg_ if init == "normal" else uniform_fan_avg_)(conv.weight)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv


class ImageEncoder(nn.Module):
    """Stride-2 4x4 convs (depth doubling) down to ``minres``, flattened. Input HWC uint8 images."""

    def __init__(self, shape: tuple[int, int, int], depth: int = 32, minres: int = 4):
        super().__init__()
        h, w, c = shape
        stages = int(math.log2(h) - math.log2(minres))
        mods, ch = [], c
        for i in range(stages):
            out = depth * 2 ** i
            mods += [_conv_init(nn.Conv2d(ch, out, 4, 2, 1, bias=False)), _channel_norm(out), nn.SiLU()]  # norm: no bias
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
        self.fc = linear(inp, int(math.prod(self.start)), init="uniform")  # the official 'in' Linear: its default init
        mods, ch = [], self.start[0]
        for i in reversed(range(stages)):
            last = i == 0
            out = c if last else depth * 2 ** (i - 1)
            # the official last conv takes no config options: its default (uniform) init
            mods.append(_conv_init(nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=last), "uniform" if last else "normal"))
            if not last:
                mods += [_channel_norm(out), nn.SiLU()]
            ch = out
        self.net = nn.Sequential(*mods)
        self.shape = shape

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        lead = feat.shape[:-1]
        x = self.fc(feat.reshape(-1, feat.shape[-1])).reshape(-1, *self.start)
        return self.net(x).permute(0, 2, 3, 1).reshape(*lead, *self.shape)
