"""``intarsia eval RUN_DIR``: episodes of a saved agent, written to ``<run dir>/eval/eval.json`` (and videos).

The agent acts greedily (``policy.act(..., explore=False)``) unless ``explore`` is set, in one env built as
the run configured it; episode ``i`` is reset with seed ``seed + i``, so two evaluations with one seed see
the same episodes. ``distinct_episodes`` counts the different action sequences among them: a greedy agent
in a deterministic env (the captioned gridworld's fixed layout) plays one episode over and over, and a
success rate of 0 or 1 there is one episode's outcome, not an estimate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from intarsia.errors import ConfigError, IntarsiaError

EVAL_SEED_OFFSET = 10_000_019  # the train job's evaluation seeds its env with seed + this, away from training's


def eval_seed(config) -> int:
    """The seed of a run's evaluation episodes: ``eval.seed`` when set (>= 0), else the run's seed + an offset
    away from training's seeds."""
    fixed = int(getattr(getattr(config, "eval", None), "seed", -1))
    return fixed if fixed >= 0 else int(config.seed) + EVAL_SEED_OFFSET


def evaluate(run_dir: str | Path, *, episodes: int = 10, seed: int | None = None, explore: bool = False,
             video: bool = False, max_steps: int = 100_000, out: str | Path | None = None) -> dict:
    """Evaluate the newest checkpoint of ``run_dir``; returns (and writes) the result. ``max_steps`` caps one
    episode's length, for envs without a time limit; ``out`` is the folder (default ``<run dir>/eval``)."""
    from intarsia.runs import load

    if episodes < 1:
        raise ConfigError(f"--episodes: must be >= 1, got {episodes}")
    run = load(run_dir)
    folder = Path(out) if out is not None else run.dir / "eval"
    folder.mkdir(parents=True, exist_ok=True)
    seed = eval_seed(run.config) if seed is None else int(seed)
    policy = run.policy
    env = run.env(render_mode="rgb_array") if video else run.env()
    videos_dir = folder / ("videos-explore" if explore else "videos")
    if video:
        env = _recorder(env, videos_dir)
    per_episode = []
    try:
        for i in range(episodes):
            per_episode.append(_episode(env, policy, seed + i, explore, max_steps))
    finally:
        env.close()
    result = summarize(per_episode)
    result.update(run_dir=str(run.dir), checkpoint_step=int(getattr(policy, "intarsia_step", -1)), seed=seed,
                  explore=bool(explore), policy=str(run.config.policy.name), env=str(run.config.env.name))
    if video:
        result["videos"] = sorted(str(p.relative_to(run.dir)) if p.is_relative_to(run.dir) else str(p)
                                  for p in videos_dir.glob("*.mp4"))
    name = "eval-explore.json" if explore else "eval.json"
    from intarsia.runner.run_dir import atomic_write

    atomic_write(folder / name, json.dumps(result, indent=2))
    result["file"] = str(folder / name)
    return result


def summarize(per_episode: list[dict]) -> dict:
    """Means over episodes (success only over episodes whose env reported it), and the episodes themselves."""
    returns = [e["return"] for e in per_episode]
    out: dict[str, Any] = {"episodes": len(per_episode), "return_mean": float(np.mean(returns)),
                           "return_std": float(np.std(returns)),
                           "length_mean": float(np.mean([e["length"] for e in per_episode]))}
    successes = [e["success"] for e in per_episode if e.get("success") is not None]
    if successes:
        out["success_rate"] = float(np.mean(successes))
    out["distinct_episodes"] = len({e.pop("_actions") for e in per_episode})
    out["per_episode"] = per_episode
    return out


def _episode(env, policy, seed: int, explore: bool, max_steps: int) -> dict:
    obs, _ = env.reset(seed=seed)
    state, reset = None, np.ones(1, dtype=bool)
    total, length, success, actions = 0.0, 0, None, []
    while True:
        action, state = policy.act(_batch(obs), state, explore=explore, reset=reset)
        reset = np.zeros(1, dtype=bool)
        one = np.asarray(action)[0]
        actions.append(one.tobytes())
        obs, reward, terminated, truncated, info = env.step(one.item() if one.ndim == 0 else one)
        total += float(reward)
        length += 1
        if terminated or truncated or length >= max_steps:
            if "success" in info:
                success = bool(info["success"])
            break
    return {"seed": seed, "return": total, "length": length, "success": success, "_actions": b"|".join(actions)}


def _batch(obs):
    if isinstance(obs, dict):
        return {k: np.asarray(v)[None] for k, v in obs.items()}
    return np.asarray(obs)[None]


def _recorder(env, folder: Path):
    """gymnasium's ``RecordVideo`` on every episode (mp4 through moviepy, the ``video`` extra)."""
    modes = (getattr(env, "metadata", None) or {}).get("render_modes", [])
    if "rgb_array" not in modes:
        raise IntarsiaError(f"--video: the env {type(env.unwrapped).__name__} cannot render rgb_array frames "
                            f"(its render modes: {', '.join(modes) or 'none'})")
    try:
        import moviepy  # noqa: F401
    except ImportError:
        raise IntarsiaError("--video needs moviepy: pip install 'intarsia-core[video]'") from None
    from gymnasium.wrappers import RecordVideo

    fps = int((env.metadata or {}).get("render_fps", 4) or 4)
    env.metadata = {**env.metadata, "render_fps": fps}
    return RecordVideo(env, str(folder), episode_trigger=lambda _: True, name_prefix="eval",
                       disable_logger=True)
