"""HyperCombinator on Pendulum: final return against K and the MLP actor, and the actor's cost (HC vs MLP).

    .venv/bin/python benchmarks/hc_pendulum.py                        # K in {1, 2, 4, 8} + MLP, seeds 0 1 2
    .venv/bin/python benchmarks/hc_pendulum.py --ks 1 8 --seeds 0     # a part of the sweep
    .venv/bin/python benchmarks/hc_pendulum.py --cost-only            # only the forward+backward timing

Each sweep point is the shipped recipe (``hc/pendulum`` with ``policy.actor.num_subpolicies=K``, or
``hc/pendulum-mlp``) at ``seed=S``, run through the core runner; its ``report.json`` is kept under
``benchmarks/results/hc_pendulum_runs/<actor>-s<S>/`` and reused by later invocations, so the sweep can be
filled in piece by piece. The score is the final greedy evaluation return (10 episodes) and, normalised,
(R - R_worst) / (R_mlp - R_worst) with R_worst = -1600 (a pendulum left hanging: about the worst return).
The K = 4 interpretability figures are those of its seed-0 run (``interpretability/``).

Cost: the actor's forward + backward on a batch of 1024 states (pytorch_sac's batch; the paper-size 2 x 1024
combinator / MLP), HC (K = 4) against MLP, in this process, median of repeated timings; a ratio.
Writes benchmarks/results/hc_pendulum.json and .png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
RUNS = RESULTS / "hc_pendulum_runs"
WORST = -1600.0


def run_point(actor: str, seed: int, steps: int | None) -> dict:
    from intarsia.runner.api import run_config

    folder = RUNS / f"{actor}-s{seed}"
    if (folder / "report.json").exists():
        return json.loads((folder / "report.json").read_text())
    recipe = "hc/pendulum-mlp" if actor == "mlp" else "hc/pendulum"
    overrides = [f"seed={seed}", "log.progress=false"]
    if actor != "mlp":
        overrides.append(f"policy.actor.num_subpolicies={int(actor[1:])}")
    if steps:
        overrides.append(f"steps={steps}")
    if folder.exists():  # an interrupted run: start it afresh
        import shutil

        shutil.rmtree(folder)
    report = run_config(recipe, overrides, run_dir=folder)
    import shutil

    for bulky in ("checkpoints", "tensorboard"):  # the report and figures are what the benchmark keeps
        shutil.rmtree(folder / bulky, ignore_errors=True)
    return report


def actor_cost(repeats: int = 30) -> dict:
    import torch
    from intarsia_hc import actor as pi
    from intarsia_hc.config import ActorConfig

    torch.manual_seed(0)
    x = torch.randn(1024, 17)  # cheetah-run's state size
    out = {}
    for name, cfg in (("mlp", ActorConfig(kind="mlp")), ("hc_k4", ActorConfig(kind="hc", num_subpolicies=4))):
        actor = pi.build_actor(cfg, 17, 6)

        def step(actor=actor):
            o = actor(x, explore=True)
            _, u = pi.sample(o)
            pi.log_prob(o, u).mean().backward()
            actor.zero_grad(set_to_none=True)

        for _ in range(3):
            step()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
    return {"seconds_mlp": out["mlp"], "seconds_hc_k4": out["hc_k4"], "ratio_hc_over_mlp": out["hc_k4"] / out["mlp"],
            "batch": 1024, "state_dim": 17, "action_dim": 6, "hidden": [1024, 1024], "threads": torch.get_num_threads()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ks", type=int, nargs="*", default=[1, 2, 4, 8])
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    ap.add_argument("--no-mlp", action="store_true", help="skip the MLP baseline runs")
    ap.add_argument("--steps", type=int, default=None, help="override the recipes' budget (default: as shipped)")
    ap.add_argument("--cost-only", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("INTARSIA_NO_PROGRESS", "1")
    import torch

    torch.set_num_threads(1)
    RUNS.mkdir(parents=True, exist_ok=True)
    if not args.cost_only:
        actors = [f"k{k}" for k in args.ks] + ([] if args.no_mlp else ["mlp"])
        for seed in args.seeds:
            for actor in actors:
                t0 = time.time()
                report = run_point(actor, seed, args.steps)
                print(f"{actor} seed {seed}: eval_return {report['metrics']['eval_return']:.1f} ({time.time() - t0:.0f} s)",
                      flush=True)
    summary = summarise()
    summary["cost"] = actor_cost()
    summary["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hc_pendulum.json").write_text(json.dumps(summary, indent=1))
    plot(summary, RESULTS / "hc_pendulum.png")
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=1))


def summarise() -> dict:
    runs = {}
    for folder in sorted(RUNS.glob("*-s*")):
        report_file = folder / "report.json"
        if report_file.exists():
            report = json.loads(report_file.read_text())
            runs[folder.name] = {"metrics": report["metrics"], "seconds": report.get("seconds"),
                                 "steps": report.get("steps")}
    by_actor: dict[str, list] = {}
    for name, run in runs.items():
        by_actor.setdefault(name.rsplit("-s", 1)[0], []).append(run["metrics"])
    table = {}
    mlp = statistics.mean(m["eval_return"] for m in by_actor["mlp"]) if "mlp" in by_actor else None
    for actor, ms in sorted(by_actor.items()):
        r = [m["eval_return"] for m in ms]
        row = {"seeds": len(r), "eval_return_mean": statistics.mean(r),
               "eval_return_std": statistics.stdev(r) if len(r) > 1 else 0.0, "eval_returns": r}
        if mlp is not None:
            row["normalised_vs_mlp"] = (row["eval_return_mean"] - WORST) / (mlp - WORST)
        for key in ("subpolicies_used", "switch_rate", "usage_entropy"):
            if key in ms[0]:
                row[key] = statistics.mean(m[key] for m in ms)
        table[actor] = row
    return {"worst_return": WORST, "table": table, "runs": runs}


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = summary["table"]
    names = sorted((a for a in table if a != "mlp"), key=lambda a: int(a[1:])) + (["mlp"] if "mlp" in table else [])
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9, 3.4))
    for i, name in enumerate(names):
        r = table[name]["eval_returns"]
        ax.scatter([i] * len(r), r, color="C0" if name != "mlp" else "C3", s=14)
        ax.errorbar(i, table[name]["eval_return_mean"], yerr=table[name]["eval_return_std"], fmt="_", color="k",
                    capsize=6)
    ax.set_xticks(range(len(names)), [n.upper() if n == "mlp" else f"K={n[1:]}" for n in names])
    ax.set_ylabel("final eval return (10 episodes)")
    ax.set_title("Pendulum: return against K", fontsize=9)
    ax.grid(alpha=0.3)
    cost = summary["cost"]
    bx.bar(["MLP", "HC K=4"], [1e3 * cost["seconds_mlp"], 1e3 * cost["seconds_hc_k4"]], color=["C3", "C0"])
    bx.set_ylabel("ms per forward+backward (batch 1024)")
    bx.set_title(f"actor cost: HC / MLP = {cost['ratio_hc_over_mlp']:.2f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
