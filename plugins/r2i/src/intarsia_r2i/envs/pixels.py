"""Pixel tasks at the sizes R2I/DreamerV3 use: Atari (ale-py), DeepMind Control (dm-control), Memory Maze.

Each produces 64x64x3 uint8 observations (HWC), which the world models' CNN encoder/decoder read.
The simulators are optional extras: ``intarsia-r2i[atari]``, ``[dmc]``, ``[memory-maze]``.
"""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
from gymnasium import spaces


def _check_render_mode(render_mode: str | None) -> str | None:
    if render_mode not in (None, "rgb_array"):
        raise ValueError(f"render_mode: expected None or 'rgb_array', got {render_mode!r}")
    return render_mode


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    # area averaging (box filter), like the official cv2.INTER_AREA
    return np.asarray(Image.fromarray(img).resize((size, size), Image.BOX), dtype=np.uint8)


class AtariEnv(gym.Env):
    """ALE game as the official R2I/DreamerV3 Atari env: the emulator at frameskip 1, ``repeat`` frames per
    step with the rewards summed and the **maximum over the last two frames**, a random number of no-op
    frames in [0, ``noops``) after each reset, optional sticky actions, the minimal action set, RGB resized
    to ``size`` x ``size`` (area filter)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(self, game: str = "Pong", size: int = 64, repeat: int = 4, sticky: bool = False,
                 max_episode_steps: int = 27000, noops: int = 30, render_mode: str | None = None,
                 time_limit_terminal: bool = True):
        import ale_py

        self.render_mode = _check_render_mode(render_mode)
        gym.register_envs(ale_py)
        self.repeat, self.noops = int(repeat), int(noops)
        self.time_limit_terminal = bool(time_limit_terminal)
        # the time limit counts emulator frames: max_episode_steps agent steps of `repeat` frames each
        from intarsia.env_ids import check_env_id

        self.env = gym.make(check_env_id(f"ALE/{game}-v5", what="game"), frameskip=1, repeat_action_probability=0.25 if sticky else 0.0,
                            full_action_space=False, max_episode_steps=int(max_episode_steps) * self.repeat,
                            render_mode=render_mode)
        self.size = int(size)
        self.observation_space = spaces.Box(0, 255, (self.size, self.size, 3), np.uint8)
        self.action_space = self.env.action_space

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        obs, _ = self.env.reset(seed=seed, options=options)
        for _ in range(int(self.np_random.integers(self.noops)) if self.noops > 0 else 0):
            obs, _, terminated, truncated, _ = self.env.step(0)  # action 0 is NOOP in ALE's minimal set
            if terminated or truncated:
                obs, _ = self.env.reset()
        return _resize(obs, self.size), {"caption": ""}

    def step(self, action):
        total, previous, terminated, truncated = 0.0, None, False, False
        for k in range(self.repeat):
            obs, reward, terminated, truncated, _ = self.env.step(int(action))
            total += float(reward)
            if k == self.repeat - 2:
                previous = obs
            if terminated or truncated:
                break
        frame = obs if previous is None else np.maximum(obs, previous)  # ALE flicker: max of the last two
        if truncated and self.time_limit_terminal:  # official: is_terminal = is_last, the time limit included
            terminated, truncated = True, False
        return _resize(frame, self.size), total, bool(terminated), bool(truncated), {"caption": ""}

    def render(self) -> np.ndarray | None:
        """The emulator's full-resolution RGB screen (ALE's own renderer)."""
        return self.env.render() if self.render_mode == "rgb_array" else None

    def close(self):
        self.env.close()


class DMCEnv(gym.Env):
    """dm_control suite task with action repeat; pixels from ``camera`` (headless rendering via EGL)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}
    render_size = 128
    """side of ``render()``'s image (the camera the observations use)"""

    def __init__(self, domain: str = "walker", task: str = "walk", size: int = 64, repeat: int = 2, camera: int = 0,
                 pixels: bool = True, render_mode: str | None = None):
        self.render_mode = _check_render_mode(render_mode)
        os.environ.setdefault("MUJOCO_GL", "egl")
        from dm_control import suite

        self._suite, self.domain, self.task = suite, domain, task
        self.env = suite.load(domain, task)
        self.size, self.repeat, self.camera, self.pixels = int(size), int(repeat), int(camera), bool(pixels)
        spec = self.env.action_spec()
        self.action_space = spaces.Box(spec.minimum.astype(np.float32), spec.maximum.astype(np.float32),
                                       dtype=np.float32)
        if self.pixels:
            self.observation_space = spaces.Box(0, 255, (self.size, self.size, 3), np.uint8)
        else:
            dim = sum(int(np.prod(v.shape)) for v in self.env.observation_spec().values())
            self.observation_space = spaces.Box(-np.inf, np.inf, (dim,), np.float32)

    def _obs(self, ts):
        if self.pixels:
            return self.env.physics.render(self.size, self.size, camera_id=self.camera).astype(np.uint8)
        return np.concatenate([np.asarray(v, np.float32).ravel() for v in ts.observation.values()])

    def render(self) -> np.ndarray | None:
        """The scene from ``camera`` at ``render_size`` pixels (MuJoCo's renderer), HxWx3 uint8."""
        if self.render_mode != "rgb_array":
            return None
        return self.env.physics.render(self.render_size, self.render_size, camera_id=self.camera).astype(np.uint8)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self.env = self._suite.load(self.domain, self.task, task_kwargs={"random": int(seed)})
        ts = self.env.reset()
        return self._obs(ts), {"caption": ""}

    def step(self, action):
        reward = 0.0
        for _ in range(self.repeat):
            ts = self.env.step(np.asarray(action, np.float64))
            reward += float(ts.reward or 0.0)
            if ts.last():
                break
        # dm_control episodes end by time limit: a truncation, not a terminal state (discount stays 1)
        truncated = bool(ts.last() and ts.discount > 0)
        terminated = bool(ts.last() and ts.discount == 0)
        return self._obs(ts), reward, terminated, truncated, {"caption": ""}


