"""Goal-conditioned SAC with RIS's prior policy from imagined subgoals (Chane-Sane, Schmid, Laptev 2021), with a
HyperCombinator (``actor.kind: hc``) or an MLP actor: policy ``ris-hc``. CleanRL style, after the authors'
``RIS.py``.

Per update, on a batch relabelled as in HER (20% the episode's own goal; of the rest half a random replay
state, half a future state of the same episode), reward -1 per step and terminal once the goal is within
``goal_threshold``:

* critic: Q(s, a, g) double-Q with target r + gamma (1 - d) min_i Q'_i(s', a', g), a' ~ pi(.|s', g);
* subgoal policy pi_H(s_g | s, g) (a Laplace distribution): advantage-weighted regression towards replay states
  s_g, weights softmax(-(C(s_g) - C(mean of pi_H)) / lambda) with C(s_g) = max(|V(s, s_g)|, |V(s_g, g)|);
* actor: minimise alpha KL(pi(.|s, g) || prior(.|s, g)) - min_i Q_i(s, a, g), where the prior is the target
  actor averaged over N imagined subgoals, prior(a|s, g) = mean_n pi'(a | s, s_g^n), s_g^n ~ pi_H(.|s, g).
  The KL is estimated at one reparameterised sample with pre-tanh densities (the tanh Jacobian cancels).

The HC actor's log-density is tractable (``actor.log_prob``), which is all the KL needs: this is the
paper's point that the parametrisation fits other algorithms' constraints. Loss terms: ``loss/critic``,
``loss/actor``, ``loss/subgoal``; ``ris/kl``, ``ris/advantage``.

``seed_steps`` and ``updates_per_step`` count global env steps, and acting reads the bare actor, as in
:mod:`intarsia_hc.sac`.
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
from torch import nn

from . import actor as pi
from .config import RISConfig
from .critic import DoubleQCritic, polyak
from .replay import Replay
from .sac import _unwrap, run_due_updates

GOAL_KEYS = ("observation", "desired_goal", "achieved_goal")


class SubgoalPolicy(nn.Module):
    """pi_H(s_g | s, g): a diagonal Laplace distribution over subgoals (RIS's LaplacePolicy)."""

    def __init__(self, goal_dim: int, hidden_sizes: list[int]):
        super().__init__()
        self.net = pi.mlp(2 * goal_dim, list(hidden_sizes), 2 * goal_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loc, log_scale = self.net(x).chunk(2, -1)
        return loc, log_scale.clamp(-20.0, 2.0).exp()


class RISAgent:
    def __init__(self, config: RISConfig, *, env_spec, fabric):
        self.cfg, self.fabric = config, fabric
        space = env_spec.observation_space
        if not hasattr(space, "spaces") or not set(GOAL_KEYS) <= set(space.spaces):
            raise ConfigError(f"ris-hc needs dict observations with keys {GOAL_KEYS}, got {space}")
        self.goal_dim = int(np.prod(space["desired_goal"].shape))
        if int(np.prod(space["observation"].shape)) != self.goal_dim:
            raise ConfigError("ris-hc: subgoals are states, so observation and desired_goal must have the same size")
        act_space = env_spec.action_space
        if not hasattr(act_space, "low"):
            raise ConfigError(f"ris-hc needs a continuous (Box) action space, got {act_space}")
        self.num_envs = int(env_spec.num_envs)
        self.action_dim = int(np.prod(act_space.shape))
        self.action_shape = tuple(act_space.shape)
        self.low = np.asarray(act_space.low, np.float32).reshape(-1)
        self.high = np.asarray(act_space.high, np.float32).reshape(-1)
        seed = config.seed if config.seed is not None else int(torch.randint(0, 2**31 - 1, ()).item())
        self.rng = torch.Generator().manual_seed(seed + 7919 * (fabric.global_rank + 1))

        d = self.goal_dim
        actor = pi.build_actor(config.actor, 2 * d, self.action_dim, goal_dim=d)
        critic = DoubleQCritic(2 * d, self.action_dim, config.critic_hidden_sizes)
        subgoal = SubgoalPolicy(d, config.subgoal_hidden_sizes)
        self.actor, self.actor_optim = fabric.setup(actor, torch.optim.Adam(actor.parameters(), lr=config.actor_lr))
        self.critic, self.critic_optim = fabric.setup(critic, torch.optim.Adam(critic.parameters(), lr=config.critic_lr))
        self.subgoal, self.subgoal_optim = fabric.setup(subgoal, torch.optim.Adam(subgoal.parameters(), lr=config.subgoal_lr))
        # copied after setup: DDP has broadcast rank 0's weights into ``actor`` and ``critic`` by now
        self.actor_target = copy.deepcopy(actor).requires_grad_(False)
        self.critic_target = copy.deepcopy(critic).requires_grad_(False)
        f32 = np.float32
        self.replay = Replay(config.buffer_size, self.num_envs, {
            "obs": ((d,), f32), "goal": ((d,), f32), "action": ((self.action_dim,), f32), "next_obs": ((d,), f32),
            "next_achieved": ((d,), f32)})
        self.env_steps = 0  # per rank
        self.step = 0  # the runner's global env step, as of the latest update(step)
        self.updates = 0
        self.schedule = TrainSchedule.from_ratio(config.seed_steps, config.updates_per_step)
        self._metrics = MetricMeans(config.metrics_every)

    # ----------------------------------------------------------------------------------------------
    @property
    def actor_module(self):
        return _unwrap(self.actor)

    def input_names(self, env) -> list[str]:
        return [f"s{i}" for i in range(self.goal_dim)] + [f"g{i}" for i in range(self.goal_dim)] \
            if getattr(env, "observation_names", None) is None else list(env.observation_names)

    def actor_input(self, obs) -> torch.Tensor:
        """[state, goal], the actor's (and the HC features') input."""
        n = len(obs["observation"])
        x = np.concatenate([np.asarray(obs["observation"], np.float32).reshape(n, -1),
                            np.asarray(obs["desired_goal"], np.float32).reshape(n, -1)], -1)
        return torch.as_tensor(x, device=self.fabric.device)

    def _to_env(self, action: np.ndarray) -> np.ndarray:
        out = self.low + 0.5 * (action + 1.0) * (self.high - self.low)
        return out.reshape(len(action), *self.action_shape).astype(np.float32)

    @torch.no_grad()
    def act(self, obs, state, *, explore: bool = True, reset: np.ndarray | None = None):
        n = len(obs["observation"])
        if explore and self.step < self.cfg.seed_steps:
            return self._to_env(torch.rand(n, self.action_dim, generator=self.rng).numpy() * 2.0 - 1.0), state
        with self.fabric.autocast():
            out = self.actor_module(self.actor_input(obs), explore=explore)
        action, _ = pi.sample(out, deterministic=not explore)
        return self._to_env(action.float().cpu().numpy()), state

    def observe(self, batch) -> None:
        n = batch.num_envs
        a = np.asarray(batch.action, np.float32).reshape(n, -1)
        unit = np.clip(2.0 * (a - self.low) / np.maximum(self.high - self.low, 1e-8) - 1.0, -1.0, 1.0)
        self.replay.add(obs=np.asarray(batch.obs["observation"], np.float32).reshape(n, -1),
                        goal=np.asarray(batch.obs["desired_goal"], np.float32).reshape(n, -1), action=unit,
                        next_obs=np.asarray(batch.next_obs["observation"], np.float32).reshape(n, -1),
                        next_achieved=np.asarray(batch.next_obs["achieved_goal"], np.float32).reshape(n, -1),
                        done=batch.done)
        self.env_steps += n

    def update(self, step: int) -> dict[str, float]:
        return run_due_updates(self, step)

    # ----------------------------------------------------------------------------------------------
    def _relabelled_batch(self) -> dict[str, torch.Tensor]:
        c, dev = self.cfg, self.fabric.device
        n = c.batch_size
        t, env = self.replay.sample(n, self.rng)
        b = self.replay.gather(t, env, ("obs", "goal", "action", "next_obs"), dev)
        n_rollout = int(n * c.rollout_goal_fraction)
        n_replay = int((n - n_rollout) * c.replay_goal_fraction)
        rt, renv = self.replay.sample(n_replay, self.rng)
        ft = self.replay.future(t[n_rollout + n_replay:], env[n_rollout + n_replay:], self.rng)
        achieved = self.replay.data["next_achieved"]
        goal = b["goal"].clone()
        goal[n_rollout:n_rollout + n_replay] = torch.as_tensor(achieved[rt, renv], device=dev)
        goal[n_rollout + n_replay:] = torch.as_tensor(achieved[ft, env[n_rollout + n_replay:]], device=dev)
        next_achieved = torch.as_tensor(achieved[t, env], device=dev)
        b["goal"] = goal
        b["done"] = (torch.linalg.vector_norm(next_achieved - goal, dim=-1) < c.goal_threshold).float()
        b["reward"] = -torch.ones_like(b["done"])  # RIS: -1 on every step, the terminal flag stops bootstrapping
        st, senv = self.replay.sample(n, self.rng)
        b["subgoal"] = torch.as_tensor(self.replay.data["obs"][st, senv], device=dev)
        return b

    def _value(self, s: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        x = torch.cat([s, g], -1)
        action, _ = pi.sample(self.actor(x, explore=False), deterministic=True)
        q1, q2 = self.critic(x, action)
        return torch.min(q1, q2)

    def _update_once(self) -> dict[str, float]:
        c = self.cfg
        if c.actor.kind == "hc":
            self.actor_module.temperature.fill_(pi.gumbel_temperature(c.actor, self.updates))
            self.actor_target.temperature.fill_(pi.gumbel_temperature(c.actor, self.updates))
        b = self._relabelled_batch()
        x = torch.cat([b["obs"], b["goal"]], -1)
        nx = torch.cat([b["next_obs"], b["goal"]], -1)

        with torch.no_grad(), self.fabric.autocast():  # the target critic is not a Fabric module
            next_action, _ = pi.sample(self.actor(nx, explore=True))
            tq1, tq2 = self.critic_target(nx, next_action)
            target = b["reward"] + (1.0 - b["done"]) * c.gamma * torch.min(tq1, tq2)
        q1, q2 = self.critic(x, b["action"])
        critic_loss = 0.5 * ((q1 - target).pow(2) + (q2 - target).pow(2)).mean()
        self.critic_optim.zero_grad(set_to_none=True)
        self.fabric.backward(critic_loss)
        self.critic_optim.step()

        # high-level policy: advantage-weighted regression towards replay states
        loc, scale = self.subgoal(torch.cat([b["obs"], b["goal"]], -1))
        with torch.no_grad():
            def cost(sg):
                v = torch.stack([self._value(b["obs"], sg), self._value(sg, b["goal"])], -1)
                return v.clamp(-c.value_clip, 0.0).abs().max(-1).values

            adv = -(cost(b["subgoal"]) - cost(loc))
            weight = F.softmax(adv / c.subgoal_lambda, dim=0)
        log_prob = torch.distributions.Laplace(loc, scale).log_prob(b["subgoal"]).sum(-1)
        subgoal_loss = -(log_prob * weight).mean()
        self.subgoal_optim.zero_grad(set_to_none=True)
        self.fabric.backward(subgoal_loss)
        self.subgoal_optim.step()

        # actor: KL towards the prior from imagined subgoals, minus Q
        out = self.actor(x, explore=True)
        action, u = pi.sample(out)
        with torch.no_grad():
            loc, scale = self.subgoal(torch.cat([b["obs"], b["goal"]], -1))
            sg = torch.distributions.Laplace(loc, scale).sample((c.num_subgoals,))  # (N, B, d)
            n, bsz = sg.shape[:2]
            prior_x = torch.cat([b["obs"].expand(n, bsz, -1), sg], -1).reshape(n * bsz, -1)
            prior_out = self.actor_target(prior_x, explore=True)
        prior_logp = pi.log_prob(prior_out, u.repeat(n, 1), c.actor.log_prob, squash=False).reshape(n, bsz)
        prior = torch.log(prior_logp.exp().mean(0) + c.prior_epsilon)
        kl = pi.log_prob(out, u, c.actor.log_prob, squash=False) - prior
        aq1, aq2 = self.critic(x, action)
        actor_loss = (c.alpha * kl - torch.min(aq1, aq2)).mean()
        extra = {}
        if c.actor.diversity_coef > 0 and out.get("logits") is not None:
            diversity = pi.diversity_loss(out["logits"], c.actor.diversity)
            actor_loss = actor_loss + c.actor.diversity_coef * diversity
            extra["loss/diversity"] = diversity.detach()
        self.actor_optim.zero_grad(set_to_none=True)
        self.fabric.backward(actor_loss)
        self.actor_optim.step()

        polyak(self.critic_target, _unwrap(self.critic), c.tau)
        polyak(self.actor_target, self.actor_module, c.tau)
        self.updates += 1
        return {"loss/critic": critic_loss.detach(), "loss/subgoal": subgoal_loss.detach(), "loss/actor": actor_loss.detach(),
                "ris/kl": kl.detach().mean(), "ris/advantage": adv.detach().mean(), "q/mean": q1.detach().mean(),
                **extra}

    # ----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = {"actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
                 "subgoal": self.subgoal.state_dict(), "actor_target": self.actor_target.state_dict(),
                 "critic_target": self.critic_target.state_dict(), "actor_optim": self.actor_optim.state_dict(),
                 "critic_optim": self.critic_optim.state_dict(), "subgoal_optim": self.subgoal_optim.state_dict(),
                 "counters": torch.tensor([self.env_steps, self.updates, self.step]),
                 "schedule": self.schedule.state_dict(), "rng": self.rng.get_state()}
        if self.cfg.checkpoint_replay:
            state["replay"] = self.replay.state_dict()
        return state

    def load_state_dict(self, state: Mapping) -> None:
        for key in ("actor", "critic", "subgoal", "actor_target", "critic_target", "actor_optim", "critic_optim",
                    "subgoal_optim"):
            getattr(self, key).load_state_dict(state[key])
        self.env_steps, self.updates, self.step = (int(x) for x in state["counters"])
        if "schedule" in state:
            self.schedule.load_state_dict(state["schedule"])
        else:  # saved before the schedule: the last counter was pending updates, env steps were per rank
            self.step = self.env_steps * self.fabric.world_size
            self.schedule.resume(self.step)
        self.rng.set_state(state["rng"])
        if "replay" in state:  # else learning waits until the replay holds a batch again
            self.replay.load_state_dict(state["replay"])
