"""HyperGrid (Bengio et al., 2021): start at the origin of a d-dimensional grid of side H, increment one
coordinate per action, exit anywhere. Every state is a terminal object."""

from __future__ import annotations

import torch
from intarsia.errors import ConfigError

from ..config import EnvConfig
from ..dag import DAGEnv, Enumerable, OutcomeTokens


class HyperGrid(DAGEnv, Enumerable, OutcomeTokens):
    enumerable = True
    REWARDS = ("standard", "random")

    def __init__(self, config: EnvConfig, device="cpu"):
        if config.ndim < 1 or config.height < 2:
            raise ConfigError(f"env: hypergrid needs ndim >= 1 and height >= 2, got ndim={config.ndim}, "
                              f"height={config.height}")
        if config.reward not in self.REWARDS:
            raise ConfigError(f"env.reward: unknown hypergrid reward {config.reward!r}; use standard or random")
        if min(config.R0, config.R1, config.R2) < 0 or config.R0 <= 0:
            raise ConfigError("env: hypergrid rewards need R0 > 0 and R1, R2 >= 0")
        self.config, self.device = config, torch.device(device)
        self.ndim, self.height = config.ndim, config.height
        self.n_actions = self.ndim + 1
        self.max_length = self.ndim * (self.height - 1) + 1
        self.state_shape = (self.ndim,)
        self.feature_dim = self.ndim * self.height
        self.outcome_tokens, self.outcome_vocab = self.ndim, self.height
        self.n_terminals = self.height ** self.ndim
        self._powers = self.height ** torch.arange(self.ndim, device=self.device)
        self._mode_cells = None
        if config.reward == "random":
            g = torch.Generator().manual_seed(config.modes_seed)
            cells = torch.randperm(self.height ** self.ndim, generator=g)[: config.modes]
            self._mode_cells = cells.to(self.device)

    def initial_states(self, n):
        return torch.zeros(n, self.ndim, dtype=torch.long, device=self.device)

    def is_initial(self, states):
        return (states == 0).all(-1)

    def forward_mask(self, states):
        exit_ = torch.ones(states.shape[0], 1, dtype=torch.bool, device=states.device)
        return torch.cat([states < self.height - 1, exit_], dim=1)

    def backward_mask(self, states):
        return states > 0

    def step(self, states, actions):
        move = (actions < self.ndim).long()[:, None]
        return states.scatter_add(1, actions.clamp(max=self.ndim - 1)[:, None], move)

    def backward_step(self, states, actions):
        return states - torch.nn.functional.one_hot(actions, self.ndim)

    def features(self, states):
        return torch.nn.functional.one_hot(states, self.height).flatten(1).float()

    def reward(self, x):
        c = self.config
        if self._mode_cells is not None:
            return c.R0 + c.R2 * torch.isin(self.index(x), self._mode_cells).float()
        ax = (x.float() / (self.height - 1) - 0.5).abs()
        eps = 1e-6  # cells on a boundary (0.25, 0.3, 0.4) fall outside, as in torchgfn's "original"
        outer = (ax > 0.25 + eps).all(-1).float()
        band = ((ax > 0.3 + eps) & (ax < 0.4 - eps)).all(-1).float()
        return c.R0 + c.R1 * outer + c.R2 * band

    def log_reward(self, terminals):
        return self.reward(terminals).log()

    def is_mode(self, terminals):
        return self.reward(terminals) >= self._max_reward() - 1e-6

    def _max_reward(self):
        c = self.config
        if self._mode_cells is not None:
            return c.R0 + c.R2
        has_band = bool(((self.all_states().float() / (self.height - 1) - 0.5).abs().sub(0.35).abs() < 0.05 - 1e-6)
                        .all(-1).any())
        return c.R0 + c.R1 + (c.R2 if has_band else 0.0)

    def mode_objects(self):
        if self._mode_cells is not None:
            return self.all_states()[self._mode_cells]  # positions in all_states(), as reward() reads them
        states = self.all_states()
        return states[self.is_mode(states)]

    def mode_distance(self, terminals, modes):
        return (terminals[:, None, :] - modes[None]).abs().sum(-1)

    def to_tokens(self, terminals):
        return terminals

    def from_tokens(self, tokens):
        return tokens

    def all_states(self):
        n = self.height ** self.ndim
        idx = torch.arange(n, device=self.device)
        states = (idx[:, None] // self._powers) % self.height
        order = torch.argsort(states.sum(-1) * n + idx)  # by level: parents first
        return states[order]

    def index(self, states):
        # position in all_states(): computed from the level-sorted order once
        if not hasattr(self, "_rank"):
            n = self.height ** self.ndim
            flat = (self.all_states() * self._powers).sum(-1)
            self._rank = torch.empty(n, dtype=torch.long, device=self.device)
            self._rank[flat] = torch.arange(n, device=self.device)
        return self._rank[(states * self._powers).sum(-1)]

    def __repr__(self):
        return f"HyperGrid(ndim={self.ndim}, height={self.height}, reward={self.config.reward}, R0={self.config.R0})"

