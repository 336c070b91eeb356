"""The ``dqn`` sampler: DQN on the DAG as an episodic MDP, the RL baseline of OC-GFN's fine-tuning comparison.

An episode builds an object forward from s_0 and is rewarded R(x) at the exit only (gamma = 1: the return is
R(x)). Each iteration rolls out ``batch_size`` epsilon-greedy episodes (one reward query per terminal; distinct
objects are counted), stores their transitions, and takes ``updates_per_iteration`` Huber steps towards
r + gamma max_{a' allowed} Q_target(s', a'); the target is a copy refreshed every ``target_every`` iterations.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .config import DQNConfig
from .dag import DAGEnv
from .envs import make_env
from .evaluation import DistinctObjects, ModeTracker
from .networks import mlp_trunk
from .trajectories import sample_forward

GREEDY = 1e-3
"""softmax temperature standing in for argmax in the rollouts (ties broken at random)"""


class DQN:
    def __init__(self, config: DQNConfig, *, fabric, env: DAGEnv | None = None):
        self.config, self.fabric = config, fabric
        self.env = env if env is not None else make_env(config.env, device=fabric.device)
        e = self.env
        net = nn.Sequential(mlp_trunk(e.feature_dim, config.hidden, config.layers), nn.Linear(config.hidden, e.n_actions))
        self.target = copy.deepcopy(net).requires_grad_(False).to(fabric.device)
        self.net, self.opt = fabric.setup(net, torch.optim.Adam(net.parameters(), lr=config.lr, foreach=True))
        self.target.load_state_dict(self.net.module.state_dict())  # after setup: the weights every rank holds
        cap = config.buffer
        self.buf = {"s": torch.zeros(cap, *e.state_shape, dtype=torch.long, device=e.device),
                    "a": torch.zeros(cap, dtype=torch.long, device=e.device),
                    "r": torch.zeros(cap, device=e.device),
                    "s2": torch.zeros(cap, *e.state_shape, dtype=torch.long, device=e.device),
                    "done": torch.zeros(cap, dtype=torch.bool, device=e.device)}
        self.size, self.pos, self.iterations = 0, 0, 0
        self.modes = ModeTracker(e)
        self.queried = DistinctObjects(e)
        self.trajectories = 0

    def _epsilon(self) -> float:
        c = self.config
        frac = min(1.0, self.iterations / c.epsilon_iterations)
        return c.epsilon_start + frac * (c.epsilon_end - c.epsilon_start)

    def _logits(self, states, rows=None):
        return self.net.module(self.env.features(states)) / GREEDY

    def _store(self, traj, log_r) -> None:
        n, T = traj.actions.shape
        t = torch.arange(T, device=traj.lengths.device)[None]
        valid = t < traj.lengths[:, None]
        last = t == (traj.lengths[:, None] - 1)
        nxt = torch.cat([traj.states[:, 1:], traj.states[:, -1:]], 1)
        r = torch.where(last, log_r.exp()[:, None], 0.0)
        items = {"s": traj.states[valid], "a": traj.actions[valid], "r": r[valid], "s2": nxt[valid], "done": last[valid]}
        k, cap = len(items["a"]), self.config.buffer
        idx = (self.pos + torch.arange(k, device=items["a"].device)) % cap
        for key, v in items.items():
            self.buf[key][idx] = v[-cap:] if k > cap else v
        self.pos, self.size = (self.pos + k) % cap, min(cap, self.size + k)

    def update(self, step: int) -> dict[str, float]:
        cfg, env = self.config, self.env
        with torch.no_grad():
            traj = sample_forward(env, self._logits, cfg.batch_size, epsilon=self._epsilon())
        x = traj.terminals
        log_r = env.log_reward(x).float()
        self.queried.add(x)
        self.modes.add(x, log_r)
        self._store(traj, log_r)
        losses = []
        for _ in range(cfg.updates_per_iteration):
            i = torch.randint(self.size, (min(cfg.train_batch, self.size),), device=env.device)
            s, a, r, s2, done = (self.buf[k][i] for k in ("s", "a", "r", "s2", "done"))
            with torch.no_grad():
                q2 = self.target(env.features(s2)).masked_fill(~env.forward_mask(s2), float("-inf")).amax(1)
                y = r + cfg.gamma * torch.where(done, 0.0, q2)
            q = self.net(env.features(s)).gather(1, a[:, None]).squeeze(1)
            loss = nn.functional.smooth_l1_loss(q, y)
            self.opt.zero_grad(set_to_none=True)
            self.fabric.backward(loss)
            if cfg.grad_clip > 0:
                self.fabric.clip_gradients(self.net, self.opt, max_norm=cfg.grad_clip)
            self.opt.step()
            losses.append(loss.detach())
        self.iterations += 1
        if self.iterations % cfg.target_every == 0:
            self.target.load_state_dict(self.net.module.state_dict())
        self.trajectories += cfg.batch_size
        return {"loss/dqn": float(torch.stack(losses).mean()), "train/epsilon": self._epsilon(),
                "train/log_reward": float(log_r.mean()), "train/reward_queries": float(len(self.queried)),
                **self.modes.metrics()}

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        return sample_forward(self.env, self._logits, n, epsilon=self.config.epsilon_end).terminals

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        return {**self.modes.metrics(prefix=""), "trajectories": float(self.trajectories),
                "reward_queries": float(len(self.queried)),
                "mean_log_reward": float(self.env.log_reward(self.sample(256)).mean())}

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "target": self.target.state_dict(), "opt": self.opt.state_dict(),
                "buffer": {k: v[: self.size].cpu() for k, v in self.buf.items()}, "pos": self.pos,
                "iterations": self.iterations, "trajectories": self.trajectories, "modes": self.modes.state_dict(),
                "queried": self.queried.state_dict()}

    def load_state_dict(self, state) -> None:
        self.net.load_state_dict(state["net"])
        self.target.load_state_dict(state["target"])
        self.opt.load_state_dict(state["opt"])
        self.size = len(state["buffer"]["a"])
        for k, v in state["buffer"].items():
            self.buf[k][: self.size] = v.to(self.env.device)
        self.pos, self.iterations = int(state["pos"]), int(state["iterations"])
        self.trajectories = int(state["trajectories"])
        self.modes.load_state_dict(state["modes"])
        self.queried.load_state_dict(state["queried"])
