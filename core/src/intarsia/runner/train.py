"""The ``train`` job: a policy in vectorised gymnasium envs on Lightning Fabric, with composed rewards.

Read top to bottom: build Fabric → seed per rank → envs, policy, reward terms → (resume) → loop
{act, step, compute and weight each reward term, observe, update, log, checkpoint, evaluate} → report.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from intarsia.build import build
from intarsia.compose import ComposedReward, term_name
from intarsia.errors import ConfigError, IntarsiaError
from intarsia.interfaces import EnvSpec, Transitions
from intarsia.rng_state import capture_global_rng, restore_global_rng
from intarsia.runner import checkpoint as ckpt
from intarsia.runner.context import RunContext
from intarsia.runner.episodes import EpisodeTracker
from intarsia.runner.loggers import resume_loggers
from intarsia.runner.report import plot_history
from intarsia.runner.train_config import TrainConfig
from intarsia.runner.vector import make_vector_env, step_infos, true_next_obs


def make_fabric(cfg: TrainConfig, run_dir: Path):
    from lightning.fabric import Fabric

    from intarsia.runner.loggers import make_loggers

    loggers = make_loggers(cfg.log.tensorboard, run_dir)
    f = cfg.fabric
    try:
        return Fabric(accelerator=f.accelerator, devices=f.devices, strategy=f.strategy, precision=f.precision,
                      num_nodes=f.num_nodes, loggers=loggers)
    except (ValueError, TypeError, RuntimeError) as exc:  # Lightning's MisconfigurationException is a ValueError
        raise ConfigError(f"fabric: {_one_line(exc)} (fabric.accelerator={f.accelerator!r}, "
                          f"fabric.devices={f.devices!r}, fabric.strategy={f.strategy!r})") from None


def train(cfg: TrainConfig, *, run: RunContext) -> dict:
    if cfg.cpu_threads > 0:
        import torch

        torch.set_num_threads(cfg.cpu_threads)
    fabric = make_fabric(cfg, run.dir)
    fabric.launch()
    rank, world = fabric.global_rank, fabric.world_size
    registry = run.registry
    fabric.seed_everything(cfg.seed + rank, verbose=False)

    envs = make_vector_env(registry, cfg.env, cfg.num_envs, cfg.vector)
    single_env = envs.envs[0] if hasattr(envs, "envs") else None
    max_steps = getattr(getattr(single_env, "spec", None), "max_episode_steps", None)
    env_spec = EnvSpec(envs.single_observation_space, envs.single_action_space, cfg.num_envs,
                       tuple(["extrinsic"] + [term_name(spec) for spec in cfg.rewards]), max_steps)
    rewards = ComposedReward(cfg.rewards, env_spec=env_spec, extrinsic_coef=cfg.extrinsic_coef, registry=registry)
    rewards.reset()
    policy = build("policies", cfg.policy, registry=registry, env_spec=env_spec, fabric=fabric)
    tracker = EpisodeTracker(cfg.num_envs, rewards.names, cfg.log.window)

    per_step = cfg.num_envs * world  # env steps per vector step, all ranks together
    global_step, elapsed_before, history = 0, 0.0, []
    last_policy_metrics: dict[str, float] = {}
    finished_eval = None  # the final evaluation of a run that had already finished when it was resumed
    resumed_at = None
    if run.resume:
        state = _load_resume_state(fabric, run.checkpoints, rank, world)
        if state is not None:
            try:
                policy.load_state_dict(state["policy"])
                rewards.load_state_dict(state["rewards"])
                tracker.load_state_dict(state["episodes"])
            except (RuntimeError, KeyError, ValueError, TypeError) as exc:
                raise IntarsiaError(
                    f"the checkpoint at step {int(state['step'])} in {run.checkpoints} does not fit this config "
                    f"({_one_line(exc)}); resume without the overrides that change the model, or start a new run"
                ) from None
            restore_global_rng(state["rng"])
            global_step, elapsed_before, history = int(state["step"]), float(state["seconds"]), list(state["history"])
            last_policy_metrics = dict(state.get("policy_metrics", {}))
            if state.get("finished") and global_step >= cfg.steps:
                finished_eval = dict(state.get("final_eval", {}))
            resumed_at = global_step
            fabric.print(f"resumed from step {global_step} ({run.checkpoints})")
    run.confirm_config()  # the state loaded under this config: a resume's overrides may now reach config.yaml
    resume_loggers(fabric, resumed_at)  # keep the metrics the checkpoint had seen, hide the rest

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
        payload = {"step": global_step, "seconds": elapsed_before + time.perf_counter() - start,
                   "policy": policy.state_dict(), "rewards": rewards.state_dict(),
                   "episodes": tracker.state_dict(), "rng": capture_global_rng(), "history": history,
                   "policy_metrics": dict(last_policy_metrics)}
        if final_eval is not None:  # the run is complete: a resume reports it without evaluating again
            payload.update(finished=True, final_eval=final_eval)
        ckpt.save(run.checkpoints, global_step, rank, payload)
        fabric.barrier()
        if rank == 0:
            ckpt.commit(run.checkpoints, global_step, world, cfg.checkpoint.keep)
        fabric.barrier()

    progress = _Progress(enabled=cfg.log.progress and rank == 0, total=cfg.steps, done=global_step, name=cfg.name)
    with progress:
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
            progress.advance(per_step, tracker)

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
    metrics = {**stats, **{k.replace("/", "_"): v for k, v in final_eval.items()},
               **{f"policy_{k.replace('/', '_')}": v for k, v in last_policy_metrics.items()}}
    for logger in fabric.loggers:
        logger.finalize("success")
    if rank == 0:
        plot_history(history, run.dir / "learning_curve.png", f"{cfg.name} ({cfg.policy.name} on {cfg.env.name})")
    return {"recipe": cfg.recipe, "name": cfg.name, "steps": global_step, "seconds": round(seconds, 2),
            "world_size": world, "metrics": metrics, "plot": "learning_curve.png"}


def _load_resume_state(fabric, folder: Path, rank: int, world: int) -> dict | None:
    """The newest checkpoint every rank can load, falling back past damaged files (None: nothing saved)."""
    import sys

    import torch

    steps, note = ckpt.candidates(folder)
    if note and rank == 0:
        print(f"warning: {note}", file=sys.stderr)
    failures = []
    for step in steps:
        try:
            state, ok = ckpt.load(folder, step, rank, world), 1.0
        except IntarsiaError as exc:
            state, ok = None, 0.0
            failures.append(str(exc))
        if world > 1:  # every rank must resume from the same step
            ok = float(fabric.all_reduce(torch.tensor(ok), reduce_op="sum")) / world
        if ok == 1.0:
            if failures and rank == 0:
                print(f"warning: {failures[0]}; resuming from the older checkpoint at step {step}", file=sys.stderr)
            return state
    if failures:
        raise IntarsiaError(f"no checkpoint in {folder} can be loaded ({failures[0]}); "
                            "start a new run (or restore the files from a copy)")
    return None


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + " …"


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
    obs, _ = env.reset(seed=cfg.seed + 10_000_019)
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


class _Progress:
    """A rich progress bar on rank 0 (no-op elsewhere or when disabled)."""

    def __init__(self, *, enabled: bool, total: int, done: int, name: str):
        self.enabled = enabled and not os.environ.get("INTARSIA_NO_PROGRESS")
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[stats]}"), TimeRemainingColumn(), transient=False)
            self.task = self.bar.add_task(name, total=total, completed=done, stats="")
        self._last = 0.0

    def __enter__(self):
        if self.enabled:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.__exit__(*exc)

    def advance(self, n: int, tracker: EpisodeTracker) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < 0.25:
            self.bar.advance(self.task, n)
            return
        self._last = now
        stats = tracker.window_stats()
        text = f"return {stats['return_mean']:.3f}" if "return_mean" in stats else ""
        if "success_rate" in stats:
            text += f"  success {stats['success_rate']:.2f}"
        self.bar.update(self.task, advance=n, stats=text)
