"""Envs that can draw themselves render ``rgb_array`` frames: HxWx3 uint8 images that change with the state."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from gymnasium import spaces
from intarsia.build import build

# env -> the optional packages it needs to draw itself
RENDERABLE = {
    "NChain-v0": (),
    "DeepSea-v0": (),
    "MemoryLength-v0": (),
    "DiscountingChain-v0": (),
    "POPGym-v0": ("popgym",),
    "PointNav-v0": (),
    "Pendulum-v1": ("pygame",),
    "DMCState-v0": ("dm_control",),
    "DMCPixels-v0": ("dm_control",),
    "Atari-v0": ("ale_py",),
    "AtariPixels-v0": ("ale_py",),
    "MemoryMaze-v0": ("memory_maze",),
    "MotifNetHack-v0": ("nle", "PIL"),
}


def _needs(name: str) -> None:
    missing = [m for m in RENDERABLE[name] if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{name} draws itself with {', '.join(missing)}, which is not installed")


def _action(space: spaces.Space):
    """An action that moves the state on (the chains' "right"; a Box's upper corner)."""
    if isinstance(space, spaces.Discrete):
        return 1
    return np.asarray(space.high, dtype=space.dtype)


@pytest.mark.parametrize("name", list(RENDERABLE))
def test_rgb_array_frames(name):
    _needs(name)
    env = build("envs", name, render_mode="rgb_array")
    assert "rgb_array" in env.metadata["render_modes"]
    env.reset(seed=0)
    first = env.render()
    assert first.ndim == 3 and first.shape[2] == 3 and first.dtype == np.uint8
    for _ in range(30):  # Pong's screen stays still for its first frames: step until the picture moves
        env.step(_action(env.action_space))
        second = env.render()
        assert second.shape == first.shape and second.dtype == np.uint8
        if not np.array_equal(first, second):
            break
    assert not np.array_equal(first, second), "two different states drew the same image"
    env.close()


# lmcdqn's Atari is ALE's own env under gymnasium's wrappers: without a render mode ALE raises, as it does anywhere
@pytest.mark.parametrize("name", [n for n in RENDERABLE if n != "Atari-v0"])
def test_without_a_render_mode_nothing_is_drawn(name):
    _needs(name)
    env = build("envs", name)
    env.reset(seed=0)
    assert env.render() is None
    env.close()
