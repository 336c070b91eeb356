"""Reference agent: Q-learning with a small network, uniform replay and a target network.

It exists so the core can be demonstrated and tested without any paper plugin, and as a readable
example of the policy protocol on Lightning Fabric (DDP all-reduces its gradients).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from intarsia.interfaces import EnvSpec, Transitions
from intarsia.rng_state import numpy_generator_from_state, numpy_generator_state
from intarsia.schedule import TrainSchedule


@dataclass
class QLearningConfig:
    hidden: int = 64
    """width of the two hidden layers"""
    lr: float = 1e-3
    """Adam learning rate"""
    gamma: float = 0.99
    """discount"""
    n_step: int = 3
    """n-step returns (speed up credit assignment of a sparse reward); 1 is plain Q-learning"""
    buffer_size: int = 50_000
    """replay capacity (transitions per rank)"""
    batch_size: int = 64
    """minibatch size per update"""
    learning_starts: int = 500
    """global env steps (all ranks together) before the first update"""
    train_every: int = 1
    """vector steps between updates (``train_every × num_envs × world size`` global env steps)"""
    target_every: int = 250
    """updates between target-network copies"""
    eps_start: float = 1.0
    """initial ε of ε-greedy exploration"""
    eps_end: float = 0.05
    """final ε"""
    eps_decay_steps: int = 10_000
    """global env steps over which ε decays linearly"""
    checkpoint_replay: bool = False
    """store the replay buffer in checkpoints (exact resume, larger files)"""


class QLearningAgent:
    def __init__(self, config: QLearningConfig, *, env_spec: EnvSpec, fabric):
        self.cfg, self.fabric = config, fabric
        obs_dim = int(np.prod(env_spec.observation_space.shape))
        self.n_actions = int(env_spec.action_space.n)
        net = nn.Sequential(nn.Linear(obs_dim, config.hidden), nn.ReLU(), nn.Linear(config.hidden, config.hidden),
                            nn.ReLU(), nn.Linear(config.hidden, self.n_actions))
        self.target = nn.Sequential(*[type(m)(m.in_features, m.out_features) if isinstance(m, nn.Linear) else nn.ReLU()
                                      for m in net]).to(fabric.device)
        self.target.requires_grad_(False)
        optim = torch.optim.Adam(net.parameters(), lr=config.lr)
        self.q, self.optim = fabric.setup(net, optim)
        self.target.load_state_dict(net.state_dict())  # after setup: DDP has broadcast rank 0's weights by now
        self.rng = np.random.default_rng(1234 + fabric.global_rank)
        cap = config.buffer_size
        self.buf = {"obs": np.zeros((cap, obs_dim), np.float32), "next_obs": np.zeros((cap, obs_dim), np.float32),
                    "action": np.zeros(cap, np.int64), "reward": np.zeros(cap, np.float32), "term": np.zeros(cap, np.float32),
                    "discount": np.zeros(cap, np.float32)}
        self.pending: list[list] = []  # per env: the last < n_step (obs, action, reward) not yet stored
        self.size = self.ptr = self.env_steps = self.updates = self.vector_steps = 0
        self.step = 0  # the runner's global env step, as of the latest update(step)
        self.schedule = TrainSchedule(config.learning_starts, config.train_every * env_spec.num_envs * fabric.world_size)

    @property
    def epsilon(self) -> float:
        frac = min(1.0, self.step / max(1, self.cfg.eps_decay_steps))
        return self.cfg.eps_start + frac * (self.cfg.eps_end - self.cfg.eps_start)

    @torch.no_grad()
    def act(self, obs, state, *, explore: bool = True, reset=None):
        obs_t = torch.as_tensor(np.asarray(obs, np.float32).reshape(len(obs), -1), device=self.fabric.device)
        greedy = self.q(obs_t).argmax(-1).cpu().numpy()
        if not explore:
            return greedy, state
        random = self.rng.integers(0, self.n_actions, size=len(greedy))
        return np.where(self.rng.random(len(greedy)) < self.epsilon, random, greedy), state

    def observe(self, batch: Transitions) -> None:
        n = batch.num_envs
        obs = np.asarray(batch.obs, np.float32).reshape(n, -1)
        next_obs = np.asarray(batch.next_obs, np.float32).reshape(n, -1)
        if not self.pending:
            self.pending = [[] for _ in range(n)]
        for i in range(n):
            self.pending[i].append((obs[i], int(batch.action[i]), float(batch.reward[i])))
            done = bool(batch.terminated[i] or batch.truncated[i])
            if len(self.pending[i]) == self.cfg.n_step or done:
                self._flush(i, next_obs[i], bool(batch.terminated[i]), done)
        self.env_steps += n
        self.vector_steps += 1

    def _flush(self, i: int, next_obs: np.ndarray, terminated: bool, done: bool) -> None:
        """Store the n-step transitions that end at this step (all of them when the episode ended)."""
        steps = self.pending[i]
        while steps:
            ret = sum(r * self.cfg.gamma**k for k, (_, _, r) in enumerate(steps))
            o, a, _ = steps[0]
            j = self.ptr
            self.buf["obs"][j], self.buf["action"][j], self.buf["reward"][j] = o, a, ret
            self.buf["next_obs"][j] = next_obs
            # truncation is not termination: bootstrap through time limits
            self.buf["term"][j] = float(terminated)
            self.buf["discount"][j] = self.cfg.gamma ** len(steps)
            self.ptr = (self.ptr + 1) % self.cfg.buffer_size
            self.size = min(self.size + 1, self.cfg.buffer_size)
            steps.pop(0)
            if not done:
                break

    def update(self, step: int) -> dict[str, float]:
        self.step = int(step)
        if self.size < self.cfg.batch_size or not self.schedule.due(step):
            return {}
        # rounds are whole vector steps apart, so at most one is due per call
        idx = self.rng.integers(0, self.size, size=self.cfg.batch_size)
        dev = self.fabric.device
        obs, next_obs = (torch.as_tensor(self.buf[k][idx], device=dev) for k in ("obs", "next_obs"))
        action = torch.as_tensor(self.buf["action"][idx], device=dev)
        reward, term, discount = (torch.as_tensor(self.buf[k][idx], device=dev) for k in ("reward", "term", "discount"))
        with torch.no_grad():
            target = reward + discount * (1.0 - term) * self.target(next_obs).max(-1).values
        q = self.q(obs).gather(1, action[:, None]).squeeze(1)
        loss = nn.functional.smooth_l1_loss(q, target)
        self.optim.zero_grad(set_to_none=True)
        self.fabric.backward(loss)
        self.optim.step()
        self.updates += 1
        if self.updates % self.cfg.target_every == 0:
            self.target.load_state_dict(self.q.module.state_dict() if hasattr(self.q, "module") else self.q.state_dict())
        return {"loss/td": float(loss.detach()), "q/mean": float(q.detach().mean()), "explore/epsilon": self.epsilon}

    def state_dict(self) -> dict:
        state = {"q": self.q.state_dict(), "target": self.target.state_dict(), "optim": self.optim.state_dict(),
                 "counters": torch.tensor([self.size, self.ptr, self.env_steps, self.updates, self.vector_steps]),
                 "rng": numpy_generator_state(self.rng), "step": self.step,
                 "schedule": self.schedule.state_dict()}
        if self.cfg.checkpoint_replay:
            state["replay"] = {k: torch.from_numpy(v[: self.size].copy()) for k, v in self.buf.items()}
        return state

    def load_state_dict(self, state: Mapping) -> None:
        self.q.load_state_dict(state["q"])
        self.target.load_state_dict(state["target"])
        self.optim.load_state_dict(state["optim"])
        self.size, self.ptr, self.env_steps, self.updates, self.vector_steps = (int(x) for x in state["counters"])
        self.rng = numpy_generator_from_state(state["rng"])
        self.step = int(state.get("step", self.env_steps))
        if "schedule" in state:
            self.schedule.load_state_dict(state["schedule"])
        if "replay" in state:
            for k, v in state["replay"].items():
                self.buf[k][: len(v)] = v.numpy()
        else:
            self.size = self.ptr = 0  # replay was not checkpointed: refill before learning again
        self.pending = []  # partial n-step windows are not kept: the runner resets envs on resume

