"""A 2-D point that must reach a goal: the navigation task of the goal-conditioned agent.

Observations are a dict (``observation`` = position, ``desired_goal``, ``achieved_goal`` = position), the
convention hindsight relabelling relies on. Reward -1 per step until the goal is within ``goal_threshold``
(then the episode terminates with ``info["success"] = True``), as in RIS. With ``walls``, a wall from the
left edge to x = 0.5 along y = 0 blocks moves that would cross it (the point stays put)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from intarsia.errors import ConfigError

WALL_END_X = 0.5


class PointNavEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    observation_names = ["x", "y", "goal_x", "goal_y"]  # the actor's input: [state, goal]
    pixels = 64
    """side of ``render()``'s image"""

    def __init__(self, size: float = 1.0, step_size: float = 0.1, goal_threshold: float = 0.1,
                 max_episode_steps: int = 50, walls: bool = False, render_mode: str | None = None):
        if size <= 0 or step_size <= 0 or goal_threshold <= 0 or max_episode_steps < 1:
            raise ConfigError("PointNav-v0: size, step_size, goal_threshold and max_episode_steps must be positive")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode: expected None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self.size, self.step_size, self.goal_threshold = float(size), float(step_size), float(goal_threshold)
        self.max_episode_steps, self.walls = int(max_episode_steps), bool(walls)
        box = spaces.Box(-self.size, self.size, (2,), np.float32)
        self.observation_space = spaces.Dict({"observation": box, "desired_goal": box, "achieved_goal": box})
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.pos = np.zeros(2, np.float32)
        self.goal = np.zeros(2, np.float32)
        self.t = 0

    def _obs(self) -> dict:
        return {"observation": self.pos.copy(), "desired_goal": self.goal.copy(), "achieved_goal": self.pos.copy()}

    def render(self) -> np.ndarray | None:
        """The arena from above (y up): the goal's disc green, the wall grey, the point white. HxWx3 uint8."""
        if self.render_mode != "rgb_array":
            return None
        n = self.pixels
        img = np.full((n, n, 3), 25, dtype=np.uint8)

        def pixel(p: np.ndarray) -> tuple[int, int]:
            col, row = (np.asarray(p, np.float64) / self.size + 1.0) / 2.0 * (n - 1)
            return int(round(n - 1 - row)), int(round(col))

        rows, cols = np.mgrid[0:n, 0:n]
        gr, gc = pixel(self.goal)
        radius = max(1.0, self.goal_threshold / (2 * self.size) * (n - 1))
        img[(rows - gr) ** 2 + (cols - gc) ** 2 <= radius ** 2] = (40, 170, 60)
        if self.walls:
            wr, wc = pixel(np.array([WALL_END_X * self.size, 0.0]))
            img[wr, :wc + 1] = 150
        pr, pc = pixel(self.pos)
        img[max(pr - 1, 0):pr + 2, max(pc - 1, 0):pc + 2] = 255
        return img

    def _sample_point(self) -> np.ndarray:
        while True:
            p = self.np_random.uniform(-self.size, self.size, 2).astype(np.float32)
            if not (self.walls and abs(p[1]) < 0.05 and p[0] < WALL_END_X * self.size):
                return p

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos, self.t = self._sample_point(), 0
        self.goal = self._sample_point()
        while np.linalg.norm(self.goal - self.pos) <= self.goal_threshold:
            self.goal = self._sample_point()
        return self._obs(), {}

    def _blocked(self, new: np.ndarray) -> bool:
        if not self.walls or (self.pos[1] > 0) == (new[1] > 0):
            return False
        frac = self.pos[1] / (self.pos[1] - new[1]) if self.pos[1] != new[1] else 0.0
        x_cross = self.pos[0] + frac * (new[0] - self.pos[0])
        return bool(x_cross < WALL_END_X * self.size)

    def step(self, action):
        a = np.clip(np.asarray(action, np.float32).reshape(2), -1.0, 1.0)
        new = np.clip(self.pos + self.step_size * a, -self.size, self.size).astype(np.float32)
        if not self._blocked(new):
            self.pos = new
        self.t += 1
        success = bool(np.linalg.norm(self.goal - self.pos) < self.goal_threshold)
        truncated = not success and self.t >= self.max_episode_steps
        info = {"success": success} if (success or truncated) else {}
        return self._obs(), 0.0 if success else -1.0, success, truncated, info
