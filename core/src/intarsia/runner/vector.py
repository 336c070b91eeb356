"""Vectorised envs for the runner, and turning gymnasium's vector step into :class:`Transitions`.

Envs autoreset in gymnasium's SAME_STEP mode: an env whose episode ended returns its reset observation
at once, and the true last observation and info are in ``info["final_obs"]`` / ``info["final_info"]``.
The runner gives the policy the true ``next_obs`` for learning and the reset observation for acting.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from intarsia.config import Spec
from intarsia.errors import IntarsiaError


def _make_one(registry, spec: Spec, rank_seed: int):
    from intarsia.build import build

    env = build("envs", spec, registry=registry)
    env.action_space.seed(rank_seed)
    return env


def make_vector_env(registry, spec: Spec, num_envs: int, vector: str = "sync"):
    import gymnasium as gym

    fns = [functools.partial(_make_one, registry, spec, i) for i in range(num_envs)]
    mode = gym.vector.AutoresetMode.SAME_STEP
    if vector == "sync":
        return gym.vector.SyncVectorEnv(fns, autoreset_mode=mode)
    if vector == "async":
        return gym.vector.AsyncVectorEnv(fns, autoreset_mode=mode, context=worker_start_method())
    raise IntarsiaError(f"vector: expected 'sync' or 'async', got {vector!r}")


def worker_start_method() -> str | None:
    """How async env workers start: ``"spawn"`` once CUDA is initialised in this process (a forked child
    inherits a CUDA context it cannot use, and pixel envs' renderers crash or hang in it), else the
    platform's default (fork on Linux: the workers start in milliseconds)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        return "spawn"
    return None


def split_infos(info: dict, num_envs: int) -> list[dict]:
    """gymnasium's batched info dict -> one plain dict per env (only the entries each env set)."""
    out: list[dict] = [{} for _ in range(num_envs)]
    for key, value in info.items():
        if key.startswith("_") or key in ("final_obs", "final_info"):
            continue
        mask = info.get(f"_{key}", np.ones(num_envs, dtype=bool))
        if isinstance(value, dict):
            for i, sub in enumerate(split_infos(value, num_envs)):
                if mask[i]:
                    out[i][key] = sub
            continue
        for i in range(num_envs):
            if mask[i]:
                out[i][key] = value[i]
    return out


def step_infos(info: dict, done: np.ndarray) -> list[dict]:
    """Per-env infos of the step just taken (for ended envs, the final step's info, not the reset's)."""
    num_envs = len(done)
    infos = split_infos(info, num_envs)
    if "final_info" in info:
        finals = split_infos(info["final_info"], num_envs)
        for i in np.flatnonzero(done):
            infos[i] = finals[i]
    return infos


def true_next_obs(next_obs: Any, info: dict, done: np.ndarray) -> Any:
    """``next_obs`` with the final observations of ended envs put back in place of their reset ones."""
    if not done.any() or "final_obs" not in info:
        return next_obs
    finals = info["final_obs"]
    if isinstance(next_obs, dict):
        out = {k: np.array(v, copy=True) for k, v in next_obs.items()}
        for i in np.flatnonzero(done):
            for k in out:
                out[k][i] = finals[i][k]
        return out
    out = np.array(next_obs, copy=True)
    for i in np.flatnonzero(done):
        out[i] = finals[i]
    return out
