"""Deep Sea (Osband et al., 2019; bsuite ``deep_sea``) as a gymnasium environment, same semantics.

An N x N grid; the agent starts in the top-left cell and falls one row per step, choosing "left" or
"right". Which of the actions {0, 1} means "right" is drawn per cell (Bernoulli(0.5), from
``mapping_seed``), so no fixed action sequence explores. Going right costs 0.01 / N; going right in the
last column gives +1. The episode ends after N steps (``terminated``). The optimal return is 0.99
(1 - 0.01 in the deterministic version); any left step forfeits the treasure.

The stochastic ("windy") variant (``deterministic=False``) makes "right" fail with probability 1/N and
adds N(0, 1) noise to the reward of the two bottom corners, as bsuite does. The observation is the
one-hot N x N grid (all zeros after the last step).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class DeepSeaEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
    cell = 6
    """pixels per grid cell in ``render()``'s image"""

    def __init__(self, size: int = 10, deterministic: bool = True, unscaled_move_cost: float = 0.01,
                 randomize_actions: bool = True, mapping_seed: int | None = 0, render_mode: str | None = None):
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.size = int(size)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode: expected None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self.deterministic = deterministic
        self.unscaled_move_cost = unscaled_move_cost
        if randomize_actions:
            # The mapping is part of the MDP: fixed by mapping_seed, not re-drawn at reset.
            self.action_right = np.random.RandomState(mapping_seed).binomial(1, 0.5, (self.size, self.size))
        else:
            self.action_right = np.ones((self.size, self.size), dtype=np.int64)
        optimal_no_cost = 1.0 if deterministic else (1 - 1 / self.size) ** (self.size - 1)
        self.optimal_return = optimal_no_cost - unscaled_move_cost
        self.observation_space = spaces.Box(0.0, 1.0, shape=(self.size, self.size), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self.row = self.column = 0
        self.bad_episode = False

    def _obs(self) -> np.ndarray:
        obs = np.zeros((self.size, self.size), dtype=np.float32)
        if self.row < self.size:
            obs[self.row, self.column] = 1.0
        return obs

    def render(self) -> np.ndarray | None:
        """The grid (the treasure's bottom-right cell gold, the agent white), HxWx3 uint8."""
        if self.render_mode != "rgb_array":
            return None
        c, n = self.cell, self.size
        img = np.full((c * n, c * n, 3), 30, dtype=np.uint8)
        img[c * (n - 1):, c * (n - 1):] = (200, 160, 0)
        if self.row < n:
            img[c * self.row:c * (self.row + 1), c * self.column:c * (self.column + 1)] = 255
        return img

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.row = self.column = 0
        self.bad_episode = False
        return self._obs(), {}

    def step(self, action):
        action = int(action)
        reward = 0.0
        right = action == self.action_right[self.row, self.column]
        if self.column == self.size - 1 and right:
            reward += 1.0
        if not self.deterministic and self.row == self.size - 1 and self.column in (0, self.size - 1):
            reward += float(self.np_random.standard_normal())
        if right:
            if self.deterministic or self.np_random.random() > 1 / self.size:
                self.column = min(self.column + 1, self.size - 1)
            reward -= self.unscaled_move_cost / self.size
        else:
            if self.row == self.column:  # was on the optimal diagonal and left it
                self.bad_episode = True
            self.column = max(self.column - 1, 0)
        self.row += 1
        terminated = self.row == self.size
        info = {"caption": "found the treasure" if reward > 0.5 else ""}
        if terminated:
            info["success"] = not self.bad_episode
        return self._obs(), reward, terminated, False, info
