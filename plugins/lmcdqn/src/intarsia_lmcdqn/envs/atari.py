"""Atari 2600 through ``ale-py`` with gymnasium's standard DQN preprocessing (optional extra ``atari``).

``ALE/<Game>-v5`` with no frame skip and no sticky actions (the ``NoFrameskip-v4`` protocol the authors
use through EnvPool), then ``AtariPreprocessing`` (up to 30 no-op starts, frame skip 4 with max-pooling,
84x84 grayscale), optional reward clipping to {-1, 0, 1} (off by default: the agents clip the rewards
they learn from, ``policy.clip_rewards``, so the runner reports game scores), and a stack of the last 4 frames:
observations are ``uint8`` arrays of shape (4, 84, 84). Episodes are capped at 108,000 frames.

The authors train with EnvPool's ``episodic_life=True`` (life loss ends the episode for the learner but
the game goes on). gymnasium's ``terminal_on_life_loss`` instead ends the whole game, so it is off by
default (``terminal_on_life_loss=True`` to use it); returns are then per game, as in the paper's plots.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

# The hard-exploration games of the paper's Atari experiments (Figure 2).
PAPER_GAMES = ("Alien", "Freeway", "Gravitar", "Hero", "Pitfall", "Qbert", "Solaris", "Venture")


def make_atari(game: str = "Alien", frame_stack: int = 4, screen_size: int = 84, noop_max: int = 30,
               frame_skip: int = 4, clip_rewards: bool = False, terminal_on_life_loss: bool = False,
               max_episode_frames: int = 108_000, full_action_space: bool = False,
               repeat_action_probability: float = 0.0) -> gym.Env:
    try:
        import ale_py
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError("Atari envs need ale-py: pip install 'intarsia-lmcdqn[atari]'") from exc
    gym.register_envs(ale_py)
    from intarsia.env_ids import check_env_id

    env = gym.make(
        check_env_id(f"ALE/{game}-v5", what="game"),
        frameskip=1,  # AtariPreprocessing does the skipping (and max-pools the last two frames)
        repeat_action_probability=repeat_action_probability,
        full_action_space=full_action_space,
        max_num_frames_per_episode=max_episode_frames,
    )
    env = gym.wrappers.AtariPreprocessing(
        env, noop_max=noop_max, frame_skip=frame_skip, screen_size=screen_size,
        terminal_on_life_loss=terminal_on_life_loss, grayscale_obs=True, scale_obs=False,
    )
    if clip_rewards:
        # Then the runner's episode returns are clipped returns too; prefer policy.clip_rewards.
        env = gym.wrappers.TransformReward(env, lambda r: float(np.sign(r)))
    return gym.wrappers.FrameStackObservation(env, frame_stack)
