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
    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
    cell = 8
    """pixels per observation / state entry in ``render()``'s image"""

    def __init__(self, env: str = "RepeatPreviousEasy", render_mode: str | None = None):
        import popgym  # noqa: F401  (extra: intarsia-r2i[popgym])
        from popgym.core.env import POPGymEnv  # noqa: F401

        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode: expected None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self.env = _resolve(env)()
        size = sum(abs(n) for n in _parts(self.env.observation_space))
        self.observation_space = spaces.Box(-np.inf, np.inf, (size,), np.float32)
        self.action_space = self.env.action_space
        self._return = 0.0
        self._last = np.zeros(size, np.float32)

    def render(self) -> np.ndarray | None:
        """POPGym draws as text, if at all, so every task is drawn the same way: top row, the agent's
        observation (one cell per entry, brightness = value); middle row, the hidden Markov state POPGym keeps
        (``get_state()``, scaled per row); bottom row, the episode return so far (green right of the middle
        for a positive one, red left of it for a negative one; POPGym returns lie in [-1, 1]). HxWx3 uint8."""
        if self.render_mode != "rgb_array":
            return None
        try:
            state = np.concatenate(_flatten(self.env.state_space, self.env.get_state()))
        except (TypeError, ValueError, AttributeError):  # a state outside the spaces _flatten knows
            state = np.atleast_1d(np.asarray(self.env.get_state(), dtype=np.float32)).ravel()
        c, width = self.cell, max(len(self._last), len(state), 2)
        img = np.full((3 * c, c * width, 3), 30, dtype=np.uint8)
        for row, values in enumerate((self._last, state)):
            v = np.asarray(values, np.float64)
            lo, hi = float(v.min(initial=0.0)), float(v.max(initial=1.0))
            scaled = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
            for i, x in enumerate(scaled):
                shade = int(40 + 215 * x)
                img[row * c + 1:(row + 1) * c - 1, i * c + 1:(i + 1) * c - 1] = (shade, shade, shade if row else 60)
        mid, reach = c * width // 2, int(round(np.clip(self._return, -1.0, 1.0) * (c * width // 2)))
        if reach > 0:
            img[2 * c + 1:3 * c - 1, mid:mid + reach] = (40, 180, 60)
        elif reach < 0:
            img[2 * c + 1:3 * c - 1, mid + reach:mid] = (200, 50, 40)
        img[2 * c:3 * c, mid - 1:mid + 1] = 200
        return img

    def _obs(self, obs):
        return np.concatenate(_flatten(self.env.observation_space, obs)).astype(np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        obs, info = self.env.reset(seed=seed, options=options)
        self._return = 0.0
        self._last = self._obs(obs)
        return self._last, {"caption": ""}

    def step(self, action):
        obs, reward, terminated, truncated, _ = self.env.step(action)
        self._return += float(reward)
        info = {"caption": ""}
        if terminated or truncated:
            info["success"] = self._return >= 0.99
            info["episode_return"] = self._return
        self._last = self._obs(obs)
        return self._last, float(reward), bool(terminated), bool(truncated), info


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


def make_popgym(env: str = "RepeatPreviousEasy", render_mode: str | None = None):
    return PopGymAdapter(env, render_mode=render_mode)
