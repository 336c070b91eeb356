"""Small helpers for tests: env specs, random transitions, plain rollouts, the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from intarsia.interfaces import EnvSpec, Transitions


def make_env_spec(env, num_envs: int = 2, reward_terms=("extrinsic",)) -> EnvSpec:
    return EnvSpec(env.observation_space, env.action_space, num_envs, tuple(reward_terms),
                   getattr(getattr(env, "spec", None), "max_episode_steps", None))


def _stack(items):
    if isinstance(items[0], dict):
        return {k: np.stack([it[k] for it in items]) for k in items[0]}
    return np.stack(items)


def rollout(make_env, act, num_envs: int = 2, steps: int = 20, seed: int = 0, reward_terms=("extrinsic",)):
    """Step ``num_envs`` envs with ``act(obs_batch) -> actions`` and yield :class:`Transitions` batches
    (manual resets, so ``next_obs`` is always the true next observation)."""
    envs = [make_env() for _ in range(num_envs)]
    obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
    for _ in range(steps):
        actions = np.asarray(act(_stack(obs)))
        results = [env.step(a) for env, a in zip(envs, actions)]
        next_obs = [r[0] for r in results]
        env_reward = np.array([r[1] for r in results], dtype=np.float32)
        term = np.array([r[2] for r in results], dtype=bool)
        trunc = np.array([r[3] for r in results], dtype=bool)
        infos = [r[4] for r in results]
        terms = {t: env_reward.copy() if t == "extrinsic" else np.zeros(num_envs, np.float32) for t in reward_terms}
        yield Transitions(obs=_stack(obs), action=actions, next_obs=_stack(next_obs), env_reward=env_reward,
                          terminated=term, truncated=trunc, captions=[str(i.get("caption", "")) for i in infos],
                          infos=infos, reward=env_reward.copy(), reward_terms=terms)
        obs = [env.reset()[0] if (te or tr) else o for env, o, te, tr in zip(envs, next_obs, term, trunc)]
    for env in envs:
        env.close()


def random_transitions(make_env, num_envs: int = 2, steps: int = 20, seed: int = 0, reward_terms=("extrinsic",)):
    env = make_env()
    space = env.action_space
    space.seed(seed)
    env.close()
    return list(rollout(make_env, lambda obs: np.stack([space.sample() for _ in range(num_envs)]),
                        num_envs, steps, seed, reward_terms))


# `python -m`, not `python -c`: under DDP Lightning starts the other ranks by re-executing rank 0's command
# line, which works for a module and fails for `-c` code.
CLI = (sys.executable, "-m", "intarsia.cli")


def run_cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """``intarsia ARGS`` in a fresh process (progress bars off), as a user or CI would run it; the way to
    test a multi-process (DDP) run. ``env`` entries are added to the current environment."""
    full_env = {**os.environ, "INTARSIA_NO_PROGRESS": "1", **(env or {})}
    return subprocess.run([*CLI, *args], env=full_env, capture_output=True, text=True, timeout=timeout)
