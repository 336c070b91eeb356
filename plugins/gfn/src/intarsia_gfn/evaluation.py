"""Exact evaluation on enumerable DAGs: the terminal distribution P_T by dynamic programming, its distance
to the target R(x)/Z, and the modes a sampler has found.

P_T is computed by propagating the probability of reaching each state along P_F (a state's mass is the sum
over its parents of mass(parent) * P_F(state | parent)); P_T(x) = mass(x) * P_F(exit | x). Because the
states are ordered parents first and a trajectory has at most ``max_length`` actions, ``max_length``
sweeps are exact.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .dag import DAGEnv, all_states


@torch.no_grad()
def transition_table(env: DAGEnv) -> tuple[torch.Tensor, torch.Tensor]:
    """(S, A-1) child index of each state under each move (-1 where not allowed) and the (S, A) mask."""
    states = all_states(env)
    mask = env.forward_mask(states)
    S, A = mask.shape
    children = torch.full((S, A - 1), -1, dtype=torch.long, device=states.device)
    for a in range(A - 1):
        ok = mask[:, a]
        if ok.any():
            act = torch.full((int(ok.sum()),), a, dtype=torch.long, device=states.device)
            children[ok, a] = env.index(env.step(states[ok], act))
    return children, mask


@torch.no_grad()
def terminal_distribution(env: DAGEnv, forward_log_probs: torch.Tensor, table=None) -> torch.Tensor:
    """P_T over ``all_states(env)`` (0 where a state cannot exit).

    ``forward_log_probs``: (S, A) or (S, A, K) masked log P_F for every state (K policies at once, e.g. one
    per outcome of an OC-GFN); returns (S,) or (S, K)."""
    children, _ = table if table is not None else transition_table(env)
    probs = forward_log_probs.exp()
    batched = probs.dim() == 3
    if not batched:
        probs = probs[..., None]
    S, A, K = probs.shape
    start = torch.zeros(S, K, dtype=probs.dtype, device=probs.device)
    start[env.index(env.initial_states(1))] = 1.0
    ok = children >= 0
    src = torch.nonzero(ok)  # (E, 2): (state, action)
    dst = children[ok]
    mass = start
    for _ in range(env.max_length):
        flow = mass[src[:, 0]] * probs[src[:, 0], src[:, 1]]
        mass = start.index_add(0, dst, flow)
    out = mass * probs[:, A - 1]
    return out if batched else out[:, 0]


def target_distribution(env: DAGEnv) -> tuple[torch.Tensor, torch.Tensor]:
    """(target over all_states (0 where a state cannot exit), bool mask of terminal states)"""
    states = all_states(env)
    terminal = env.can_exit(states)
    logr = torch.full((len(states),), float("-inf"), device=states.device)
    logr[terminal] = env.log_reward(states[terminal]).float()
    return (logr - torch.logsumexp(logr[terminal], 0)).exp(), terminal


def distribution_metrics(p: torch.Tensor, target: torch.Tensor, terminal: torch.Tensor) -> dict[str, float]:
    """l1_sum (what torchgfn >= 2.4 reports), l1_mean (per terminal state: the TB paper and older code),
    and the Jensen-Shannon divergence (natural log)."""
    p, q = p[terminal].double(), target[terminal].double()
    l1 = (p - q).abs().sum()
    m = 0.5 * (p + q)

    def kl(a, b):
        return torch.where(a > 0, a * (a.clamp_min(1e-300).log() - b.clamp_min(1e-300).log()), 0.0).sum()

    return {"l1_sum": float(l1), "l1_mean": float(l1 / len(p)), "jsd": float(0.5 * kl(p, m) + 0.5 * kl(q, m))}


class ModeTracker:
    """The distinct modes among the terminal objects seen so far (``modes_found``)."""

    def __init__(self, env: DAGEnv):
        self.env = env
        self.found = torch.zeros(0, *env.state_shape, dtype=torch.long, device=env.device)

    def add(self, terminals: torch.Tensor) -> None:
        modes = terminals[self.env.is_mode(terminals)]
        if len(modes):
            self.found = torch.unique(torch.cat([self.found, modes]), dim=0)

    def __len__(self) -> int:
        return len(self.found)

    def state_dict(self) -> dict:
        return {"found": self.found.cpu()}

    def load_state_dict(self, state) -> None:
        self.found = state["found"].to(self.env.device)


def total_modes(env: DAGEnv) -> int:
    states = all_states(env)
    terminal = env.can_exit(states)
    return int(env.is_mode(states[terminal]).sum())


def forward_log_probs_of(env: DAGEnv, logits_fn: Callable[[torch.Tensor], torch.Tensor], chunk: int = 65536):
    """Masked log P_F for every state of an enumerable env, in chunks."""
    from .networks import masked_log_softmax

    states = all_states(env)
    out = []
    for i in range(0, len(states), chunk):
        s = states[i:i + chunk]
        out.append(masked_log_softmax(logits_fn(s), env.forward_mask(s)))
    return torch.cat(out)
