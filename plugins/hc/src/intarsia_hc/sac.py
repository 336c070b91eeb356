"""Soft actor-critic with a HyperCombinator actor (policy ``sac-hc``) or an MLP actor (``sac-mlp``), CleanRL style.

The algorithm is pytorch_sac's (the code the paper's control experiments build on):

* critic: two Q networks, target r + gamma (1 - terminated) (min_i Q'_i(s', a') - alpha log pi(a'|s')),
  a' ~ pi(.|s'), loss sum_i MSE(Q_i(s, a), target); Polyak target updates every ``target_update_every``;
* actor: minimise alpha log pi(a|s) - min_i Q_i(s, a) with a reparameterised a ~ pi(.|s);
* temperature: minimise alpha (-log pi(a|s) - target_entropy), target entropy -dim(A);
* ``seed_steps`` uniformly random actions first, then ``updates_per_step`` updates per env step; both count
  global env steps (all ranks together: the runner's ``step``, :class:`intarsia.schedule.TrainSchedule`).

Acting (and so evaluation, which runs on rank 0 only) reads the bare actor: a forward through the DDP
wrapper would broadcast the HC actor's buffer, a collective the other ranks never join.

The only difference between the two agents is the actor module (:mod:`intarsia_hc.actor`); the HC actor's
log-density is the one its config names (``actor.log_prob``). Truncations (time limits) bootstrap.
Loss terms are named: ``loss/critic``, ``loss/actor``, ``loss/alpha`` (and ``loss/diversity``, the combinator
regulariser of ``actor.diversity_coef``, already inside ``loss/actor``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from intarsia.errors import ConfigError
from intarsia.metric_means import MetricMeans
from intarsia.schedule import TrainSchedule

from . import actor as pi
from .config import SACConfig
from .critic import DoubleQCritic, LogTemperature, polyak
from .replay import Replay


def _box(space, what: str):
    if not (hasattr(space, "low") and hasattr(space, "high") and space.shape):
        raise ConfigError(f"this agent needs a continuous (Box) {what} space, got {space}")
    return space


def _unwrap(module):
    return module.module if hasattr(module, "module") else module


class SACAgent:
    """SAC driven by the intarsia runner; ``config.actor.kind`` picks the HyperCombinator or the MLP actor."""

    def __init__(self, config: SACConfig, *, env_spec, fabric):
        self.cfg, self.fabric = config, fabric
        obs_space = _box(env_spec.observation_space, "observation")
        act_space = _box(env_spec.action_space, "action")
        self.num_envs = int(env_spec.num_envs)
        self.obs_dim = int(np.prod(obs_space.shape))
        self.action_dim = int(np.prod(act_space.shape))
        self.action_shape = tuple(act_space.shape)
        self.low = np.asarray(act_space.low, np.float32).reshape(-1)
        self.high = np.asarray(act_space.high, np.float32).reshape(-1)
        self.target_entropy = float(-self.action_dim if config.target_entropy is None else config.target_entropy)

        seed = config.seed if config.seed is not None else int(torch.randint(0, 2**31 - 1, ()).item())
        self.rng = torch.Generator().manual_seed(seed + 7919 * (fabric.global_rank + 1))

        actor = pi.build_actor(config.actor, self.obs_dim, self.action_dim)
        critic = DoubleQCritic(self.obs_dim, self.action_dim, config.critic_hidden_sizes)
        betas = (0.9, 0.999)
        self.actor, self.actor_optim = fabric.setup(actor, torch.optim.Adam(actor.parameters(), lr=config.actor_lr, betas=betas))
        self.critic, self.critic_optim = fabric.setup(critic, torch.optim.Adam(critic.parameters(), lr=config.critic_lr, betas=betas))
        temperature = LogTemperature(config.init_temperature)
        self.alpha, self.alpha_optim = fabric.setup(temperature, torch.optim.Adam(temperature.parameters(), lr=config.alpha_lr, betas=betas))
        # copied after setup: DDP has broadcast rank 0's weights into ``critic`` by now
        self.critic_target = copy.deepcopy(critic).requires_grad_(False)
        self.replay = Replay(config.buffer_size, self.num_envs, {
            "obs": ((self.obs_dim,), np.float32), "action": ((self.action_dim,), np.float32),
            "reward": ((), np.float32), "next_obs": ((self.obs_dim,), np.float32), "terminated": ((), np.float32)})
        self.env_steps = 0  # per rank
        self.step = 0  # the runner's global env step, as of the latest update(step)
        self.updates = 0
        self.schedule = TrainSchedule.from_ratio(config.seed_steps, config.updates_per_step)
        self._metrics = MetricMeans(config.metrics_every)

    # ----------------------------------------------------------------------------------------------
    @property
    def actor_module(self):
        """The bare actor (for interpretability: coefficients, the combinator)."""
        return _unwrap(self.actor)

    def actor_input(self, obs) -> torch.Tensor:
        """What the actor reads: the flattened observation (the HC features are linear in it)."""
        return self._obs(obs)

    def _obs(self, obs) -> torch.Tensor:
        return torch.as_tensor(np.asarray(obs, np.float32).reshape(len(obs), -1), device=self.fabric.device)

    def _to_env(self, action: np.ndarray) -> np.ndarray:
        """[-1, 1] (tanh) -> the env's box."""
        out = self.low + 0.5 * (action + 1.0) * (self.high - self.low)
        return out.reshape(len(action), *self.action_shape).astype(np.float32)

    def _from_env(self, action: np.ndarray) -> np.ndarray:
        a = np.asarray(action, np.float32).reshape(len(action), -1)
        return np.clip(2.0 * (a - self.low) / np.maximum(self.high - self.low, 1e-8) - 1.0, -1.0, 1.0)

    @torch.no_grad()
    def act(self, obs, state, *, explore: bool = True, reset: np.ndarray | None = None):
        n = len(obs)
        if explore and self.step < self.cfg.seed_steps:
            unit = torch.rand(n, self.action_dim, generator=self.rng).numpy() * 2.0 - 1.0
            return self._to_env(unit), state
        with self.fabric.autocast():
            out = self.actor_module(self._obs(obs), explore=explore)
        action, _ = pi.sample(out, deterministic=not explore)
        return self._to_env(action.float().cpu().numpy()), state

    def observe(self, batch) -> None:
        reward = batch.reward if batch.reward is not None else batch.env_reward
        self.replay.add(obs=np.asarray(batch.obs, np.float32).reshape(batch.num_envs, -1),
                        action=self._from_env(batch.action), reward=np.asarray(reward, np.float32),
                        next_obs=np.asarray(batch.next_obs, np.float32).reshape(batch.num_envs, -1),
                        terminated=np.asarray(batch.terminated, np.float32), done=batch.done)
        self.env_steps += batch.num_envs

    def update(self, step: int) -> dict[str, float]:
        return run_due_updates(self, step)

    # ----------------------------------------------------------------------------------------------
    def _update_once(self) -> dict[str, torch.Tensor]:
        """One SAC update; its metrics stay detached tensors (``update`` reads them every ``metrics_every``)."""
        c = self.cfg
        actor_cfg = c.actor
        if actor_cfg.kind == "hc":
            self.actor_module.temperature.fill_(pi.gumbel_temperature(actor_cfg, self.updates))
        t, env = self.replay.sample(c.batch_size, self.rng)
        b = self.replay.gather(t, env, ("obs", "action", "reward", "next_obs", "terminated"), self.fabric.device)
        alpha = self.alpha().detach()

        with torch.no_grad(), self.fabric.autocast():  # the target critic is not a Fabric module
            out = self.actor(b["next_obs"], explore=True)
            next_action, u = pi.sample(out)
            next_logp = pi.log_prob(out, u, actor_cfg.log_prob)
            tq1, tq2 = self.critic_target(b["next_obs"], next_action)
            target = b["reward"] + c.gamma * (1.0 - b["terminated"]) * (torch.min(tq1, tq2) - alpha * next_logp)
        q1, q2 = self.critic(b["obs"], b["action"])
        critic_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        self.critic_optim.zero_grad(set_to_none=True)
        self.fabric.backward(critic_loss)
        self.critic_optim.step()
        metrics = {"loss/critic": critic_loss.detach(), "q/mean": q1.detach().mean()}

        if self.updates % c.actor_update_every == 0:
            out = self.actor(b["obs"], explore=True)
            action, u = pi.sample(out)
            logp = pi.log_prob(out, u, actor_cfg.log_prob)
            aq1, aq2 = self.critic(b["obs"], action)
            actor_loss = (alpha * logp - torch.min(aq1, aq2)).mean()
            if actor_cfg.diversity_coef > 0 and out.get("logits") is not None:
                diversity = pi.diversity_loss(out["logits"], actor_cfg.diversity)
                actor_loss = actor_loss + actor_cfg.diversity_coef * diversity
                metrics["loss/diversity"] = diversity.detach()
            self.actor_optim.zero_grad(set_to_none=True)
            self.fabric.backward(actor_loss)
            self.actor_optim.step()
            metrics.update({"loss/actor": actor_loss.detach(), "policy/entropy": -logp.detach().mean()})
            if c.learnable_temperature:
                alpha_loss = (self.alpha() * (-logp.detach() - self.target_entropy)).mean()
                self.alpha_optim.zero_grad(set_to_none=True)
                self.fabric.backward(alpha_loss)
                self.alpha_optim.step()
                metrics["loss/alpha"] = alpha_loss.detach()
            if out.get("logits") is not None:
                probs = F.softmax(out["logits"].detach().float(), -1)
                usage = torch.bincount(out["choice"], minlength=probs.shape[-1]).float() / len(out["choice"])
                metrics["hc/batch_usage_entropy"] = -(usage * usage.clamp_min(1e-12).log()).sum()
                metrics["hc/combinator_entropy"] = -(probs * probs.clamp_min(1e-12).log()).sum(-1).mean()
                metrics["hc/gumbel_temperature"] = self.actor_module.temperature.detach().clone()
        metrics["alpha"] = alpha
        if self.updates % c.target_update_every == 0:
            polyak(self.critic_target, _unwrap(self.critic), c.tau)
        self.updates += 1
        return metrics

    # ----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = {
            "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(), "alpha": self.alpha.state_dict(),
            "actor_optim": self.actor_optim.state_dict(), "critic_optim": self.critic_optim.state_dict(),
            "alpha_optim": self.alpha_optim.state_dict(),
            "counters": torch.tensor([self.env_steps, self.updates, self.step]),
            "schedule": self.schedule.state_dict(), "rng": self.rng.get_state(),
        }
        if self.cfg.checkpoint_replay:
            state["replay"] = self.replay.state_dict()
        return state

    def load_state_dict(self, state: Mapping) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        self.alpha.load_state_dict(state["alpha"])
        self.actor_optim.load_state_dict(state["actor_optim"])
        self.critic_optim.load_state_dict(state["critic_optim"])
        self.alpha_optim.load_state_dict(state["alpha_optim"])
        self.env_steps, self.updates, self.step = (int(x) for x in state["counters"])
        if "schedule" in state:
            self.schedule.load_state_dict(state["schedule"])
        else:  # saved before the schedule: the last counter was pending updates, env steps were per rank
            self.step = self.env_steps * self.fabric.world_size
            self.schedule.resume(self.step)
        self.rng.set_state(state["rng"])
        if "replay" in state:  # else learning waits until the replay holds a batch again
            self.replay.load_state_dict(state["replay"])


def run_due_updates(agent, step: int) -> dict[str, float]:
    """``update(step)`` of the hc agents (SAC and RIS): the updates ``agent.schedule`` says are due at global env
    step ``step``, once the replay holds a batch; metrics every ``metrics_every`` updates, else ``{}``."""
    agent.step = int(step)
    count = agent.schedule.due(step)  # rounds due while the replay holds less than a batch are dropped
    if not count or len(agent.replay) < agent.cfg.batch_size:
        return {}
    for _ in range(count):
        agent._metrics.add(agent._update_once())
    if not agent._metrics.due():
        return {}
    return {**agent._metrics.pop(), "train/updates": float(agent.updates)}
