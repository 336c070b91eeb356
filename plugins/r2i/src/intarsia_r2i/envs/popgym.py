"""POPGym (Morad et al., 2023) adapter: flat one-hot float observations for the R2I agent.

POPGym environments are gymnasium envs whose observations are Discrete, MultiDiscrete or Tuple spaces;
the adapter one-hot encodes each part and concatenates them. POPGym normalises episode returns to
[-1, 1]; ``info["success"]`` (at episode end) means a perfect episode (return >= 0.99).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces


def _parts(space):
    if isinstance(space, spaces.Discrete):
        return [int(space.n)]
    if isinstance(space, spaces.MultiDiscrete):
        return [int(n) for n in space.nvec.ravel()]
    if isinstance(space, spaces.Tuple):
        return [n for s in space.spaces for n in _parts(s)]
    if isinstance(space, spaces.Box):
        return [-int(np.prod(space.shape))]  # negative: a raw float block
    raise TypeError(f"unsupported POPGym observation space {space}")


def _flatten(space, obs) -> list[np.ndarray]:
    if isinstance(space, spaces.Discrete):
        v = np.zeros(space.n, np.float32)
        v[int(obs) - int(space.start)] = 1.0
        return [v]
    if isinstance(space, spaces.MultiDiscrete):
        out = []
        for o, n in zip(np.asarray(obs).ravel(), space.nvec.ravel(), strict=True):
            v = np.zeros(int(n), np.float32)
            v[int(o)] = 1.0
            out.append(v)
        return out
    if isinstance(space, spaces.Tuple):
        return [p for s, o in zip(space.spaces, obs, strict=True) for p in _flatten(s, o)]
    return [np.asarray(obs, np.float32).ravel()]


class PopGymAdapter(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, env: str = "RepeatPreviousEasy"):
        import popgym  # noqa: F401  (extra: intarsia-r2i[popgym])
        from popgym.core.env import POPGymEnv  # noqa: F401

        self.env = _resolve(env)()
        size = sum(abs(n) for n in _parts(self.env.observation_space))
        self.observation_space = spaces.Box(-np.inf, np.inf, (size,), np.float32)
        self.action_space = self.env.action_space
        self._return = 0.0

    def _obs(self, obs):
        return np.concatenate(_flatten(self.env.observation_space, obs)).astype(np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        obs, info = self.env.reset(seed=seed, options=options)
        self._return = 0.0
        return self._obs(obs), {"caption": ""}

    def step(self, action):
        obs, reward, terminated, truncated, _ = self.env.step(action)
        self._return += float(reward)
        info = {"caption": ""}
        if terminated or truncated:
            info["success"] = self._return >= 0.99
            info["episode_return"] = self._return
        return self._obs(obs), float(reward), bool(terminated), bool(truncated), info


def _resolve(name: str):
    import importlib
    import pkgutil

    import popgym.envs as envs

    for mod in pkgutil.iter_modules(envs.__path__):
        try:  # some POPGym modules need optional packages (mazelib): skip those we cannot import
            module = importlib.import_module(f"popgym.envs.{mod.name}")
        except ImportError:
            continue
        if hasattr(module, name):
            return getattr(module, name)
    raise ValueError(f"no POPGym environment named {name!r}")


def make_popgym(env: str = "RepeatPreviousEasy"):
    return PopGymAdapter(env)
