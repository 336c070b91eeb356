"""A minimal driver with the runner's semantics (vector envs, reset masks, true final observations,
reward terms), for tests and benchmarks that must not depend on the core's full runner."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def drive(make_env: Callable, agent, steps: int, num_envs: int = 1, seed: int = 0,
          reward_terms: dict[str, Callable] | None = None, log_every: int = 0, callback=None) -> dict:
    """Run ``agent`` for ``steps`` env steps (summed over envs). ``reward_terms`` maps extra term names to
    ``fn(obs, action, next_obs, info) -> float`` (already weighted); ``extrinsic`` is the env reward.
    Returns episode statistics (successes and returns in order of completion) and timing."""
    from intarsia.interfaces import Transitions

    envs = [make_env() for _ in range(num_envs)]
    obs = np.stack([e.reset(seed=seed + i)[0] for i, e in enumerate(envs)])
    state, reset = None, np.ones(num_envs, dtype=bool)
    returns, successes, lengths, ep_ret, ep_len = [], [], [], np.zeros(num_envs), np.zeros(num_envs, int)
    curve = []
    t0 = time.time()
    step = 0
    while step < steps:
        action, state = agent.act(obs, state, explore=True, reset=reset)
        next_obs, rew, term, trunc, infos = [], [], [], [], []
        for e, a in zip(envs, action, strict=True):
            o, r, te, tr, info = e.step(a)
            next_obs.append(o), rew.append(r), term.append(te), trunc.append(tr), infos.append(info)
        next_obs, rew = np.stack(next_obs), np.asarray(rew, np.float32)
        term, trunc = np.asarray(term), np.asarray(trunc)
        terms = {"extrinsic": rew}
        for name, fn in (reward_terms or {}).items():
            terms[name] = np.asarray([fn(obs[i], action[i], next_obs[i], infos[i]) for i in range(num_envs)],
                                     np.float32)
        batch = Transitions(obs=obs, action=np.asarray(action), next_obs=next_obs, env_reward=rew, terminated=term,
                            truncated=trunc, captions=[i.get("caption", "") for i in infos], infos=infos,
                            reward=sum(terms.values()), reward_terms=terms)
        agent.observe(batch)
        step += num_envs
        agent.update(step)
        ep_ret += rew
        ep_len += 1
        done = term | trunc
        reset = done.copy()
        obs = next_obs.copy()
        for i in np.flatnonzero(done):
            returns.append(float(ep_ret[i]))
            lengths.append(int(ep_len[i]))
            if "success" in infos[i]:
                successes.append(bool(infos[i]["success"]))
            ep_ret[i], ep_len[i] = 0.0, 0
            obs[i] = envs[i].reset()[0]
        if log_every and step % log_every < num_envs:
            recent = successes[-100:]
            point = {"step": step, "time": time.time() - t0, "updates": getattr(agent, "updates", 0),
                     "success_rate": float(np.mean(recent)) if recent else float("nan"),
                     "return_mean": float(np.mean(returns[-100:])) if returns else float("nan")}
            curve.append(point)
            if callback:
                callback(point)
    return {"returns": returns, "successes": successes, "lengths": lengths, "curve": curve,
            "seconds": time.time() - t0}
