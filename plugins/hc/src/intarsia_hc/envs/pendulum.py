"""gymnasium's Pendulum-v1 with named observation features (the HC coefficients are read against them)."""

from __future__ import annotations

import gymnasium as gym


class NamedPendulum(gym.Wrapper):
    observation_names = ["cos(theta)", "sin(theta)", "theta_dot"]


def make_pendulum(max_episode_steps: int = 200):
    return NamedPendulum(gym.make("Pendulum-v1", max_episode_steps=int(max_episode_steps)))
