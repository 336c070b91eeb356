"""The ``train`` job: a policy in vectorised gymnasium envs on Lightning Fabric, with composed rewards.

Read top to bottom: Fabric from the ``fabric:`` section, seeded per rank → envs, policy, reward terms →
(resume) → loop {act, step, compute and weight each reward term, observe, update, log, checkpoint,
evaluate} → report. Checkpoints, resume, progress and the report come from the run context
(:mod:`intarsia.runner.context`), as in every other job.
"""

from __future__ import annotations

import time

import numpy as np

from intarsia.build import build
from intarsia.compose import ComposedReward, term_name
from intarsia.evaluate import eval_seed
from intarsia.interfaces import EnvSpec, Transitions
from intarsia.runner.context import RunContext
from intarsia.runner.episodes import EpisodeTracker
from intarsia.runner.report import plot_history
from intarsia.runner.train_config import TrainConfig
from intarsia.runner.vector import make_vector_env, step_infos, true_next_obs


def train(cfg: TrainConfig, *, run: RunContext) -> dict:
    fabric = run.launch_fabric(cfg)  # threads, Fabric from cfg.fabric, DDP launch, seed + rank
    rank, world = fabric.global_rank, fabric.world_size
    registry = run.registry

    envs = make_vector_env(registry, cfg.env, cfg.num_envs, cfg.vector)
    single_env = envs.envs[0] if hasattr(envs, "envs") else None
    max_steps = getattr(getattr(single_env, "spec", None), "max_episode_steps", None)
    env_spec = EnvSpec(envs.single_observation_space, envs.single_action_space, cfg.num_envs,
                       tuple(["extrinsic"] + [term_name(spec) for spec in cfg.rewards]), max_steps)
    rewards = ComposedReward(cfg.rewards, env_spec=env_spec, extrinsic_coef=cfg.extrinsic_coef, registry=registry)
    rewards.reset()
    policy = build("policies", cfg.policy, registry=registry, env_spec=env_spec, fabric=fabric)
    tracker = EpisodeTracker(cfg.num_envs, rewards.names, cfg.log.window)

    def load(state: dict) -> None:
        policy.load_state_dict(state["policy"])
        rewards.load_state_dict(state["rewards"])
        tracker.load_state_dict(state["episodes"])

    per_step = cfg.num_envs * world  # env steps per vector step, all ranks together
    global_step, elapsed_before, history = 0, 0.0, []
    last_policy_metrics: dict[str, float] = {}
    finished_eval = None  # the final evaluation of a run that had already finished when it was resumed
    state = run.restore(fabric, load)
    if state is not None:
        global_step, elapsed_before, history = int(state["step"]), float(state["seconds"]), list(state["history"])
        last_policy_metrics = dict(state.get("policy_metrics", {}))
        if state.get("finished") and global_step >= cfg.steps:
            finished_eval = dict(state.get("final_eval", {}))

    # Env seeds: rank r's env i gets seed + r*num_envs + i; a resumed run offsets them by the step so it
    # does not replay the episodes it already saw.
    base = cfg.seed + rank * cfg.num_envs + global_step
    obs, _ = envs.reset(seed=[base + i for i in range(cfg.num_envs)])
    just_reset = np.ones(cfg.num_envs, dtype=bool)
    state = None
    start = time.perf_counter()
    next_log = (global_step // cfg.log.every + 1) * cfg.log.every if cfg.log.every > 0 else None
    ck_every = cfg.checkpoint.every
    next_ckpt = (global_step // ck_every + 1) * ck_every if ck_every > 0 else None
    next_eval = (global_step // cfg.eval.every + 1) * cfg.eval.every if cfg.eval.every > 0 else None

    def save_checkpoint(final_eval: dict | None = None) -> None:
        payload = {"seconds": elapsed_before + time.perf_counter() - start,
                   "policy": policy.state_dict(), "rewards": rewards.state_dict(),
                   "episodes": tracker.state_dict(), "history": history,
                   "policy_metrics": dict(last_policy_metrics)}
        if final_eval is not None:  # the run is complete: a resume reports it without evaluating again
            payload.update(finished=True, final_eval=final_eval)
        run.save(fabric, global_step, payload, keep=cfg.checkpoint.keep)

    def status() -> str:
        stats = tracker.window_stats()
        text = f"return {stats['return_mean']:.3f}" if "return_mean" in stats else ""
        return text + (f"  success {stats['success_rate']:.2f}" if "success_rate" in stats else "")

    with run.progress(cfg.steps, done=global_step, description=cfg.name, unit="env steps",
                      enabled=cfg.log.progress) as progress:
        while global_step < cfg.steps:
            actions, state = policy.act(obs, state, explore=True, reset=just_reset)
            next_obs, env_reward, terminated, truncated, info = envs.step(actions)
            done = np.logical_or(terminated, truncated)
            infos = step_infos(info, done)
            batch = Transitions(obs=obs, action=np.asarray(actions), next_obs=true_next_obs(next_obs, info, done),
                                env_reward=np.asarray(env_reward, dtype=np.float32), terminated=terminated,
                                truncated=truncated, captions=[str(i.get("caption", "")) for i in infos], infos=infos)
            terms = rewards(batch)  # also sets batch.reward_terms and batch.reward
            policy.observe(batch)
            tracker.add(batch.env_reward, terms, done, infos)
            obs, just_reset = next_obs, done
            global_step += per_step
            metrics = policy.update(global_step)
            if metrics:
                last_policy_metrics = metrics
            progress.advance(per_step, status)

            if next_log is not None and global_step >= next_log:
                next_log += cfg.log.every
                entry = _gather_log(fabric, tracker, last_policy_metrics, global_step, start, elapsed_before)
                fabric.log_dict({k: v for k, v in entry.items() if k != "step"}, step=global_step)
                history.append(entry)
            if next_eval is not None and global_step >= next_eval:
                next_eval += cfg.eval.every
                history.append({"step": global_step, **_evaluate(cfg, registry, policy, fabric)})
            if next_ckpt is not None and global_step >= next_ckpt and global_step < cfg.steps:
                next_ckpt += ck_every
                save_checkpoint()

    envs.close()
    if finished_eval is not None:  # resumed a finished run: its final evaluation is in history and the CSV
        final_eval = finished_eval
    else:
        final_eval = _evaluate(cfg, registry, policy, fabric) if cfg.eval.final else {}
        if final_eval:
            history.append({"step": global_step, **final_eval})
            fabric.log_dict(final_eval, step=global_step)
        save_checkpoint(final_eval)
    seconds = elapsed_before + time.perf_counter() - start
    stats = tracker.window_stats()
    metrics = {**stats, **{k.replace("/", "_"): v for k, v in final_eval.items()}}
    training = {f"policy_{k.replace('/', '_')}": v for k, v in last_policy_metrics.items()}
    for logger in fabric.loggers:
        logger.finalize("success")
    artifacts = ["config.yaml", "logs/metrics.csv"]
    if rank == 0 and plot_history(history, run.dir / "learning_curve.png",
                                  f"{cfg.name} ({cfg.policy.name} on {cfg.env.name})") is not None:
        artifacts.append("learning_curve.png")
    return run.report(steps=global_step, unit="env steps", metrics=metrics, training=training,
                      artifacts=artifacts, seconds=seconds)


def _gather_log(fabric, tracker: EpisodeTracker, policy_metrics: dict, step: int, start: float, before: float) -> dict:
    import torch

    vec = torch.tensor(tracker.pop_recent(), dtype=torch.float64)
    if fabric.world_size > 1:
        vec = fabric.all_reduce(vec, reduce_op="sum")
    entry = {"step": step, **tracker.summarize(vec.tolist())}
    entry.update({k: float(v) for k, v in policy_metrics.items()})
    entry["time/sps"] = step / max(1e-9, before + time.perf_counter() - start)
    return entry


def _evaluate(cfg: TrainConfig, registry, policy, fabric) -> dict[str, float]:
    """Greedy episodes in one fresh env on rank 0 (other ranks return nothing)."""
    if fabric.global_rank != 0 or cfg.eval.episodes <= 0:
        return {}
    env = make_vector_env(registry, cfg.env, 1, "sync")
    obs, _ = env.reset(seed=eval_seed(cfg))
    returns, successes, ret, state, reset = [], [], 0.0, None, np.ones(1, dtype=bool)
    while len(returns) < cfg.eval.episodes:
        action, state = policy.act(obs, state, explore=False, reset=reset)
        obs, r, term, trunc, info = env.step(action)
        ret += float(r[0])
        reset = np.logical_or(term, trunc)
        if reset[0]:
            returns.append(ret)
            final = step_infos(info, reset)[0]
            if "success" in final:
                successes.append(float(bool(final["success"])))
            ret = 0.0
    env.close()
    out = {"eval/return": float(np.mean(returns))}
    if successes:
        out["eval/success"] = float(np.mean(successes))
    return out
