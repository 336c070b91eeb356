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

# the terminal's 16 colours (curses order: black, red, green, brown, blue, magenta, cyan, grey, then bright);
# black is drawn dark grey so that black glyphs stay visible on the black background
TTY_PALETTE = [(90, 90, 90), (170, 0, 0), (0, 170, 0), (170, 85, 0), (0, 0, 170), (170, 0, 170), (0, 170, 170),
               (170, 170, 170), (85, 85, 85), (255, 85, 85), (85, 255, 85), (255, 255, 85), (85, 85, 255),
               (255, 85, 255), (85, 255, 255), (255, 255, 255)]


def decode_message(message: np.ndarray) -> str:
    return bytes(np.asarray(message, dtype=np.uint8)).rstrip(b"\0").decode("utf-8", errors="replace")


class NetHackCaptioned(gym.Env):
    """An nle task with captions and a compact observation (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, task: str = "NetHackScore-v0", max_episode_steps: int = 5000, crop: int = 9,
                 render_mode: str | None = None):
        from intarsia.env_ids import check_env_id

        check_env_id(task, what="task")  # before anything imports: "module:Env" would import the module
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode: expected None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self._tty: tuple[np.ndarray, np.ndarray] | None = None
        try:
            import nle  # noqa: F401  (registers the NetHack gymnasium ids)
        except ImportError as exc:  # pragma: no cover - depends on the optional extra
            raise ImportError("MotifNetHack-v0 needs nle: pip install 'intarsia-motif[nethack]'") from exc
        self.task, self.crop = task, int(crop)
        keys = ("message", "blstats", "chars") + (("tty_chars", "tty_colors") if render_mode else ())
        self.env = gym.make(task, observation_keys=keys, max_episode_steps=max_episode_steps)
        self.action_space = self.env.action_space
        n_bl = self.env.observation_space["blstats"].shape[0]
        self.observation_space = spaces.Dict({
            "message": spaces.Box(0, 255, shape=(256,), dtype=np.uint8),
            "blstats": spaces.Box(-np.inf, np.inf, shape=(n_bl,), dtype=np.float32),
            "crop": spaces.Box(0, 255, shape=(self.crop, self.crop), dtype=np.uint8),
        })
        self.has_goal = any(g in task for g in GOAL_TASKS)

    def render(self) -> np.ndarray | None:
        """The 24x80 terminal as a human sees it: its characters in their colours, drawn with PIL's default
        font on a fixed character grid. HxWx3 uint8."""
        if self.render_mode != "rgb_array" or self._tty is None:
            return None
        from PIL import Image, ImageDraw, ImageFont

        chars, colors = self._tty
        font = ImageFont.load_default()
        left, top, right, bottom = font.getbbox("M")
        cw, ch = max(right - left, 1) + 1, max(bottom - top, 1) + 3
        rows, cols = chars.shape
        img = Image.new("RGB", (cw * cols, ch * rows))
        draw = ImageDraw.Draw(img)
        for r, c in zip(*np.nonzero(chars > 32)):  # spaces and control characters draw nothing
            draw.text((c * cw, r * ch - top), chr(int(chars[r, c])), font=font,
                      fill=TTY_PALETTE[int(colors[r, c]) & 15])
        return np.asarray(img, dtype=np.uint8)

    def _keep_tty(self, obs) -> None:
        if self.render_mode:
            self._tty = (np.asarray(obs["tty_chars"], np.uint8).copy(), np.asarray(obs["tty_colors"], np.int64).copy())

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
        self._keep_tty(obs)
        return self._obs(obs), {"caption": decode_message(obs["message"])}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._keep_tty(obs)
        out = {"caption": decode_message(obs["message"])}
        if (terminated or truncated) and self.has_goal:
            status = info.get("end_status")
            out["success"] = bool(int(status) == 2) if status is not None else False  # 2: TASK_SUCCESSFUL
        return self._obs(obs), float(reward), bool(terminated), bool(truncated), out

    def close(self):
        self.env.close()
