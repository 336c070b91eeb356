"""Success rate vs env steps: R2I (S3M) vs DreamerV3 (GRU-RSSM) on BSuite memory_length.

Both agents use their CPU recipes (r2i/memory-length and r2i/dreamerv3-memory-length: same settings and budget,
about the same number of world-model parameters), for memory lengths 10 and 30 and 3 seeds by default
(5k and 14k env steps). Each run records the success rate of the last 100 training episodes every
``--log-every`` env steps, and the first step where it reaches 0.9.

    .venv/bin/python benchmarks/r2i_memory.py                       # the grid: about an hour on 2 CPU cores
    .venv/bin/python benchmarks/r2i_memory.py --lengths 10 --seeds 0 --methods r2i   # one run, minutes

Runs are independent processes (``--jobs``, one torch thread each), so a 2-core laptop runs two at once.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import torch


def run_one(method: str, length: int, seed: int, steps: int, log_every: int, overrides: list[str]):
    torch.set_num_threads(1)
    from intarsia.interfaces import EnvSpec
    from intarsia.runner.api import prepare
    from intarsia_r2i.agent import make_dreamerv3, make_r2i
    from intarsia_r2i.envs.bsuite import MemoryLengthEnv
    from intarsia_r2i.loop import drive
    from lightning import Fabric

    recipe = "r2i/memory-length" if method == "r2i" else f"r2i/{method}-memory-length"
    _, _, cfg = prepare(recipe, [f"env.memory_length={length}", f"policy.batch_length={length + 2}",
                                 f"seed={seed}", *overrides])
    agent_cfg = cfg.policy.config
    fabric = Fabric(accelerator="cpu", devices=1)
    fabric.seed_everything(seed, verbose=False)
    env = MemoryLengthEnv(length)
    spec = EnvSpec(env.observation_space, env.action_space, cfg.num_envs)
    factory = make_r2i if method == "r2i" else make_dreamerv3
    agent = factory(agent_cfg, env_spec=spec, fabric=fabric)
    t0 = time.time()
    res = drive(lambda: MemoryLengthEnv(length), agent, steps, num_envs=cfg.num_envs, seed=seed * 1000,
                log_every=log_every,
                callback=lambda p: print(f"{method} L={length} seed={seed} step={p['step']} "
                                         f"success={p['success_rate']:.2f} updates={p['updates']} "
                                         f"t={p['time']:.0f}s", flush=True))
    solved = next((c for c in res["curve"] if c["success_rate"] >= 0.9), None)
    return {"method": method, "memory_length": length, "seed": seed, "curve": res["curve"],
            "solved_at_step": solved["step"] if solved else None,
            "solved_at_seconds": round(solved["time"], 1) if solved else None,
            "final_success_100": float(np.mean(res["successes"][-100:])) if res["successes"] else None,
            "seconds": time.time() - t0, "updates": agent.updates}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--methods", nargs="+", default=["r2i", "dreamerv3"])
    p.add_argument("--lengths", type=int, nargs="+", default=[10, 30])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, nargs="+", default=[5000, 14000],
                   help="env steps per run: one value, or one per memory length")
    p.add_argument("--jobs", type=int, default=2, help="runs in parallel (processes)")
    p.add_argument("--log-every", type=int, default=1000)
    p.add_argument("--override", nargs="*", default=[], help="extra recipe overrides, e.g. policy.train_ratio=16")
    p.add_argument("--out", default="benchmarks/results/r2i_memory")
    p.add_argument("--merge", nargs="+", type=Path, default=None, metavar="JSON",
                   help="run nothing: merge the runs of these result files (parts of the grid run apart) into --out")
    args = p.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.merge:
        parts = [json.loads(f.read_text()) for f in args.merge]
        runs = sorted((r for part in parts for r in part["runs"]), key=lambda r: (r["memory_length"], r["method"], r["seed"]))
        args.methods = sorted({r["method"] for r in runs}, key=["r2i", "dreamerv3"].index)
        args.lengths = sorted({r["memory_length"] for r in runs})
        merged_args = {**vars(args), "merge": [str(f) for f in args.merge], "parts": [part["args"] for part in parts]}
        out.with_suffix(".json").write_text(json.dumps({"args": merged_args, "runs": runs}, indent=2))
        report(runs, args, out)
        return
    if len(args.steps) not in (1, len(args.lengths)):
        p.error("--steps takes one value or one per --lengths value")
    per_length = args.steps if len(args.steps) > 1 else args.steps * len(args.lengths)
    steps = dict(zip(args.lengths, per_length, strict=True))
    grid = [(m, length, s) for length in args.lengths for m in args.methods for s in args.seeds]
    runs = []
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=ctx) as pool:
        futures = [pool.submit(run_one, m, length, s, steps[length], args.log_every, args.override)
                   for m, length, s in grid]
        for future in as_completed(futures):
            runs.append(future.result())
            runs.sort(key=lambda r: (r["memory_length"], r["method"], r["seed"]))
            out.with_suffix(".json").write_text(json.dumps({"args": vars(args), "runs": runs}, indent=2))
    report(runs, args, out)


def report(runs, args, out):
    summary = {}
    for r in runs:
        summary.setdefault(f"{r['method']} L={r['memory_length']}", []).append(r)
    for key, rs in summary.items():
        finals = [r["final_success_100"] for r in rs]
        solved = [r["solved_at_step"] for r in rs]
        print(f"{key}: final success {np.mean(finals):.2f} (seeds: {', '.join(f'{v:.2f}' for v in finals)}); "
              f"first >= 0.9 at steps {solved}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(args.lengths), figsize=(5 * len(args.lengths), 4), squeeze=False)
    for ax, length in zip(axes[0], args.lengths, strict=True):
        for method in args.methods:
            curves = [r["curve"] for r in runs if r["method"] == method and r["memory_length"] == length]
            if not curves:
                continue
            n = min(len(c) for c in curves)
            x = [c["step"] for c in curves[0][:n]]
            y = np.array([[c["success_rate"] for c in cur[:n]] for cur in curves])
            ax.plot(x, np.nanmean(y, 0), label=f"{method} ({len(curves)} seeds)")
            if len(curves) > 1:
                ax.fill_between(x, np.nanmin(y, 0), np.nanmax(y, 0), alpha=0.2)
        ax.axhline(0.5, color="gray", lw=0.5, ls="--")
        ax.set(title=f"memory_length={length}", xlabel="env steps", ylabel="success (last 100 episodes)", ylim=(0, 1))
        ax.legend()
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=100)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
