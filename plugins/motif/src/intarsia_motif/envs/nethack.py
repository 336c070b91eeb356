"""NetHack tasks from the NetHack Learning Environment with the in-game message as the caption.

``MotifNetHack-v0`` wraps an ``nle`` gymnasium task (``NetHackScore-v0``, ``NetHackStaircase-v0``, ...;
the paper used the ``-v1`` versions of nle 0.9, which became ``-v0`` in nle 1.x) and returns:

* ``info["caption"]``: the message line, ``bytes(obs["message"]).rstrip(b"\\0").decode()`` -- exactly what
  Motif's reward model reads;
* a compact observation for CPU-sized agents: the message bytes, the bottom-line statistics (sign-log
  scaled) and a ``crop x crop`` window of screen characters around the hero (the paper's agent reads the
  full screen with a CNN; this is a smaller stand-in);
* ``info["success"]`` on the last step of goal tasks (staircase, oracle): nle's task-successful status.

Needs ``pip install intarsia-motif[nethack]`` (nle 1.3 pins gymnasium==1.2.0).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

GOAL_TASKS = ("Staircase", "Oracle")


def decode_message(message: np.ndarray) -> str:
    return bytes(np.asarray(message, dtype=np.uint8)).rstrip(b"\0").decode("utf-8", errors="replace")


class NetHackCaptioned(gym.Env):
    """An nle task with captions and a compact observation (see the module docstring)."""

    metadata = {"render_modes": []}

    def __init__(self, task: str = "NetHackScore-v0", max_episode_steps: int = 5000, crop: int = 9):
        from intarsia.env_ids import check_env_id

        check_env_id(task, what="task")  # before anything imports: "module:Env" would import the module
        try:
            import nle  # noqa: F401  (registers the NetHack gymnasium ids)
        except ImportError as exc:  # pragma: no cover - depends on the optional extra
            raise ImportError("MotifNetHack-v0 needs nle: pip install 'intarsia-motif[nethack]'") from exc
        self.task, self.crop = task, int(crop)
        self.env = gym.make(task, observation_keys=("message", "blstats", "chars"),
                            max_episode_steps=max_episode_steps)
        self.action_space = self.env.action_space
        n_bl = self.env.observation_space["blstats"].shape[0]
        self.observation_space = spaces.Dict({
            "message": spaces.Box(0, 255, shape=(256,), dtype=np.uint8),
            "blstats": spaces.Box(-np.inf, np.inf, shape=(n_bl,), dtype=np.float32),
            "crop": spaces.Box(0, 255, shape=(self.crop, self.crop), dtype=np.uint8),
        })
        self.has_goal = any(g in task for g in GOAL_TASKS)

    def _obs(self, obs) -> dict:
        bl = np.asarray(obs["blstats"], dtype=np.float64)
        chars = np.asarray(obs["chars"], dtype=np.uint8)
        x, y = int(bl[0]), int(bl[1])  # hero column, row
        half = self.crop // 2
        padded = np.pad(chars, half, constant_values=ord(" "))
        crop = padded[y:y + self.crop, x:x + self.crop]
        return {
            "message": np.asarray(obs["message"], dtype=np.uint8),
            # sign-log keeps gold, turn counters and hit points on comparable scales
            "blstats": (np.sign(bl) * np.log1p(np.abs(bl))).astype(np.float32),
            "crop": crop.astype(np.uint8),
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:  # nle's reset(seed=) leaves the game's own RNGs alone: seed them explicitly
            self.env.unwrapped.seed(core=int(seed), disp=int(seed), reseed=False)
        # nle reads specific keys from options; an empty dict (as the env checker passes) means none
        obs, info = self.env.reset(seed=seed, **({"options": options} if options else {}))
        return self._obs(obs), {"caption": decode_message(obs["message"])}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        out = {"caption": decode_message(obs["message"])}
        if (terminated or truncated) and self.has_goal:
            status = info.get("end_status")
            out["success"] = bool(int(status) == 2) if status is not None else False  # 2: TASK_SUCCESSFUL
        return self._obs(obs), float(reward), bool(terminated), bool(truncated), out

    def close(self):
        self.env.close()
