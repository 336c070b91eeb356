"""BSuite's memory_length (MemoryChain) and discounting_chain as gymnasium environments.

Written from the BSuite semantics (Osband et al., 2020) instead of wrapping ``bsuite`` (its gym wrapper is
the old gym API and it pulls heavy dependencies).

MemoryLength: observation ``[time_left, query, context...]`` with ``time_left = 1 - t/L``; the context bits
(+-1) are shown only at t = 0, the query (index of the bit asked for) only at the final step t = L; the
action at t = L is scored (+1 if it equals the queried bit, else -1) and ends the episode; every other step
gives 0. An episode therefore has L + 1 actions, like BSuite's, with L steps between cue and query (BSuite
repeats the cue in its second observation, an artefact of computing the observation before advancing time;
we show it once, which is one step harder).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces


def _check_render_mode(render_mode: str | None) -> str | None:
    if render_mode not in (None, "rgb_array"):
        raise ValueError(f"render_mode: expected None or 'rgb_array', got {render_mode!r}")
    return render_mode


class MemoryLengthEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
    cell = 8
    """pixels per time step / context bit in ``render()``'s image"""

    def __init__(self, memory_length: int = 10, num_bits: int = 1, seed: int | None = None,
                 render_mode: str | None = None):
        if memory_length < 1 or num_bits < 1:
            raise ValueError("memory_length and num_bits must be >= 1")
        self.render_mode = _check_render_mode(render_mode)
        self.memory_length, self.num_bits = int(memory_length), int(num_bits)
        self.observation_space = spaces.Box(-1.0, float(max(num_bits - 1, 1)), (num_bits + 2,), np.float32)
        self.action_space = spaces.Discrete(2)
        self._rng = np.random.default_rng(seed)
        self._t = 0
        self._context = np.zeros(num_bits, dtype=np.int64)
        self._query = 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.num_bits + 2, dtype=np.float32)
        obs[0] = 1.0 - self._t / self.memory_length
        if self._t == self.memory_length:
            obs[1] = self._query
        if self._t == 0:
            obs[2:] = 2 * self._context - 1
        return obs

    def render(self) -> np.ndarray | None:
        """Top row: the time line (past steps grey, the current one white, the query step blue); bottom row:
        the context bits (1 green, 0 red), the queried one framed in yellow. HxWx3 uint8."""
        if self.render_mode != "rgb_array":
            return None
        c, steps = self.cell, self.memory_length + 1
        img = np.full((2 * c, c * max(steps, self.num_bits), 3), 30, dtype=np.uint8)
        img[1:c - 1, c * (steps - 1) + 1:c * steps - 1] = (60, 90, 200)
        for t in range(min(self._t + 1, steps)):
            img[1:c - 1, c * t + 1:c * (t + 1) - 1] = 255 if t == self._t else 110
        for i, bit in enumerate(self._context):
            x = c * i
            img[c:2 * c, x:x + c] = (230, 200, 0) if i == self._query else 30
            img[c + 1:2 * c - 1, x + 1:x + c - 1] = (40, 180, 60) if bit else (200, 50, 40)
        return img

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._t = 0
        self._context = self._rng.integers(0, 2, self.num_bits)
        self._query = int(self._rng.integers(self.num_bits))
        return self._obs(), {"caption": ""}

    def step(self, action):
        if self._t > self.memory_length:
            raise RuntimeError("step() after the episode ended; call reset()")
        if self._t < self.memory_length:
            self._t += 1
            return self._obs(), 0.0, False, False, {"caption": ""}
        correct = int(action) == int(self._context[self._query])
        self._t += 1
        obs = np.zeros(self.num_bits + 2, dtype=np.float32)
        return obs, 1.0 if correct else -1.0, True, False, {"caption": "", "success": bool(correct)}


class DiscountingChainEnv(gym.Env):
    """Pick one of 5 chains at t = 0; chain k pays 1 (one random chain pays 1.1) after ``reward_delays[k]``
    steps; episodes last 100 steps. Observation ``[chosen chain or -1, t/100]``. ``success``: the better
    chain was chosen."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    episode_len = 100
    cell = 6
    """pixel height of a chain's row in ``render()``'s image (each step is 2 pixels wide)"""

    def __init__(self, mapping_seed: int | None = None, reward_delays=(1, 3, 10, 30, 100),
                 render_mode: str | None = None):
        self.render_mode = _check_render_mode(render_mode)
        self.delays = [int(d) for d in reward_delays]
        if max(self.delays) > self.episode_len:
            raise ValueError("reward delays must be <= 100")
        self.observation_space = spaces.Box(-1.0, float(len(self.delays)), (2,), np.float32)
        self.action_space = spaces.Discrete(len(self.delays))
        rng = np.random.default_rng(mapping_seed)
        self.rewards = np.ones(len(self.delays))
        self.best = int(rng.integers(len(self.delays)))
        self.rewards[self.best] += 0.1
        self._t, self._context = 0, -1

    def _obs(self):
        return np.array([self._context, self._t / self.episode_len], dtype=np.float32)

    def render(self) -> np.ndarray | None:
        """One row per chain: its reward step gold (the better chain's brighter), the chosen chain lit up to
        the current step. HxWx3 uint8."""
        if self.render_mode != "rgb_array":
            return None
        c, n = self.cell, len(self.delays)
        img = np.full((c * n, 2 * self.episode_len, 3), 30, dtype=np.uint8)
        for k, delay in enumerate(self.delays):
            img[c * k + 1:c * (k + 1) - 1, 2 * (delay - 1):2 * delay] = (255, 220, 0) if k == self.best else (150, 120, 0)
        if self._context >= 0:
            img[c * self._context + 1:c * (self._context + 1) - 1, :2 * self._t:2] = 255
        else:
            img[:, 0] = 255  # not chosen yet: the start column lit
        return img

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t, self._context = 0, -1
        return self._obs(), {"caption": ""}

    def step(self, action):
        if self._t == 0:
            self._context = int(action)
        self._t += 1
        reward = float(self.rewards[self._context]) if self._t == self.delays[self._context] else 0.0
        done = self._t == self.episode_len
        info = {"caption": ""}
        if done:
            info["success"] = self._context == self.best
        return self._obs(), reward, done, False, info


def make_memory_length(memory_length: int = 10, num_bits: int = 1, seed: int | None = None,
                       render_mode: str | None = None):
    return MemoryLengthEnv(memory_length, num_bits, seed, render_mode=render_mode)


def make_discounting_chain(mapping_seed: int | None = None, reward_delays=(1, 3, 10, 30, 100),
                           render_mode: str | None = None):
    return DiscountingChainEnv(mapping_seed, reward_delays, render_mode=render_mode)