class MemoryMazeEnv(gym.Env):
    """Memory Maze through its gym 0.26 registration (``memory_maze:MemoryMaze-<size>-v0``), 64x64 RGB,
    6 discrete actions. Slow on a CPU (15-22 steps/s here): GPU-machine recipe."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, size: str = "9x9", render_mode: str | None = None):
        self.render_mode = _check_render_mode(render_mode)
        self._frame: np.ndarray | None = None
        os.environ.setdefault("MUJOCO_GL", "egl")
        from memory_maze import tasks

        self._task = getattr(tasks, f"memory_maze_{size}", None)
        if self._task is None:
            raise ValueError(f"size: expected 9x9, 11x11, 13x13 or 15x15, got {size!r}")
        self.env = self._load(None)
        self.observation_space = spaces.Box(0, 255, (64, 64, 3), np.uint8)
        self.action_space = spaces.Discrete(int(self.env.action_space.n))

    def _load(self, seed: int | None):
        from memory_maze.gym_wrappers import GymWrapper  # memory-maze's own gym 0.26 adapter of its dm_env task

        return GymWrapper(self._task(seed=seed, image_only_obs=True))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            # the maze layout, the targets and the start all come from the task's random state, fixed when the
            # task is built (its gym reset takes no seed): a seeded reset builds the task again from the seed
            self.env.env.close()
            self.env = self._load(int(seed))
        obs = self.env.reset()
        self._frame = np.asarray(obs, np.uint8)
        return self._frame, {"caption": ""}

    def render(self) -> np.ndarray | None:
        """The agent's own 64x64 first-person view (the latest observation)."""
        if self.render_mode != "rgb_array" or self._frame is None:
            return None
        return self._frame.copy()

    def step(self, action):
        out = self.env.step(int(action))
        if len(out) == 5:
            obs, reward, terminated, truncated, _ = out
        else:
            obs, reward, done, info = out
            truncated = bool(info.get("TimeLimit.truncated", False))
            terminated = bool(done) and not truncated
        self._frame = np.asarray(obs, np.uint8)
        return self._frame, float(reward), bool(terminated), bool(truncated), {"caption": ""}


def make_atari(game="Pong", size=64, repeat=4, sticky=False, max_episode_steps=27000, noops=30, render_mode=None,
               time_limit_terminal=True):
    return AtariEnv(game, size, repeat, sticky, max_episode_steps, noops, render_mode=render_mode,
                    time_limit_terminal=time_limit_terminal)


def make_dmc(domain="walker", task="walk", size=64, repeat=2, camera=0, pixels=True, render_mode=None):
    return DMCEnv(domain, task, size, repeat, camera, pixels, render_mode=render_mode)


def make_memory_maze(size="9x9", render_mode=None):
    return MemoryMazeEnv(size, render_mode=render_mode)
