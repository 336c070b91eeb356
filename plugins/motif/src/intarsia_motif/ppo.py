"""Recurrent PPO (policy ``ppo``): the RL side of Motif in this plugin.

The paper trains an APPO agent (sample-factory: asynchronous PPO with V-trace, an LSTM/GRU core and the
NetHack encoder). The core runner here is synchronous, so this is the synchronous counterpart: PPO with a
GRU core, clipped policy and value losses (sample-factory style), GAE, advantage normalisation, entropy
bonus and truncated back-propagation through time over chunks of the rollout that start from the stored
hidden states (sample-factory's ``recurrence``). With one learner and no policy lag, V-trace's corrections
are identity, so GAE(lambda) is the natural choice.

It follows the core's policy protocol (``act`` / ``observe`` / ``update`` / ``state_dict``) and sets its
network and optimiser up through Lightning Fabric, so it runs on CPU, GPU and DDP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from .config import PPOConfig


# ----------------------------------------------------------------------------------------------------------
# observations -> flat float features (any Box / Discrete / Dict space)
# ----------------------------------------------------------------------------------------------------------
class ObsFlattener:
    """Flattens a batch of observations of a gymnasium space into float32 features (N, D)."""

    def __init__(self, space):
        from gymnasium import spaces

        self.space = space
        if isinstance(space, spaces.Dict):
            self.parts = [(k, ObsFlattener(s)) for k, s in sorted(space.spaces.items())]
            self.dim = sum(p.dim for _, p in self.parts)
        elif isinstance(space, spaces.Discrete):
            self.parts, self.dim = None, int(space.n)
        elif isinstance(space, spaces.Box):
            self.parts, self.dim = None, int(np.prod(space.shape))
            # integer images / byte buffers are scaled into [0, 1]; float boxes are used as they are
            self.scale = 1.0 / 255.0 if np.issubdtype(space.dtype, np.integer) else 1.0
        else:
            raise TypeError(f"ppo: unsupported observation space {space!r}")

    def __call__(self, obs: Any) -> np.ndarray:
        from gymnasium import spaces

        if self.parts is not None:
            return np.concatenate([p(obs[k]) for k, p in self.parts], axis=1)
        if isinstance(self.space, spaces.Discrete):
            idx = np.asarray(obs, dtype=np.int64).reshape(-1) - int(self.space.start)
            out = np.zeros((len(idx), self.dim), dtype=np.float32)
            out[np.arange(len(idx)), idx] = 1.0
            return out
        arr = np.asarray(obs, dtype=np.float32)
        return arr.reshape(arr.shape[0], -1) * self.scale


class ActorCritic(nn.Module):
    """MLP encoder -> GRU cell (optional) -> policy logits and value."""

    def __init__(self, obs_dim: int, num_actions: int, hidden: int, recurrent: bool):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        self.core = nn.GRUCell(hidden, hidden) if recurrent else None
        self.pi = nn.Linear(hidden, num_actions)
        self.v = nn.Linear(hidden, 1)
        nn.init.orthogonal_(self.pi.weight, 0.01)
        nn.init.zeros_(self.pi.bias)

    def forward(self, x: torch.Tensor, h: torch.Tensor, starts: torch.Tensor):
        """One step over (N, D), or an unroll over (T, N, D) from hidden ``h`` (N, H).

        ``starts`` ((N,) or (T, N)) zeroes the hidden state of envs whose episode begins at that step.
        Returns logits, values and the last hidden state. Everything goes through ``forward`` so that
        Fabric's wrapper (DDP gradient sync) sees every call.
        """
        if x.dim() == 2:
            return self._step(x, h, starts)
        logits, values = [], []
        for t in range(x.shape[0]):
            lg, v, h = self._step(x[t], h, starts[t])
            logits.append(lg)
            values.append(v)
        return torch.stack(logits), torch.stack(values), h

    def _step(self, x: torch.Tensor, h: torch.Tensor, starts: torch.Tensor):
        z = self.encoder(x)
        if self.core is not None:
            h = self.core(z, h * (1.0 - starts).unsqueeze(-1))
            z = h
        return self.pi(z), self.v(z).squeeze(-1), h


class PPOAgent:
    """Recurrent PPO following the core's policy protocol."""

    wants_reward_terms = False

    def __init__(self, config: PPOConfig, *, env_spec, fabric):
        from gymnasium import spaces

        if not isinstance(env_spec.action_space, spaces.Discrete):
            raise TypeError(f"ppo needs a Discrete action space, got {env_spec.action_space!r}")
        self.config, self.fabric, self.env_spec = config, fabric, env_spec
        self.num_envs = int(env_spec.num_envs)
        self.flatten = ObsFlattener(env_spec.observation_space)
        torch.manual_seed(config.seed)
        model = ActorCritic(self.flatten.dim, int(env_spec.action_space.n), config.hidden, config.recurrent)
        opt = torch.optim.Adam(model.parameters(), lr=config.lr, eps=1e-5)
        self.model, self.optimizer = fabric.setup(model, opt)
        self.device = fabric.device
        self.hidden = config.hidden
        self.updates = 0
        self.generator = torch.Generator().manual_seed(config.seed)
        self._clear()

    # -- buffers ---------------------------------------------------------------------------------------
    def _clear(self) -> None:
        self.buf: dict[str, list] = {k: [] for k in ("x", "h", "starts", "action", "logp", "value", "reward", "done")}
        self._pending = None  # what act() computed, waiting for observe()
        self._last = None  # (next features, hidden, done) after the latest observed step, for bootstrapping

    def _zeros(self, n: int) -> torch.Tensor:
        return torch.zeros(n, self.hidden, device=self.device)

    def _tensor(self, a) -> torch.Tensor:
        return torch.as_tensor(a, dtype=torch.float32, device=self.device)

    # -- protocol --------------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs, state, *, explore: bool = True, reset: np.ndarray | None = None):
        x = self._tensor(self.flatten(obs))
        n = x.shape[0]
        h = state if isinstance(state, torch.Tensor) and state.shape[0] == n else self._zeros(n)
        if state is None:
            starts = torch.ones(n, device=self.device)  # the first call: every env starts an episode
        elif reset is None:
            starts = torch.zeros(n, device=self.device)
        else:
            starts = self._tensor(np.asarray(reset, dtype=np.float32))
        logits, value, h_new = self.model(x, h, starts)
        dist = torch.distributions.Categorical(logits=logits)
        action = dist.sample() if explore else logits.argmax(-1)
        if explore:
            self._pending = (x, h, starts, action, dist.log_prob(action), value)
        return action.cpu().numpy(), h_new

    def observe(self, batch) -> None:
        if self._pending is None:
            return  # a step the agent did not choose while exploring (e.g. evaluation): nothing to learn from
        x, h, starts, action, logp, value = self._pending
        self._pending = None
        reward = training_reward(batch, self.config.reward_scale, self.config.reward_clip)
        terminated = np.asarray(batch.terminated, dtype=bool)
        truncated = np.asarray(batch.truncated, dtype=bool)
        next_x = self._tensor(self.flatten(batch.next_obs))
        if truncated.any() and not terminated.all():
            # a time limit is not a failure: bootstrap the cut episode from its true final observation
            _, v_next, _ = self._value_after(next_x, x, h, starts)
            boot = (truncated & ~terminated).astype(np.float32) * self.config.gamma * v_next.cpu().numpy()
            reward = reward + boot
        done = np.logical_or(terminated, truncated)
        for k, v in (("x", x), ("h", h), ("starts", starts), ("action", action), ("logp", logp), ("value", value),
                     ("reward", self._tensor(reward)), ("done", self._tensor(done.astype(np.float32)))):
            self.buf[k].append(v)
        self._last = (next_x, x, h, starts)

    @torch.no_grad()
    def _value_after(self, next_x, x, h, starts):
        """Value of ``next_x`` with the hidden state the GRU had after reading ``x``."""
        _, _, h_after = self.model(x, h, starts)
        return self.model(next_x, h_after, torch.zeros_like(starts))

    def update(self, step: int) -> dict[str, float]:
        """One PPO update once the rollout holds ``rollout`` vector steps: on-policy, so no train ratio;
        every rank fills its rollout at the same global ``step``, so all ranks update together."""
        if len(self.buf["x"]) < self.config.rollout:
            return {}
        c = self.config
        B = {k: torch.stack(v) for k, v in self.buf.items()}  # (T, N, ...)
        next_x, x_last, h_last, s_last = self._last
        _, last_value, _ = self._value_after(next_x, x_last, h_last, s_last)
        adv, ret = gae(B["reward"], B["value"], B["done"], last_value, c.gamma, c.gae_lambda)
        T, N = B["reward"].shape
        chunk = max(1, T // max(1, c.minibatches)) if N < c.minibatches else T
        # (chunk start, env) sequences; minibatches are groups of sequences, hidden states stored per step
        seqs = [(t0, e) for t0 in range(0, T, chunk) for e in range(N)]
        per_mb = max(1, len(seqs) // max(1, c.minibatches))
        stats: dict[str, list[float]] = {k: [] for k in ("policy", "value", "entropy", "approx_kl", "clipfrac")}
        for _ in range(c.epochs):
            order = torch.randperm(len(seqs), generator=self.generator).tolist()
            for m in range(0, len(seqs), per_mb):
                group = [seqs[i] for i in order[m:m + per_mb]]
                self._minibatch(group, chunk, B, adv, ret, stats)
        self.updates += 1
        self._reset_rollout()
        out = {f"loss/{k}": float(np.mean(stats[k])) for k in ("policy", "value", "entropy")}
        out.update({f"ppo/{k}": float(np.mean(stats[k])) for k in ("approx_kl", "clipfrac")})
        out["ppo/updates"] = float(self.updates)
        return out

    def _reset_rollout(self) -> None:
        """Start the next rollout (the networks, optimiser and counters stay)."""
        for v in self.buf.values():
            v.clear()
        self._last = None

    def _minibatch(self, group, chunk, B, adv, ret, stats) -> None:
        c = self.config
        t0s = [t0 for t0, _ in group]
        envs = [e for _, e in group]
        L = min(chunk, B["x"].shape[0] - max(t0s))
        idx_t = torch.stack([torch.arange(t0, t0 + L) for t0 in t0s], dim=1)  # (L, G)
        idx_e = torch.tensor(envs).expand(L, -1)

        def take(name):
            return B[name][idx_t, idx_e]

        x, starts = take("x"), take("starts")
        h0 = B["h"][idx_t[0], idx_e[0]]
        logits, values, _ = self.model(x, h0, starts)
        dist = torch.distributions.Categorical(logits=logits)
        logp = dist.log_prob(take("action"))
        a, r, old_v, old_logp = adv[idx_t, idx_e], ret[idx_t, idx_e], take("value"), take("logp")
        if c.normalize_advantage and a.numel() > 1:
            a = (a - a.mean()) / (a.std() + 1e-8)
        ratio = torch.exp(logp - old_logp)
        pg = -torch.min(ratio * a, torch.clamp(ratio, 1 - c.clip, 1 + c.clip) * a).mean()
        if c.value_clip > 0:
            v_clipped = old_v + torch.clamp(values - old_v, -c.value_clip, c.value_clip)
            v_loss = 0.5 * torch.max((values - r) ** 2, (v_clipped - r) ** 2).mean()
        else:
            v_loss = 0.5 * ((values - r) ** 2).mean()
        entropy = dist.entropy().mean()
        loss = pg + c.value_coef * v_loss - c.entropy_coef * entropy
        self.optimizer.zero_grad(set_to_none=True)
        self.fabric.backward(loss)
        if c.max_grad_norm > 0:
            self.fabric.clip_gradients(self.model, self.optimizer, max_norm=c.max_grad_norm)
        self.optimizer.step()
        with torch.no_grad():
            stats["policy"].append(pg.item())
            stats["value"].append(v_loss.item())
            stats["entropy"].append(entropy.item())
            stats["approx_kl"].append(((ratio - 1) - torch.log(ratio)).mean().item())
            stats["clipfrac"].append(((ratio - 1).abs() > c.clip).float().mean().item())

    # -- checkpointing -----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        # on-policy: the unfinished rollout is not kept (a resumed run starts a fresh rollout)
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: Mapping) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = int(state.get("updates", 0))
        self._clear()


def training_reward(batch, scale: float, clip: float) -> np.ndarray:
    """The reward PPO learns from, composed as sample-factory + Motif do.

    The actor worker scales and clips the *environment* reward, clip(scale * r_env, +-clip); the learner
    weights that by the extrinsic coefficient and adds the intrinsic terms with their own coefficients,
    unscaled. The runner hands over ``extrinsic = coef * r_env``; clipping is a per-step shrink factor
    ``min(1, clip / |scale * r_env|)`` of the env reward, so applying ``scale`` and that factor to the
    weighted term gives ``coef * clip(scale * r_env, +-clip)`` without knowing ``coef``.
    """
    terms = batch.reward_terms or {}
    if "extrinsic" not in terms:  # no composition (a plain loop): the reward is the env reward
        r = np.asarray(batch.reward if batch.reward is not None else batch.env_reward, dtype=np.float64)
        return (r * _scale_and_clip_factor(r, scale, clip)).astype(np.float32)
    factor = _scale_and_clip_factor(np.asarray(batch.env_reward, dtype=np.float64), scale, clip)
    out = np.asarray(terms["extrinsic"], dtype=np.float64) * factor
    for name, value in terms.items():
        if name != "extrinsic":
            out = out + np.asarray(value, dtype=np.float64)
    return out.astype(np.float32)


def _scale_and_clip_factor(r: np.ndarray, scale: float, clip: float) -> np.ndarray:
    """f with r * f == clip(scale * r, -clip, clip) (clip <= 0: no clipping)."""
    factor = np.full(r.shape, float(scale))
    if clip > 0:
        mag = np.abs(scale * r)
        factor *= np.divide(clip, mag, out=np.ones_like(mag), where=mag > clip)
    return factor


def gae(rewards, values, dones, last_value, gamma: float, lam: float):
    """Generalised advantage estimation over (T, N); ``dones[t]`` ends the episode after step t."""
    T = rewards.shape[0]
    adv = torch.zeros_like(rewards)
    next_adv = torch.zeros_like(last_value)
    next_value = last_value
    for t in reversed(range(T)):
        nonterminal = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_value * nonterminal - values[t]
        next_adv = delta + gamma * lam * nonterminal * next_adv
        adv[t] = next_adv
        next_value = values[t]
    return adv, adv + values
