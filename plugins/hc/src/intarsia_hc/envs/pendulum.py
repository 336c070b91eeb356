"""gymnasium's Pendulum-v1 with named observation features (the HC coefficients are read against them)."""

from __future__ import annotations

import gymnasium as gym


class NamedPendulum(gym.Wrapper, gym.utils.RecordConstructorArgs):
    observation_names = ["cos(theta)", "sin(theta)", "theta_dot"]

    def __init__(self, env: gym.Env):
        # recorded constructor arguments let gymnasium re-create the wrapped env (its env checker requires it)
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)


def make_pendulum(max_episode_steps: int = 200):
    return NamedPendulum(gym.make("Pendulum-v1", max_episode_steps=int(max_episode_steps)))
