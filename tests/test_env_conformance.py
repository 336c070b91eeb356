"""Every registered env passes gymnasium's own env checker, determinism under a seed included: the same
seed and actions give the same observations."""

from __future__ import annotations

import warnings

import pytest
from intarsia.build import build
from intarsia.plugins import get_registry

SLOW = {"MemoryMaze-v0"}  # a MuJoCo maze, rebuilt on each seeded reset: about 25 s of checks on a CPU
NEEDS = {  # optional simulators: their absence skips the env (with the reason), it does not fail the walk
    "Atari-v0": "ale_py", "AtariPixels-v0": "ale_py", "DMCPixels-v0": "dm_control", "DMCState-v0": "dm_control",
    "MemoryMaze-v0": "memory_maze", "MotifNetHack-v0": "nle", "POPGym-v0": "popgym",
}


def _names():
    return [pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else [])
            for name in get_registry().names("envs")]


@pytest.mark.parametrize("name", _names())
def test_env_passes_gymnasium_check_env(name):
    from gymnasium.utils.env_checker import check_env

    if name in NEEDS:
        pytest.importorskip(NEEDS[name], reason=f"{name} needs the optional package {NEEDS[name]}")
    env = build("envs", name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the checker's advice (unbounded boxes, asymmetric actions) is not a failure
            check_env(env, skip_render_check=True)
    finally:
        env.close()


def test_the_walk_covers_every_plugin_env():
    names = set(get_registry().names("envs"))
    assert {"CaptionedGrid-v0", "MemoryLength-v0", "NChain-v0", "Pendulum-v1", "PointNav-v0", "MemoryMaze-v0"} <= names
