"""The ``gflownet`` sampler: a GFlowNet on a DAG's reward, trained with TB, DB or SubTB(lambda).

One iteration: roll out ``batch_size`` trajectories with the exploration policy (epsilon-uniform,
temperature), replace a ``replay.ratio`` share of them by backward trajectories from the replay's best
terminals, score every visited state with one network call, take one Adam step on the chosen loss.
"""

from __future__ import annotations

import torch
from intarsia.errors import ConfigError

from . import losses
from .config import GFlowNetConfig
from .dag import DAGEnv
from .envs import make_env
from .evaluation import (
    DistinctObjects,
    ModeTracker,
    distribution_metrics,
    forward_log_probs_of,
    target_distribution,
    terminal_distribution,
    total_modes,
    transition_table,
)
from .networks import GFlowNetHeads
from .replay import TerminalReplay
from .trajectories import GATHER_FROM, Trajectories, sample_and_score, sample_backward, sample_forward, score

LOSSES = ("tb", "db", "subtb")


class GFlowNet:
    def __init__(self, config: GFlowNetConfig, *, fabric, env: DAGEnv | None = None):
        if config.loss not in LOSSES:
            raise ConfigError(f"loss: unknown GFlowNet objective {config.loss!r}; choose one of {', '.join(LOSSES)}")
        if config.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {config.batch_size}")
        self.config, self.fabric = config, fabric
        self.env = env if env is not None else make_env(config.env, device=fabric.device)
        net = GFlowNetHeads(self.env.feature_dim, self.env.n_actions, config.network.hidden, config.network.layers,
                            config.network.uniform_backward).train_only(flow=config.loss != "tb",
                                                                        log_z=config.loss == "tb")
        opt = torch.optim.Adam([{"params": net.network_parameters(), "lr": config.lr},
                                {"params": [net.log_z], "lr": config.lr_logz}], foreach=True)
        self.net, self.opt = fabric.setup(net, opt)
        self.replay = TerminalReplay(config.replay.capacity, self.env.state_shape, self.env.device)
        self.modes = ModeTracker(self.env)
        self.queried = DistinctObjects(self.env)
        self.trajectories = 0
        self._table = None

    # -- the policies as the rollouts need them ------------------------------------------------------------
    # Rollouts draw without gradients from the bare network; the loss's one forward goes through the
    # wrapper (``score``), so that DDP's hooks see it.
    def _forward_logits(self, states, rows=None):
        return self.net.module.forward_logits(self.env.features(states))

    def _score_in_rollout(self, n_replay: int) -> bool:
        """Score a batch during its rollout (see ``sample_and_score``) when it is all on-policy, large
        enough for the rollout to gather live rows anyway, and single-process: under DDP the loss's
        forward must be one call of the wrapped module."""
        return n_replay == 0 and self.config.batch_size >= GATHER_FROM and self.fabric.world_size == 1

    def _backward_logits(self, states, rows=None):
        return self.net.module(self.env.features(states))[1]

    # -- Sampler -------------------------------------------------------------------------------------------
    def update(self, step: int) -> dict[str, float]:
        cfg = self.config
        n_replay = int(round(cfg.batch_size * cfg.replay.ratio)) if len(self.replay) else 0
        explore = {"epsilon": cfg.exploration.epsilon, "temperature": cfg.exploration.temperature}
        # forward_logits bypasses the Fabric wrapper's autocast, so the rollout and the loss get it here
        with self.fabric.autocast():
            if self._score_in_rollout(n_replay):
                traj, scores = sample_and_score(self.env, self.net, cfg.batch_size, **explore)
                fresh = traj.terminals
                log_r = self.env.log_reward(fresh)
            else:
                traj = sample_forward(self.env, self._forward_logits, cfg.batch_size - n_replay, **explore)
                fresh = traj.terminals
                if n_replay:
                    traj = Trajectories.cat([traj, sample_backward(self.env, self._backward_logits,
                                                                   self.replay.sample(n_replay))])
                log_r = self.env.log_reward(traj.terminals)
                scores = score(self.env, self.net, traj)
            if cfg.loss == "tb":
                terms = losses.trajectory_balance(scores, self.net.log_z, log_r)
            elif cfg.loss == "db":
                terms = losses.detailed_balance(scores, log_r)
            else:
                terms = losses.subtrajectory_balance(scores, log_r, cfg.subtb_lambda)
            loss = sum(terms.values())
        self.opt.zero_grad(set_to_none=True)
        self.fabric.backward(loss)
        if cfg.grad_clip > 0:
            self.fabric.clip_gradients(self.net, self.opt, max_norm=cfg.grad_clip)
        self.opt.step()
        self.trajectories += len(fresh)
        self.modes.add(fresh, log_r[: len(fresh)])
        self.queried.add(fresh)
        self.replay.add(fresh, log_r[: len(fresh)])
        return {**{k: float(v.detach()) for k, v in terms.items()}, "train/log_z": float(self.net.log_z.detach()),
                "train/log_reward": float(log_r[: len(fresh)].mean()), **self.modes.metrics(),
                "train/reward_queries": float(len(self.queried))}

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        return sample_forward(self.env, self._forward_logits, n).terminals

    @torch.no_grad()
    def terminal_distribution(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(P_T, target, terminal mask) over ``env.all_states()``; needs an enumerable env."""
        if self._table is None:
            self._table = transition_table(self.env)
        logp = forward_log_probs_of(self.env, self._forward_logits)
        target, terminal = target_distribution(self.env)
        return terminal_distribution(self.env, logp, self._table), target, terminal

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        out = {**self.modes.metrics(prefix=""), "trajectories": float(self.trajectories),
               "reward_queries": float(len(self.queried))}
        if self.env.enumerable:
            p, target, terminal = self.terminal_distribution()
            out.update(distribution_metrics(p, target, terminal))
            out["modes_total"] = float(total_modes(self.env))
        else:
            out["mean_log_reward"] = float(self.env.log_reward(self.sample(1024)).mean())
        return out

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "opt": self.opt.state_dict(), "trajectories": self.trajectories,
                "replay": self.replay.state_dict(), "modes": self.modes.state_dict(), "queried": self.queried.state_dict()}

    def load_state_dict(self, state) -> None:
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        self.trajectories = int(state["trajectories"])
        self.replay.load_state_dict(state["replay"])
        self.modes.load_state_dict(state["modes"])
        if "queried" in state:
            self.queried.load_state_dict(state["queried"])
