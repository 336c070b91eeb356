"""Motif on the sparse captioned gridworld over seeds: the agent on extrinsic + Motif reward against the same
agent on the extrinsic reward alone, on ``intarsia sweep`` + ``intarsia compare``.

1. The reward model is trained once: the pipeline recipe (default ``motif/demo``: random-policy captions, the
   embedded Gemma 3 270M pointwise judge, the char-CNN reward model) with ``skip_train=true``, at seed 0.
2. The pipeline's agent stage is written out as two core ``train`` configs (the motif term pointing at that
   reward model, and none): ``<work>/agent-motif.yaml`` and ``<work>/agent-extrinsic-only.yaml``.
3. Each is swept over ``--seeds`` (``intarsia.sweep``: one run folder per seed, a ``sweep.yaml`` manifest;
   a rerun resumes what a killed one left).
4. ``intarsia.compare`` groups the runs by their ``name`` and aggregates ``--metric`` with rliable (IQM, mean,
   median, optimality gap with stratified-bootstrap 95% CIs, the probability that Motif improves on
   extrinsic-only), writing ``compare.json``, ``compare.md`` and plots to ``--out``.

    nice -n 10 .venv/bin/python benchmarks/motif_sparse.py --seeds 0-4 --workers 2
    .venv/bin/python benchmarks/motif_sparse.py --seeds 5-9 --workers 2   # more seeds: compares every sweep in --work
    .venv/bin/python benchmarks/motif_sparse.py --agent ppo --seeds 0-4    # the recurrent PPO agent at 60k env steps

Equivalent commands: ``intarsia run motif/demo skip_train=true baseline=false``, then ``intarsia sweep
<work>/agent-motif.yaml --seeds 0-4`` (and the extrinsic-only file), then ``intarsia compare <sweeps>
--metric success_rate --by name --baseline name=motif-demo-extrinsic-only``.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

# ``--agent ppo``: the recurrent PPO agent (this plugin's), 8 envs, success over the last 100 episodes
PPO = {"policy": {"name": "ppo", "rollout": 64, "hidden": 64, "lr": 3.0e-4, "entropy_coef": 0.01},
       "steps": 60000, "num_envs": 8, "log": {"every": 2000, "window": 100, "progress": False},
       "checkpoint": {"every": 0}}


def reward_model(recipe: str, overrides: list[str], run_dir: Path) -> tuple[object, Path, dict]:
    """Stage 1: the pipeline up to the reward model (reused when a previous invocation made it)."""
    from intarsia.runner.api import prepare, resume_run, run_config

    overrides = [*overrides, "skip_train=true", "baseline=false", "seed=0"]
    if (run_dir / "report.json").is_file():
        report = json.loads((run_dir / "report.json").read_text())
    elif (run_dir / "config.yaml").is_file():
        report = resume_run(run_dir)
    else:
        report = run_config(recipe, overrides, run_dir=run_dir)
    _, _, config = prepare(str(run_dir / "config.yaml"))
    return config, run_dir, report


def agent_configs(config, root: Path, work: Path, agent: str, steps: int | None) -> dict[str, Path]:
    """Stage 2: the pipeline's agent stage as two train configs, one with the motif term and one without."""
    import yaml
    from intarsia_motif.job import train_config

    files = {}
    for cond, with_motif in (("motif", True), ("extrinsic-only", False)):
        raw = train_config(config, root.resolve(), cond, with_motif=with_motif)
        if agent == "ppo":
            raw.update({k: v for k, v in PPO.items()})
            raw["fabric"] = {"accelerator": "cpu", "devices": 1}
        if steps:
            raw["steps"] = int(steps)
        raw.pop("seed", None)  # the sweep sets it
        path = work / f"agent-{cond}.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        files[cond] = path
    return files


def run_sweep(config_file: Path, seeds: str, workers: int, work: Path, cond: str) -> dict:
    """Stage 3: one sweep per condition and seed range, resumed when its folder already has a manifest."""
    from intarsia import sweep

    folder = work / f"sweep-{cond}-seeds-{seeds}"
    if (folder / "sweep.yaml").is_file():
        return sweep(resume=folder, workers=workers, progress=False)
    return sweep(str(config_file), seeds=seeds, workers=workers, sweep_dir=folder, progress=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default="motif/demo", help="the pipeline recipe whose reward model and agent are used")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                   help="an override of the pipeline recipe (e.g. annotator.kind=oracle); repeatable")
    p.add_argument("--agent", choices=["recipe", "ppo"], default="recipe",
                   help="recipe: the recipe's own agent stage (motif/demo: R2I, 5,000 env steps); ppo: recurrent PPO")
    p.add_argument("--steps", type=int, default=None, help="env steps per agent run (default: the agent's own)")
    p.add_argument("--seeds", default="0-4", help="seeds of this invocation's sweeps (0-9, 0,3, ...)")
    p.add_argument("--workers", type=int, default=1, help="runs at once per condition")
    p.add_argument("--metric", default="success_rate")
    p.add_argument("--work", type=Path, default=Path("runs/motif-sparse"),
                   help="where the reward model (one for every agent) and, per agent, the configs and sweeps go")
    p.add_argument("--out", type=Path, default=None,
                   help="where compare writes (default benchmarks/results/motif_sparse_<agent>[-<steps>])")
    args = p.parse_args()
    work = args.work / (args.agent if not args.steps else f"{args.agent}-{args.steps}")
    work.mkdir(parents=True, exist_ok=True)
    args.out = args.out or RESULTS / f"motif_sparse_{work.name}"
    t0 = time.time()
    config, root, rm_report = reward_model(args.recipe, args.override, args.work / "reward_model")
    files = agent_configs(config, root, work, args.agent, args.steps)
    with ThreadPoolExecutor(max_workers=len(files)) as pool:  # both conditions at once
        manifests = dict(zip(files, pool.map(lambda c: run_sweep(files[c], args.seeds, args.workers, work, c), files)))
    for cond, m in manifests.items():
        print(cond, m["counts"], flush=True)
    from intarsia.compare import compare

    sweeps = sorted(work.glob("sweep-*"))
    result = compare(sweeps, args.metric, by="name", baseline=f"name={config.name}-extrinsic-only", out=args.out)
    meta = {"recipe": args.recipe, "overrides": args.override, "agent": args.agent, "sweeps": [str(s) for s in sweeps],
            "reward_model": {"dir": str(root), "metrics": rm_report.get("reward_model"),
                             "judge": {k: v for k, v in (rm_report.get("metrics") or {}).items()}},
            "seconds_this_invocation": round(time.time() - t0, 1)}
    (args.out / "benchmark.json").write_text(json.dumps(meta, indent=2, default=str))
    print((args.out / "compare.md").read_text())
    print(json.dumps({g: {"runs": v["runs"], "scores": v["scores"]} for g, v in result["groups"].items()}, indent=1))


if __name__ == "__main__":
    main()
