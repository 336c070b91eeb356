"""DQN (epsilon-greedy) and Adam LMCDQN (Langevin posterior sampling) in one module, CleanRL style.

The two agents share everything but the optimiser and the exploration:

* ``DQNAgent``: Adam on the TD loss, one gradient step per update, epsilon-greedy actions.
* ``LMCDQNAgent``: each update runs J steps of :class:`~intarsia_lmcdqn.optim.AdamLangevin` (Adam drift +
  Gaussian noise), each on a fresh minibatch, so the online network is an approximate sample from the
  posterior over Q-functions; actions are greedy under those noisy weights (Thompson sampling, no epsilon).

Common machinery: n-step uniform replay, a hard-synced target network (synced every
``target_update_every`` gradient steps, counting each Langevin step as the authors' Tianshou policy
does), optional double-Q targets, MSE (or Huber) loss. The schedule follows Tianshou's off-policy
trainer: after ``learning_starts`` env steps, every ``train_every`` env steps run ``updates_per_round``
updates; all three count global env steps (all ranks together: the runner's ``step``), so every rank runs
the same rounds at the same moment (:class:`intarsia.schedule.TrainSchedule`).

Data parallel: Fabric wraps the Q-network, so DDP all-reduces the gradients; the Langevin noise comes
from a generator seeded identically on every rank, so replicas stay identical after each noisy step.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from intarsia.schedule import TrainSchedule

from .config import DQNConfig, LMCDQNConfig
from .networks import build_q_network
from .optim import AdamLangevin
from .replay import NStepReplay


class DQNAgent:
    """Deep Q-network with epsilon-greedy exploration (policy ``dqn``)."""

    steps_per_update = 1  # gradient steps in one update (J for LMCDQN)

    def __init__(self, config: DQNConfig, *, env_spec, fabric):
        self.cfg, self.fabric = config, fabric
        obs_space, action_space = env_spec.observation_space, env_spec.action_space
        if not hasattr(action_space, "n"):
            raise ValueError(f"{type(self).__name__} needs a discrete action space, got {action_space}")
        self.n_actions = int(action_space.n)
        self.num_envs = int(env_spec.num_envs)
        obs_shape = tuple(obs_space.shape)

        # Seeds: the noise seed is shared by all ranks (identical replicas); sampling/exploration per rank.
        seed = config.seed if config.seed is not None else int(torch.randint(0, 2**31 - 1, ()).item())
        seed = int(fabric.broadcast(seed, src=0)) if fabric.world_size > 1 else seed
        self.rng = torch.Generator().manual_seed(seed + 7919 * (fabric.global_rank + 1))
        self.noise_generator = torch.Generator(device=fabric.device).manual_seed(seed)

        net = build_q_network(config.network, obs_shape, self.n_actions, hidden_sizes=config.hidden_sizes,
                              scale_obs=config.scale_obs)
        self.q, self.optim = fabric.setup(net, self._make_optimizer(net.parameters()))
        # copied after setup: DDP has broadcast rank 0's weights into ``net`` by now
        self.target = copy.deepcopy(net).requires_grad_(False)
        self.replay = NStepReplay(config.buffer_size, obs_shape, obs_space.dtype, self.num_envs,
                                  config.n_step, config.gamma)
        self.env_steps = 0  # per rank
        self.step = 0  # the runner's global env step, as of the latest update(step)
        self.gradient_steps = 0
        self.schedule = TrainSchedule(config.learning_starts, config.train_every, config.updates_per_round)

    # ----------------------------------------------------------------------------------------------
    def _make_optimizer(self, params) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=self.cfg.lr, eps=self.cfg.adam_eps)

    @property
    def epsilon(self) -> float:
        c = self.cfg
        frac = min(1.0, self.step / max(1, c.eps_decay_steps))
        return c.eps_start + frac * (c.eps_end - c.eps_start)

    def _to_tensor(self, obs) -> torch.Tensor:
        return torch.as_tensor(np.asarray(obs), device=self.fabric.device)

    # ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs, state, *, explore: bool = True, reset: np.ndarray | None = None):
        greedy = self.q(self._to_tensor(obs)).argmax(-1).cpu().numpy()
        eps = self.epsilon if explore else self.cfg.eps_eval
        if eps <= 0:
            return greedy, state
        n = len(greedy)
        coin = torch.rand(n, generator=self.rng).numpy() < eps
        random = torch.randint(0, self.n_actions, (n,), generator=self.rng).numpy()
        return np.where(coin, random, greedy), state

    def observe(self, batch) -> None:
        reward = np.asarray(batch.reward if batch.reward is not None else batch.env_reward, np.float32)
        if self.cfg.clip_rewards:
            reward = np.sign(reward)
        self.replay.add(batch.obs, batch.action, reward, batch.next_obs, np.asarray(batch.terminated),
                        np.asarray(batch.truncated))
        self.env_steps += batch.num_envs

    def update(self, step: int) -> dict[str, float]:
        self.step = int(step)
        if len(self.replay) == 0:
            return {}
        updates = self.schedule.due(step)  # catches up when one vector step spans several rounds
        if not updates:
            return {}
        losses, qs = [], []
        for _ in range(updates):
            for _ in range(self.steps_per_update):
                loss, q = self._gradient_step()
                losses.append(loss)
                qs.append(q)
        metrics = {"loss/td": float(torch.stack(losses).mean()), "q/mean": float(torch.stack(qs).mean()),
                   "train/gradient_steps": float(self.gradient_steps)}
        metrics.update(self._extra_metrics())
        return metrics

    def _extra_metrics(self) -> dict[str, float]:
        return {"explore/epsilon": self.epsilon}

    def _td_target(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        # the target copy is not Fabric-wrapped, so its forward needs the autocast the wrapper gives self.q
        with torch.no_grad(), self.fabric.autocast():
            target_net = self.target if self.cfg.target_update_every > 0 else self.q
            next_q = target_net(batch["next_obs"]).float()
            if self.cfg.double_q:  # online network picks, target network evaluates
                next_a = self.q(batch["next_obs"]).argmax(-1, keepdim=True)
                next_v = next_q.gather(1, next_a).squeeze(1)
            else:
                next_v = next_q.max(-1).values
            return batch["ret"] + batch["discount"] * next_v

    def _gradient_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        batch = self.replay.sample(self.cfg.batch_size, self.rng, self.fabric.device)
        target = self._td_target(batch)
        q = self.q(batch["obs"]).float().gather(1, batch["action"][:, None]).squeeze(1)
        loss = F.mse_loss(q, target) if self.cfg.loss == "mse" else F.smooth_l1_loss(q, target)
        self.optim.zero_grad(set_to_none=True)
        self.fabric.backward(loss)
        if self.cfg.max_grad_norm > 0:
            self.fabric.clip_gradients(self.q, self.optim, max_norm=self.cfg.max_grad_norm)
        self.optim.step()
        self.gradient_steps += 1
        if self.cfg.target_update_every > 0 and self.gradient_steps % self.cfg.target_update_every == 0:
            self.target.load_state_dict(self._online_state())
        return loss.detach(), q.detach().mean()

    def _online_state(self) -> dict:
        return self.q.state_dict()

    # ----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        state: dict[str, Any] = {
            "q": self.q.state_dict(),
            "target": self.target.state_dict(),
            "optim": self.optim.state_dict(),
            "counters": torch.tensor([self.env_steps, self.gradient_steps, self.step]),
            "schedule": self.schedule.state_dict(),
            "rng": self.rng.get_state(),
            "noise_rng": self.noise_generator.get_state(),
        }
        if self.cfg.checkpoint_replay:
            state["replay"] = self.replay.state_dict()
        return state

    def load_state_dict(self, state: Mapping) -> None:
        self.q.load_state_dict(state["q"])
        self.target.load_state_dict(state["target"])
        self.optim.load_state_dict(state["optim"])
        self.env_steps, self.gradient_steps, self.step = (int(x) for x in state["counters"])
        if "schedule" in state:
            self.schedule.load_state_dict(state["schedule"])
        else:  # saved before the schedule: the last counter was the next round's step, env steps were per rank
            self.step = self.env_steps * self.fabric.world_size
            self.schedule.resume(self.step)
        self.rng.set_state(state["rng"])
        self.noise_generator.set_state(state["noise_rng"])
        if "replay" in state:
            self.replay.load_state_dict(state["replay"])
        else:  # replay not checkpointed: refill one batch's worth (per rank) before learning again
            world = self.fabric.world_size
            self.schedule.restart(self.step, max(self.cfg.learning_starts, self.cfg.batch_size * self.num_envs * world))


class LMCDQNAgent(DQNAgent):
    """Adam LMCDQN (policy ``lmcdqn``): J Adam-Langevin steps per update, greedy under the noisy weights."""

    def __init__(self, config: LMCDQNConfig, *, env_spec, fabric):
        if config.langevin_steps < 1:
            raise ValueError(f"langevin_steps (J) must be >= 1, got {config.langevin_steps}")
        self.steps_per_update = config.langevin_steps
        super().__init__(config, env_spec=env_spec, fabric=fabric)

    def _make_optimizer(self, params) -> torch.optim.Optimizer:
        c = self.cfg
        return AdamLangevin(params, lr=c.lr, betas=(c.beta1, c.beta2), eps=c.adam_eps, bias_factor=c.bias_factor,
                            noise_scale=c.noise_scale, generator=self.noise_generator)

    def _extra_metrics(self) -> dict[str, float]:
        return {"langevin/noise_std": self.cfg.noise_scale * float(np.sqrt(2.0 * self.cfg.lr))}
