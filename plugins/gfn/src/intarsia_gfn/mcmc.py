"""The ``mcmc`` sampler: Metropolis-Hastings over terminal objects, the from-scratch baseline of OC-GFN's
fine-tuning comparison (Pan et al., 2024, compare against MCMC at equal reward queries).

``batch_size`` chains start on uniformly drawn objects; each iteration every chain proposes an object with
``tokens_per_move`` of its tokens redrawn uniformly (a symmetric proposal, so the acceptance is
min(1, (R(x') / R(x))^(1/T))) and each proposal is one reward query (distinct objects are counted).
"""

from __future__ import annotations

import torch

from .config import MCMCConfig
from .dag import DAGEnv, require_outcome_tokens
from .envs import make_env
from .evaluation import DistinctObjects, ModeTracker
from .ocgfn import uniform_terminals


class MetropolisHastings:
    def __init__(self, config: MCMCConfig, *, fabric, env: DAGEnv | None = None):
        self.config, self.fabric = config, fabric
        self.env = env if env is not None else make_env(config.env, device=fabric.device)
        require_outcome_tokens(self.env, "mcmc")
        self.modes = ModeTracker(self.env)
        self.queried = DistinctObjects(self.env)
        self.trajectories = 0
        self.chains = None
        self.chain_log_r = None

    def _start(self) -> None:
        self.chains = uniform_terminals(self.env, self.config.batch_size)
        self.chain_log_r = self._query(self.chains)

    def _query(self, x: torch.Tensor) -> torch.Tensor:
        self.queried.add(x)
        log_r = self.env.log_reward(x).float()
        self.modes.add(x, log_r)
        self.trajectories += len(x)
        return log_r

    def update(self, step: int) -> dict[str, float]:
        if self.chains is None:
            self._start()
        env, n = self.env, self.config.batch_size
        tokens = env.to_tokens(self.chains).clone()
        for _ in range(min(self.config.tokens_per_move, env.outcome_tokens)):
            pos = torch.randint(env.outcome_tokens, (n,), device=tokens.device)
            tokens[torch.arange(n, device=tokens.device), pos] = torch.randint(env.outcome_vocab, (n,),
                                                                              device=tokens.device)
        proposal = env.from_tokens(tokens)
        log_r = self._query(proposal)
        accept = torch.rand(n, device=log_r.device).log() < (log_r - self.chain_log_r) / self.config.temperature
        self.chains = torch.where(accept.view(-1, *([1] * (proposal.dim() - 1))), proposal, self.chains)
        self.chain_log_r = torch.where(accept, log_r, self.chain_log_r)
        return {"train/acceptance": float(accept.float().mean()), "train/log_reward": float(self.chain_log_r.mean()),
                "train/reward_queries": float(len(self.queried)), **self.modes.metrics()}

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        if self.chains is None:
            return uniform_terminals(self.env, n)
        return self.chains[torch.randint(len(self.chains), (n,), device=self.chains.device)]

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        out = {**self.modes.metrics(prefix=""), "trajectories": float(self.trajectories),
               "reward_queries": float(len(self.queried))}
        if self.chain_log_r is not None:
            out["mean_log_reward"] = float(self.chain_log_r.mean())
        return out

    def state_dict(self) -> dict:
        started = self.chains is not None
        return {"trajectories": self.trajectories, "modes": self.modes.state_dict(), "queried": self.queried.state_dict(),
                "chains": self.chains.cpu() if started else torch.zeros(0),
                "chain_log_r": self.chain_log_r.cpu() if started else torch.zeros(0)}

    def load_state_dict(self, state) -> None:
        self.trajectories = int(state["trajectories"])
        self.modes.load_state_dict(state["modes"])
        self.queried.load_state_dict(state["queried"])
        if len(state["chains"]):
            self.chains = state["chains"].to(self.env.device)
            self.chain_log_r = state["chain_log_r"].to(self.env.device)
