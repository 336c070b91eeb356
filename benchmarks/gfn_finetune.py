"""Pre-trained OC-GFN fine-tuning against DB from scratch, MCMC and DQN on the paper's metrics: modes found
within a distance delta and the top-K mean reward, against training steps, distinct reward queries and
wall-clock (with and without the pre-training cost), over seeds and several downstream rewards per space.

    python benchmarks/gfn_finetune.py [--spaces bitseq,grid] [--seeds 0-4] [--rewards 1,2,3] [--scale 1.0]
        [--pretrain-scale 1.0] [--sweep --workers 2] [--out PATH.json] [--table]

Per space, one reward-free OC-GFN is pre-trained with outcome teleportation (a ``gfn`` run, reward never
queried); then, for every downstream reward (a mode set drawn with ``modes_seed``) and seed, each method runs
as a ``gfn`` job through ``intarsia sweep`` (one sweep per method, grid over ``sampler.env.modes_seed``) and
``intarsia compare`` aggregates them (rliable IQM, 95% stratified-bootstrap CIs over seeds x rewards). Every
method draws 16 trajectories (or proposals) per iteration. Writes ``--out`` (the README's runs: one space each,
benchmarks/results/gfn_finetune_SPACE.json), its .png and, per space and metric, the compare folders beside
it; the runs go through ``intarsia sweep`` with its in-process launcher, or a process each with ``--sweep``. ``--table`` prints the README table of ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import time
from pathlib import Path

import numpy as np
import yaml

RESULTS = Path(__file__).parent / "results"
WORK = Path(os.environ.get("GFN_BENCH_DIR", "/tmp/gfn-finetune-bench"))

SPACES = {
    # 16 bits in 4-bit words: 65,536 sequences (the size of TF Bind 8), 83,521 states: enumerable
    "bitseq": {"env": {"name": "bitseq", "length": 16, "word": 4, "modes": 8, "beta": 10.0, "mode_delta": 2},
               "pretrain_iterations": 1000, "iterations": {"ocgfn-finetune": 60, "default": 300}},
    # HyperGrid 2D H=32 (the 32-64, at its CPU end), R0 = 1e-3, 8 random mode cells
    "grid": {"env": {"name": "hypergrid", "ndim": 2, "height": 32, "reward": "random", "modes": 8, "R0": 1.0e-3,
                     "R2": 1.0, "mode_delta": 2},
             "pretrain_iterations": 500, "iterations": {"ocgfn-finetune": 40, "default": 300}},
}
METHODS = ("ocgfn-finetune", "gflownet", "mcmc", "dqn")
LABELS = {"ocgfn-finetune": "OC-GFN fine-tuning", "gflownet": "DB from scratch", "mcmc": "MCMC (MH)", "dqn": "DQN"}
COMMON = {"job": "gfn", "cpu_threads": 1, "fabric": {"accelerator": "cpu"}, "log": {"every": 5, "progress": False,
          "tensorboard": False, "plots": False}, "eval": {"every": 0}, "checkpoint": {"every": 0}}


def pretrain_env(env: dict) -> dict:
    """The DAG without a downstream reward (OC-GFN pre-training never queries one)."""
    keep = {k: v for k, v in env.items() if k in ("name", "ndim", "height", "length", "word")}
    return keep


def pretrain(space: str, spec: dict, iterations: int, out: Path) -> dict:
    from intarsia.runner.api import run_config

    config = {**COMMON, "name": f"pretrain-{space}", "seed": 0, "iterations": iterations,
              "sampler": {"name": "ocgfn", "batch_size": 64, "teleport": True, "env": pretrain_env(spec["env"]),
                          "network": {"hidden": 128, "layers": 2}}}
    t0 = time.perf_counter()
    report = run_config(config, run_dir=out, force=True)
    return {"dir": str(out), "model": str(out / "model.pt"), "wall_seconds": time.perf_counter() - t0,
            "train_seconds": report["training"]["train_seconds"], "success_rate": report["metrics"]["success_rate"],
            "iterations": iterations}


def method_config(method: str, space: str, spec: dict, model: str, scale: float) -> dict:
    iters = spec["iterations"].get(method, spec["iterations"]["default"])
    env = {**spec["env"], "modes_seed": 1}
    if method == "ocgfn-finetune":
        sampler = {"name": method, "pretrained": model, "batch_size": 16, "outcomes_per_transition": 1,
                   "transitions": "sampled", "reference": False, "exploration": {"epsilon": 0.1}}
    elif method == "gflownet":
        sampler = {"name": method, "loss": "db", "batch_size": 16, "exploration": {"epsilon": 0.05}}
    elif method == "mcmc":
        sampler = {"name": method, "batch_size": 16}
    else:
        sampler = {"name": method, "batch_size": 16, "epsilon_iterations": max(1, int(iters * scale) // 2)}
    return {**COMMON, "name": f"{space}-{method}", "iterations": max(1, int(iters * scale)),
            "sampler": {**sampler, "env": env}}


def read_curve(run_dir: Path) -> list[dict]:
    rows = []
    with (run_dir / "logs" / "metrics.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row.get("train/reward_queries"):
                rows.append({k: float(row[k]) for k in ("step", "train/reward_queries", "train/seconds",
                                                         "train/modes_within_delta", "train/top_k_reward")})
    return rows


def step_values(curve: list[dict], x_key: str, y_key: str, grid: np.ndarray, shift: float = 0.0) -> np.ndarray:
    """y at each grid x: the last logged value with x <= grid point (0 before the first)."""
    xs = np.array([r[x_key] for r in curve]) + shift
    ys = np.array([r[y_key] for r in curve])
    idx = np.searchsorted(xs, grid, side="right") - 1
    return np.where(idx >= 0, ys[np.clip(idx, 0, None)], 0.0)


def aggregate(runs: dict, x_key: str, y_key: str, grid: np.ndarray, rewards, seeds, shift=None) -> dict:
    from intarsia.compare import stats

    arrays = {}
    for method, by_run in runs.items():
        s = (shift or {}).get(method, 0.0)
        arrays[method] = np.array([[step_values(by_run[(r, sd)], x_key, y_key, grid, s) for r in rewards]
                                   for sd in seeds])  # (seeds, rewards, points)
    point, interval = stats.curves(arrays, reps=500)
    return {m: {"iqm": point[m].tolist(), "low": interval[m][0].tolist(), "high": interval[m][1].tolist()}
            for m in arrays}


def main() -> None:
    import intarsia
    from intarsia.compare import compare

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", default="bitseq,grid")
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--rewards", default="1,2,3", help="modes_seed of each downstream reward")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sweep", action="store_true", help="launch the runs through `intarsia sweep` (a process "
                        "each) instead of in this process")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every method's iterations")
    parser.add_argument("--pretrain-scale", type=float, default=1.0)
    parser.add_argument("--out", default=str(RESULTS / "gfn_finetune.json"))
    parser.add_argument("--table", action="store_true", help="print the README table of --out and stop")
    args = parser.parse_args()
    if args.table:
        print(table(json.loads(Path(args.out).read_text())))
        return
    rewards = [int(r) for r in args.rewards.split(",")]
    lo, _, hi = args.seeds.partition("-")
    seeds = list(range(int(lo), int(hi or lo) + 1))
    start = time.perf_counter()
    results = {"command": "python benchmarks/gfn_finetune.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average_start": os.getloadavg()},
        "seeds": seeds, "rewards": rewards, "batch": 16, "spaces": {}}
    compare_root = Path(args.out).with_suffix("")
    for space in args.spaces.split(","):
        spec = SPACES[space]
        work = WORK / space
        pre_iters = max(1, int(spec["pretrain_iterations"] * args.pretrain_scale))
        done = work / "pretrain" / "result.json"
        if done.is_file() and json.loads(done.read_text())["iterations"] == pre_iters:  # reuse a finished one
            pre = json.loads(done.read_text())
        else:
            shutil.rmtree(work, ignore_errors=True)
            pre = pretrain(space, spec, pre_iters, work / "pretrain")
            done.write_text(json.dumps(pre))
        for method in METHODS:
            shutil.rmtree(work / method, ignore_errors=True)
        print(f"{space}: pre-trained in {pre['train_seconds']:.0f}s, success {pre['success_rate']:.3f}", flush=True)
        sweeps, runs, finals = {}, {}, {}
        for method in METHODS:
            cfg = method_config(method, space, spec, pre["model"], args.scale)
            cfg_path = work / f"{method}.yaml"
            cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
            # --sweep: a process per run (the local launcher); else the same sweep, run by run in this process
            # (no interpreter start per run: on a loaded machine that start took minutes)
            launcher = {"launcher": "local", "workers": args.workers} if args.sweep else {"launcher": "inprocess"}
            manifest = intarsia.sweep(str(cfg_path), seeds=seeds, grid=[f"sampler.env.modes_seed={args.rewards}"],
                                      sweep_dir=work / method, progress=False, **launcher)
            sweeps[method] = Path(manifest["dir"])
            runs[method] = {}
            for r in rewards:
                for sd in seeds:
                    run_dir = sweeps[method] / f"sampler.env.modes_seed={r}" / f"seed-{sd}"
                    runs[method][(r, sd)] = read_curve(run_dir)
            finals[method] = {k: float(np.mean([c[-1][k] for c in runs[method].values()]))
                              for k in ("step", "train/reward_queries", "train/seconds")}
            print(f"{space} {method}: {manifest['counts']} mean final {finals[method]}", flush=True)
        compares = {}
        for metric in ("train/modes_within_delta", "train/top_k_reward"):
            out = compare_root / space / metric.split("/")[-1]
            shutil.rmtree(out, ignore_errors=True)
            res = compare(list(sweeps.values()), metric, by="sampler.name", baseline="sampler.name=gflownet",
                          curve=metric, out=out)
            compares[metric] = {g: {k: v for k, v in d.items() if k not in ("dirs",)} for g, d in res["groups"].items()}
        # equal reward queries: up to the fewest distinct queries any run made
        q_budget = min(c[-1]["train/reward_queries"] for m in runs.values() for c in m.values())
        q_grid = np.linspace(0, q_budget, 21)
        t_budget = min(c[-1]["train/seconds"] for m in runs.values() for c in m.values())
        t_grid = np.linspace(0, t_budget, 21)
        with_pre = {"ocgfn-finetune": pre["train_seconds"]}
        t_pre_max = max(c[-1]["train/seconds"] + with_pre.get(m, 0.0) for m, rs in runs.items() for c in rs.values())
        t_pre_grid = np.linspace(0, t_pre_max, 41)
        curves = {}
        for y_key in ("train/modes_within_delta", "train/top_k_reward"):
            y = y_key.split("/")[-1]
            curves[f"{y}_vs_queries"] = {"x": q_grid.tolist(), **aggregate(runs, "train/reward_queries", y_key, q_grid,
                                                                           rewards, seeds)}
            curves[f"{y}_vs_seconds"] = {"x": t_grid.tolist(), **aggregate(runs, "train/seconds", y_key, t_grid,
                                                                           rewards, seeds)}
            curves[f"{y}_vs_seconds_with_pretraining"] = {"x": t_pre_grid.tolist(), **aggregate(
                runs, "train/seconds", y_key, t_pre_grid, rewards, seeds, shift=with_pre)}
        results["spaces"][space] = {"env": spec["env"], "pretrain": pre, "finals": finals, "compare": compares,
                                    "query_budget": q_budget, "seconds_budget": t_budget, "curves": curves,
                                    "compare_dir": str(compare_root / space),
                                    "n_modes": spec["env"]["modes"]}
    results["wall_seconds"] = time.perf_counter() - start
    results["machine"]["load_average_end"] = os.getloadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    plot(results, out.with_suffix(".png"))
    print(f"done in {results['wall_seconds']:.0f}s -> {out}", flush=True)


def table(results: dict) -> str:
    """The README's table: at the equal-query budget (the fewest distinct queries any run made) and at the
    end of each method's runs, IQM [95% CI] over seeds x rewards."""

    def cell(c, method, i=-1):
        return f"{c[method]['iqm'][i]:.2f} [{c[method]['low'][i]:.2f}, {c[method]['high'][i]:.2f}]"

    lines = []
    for space, r in results["spaces"].items():
        pre = r["pretrain"]
        lines += [f"**{space}** ({r['n_modes']} modes per reward, delta {r['env']['mode_delta']}; pre-training "
                  f"{pre['iterations']} iterations, {pre['train_seconds']:.0f} s, success {pre['success_rate']:.3f}; "
                  f"equal-query budget {r['query_budget']:.0f} distinct queries)", "",
                  "| method | modes within delta at the budget | top-100 reward at the budget | modes within delta, "
                  "end (compare IQM) | iterations | distinct queries, end | training s |", "|---|---|---|---|---|---|---|"]
        cq, tq = r["curves"]["modes_within_delta_vs_queries"], r["curves"]["top_k_reward_vs_queries"]
        for m in METHODS:
            g = r["compare"]["train/modes_within_delta"][f"sampler.name={m}"]["iqm"]
            f = r["finals"][m]
            lines.append(f"| {LABELS[m]} | {cell(cq, m)} | {cell(tq, m)} | {g['value']:.2f} [{g['low']:.2f}, "
                         f"{g['high']:.2f}] | {f['step']:.0f} | {f['train/reward_queries']:.0f} | "
                         f"{f['train/seconds']:.1f} |")
        lines.append("")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("modes_within_delta_vs_queries", "distinct reward queries"),
              ("modes_within_delta_vs_seconds", "seconds (fine-tuning only)"),
              ("modes_within_delta_vs_seconds_with_pretraining", "seconds (pre-training included)"),
              ("top_k_reward_vs_queries", "distinct reward queries")]
    spaces = list(results["spaces"])
    fig, axes = plt.subplots(len(spaces), len(panels), figsize=(4.2 * len(panels), 3.4 * len(spaces)), squeeze=False)
    colors = {"ocgfn-finetune": "tab:blue", "gflownet": "tab:orange", "mcmc": "tab:green", "dqn": "tab:red"}
    for i, space in enumerate(spaces):
        for j, (key, xlabel) in enumerate(panels):
            ax, c = axes[i][j], results["spaces"][space]["curves"][key]
            for method, color in colors.items():
                if method in c:
                    ax.plot(c["x"], c[method]["iqm"], color=color, label=LABELS[method])
                    ax.fill_between(c["x"], c[method]["low"], c[method]["high"], color=color, alpha=0.2)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("top-100 mean reward" if key.startswith("top") else "modes within delta")
            ax.set_title(space, fontsize=9)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("IQM and 95% CI over seeds x downstream rewards")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
