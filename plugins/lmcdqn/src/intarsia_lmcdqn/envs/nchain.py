"""N-chain (Osband et al., 2016) as used by Adam LMCDQN (Ishfaq et al., 2024, Section 6.1).

States s1..sN are indices 0..N-1. The agent starts at s2 (index 1) and moves left (action 0) or right
(action 1); moving left from s1 or right from sN leaves it in place. The reward depends on the state the
action is taken in: 0.001 for going left in s1, 1 for going right in sN, 0 otherwise. An episode lasts
N + 8 steps, so the optimal return is 10 (N - 2 steps to reach sN, then 10 rewarded steps) and the
"go left" trap gives about 0.009. Observations are thermometer encodings: ``obs[i] = 1`` for ``i <= s``.

As in the authors' environment (qlan3/gym-games ``NChain-v1``) the episode's end is a true end of the
finite-horizon task (``terminated``), which ``terminate_at_horizon=False`` turns into a time-limit
truncation instead.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class NChainEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
    cell = 8
    """pixels per state in ``render()``'s image"""

    def __init__(self, n: int = 10, terminate_at_horizon: bool = True, render_mode: str | None = None):
        if n < 3:
            raise ValueError(f"n must be >= 3 (start s2, goal sN distinct), got {n}")
        self.n = int(n)
        self.horizon = self.n + 8
        self.terminate_at_horizon = terminate_at_horizon
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode: expected None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0.0, 1.0, shape=(self.n,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self.state = 1
        self.t = 0
        self._return = 0.0  # of the running episode, for info["success"]

    @property
    def optimal_return(self) -> float:
        return float(self.horizon - (self.n - 2))

    def _obs(self) -> np.ndarray:
        return (np.arange(self.n) <= self.state).astype(np.float32)

    def render(self) -> np.ndarray | None:
        """The chain as a row of cells (the goal sN green, the agent's state white), HxWx3 uint8."""
        if self.render_mode != "rgb_array":
            return None
        c = self.cell
        img = np.full((c, c * self.n, 3), 40, dtype=np.uint8)
        img[:, c * (self.n - 1):, 1] = 140
        img[1:-1, c * self.state + 1:c * (self.state + 1) - 1] = 255
        return img

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.state, self.t, self._return = 1, 0, 0.0
        return self._obs(), {}

    def step(self, action):
        action = int(action)
        if action not in (0, 1):
            raise ValueError(f"action must be 0 (left) or 1 (right), got {action}")
        reward = 0.0
        if action == 1 and self.state == self.n - 1:
            reward = 1.0
        elif action == 0 and self.state == 0:
            reward = 0.001
        self.state = min(self.state + 1, self.n - 1) if action == 1 else max(self.state - 1, 0)
        self.t += 1
        end = self.t >= self.horizon
        terminated = end and self.terminate_at_horizon
        truncated = end and not self.terminate_at_horizon
        info = {"caption": "reached the end of the chain" if reward == 1.0 else ""}
        self._return += reward
        if end:
            # Success: the episode reached sN and collected more than half of the optimal return.
            info["success"] = bool(self._return > 0.5 * self.optimal_return)
        return self._obs(), reward, terminated, truncated, info
