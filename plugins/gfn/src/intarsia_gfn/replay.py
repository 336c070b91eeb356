"""Replay of terminal objects: the highest-reward distinct terminals seen so far; replayed trajectories
are drawn backwards from them with P_B (so they stay consistent with the current backward policy)."""

from __future__ import annotations

import torch


class TerminalReplay:
    def __init__(self, capacity: int, state_shape: tuple[int, ...], device):
        self.capacity = capacity
        self.terminals = torch.zeros(0, *state_shape, dtype=torch.long, device=device)
        self.log_rewards = torch.zeros(0, device=device)

    def __len__(self) -> int:
        return len(self.terminals)

    def add(self, terminals: torch.Tensor, log_rewards: torch.Tensor) -> None:
        if self.capacity <= 0:
            return
        x = torch.cat([self.terminals, terminals])
        r = torch.cat([self.log_rewards, log_rewards.float()])
        x, inverse = torch.unique(x, dim=0, return_inverse=True)
        best = torch.full((len(x),), float("-inf"), device=r.device).scatter_reduce(0, inverse, r, "amax")
        keep = torch.argsort(best, descending=True)[: self.capacity]
        self.terminals, self.log_rewards = x[keep], best[keep]

    def sample(self, n: int) -> torch.Tensor:
        return self.terminals[torch.randint(len(self.terminals), (n,), device=self.terminals.device)]

    def state_dict(self) -> dict:
        return {"terminals": self.terminals.cpu(), "log_rewards": self.log_rewards.cpu()}

    def load_state_dict(self, state) -> None:
        dev = self.terminals.device
        self.terminals, self.log_rewards = state["terminals"].to(dev), state["log_rewards"].to(dev)
