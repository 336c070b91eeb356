"""Envs that can draw themselves render ``rgb_array`` frames: HxWx3 uint8 images that change with the state."""

from __future__ import annotations

import numpy as np
import pytest
from intarsia.build import build

RENDERABLE = ["NChain-v0", "DeepSea-v0"]


@pytest.mark.parametrize("name", RENDERABLE)
def test_rgb_array_frames(name):
    env = build("envs", name, render_mode="rgb_array")
    assert "rgb_array" in env.metadata["render_modes"]
    env.reset(seed=0)
    first = env.render()
    assert first.ndim == 3 and first.shape[2] == 3 and first.dtype == np.uint8
    env.step(1)
    env.step(1)
    second = env.render()
    assert second.shape == first.shape
    assert not np.array_equal(first, second), "two different states drew the same image"
    env.close()


@pytest.mark.parametrize("name", RENDERABLE)
def test_without_a_render_mode_nothing_is_drawn(name):
    env = build("envs", name)
    env.reset(seed=0)
    assert env.render() is None
