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
from intarsia.errors import ConfigError

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


class ObjectSet:
    """Distinct terminal objects. On an enumerable env they are kept as a mask over ``all_states()`` (a
    scatter per batch: this runs every iteration of every sampler, and ``unique`` over rows is slow); else as
    unique rows."""

    def __init__(self, env: DAGEnv):
        self.env = env
        self.indexed = bool(getattr(env, "enumerable", False)) and hasattr(env, "index")
        if self.indexed:
            self.mask = torch.zeros(len(env.all_states()), dtype=torch.bool, device=env.device)
        else:
            self.rows = torch.zeros(0, *env.state_shape, dtype=torch.long, device=env.device)

    def add(self, objects: torch.Tensor) -> None:
        if self.indexed:
            self.mask[self.env.index(objects)] = True
        elif len(objects):
            self.rows = torch.unique(torch.cat([self.rows, objects]), dim=0)

    def __len__(self) -> int:
        return int(self.mask.sum()) if self.indexed else len(self.rows)

    def objects(self) -> torch.Tensor:
        return self.env.all_states()[self.mask] if self.indexed else self.rows

    def state_dict(self) -> dict:
        return {"seen": self.objects().cpu()}

    def load_state_dict(self, state) -> None:
        seen = state["seen"].to(self.env.device)
        if self.indexed:
            self.mask.zero_()
        else:
            self.rows = seen[:0]
        self.add(seen)


class ModeTracker:
    """What a sampler has discovered among the terminal objects it produced so far (the paper's metrics):

    * ``modes_found``: distinct modes hit exactly (``env.is_mode``);
    * ``modes_within_delta``: modes (``env.mode_objects()``) with some produced object within
      ``env.config.mode_delta`` of them (``env.mode_distance``);
    * ``top_k_reward``: the mean reward R(x) of the best ``env.config.top_k`` distinct objects produced (fewer
      while fewer were produced).

    The rewards read here are for measuring only; samplers count their training queries themselves."""

    def __init__(self, env: DAGEnv):
        self.env = env
        cfg = getattr(env, "config", None)
        self.delta = int(getattr(cfg, "mode_delta", 0))
        self.k = int(getattr(cfg, "top_k", 100))
        self.modes = ObjectSet(env)
        try:
            self.centres = env.mode_objects()
        except ConfigError:
            self.centres = None
        n = 0 if self.centres is None else len(self.centres)
        self.within = torch.zeros(n, dtype=torch.bool, device=env.device)
        self.best = torch.zeros(0, *env.state_shape, dtype=torch.long, device=env.device)
        self.best_log_r = torch.zeros(0, device=env.device)
        self.seen_log_r = None

    @property
    def found(self) -> torch.Tensor:
        return self.modes.objects()

    def add(self, terminals: torch.Tensor, log_rewards: torch.Tensor | None = None) -> None:
        self.modes.add(terminals[self.env.is_mode(terminals)])
        if self.centres is not None and len(self.centres):
            self.within |= (self.env.mode_distance(terminals, self.centres) <= self.delta).any(0)
        logr = (log_rewards if log_rewards is not None else self.env.log_reward(terminals)).float()
        if self.modes.indexed:  # the reward of every object produced, over all_states(): top-K is read off it
            if self.seen_log_r is None:
                self.seen_log_r = torch.full((len(self.modes.mask),), float("-inf"), device=logr.device)
            self.seen_log_r[self.env.index(terminals)] = logr
            return
        x, inverse = torch.unique(torch.cat([self.best, terminals]), dim=0, return_inverse=True)
        r = torch.full((len(x),), float("-inf"), device=logr.device).scatter_reduce(
            0, inverse, torch.cat([self.best_log_r, logr]), "amax")
        keep = torch.argsort(r, descending=True)[: self.k]
        self.best, self.best_log_r = x[keep], r[keep]

    def _top(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.seen_log_r is None:
            return self.best, self.best_log_r
        r, i = torch.topk(self.seen_log_r, min(self.k, len(self.seen_log_r)))
        ok = r > float("-inf")
        return self.env.all_states()[i[ok]], r[ok]
    def __len__(self) -> int:
        return len(self.modes)

    @property
    def within_delta(self) -> int:
        return int(self.within.sum())

    @property
    def top_k_reward(self) -> float:
        _, r = self._top()
        return float(r.exp().mean()) if len(r) else 0.0

    def metrics(self, prefix: str = "train/") -> dict[str, float]:
        return {f"{prefix}modes_found": float(len(self)), f"{prefix}modes_within_delta": float(self.within_delta),
                f"{prefix}top_k_reward": self.top_k_reward}

    def state_dict(self) -> dict:
        best, best_log_r = self._top()
        return {"found": self.found.cpu(), "within": self.within.cpu(), "best": best.cpu(),
                "best_log_r": best_log_r.cpu()}

    def load_state_dict(self, state) -> None:
        dev = self.env.device
        self.modes.load_state_dict({"seen": state["found"]})
        if "within" in state:  # checkpoints from before these metrics hold only ``found``
            self.within = state["within"].to(dev)
            self.best, self.best_log_r = state["best"].to(dev), state["best_log_r"].to(dev)
            if self.modes.indexed:
                self.seen_log_r = None
                if len(self.best):
                    self.add(self.best, self.best_log_r)


DistinctObjects = ObjectSet
"""the distinct objects whose reward a sampler asked for (``reward_queries``)"""


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
