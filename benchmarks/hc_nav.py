"""Goal-conditioned navigation: RIS with a HyperCombinator actor (``ris-hc``) against RIS with its own MLP actor on
``PointNav-v0`` with the wall, at CPU size (the issue's navigation comparison).

    .venv/bin/python benchmarks/hc_nav.py                       # K = 4 and the MLP, seeds 0-4, 30k env steps
    .venv/bin/python benchmarks/hc_nav.py --ks 1 4 64 --seeds 0-4
    .venv/bin/python benchmarks/hc_nav.py --compare-only        # recompute from the runs under --runs

The recipe is ``hc/point-nav-cpu`` (RIS's algorithm and learning rates, 2 x 256 networks, batch 256, 30k env
steps); the MLP arm is the same recipe with ``policy.actor.kind=mlp``. Every run's final evaluation is 100
greedy episodes on one fixed set of start states and goals (``eval.seed`` of the recipe), so all runs, HC and
MLP, are scored on the same 100 goals; the metric is ``eval_success`` (share of the 100 reached). A random
policy's success on the same episodes is measured as the floor. Seeds run through ``intarsia sweep`` (one
sweep per arm, resumable), statistics through ``intarsia compare`` (IQM and mean, 95% stratified-bootstrap CIs,
P(HC > MLP) per K). For the HC runs of seed 0, the sub-policy map over (x, y) for one fixed goal below the
wall (``intarsia hc explain --slice 0,1 --slice-at 2=GX --slice-at 3=GY``).

Writes benchmarks/results/hc_nav/{compare.json, compare.md, benchmark.json, plots} and, per K,
``map-K<k>-seed0/`` (the interpretability report with the fixed-goal slice).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from seed_sweeps import add_sweep_arguments, sweep_once  # noqa: E402

RECIPE = "hc/point-nav-cpu"
RESULTS = Path(__file__).parent / "results" / "hc_nav"
METRIC = "eval_success"
MAP_GOAL = (-0.5, -0.5)
"""the fixed goal of the sub-policy map: below the wall, so starts above it must go round its end (x = 0.5)"""


def random_success(overrides: list[str]) -> dict:
    """Success and return of uniformly random actions on the recipe's fixed evaluation episodes."""
    import numpy as np
    from intarsia.build import build
    from intarsia.evaluate import eval_seed
    from intarsia.runner.api import prepare

    _, _, cfg = prepare(RECIPE, overrides)
    env = build("envs", cfg.env)
    env.action_space.seed(0)
    env.reset(seed=eval_seed(cfg))
    successes, returns = [], []
    for _ in range(cfg.eval.episodes):
        done, ret, info = False, 0.0, {}
        while not done:
            _, r, term, trunc, info = env.step(env.action_space.sample())
            ret += float(r)
            done = bool(term or trunc)
        successes.append(float(bool(info.get("success", False))))
        returns.append(ret)
        env.reset()
    return {"success": float(np.mean(successes)), "return": float(np.mean(returns)), "episodes": len(successes),
            "eval_seed": eval_seed(cfg)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ks", type=int, nargs="+", default=[4], help="K values of the HC arm (policy.actor.num_subpolicies)")
    p.add_argument("--steps", type=int, default=None, help="env steps per run (default: the recipe's 30,000)")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE", help="for every run; repeatable")
    add_sweep_arguments(p, runs="runs/hc_nav", out=RESULTS)
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    common = [*args.override, *([f"steps={args.steps}"] if args.steps else [])]
    t0 = time.time()
    arms = {f"K{k}": [f"name=hc-nav-hc-k{k}", f"policy.actor.num_subpolicies={k}"] for k in args.ks}
    arms["mlp"] = ["name=hc-nav-mlp", "policy.actor.kind=mlp"]
    if not args.compare_only:
        for batch in args.seeds:
            for arm, extra in arms.items():
                where = args.runs / f"{arm}-seeds-{batch}"
                sweep_once(where, RECIPE, [f"log.dir={args.runs}", "log.progress=false", *common, *extra],
                           seeds=batch, workers=args.workers, label=arm)
    if args.no_compare:
        return
    from intarsia.compare import compare
    from intarsia_hc.explain import explain_run

    sweeps = sorted(d for d in args.runs.glob("*-seeds-*") if (d / "sweep.yaml").exists())
    result = compare(sweeps, METRIC, by="name", baseline="name=hc-nav-mlp", out=args.out, reps=args.reps)
    floor = random_success(common)
    maps = {}
    for k in args.ks:
        run = next((d for s in sweeps if s.name.startswith(f"K{k}-") for d in [s / "seed-0"]
                    if (d / "report.json").exists()), None)
        if run is None:
            continue
        out = args.out / f"map-K{k}-seed0"
        summary = explain_run(run, slice_dims=(0, 1), slice_at={2: MAP_GOAL[0], 3: MAP_GOAL[1]}, out_dir=out)
        maps[f"K={k}"] = {"dir": str(out.relative_to(args.out)), "goal": list(MAP_GOAL), **summary["metrics"]}
    command = "benchmarks/hc_nav.py " + " ".join(sys.argv[1:])
    saved = args.out / "benchmark.json"
    if args.compare_only and saved.is_file():  # the command that ran these runs, not this recomputation's
        command = json.loads(saved.read_text()).get("command", command)
    meta = {"recipe": RECIPE, "overrides": common, "metric": METRIC, "random_policy": floor, "maps": maps,
            "sweeps": [str(s) for s in sweeps], "command": command,
            "seconds_this_invocation": round(time.time() - t0, 1),
            "run_seconds": {g: [json.loads((Path(d) / "report.json").read_text())["seconds"] for d in v["dirs"]]
                            for g, v in result["groups"].items()}}
    saved.write_text(json.dumps(meta, indent=2, default=str))
    print((args.out / "compare.md").read_text())
    print(json.dumps({"random": floor, **{g: {"runs": v["runs"], "scores": v["scores"]}
                                          for g, v in result["groups"].items()}}, indent=1))


if __name__ == "__main__":
    main()
