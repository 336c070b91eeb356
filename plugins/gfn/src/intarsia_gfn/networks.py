"""The networks: an MLP trunk with the three GFlowNet heads (P_F logits, P_B logits, log F)."""

from __future__ import annotations

import torch
from torch import nn


def mlp_trunk(in_dim: int, hidden: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i in range(max(1, layers)):
        mods += [nn.Linear(in_dim if i == 0 else hidden, hidden), nn.ReLU()]
    return nn.Sequential(*mods)


class GFlowNetHeads(nn.Module):
    """One trunk shared by the forward policy, the backward policy and the state flow (torchgfn's tutorial
    ties P_F and P_B the same way); ``log_z`` is the TB partition-function estimate.

    For an outcome-conditioned GFlowNet the input is ``[features(s), features(y)]``.
    """

    def __init__(self, in_dim: int, n_actions: int, hidden: int, layers: int, uniform_backward: bool = False):
        super().__init__()
        self.trunk = mlp_trunk(in_dim, hidden, layers)
        self.forward_head = nn.Linear(hidden, n_actions)
        self.backward_head = None if uniform_backward else nn.Linear(hidden, n_actions - 1)
        self.flow_head = nn.Linear(hidden, 1)
        self.log_z = nn.Parameter(torch.zeros(1))
        self.n_actions = n_actions

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (forward logits (n, A), backward logits (n, A-1), log F (n,))"""
        return self.heads(self.trunk(x))

    def heads(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The three heads on trunk outputs ``h`` (a rollout that kept them need not run the trunk again)."""
        pb = self.backward_head(h) if self.backward_head is not None else h.new_zeros(len(h), self.n_actions - 1)
        return self.forward_head(h), pb, self.flow_head(h).squeeze(-1)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.trunk(x))

    def train_only(self, *, flow: bool, log_z: bool) -> GFlowNetHeads:
        """Freeze the heads the objective never reads (TB: the state flow; DB, SubTB, OC-GFN: log Z). Under
        DDP every trainable parameter must receive a gradient in each backward, or the gradient reduction
        fails; frozen, they still stay in the state dict, so checkpoints and ``model.pt`` keep their keys."""
        self.flow_head.requires_grad_(flow)
        self.log_z.requires_grad_(log_z)
        return self

    def network_parameters(self):
        return [p for name, p in self.named_parameters() if name != "log_z"]


def masked_log_softmax(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log-probabilities over the allowed entries; disallowed ones get -inf."""
    return logits.masked_fill(~mask, float("-inf")).log_softmax(-1)
