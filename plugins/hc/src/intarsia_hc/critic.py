"""pytorch_sac's double-Q critic: two independent MLPs on [input, action]; targets use their minimum."""

from __future__ import annotations

import torch
from torch import nn

from .actor import mlp


class DoubleQCritic(nn.Module):
    def __init__(self, in_dim: int, action_dim: int, hidden_sizes: list[int]):
        super().__init__()
        self.q1 = mlp(in_dim + action_dim, list(hidden_sizes), 1)
        self.q2 = mlp(in_dim + action_dim, list(hidden_sizes), 1)

    def forward(self, x: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xa = torch.cat([x, action], -1)
        return self.q1(xa).squeeze(-1), self.q2(xa).squeeze(-1)


class LogTemperature(nn.Module):
    """log(alpha) as a module, so Fabric sets it up (and DDP averages its gradient) like the networks."""

    def __init__(self, init_temperature: float):
        super().__init__()
        self.log_alpha = nn.Parameter(torch.tensor(float(init_temperature)).log())

    def forward(self) -> torch.Tensor:
        return self.log_alpha.exp()


@torch.no_grad()
def polyak(target: nn.Module, source: nn.Module, tau: float) -> None:
    for t, s in zip(target.parameters(), source.parameters()):
        t.lerp_(s, tau)
