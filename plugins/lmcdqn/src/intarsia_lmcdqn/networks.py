"""Q-networks: the authors' small MLP for vector observations and the Nature DQN CNN for Atari frames."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class MLPQNet(nn.Module):
    """Flatten -> Linear/ReLU stack -> one Q-value per action (authors: widths 32, 32 on N-chain)."""

    def __init__(self, obs_shape: tuple[int, ...], n_actions: int, hidden_sizes=(32, 32)):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = int(np.prod(obs_shape))
        for h in hidden_sizes:
            layers += [nn.Linear(width, int(h)), nn.ReLU()]
            width = int(h)
        layers.append(nn.Linear(width, n_actions))
        self.net = nn.Sequential(*layers)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs.float())


class NatureCNN(nn.Module):
    """Mnih et al. (2015): 3 conv layers (32x8/4, 64x4/2, 64x3/1), a 512-unit layer, linear Q-head."""

    def __init__(self, obs_shape: tuple[int, ...], n_actions: int, scale_obs: bool = False):
        super().__init__()
        c, h, w = obs_shape
        self.scale = 1.0 / 255.0 if scale_obs else 1.0
        self.features = nn.Sequential(
            nn.Conv2d(c, 32, kernel_size=8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1), nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            n_flat = int(self.features(torch.zeros(1, c, h, w)).shape[1])
        self.head = nn.Sequential(nn.Linear(n_flat, 512), nn.ReLU(), nn.Linear(512, n_actions))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(obs.float() * self.scale))


def build_q_network(kind: str, obs_shape: tuple[int, ...], n_actions: int, *, hidden_sizes=(32, 32),
                    scale_obs: bool = False) -> nn.Module:
    if kind == "auto":
        kind = "nature_cnn" if len(obs_shape) == 3 and obs_shape[-1] >= 36 else "mlp"
    if kind == "mlp":
        return MLPQNet(obs_shape, n_actions, hidden_sizes)
    if kind == "nature_cnn":
        if len(obs_shape) != 3:
            raise ValueError(f"nature_cnn needs (C, H, W) observations, got shape {obs_shape}")
        return NatureCNN(obs_shape, n_actions, scale_obs=scale_obs)
    raise ValueError(f"unknown network {kind!r}; choose 'auto', 'mlp' or 'nature_cnn'")
