"""A small captioned gridworld: find the key, open the door, reach the goal.

The extrinsic reward is sparse (1 on reaching the goal, 0 otherwise). Every step carries a caption in
``info["caption"]`` describing what happened (``""`` when nothing did), which is what caption-based
rewards such as Motif's read. ``EVENT_SCORES`` ranks the captions by task progress, for oracle
annotators and tests; a distractor caption ("a torch flickers") carries no progress.

Layout (size 7)::

    #########
    #A..|..G#     A agent, K key, D door in the wall |, G goal
    #...D...#
    #K..|...#
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium import spaces

PICK_KEY = "You pick up the key."
OPEN_DOOR = "You open the door."
REACH_GOAL = "You reach the goal."
LOCKED = "The door is locked."
BUMP = "You bump into the wall."
TORCH = "A torch flickers on the wall."

#: progress value of each caption (higher is better), for oracle annotators and evaluation
EVENT_SCORES = {"": 0.0, BUMP: -1.0, TORCH: 0.0, LOCKED: 0.5, PICK_KEY: 1.0, OPEN_DOOR: 2.0, REACH_GOAL: 3.0}

_MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]])  # up, down, left, right


@dataclass
class CaptionedGridConfig:
    size: int = 7
    """side of the square grid (the wall splits it at column size // 2); >= 5"""
    max_steps: int = 100
    """episode length limit (truncation)"""
    randomize: bool = False
    """draw key, door and goal positions per episode (else a fixed layout)"""
    torch_prob: float = 0.05
    """probability per step of the distractor caption"""

    def __post_init__(self) -> None:  # checked at config time, so a bad value is a one-line config error
        if self.size < 5:
            raise ValueError(f"size: must be >= 5 (key, door, wall and goal need the room), got {self.size}")
        if self.max_steps < 1:
            raise ValueError(f"max_steps: must be >= 1, got {self.max_steps}")
        if not 0.0 <= self.torch_prob <= 1.0:
            raise ValueError(f"torch_prob: must be a probability in [0, 1], got {self.torch_prob}")


class CaptionedGridEnv(gym.Env):
    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(self, size: int = 7, max_steps: int = 100, randomize: bool = False, torch_prob: float = 0.05,
                 render_mode: str | None = None):
        if size < 5:
            raise ValueError(f"CaptionedGrid size must be >= 5, got {size}")
        self.size, self.max_steps, self.randomize, self.torch_prob = size, max_steps, randomize, torch_prob
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: expected one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        self.caption = ""
        self.wall_col = size // 2
        # one-hot agent position, key held, door open
        self.observation_space = spaces.Box(0.0, 1.0, shape=(size * size + 2,), dtype=np.float32)
        self.action_space = spaces.Discrete(4)
        self._layout(np.random.default_rng(0))

    def _layout(self, rng: np.random.Generator) -> None:
        n, w = self.size, self.wall_col
        if self.randomize:
            self.door = (int(rng.integers(0, n)), w)
            self.key = (int(rng.integers(0, n)), int(rng.integers(0, w)))
            self.goal = (int(rng.integers(0, n)), int(rng.integers(w + 1, n)))
            self.start = (int(rng.integers(0, n)), int(rng.integers(0, w)))
            if self.start == self.key:
                self.start = ((self.key[0] + 1) % n, self.key[1])
        else:
            self.door, self.key, self.goal, self.start = (n // 2, w), (n - 1, 0), (0, n - 1), (0, 0)

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.observation_space.shape, dtype=np.float32)
        obs[self.pos[0] * self.size + self.pos[1]] = 1.0
        obs[-2], obs[-1] = float(self.has_key), float(self.door_open)
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if self.randomize:
            self._layout(self.np_random)
        self.pos, self.has_key, self.door_open, self.steps = self.start, False, False, 0
        self.caption = ""
        return self._obs(), {"caption": ""}

    def step(self, action):
        if not self.action_space.contains(int(action)):
            raise ValueError(f"invalid action {action!r} for CaptionedGrid (Discrete(4))")
        self.steps += 1
        caption, reward, terminated = "", 0.0, False
        r, c = int(self.pos[0] + _MOVES[int(action)][0]), int(self.pos[1] + _MOVES[int(action)][1])
        if not (0 <= r < self.size and 0 <= c < self.size):
            caption = BUMP
        elif c == self.wall_col and (r, c) != self.door:
            caption = BUMP
        elif (r, c) == self.door and not self.door_open:
            if self.has_key:
                self.door_open, self.pos, caption = True, (r, c), OPEN_DOOR
            else:
                caption = LOCKED
        else:
            self.pos = (r, c)
            if self.pos == self.key and not self.has_key:
                self.has_key, caption = True, PICK_KEY
            elif self.pos == self.goal:
                caption, reward, terminated = REACH_GOAL, 1.0, True
        if not caption and self.np_random.random() < self.torch_prob:
            caption = TORCH
        truncated = not terminated and self.steps >= self.max_steps
        info = {"caption": caption}
        self.caption = caption
        if terminated or truncated:
            info["success"] = terminated
        return self._obs(), reward, terminated, truncated, info

    def render(self):
        """``ansi`` (the default): the grid as text; ``rgb_array``: a small image with the last caption below it."""
        if self.render_mode == "rgb_array":
            return self._image()
        return self._text()

    def _image(self) -> np.ndarray:
        from PIL import Image, ImageDraw

        # cells of 32 px and a 32 px caption bar keep both sides multiples of 16, as video encoders want
        cell, n = 32, self.size
        img = Image.new("RGB", (n * cell, n * cell + cell), (245, 245, 240))
        draw = ImageDraw.Draw(img)
        colours = {"#": (90, 90, 90), "G": (60, 170, 75), "K": (230, 190, 40), "D": (150, 90, 40),
                   "/": (215, 180, 140), "A": (50, 90, 220)}
        for r, row in enumerate(self._text().splitlines()):
            for c, ch in enumerate(row):
                box = (c * cell + 1, r * cell + 1, (c + 1) * cell - 2, (r + 1) * cell - 2)
                ch = "#" if ch == "|" else ch
                if ch == "A":
                    draw.ellipse(box, fill=colours["A"])
                elif ch in colours:
                    draw.rectangle(box, fill=colours[ch])
        draw.text((4, n * cell + 10), self.caption or " ", fill=(20, 20, 20))
        return np.asarray(img, dtype=np.uint8)

    def _text(self) -> str:
        rows = []
        for r in range(self.size):
            row = ""
            for c in range(self.size):
                cell = (r, c)
                if cell == self.pos:
                    row += "A"
                elif cell == self.goal:
                    row += "G"
                elif cell == self.key and not self.has_key:
                    row += "K"
                elif cell == self.door:
                    row += "/" if self.door_open else "D"
                elif c == self.wall_col:
                    row += "|"
                else:
                    row += "."
            rows.append(row)
        return "\n".join(rows)
