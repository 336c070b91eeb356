"""DeepMind Control suite tasks from proprioceptive state (the paper's control setting), as gymnasium envs.

The observation dict is flattened in the suite's key order; ``observation_names`` names every entry
(``position[0]``, ``velocity[3]``, ...) so the sub-policies' coefficients can be read. Needs the ``dmc``
extra (dm-control + mujoco). Episodes end by the suite's time limit: a truncation (bootstrapped), a
termination only where the suite's discount is 0."""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from intarsia.errors import IntarsiaError


class DMCStateEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}
    render_size = 96
    """side of ``render()``'s image"""

    def __init__(self, domain: str = "cartpole", task: str = "swingup", action_repeat: int = 1,
                 render_mode: str | None = None):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode: expected None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        # dm_control binds an OpenGL backend when first imported, for the whole process, and these envs may
        # render, as may another component in the same process (R2I's pixel tasks): headless through EGL;
        # importing first with the default (GLFW, needs a display) made that rendering abort the process.
        os.environ.setdefault("MUJOCO_GL", "egl")
        try:
            from dm_control import suite
        except ImportError:
            raise IntarsiaError("DMCState-v0 needs dm-control: pip install 'intarsia-hc[dmc]'") from None
        if (domain, task) not in suite.ALL_TASKS:
            raise IntarsiaError(f"no DeepMind Control task {domain}-{task}")
        if action_repeat < 1:
            raise IntarsiaError(f"action_repeat must be >= 1, got {action_repeat}")
        self._suite, self.domain, self.task, self.action_repeat = suite, domain, task, int(action_repeat)
        self.env = suite.load(domain, task)
        spec = self.env.action_spec()
        self.action_space = spaces.Box(spec.minimum.astype(np.float32), spec.maximum.astype(np.float32), dtype=np.float32)
        names = []
        for key, value in self.env.observation_spec().items():
            size = int(np.prod(value.shape))
            names += [key] if size == 1 else [f"{key}[{i}]" for i in range(size)]
        self.observation_names = names
        self.observation_space = spaces.Box(-np.inf, np.inf, (len(names),), np.float32)

    @staticmethod
    def _flat(ts) -> np.ndarray:
        return np.concatenate([np.asarray(v, np.float32).ravel() for v in ts.observation.values()])

    def render(self) -> np.ndarray | None:
        """The scene from the task's first camera (MuJoCo's renderer), HxWx3 uint8."""
        if self.render_mode != "rgb_array":
            return None
        return self.env.physics.render(self.render_size, self.render_size, camera_id=0).astype(np.uint8)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self.env = self._suite.load(self.domain, self.task, task_kwargs={"random": int(seed)})
        return self._flat(self.env.reset()), {}

    def step(self, action):
        reward = 0.0
        for _ in range(self.action_repeat):
            ts = self.env.step(np.asarray(action, np.float64))
            reward += float(ts.reward or 0.0)
            if ts.last():
                break
        last = ts.last()
        return self._flat(ts), reward, bool(last and ts.discount == 0), bool(last and ts.discount > 0), {}
