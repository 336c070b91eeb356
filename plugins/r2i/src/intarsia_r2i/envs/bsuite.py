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


class MemoryLengthEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, memory_length: int = 10, num_bits: int = 1, seed: int | None = None):
        if memory_length < 1 or num_bits < 1:
            raise ValueError("memory_length and num_bits must be >= 1")
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

    metadata = {"render_modes": []}
    episode_len = 100

    def __init__(self, mapping_seed: int | None = None, reward_delays=(1, 3, 10, 30, 100)):
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


def make_memory_length(memory_length: int = 10, num_bits: int = 1, seed: int | None = None):
    return MemoryLengthEnv(memory_length, num_bits, seed)


def make_discounting_chain(mapping_seed: int | None = None, reward_delays=(1, 3, 10, 30, 100)):
    return DiscountingChainEnv(mapping_seed, reward_delays)
