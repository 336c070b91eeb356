"""Pixel tasks: each env builds at a tiny size, passes a short rollout, and a tiny R2I agent runs a few
updates on it on CPU. Skipped when the simulator (an optional extra) is not installed."""

import importlib.util

import numpy as np
import pytest
from intarsia.interfaces import EnvSpec
from intarsia_r2i.agent import make_r2i
from intarsia_r2i.loop import drive
from intarsia_r2i.presets import tiny_config


def _train_a_little(make_env, cpu_fabric, steps=24):
    env = make_env()
    assert env.observation_space.shape == (16, 16, 3) and env.observation_space.dtype == np.uint8
    spec = EnvSpec(env.observation_space, env.action_space, 1)
    agent = make_r2i(tiny_config(learning_starts=8, batch_length=6, train_ratio=4, cnn_minres=4),
                     env_spec=spec, fabric=cpu_fabric)
    drive(make_env, agent, steps, num_envs=1)
    assert agent.updates >= 2
    metrics = agent.train_step()
    assert np.isfinite(float(metrics["wm/image"]))
    env.close()


@pytest.mark.skipif(importlib.util.find_spec("ale_py") is None, reason="needs intarsia-r2i[atari]")
def test_atari_tiny(cpu_fabric):
    from intarsia_r2i.envs.pixels import make_atari

    _train_a_little(lambda: make_atari("Pong", size=16, repeat=4, max_episode_steps=50), cpu_fabric)


@pytest.mark.skipif(importlib.util.find_spec("dm_control") is None, reason="needs intarsia-r2i[dmc]")
def test_dmc_tiny(cpu_fabric):
    from intarsia_r2i.envs.pixels import make_dmc

    try:
        env = make_dmc("cartpole", "swingup", size=16, repeat=4)
        env.reset(seed=0)
    except Exception as exc:  # no headless OpenGL (EGL) on this machine
        pytest.skip(f"dm_control cannot render here: {exc}")
    _train_a_little(lambda: make_dmc("cartpole", "swingup", size=16, repeat=4), cpu_fabric)


@pytest.mark.skipif(importlib.util.find_spec("memory_maze") is None, reason="needs intarsia-r2i[memory-maze]")
def test_memory_maze_tiny(cpu_fabric):
    from intarsia_r2i.envs.pixels import make_memory_maze

    env = make_memory_maze("9x9")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64, 64, 3)
    spec = EnvSpec(env.observation_space, env.action_space, 1)
    agent = make_r2i(tiny_config(learning_starts=8, batch_length=6, train_ratio=4), env_spec=spec,
                     fabric=cpu_fabric)
    drive(lambda: make_memory_maze("9x9"), agent, 16, num_envs=1)
    assert agent.updates >= 1
