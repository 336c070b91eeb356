"""The HyperCombinator K trade-off, shared by benchmarks/hc_pendulum.py and benchmarks/hc_dmc.py: seeds through
``intarsia sweep``, statistics through ``intarsia compare`` (rliable: IQM and mean with 95% stratified-bootstrap
CIs), scores normalised between a random policy's measured return (0) and the MLP actor's mean return (1).

A sweep folder holds one run per K and seed (``policy.actor.num_subpolicies``), another the MLP actor's seeds.
The random floor is measured, not assumed: uniform actions in the env the recipe names, over the same
evaluation episodes as the core's final evaluation (env seeded with ``intarsia.evaluate.eval_seed``, then
unseeded resets, ``eval.episodes`` episodes) for every seed of the sweep.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
KEEP = ("report.json", "config.yaml")  # per run, what the results keep (not checkpoints or logs)


def run_sweeps(hc_recipe: str, mlp_source: tuple[str, list[str]], ks: list[int], seeds: str, overrides: list[str],
               runs_dir: Path, workers: int = 1) -> tuple[Path, Path]:
    """One sweep over K (the HC recipe) and one of the MLP actor, ``seeds`` each, ``workers`` runs at once;
    returns their folders."""
    from intarsia import sweep

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    common = [f"log.dir={runs_dir}", "log.progress=false", *overrides]
    hc = sweep(hc_recipe, common, seeds=seeds, workers=workers,
               grid=[f"policy.actor.num_subpolicies={','.join(map(str, ks))}"])
    mlp_recipe, mlp_overrides = mlp_source
    mlp = sweep(mlp_recipe, [*common, *mlp_overrides], seeds=seeds, workers=workers)
    return Path(hc["dir"]), Path(mlp["dir"])


def random_return(recipe: str, overrides: list[str], seeds: list[int]) -> dict:
    """Mean return of uniformly random actions on the final evaluation's episodes of each seed."""
    from intarsia.build import build
    from intarsia.evaluate import eval_seed
    from intarsia.runner.api import prepare

    per_seed = []
    for seed in seeds:
        _, _, cfg = prepare(recipe, [*overrides, f"seed={seed}"])
        env = build("envs", cfg.env)
        env.action_space.seed(seed)
        env.reset(seed=eval_seed(cfg))
        returns = []
        for _ in range(cfg.eval.episodes):
            done, ret = False, 0.0
            while not done:
                _, r, term, trunc, _ = env.step(env.action_space.sample())
                ret += float(r)
                done = bool(term or trunc)
            returns.append(ret)
            env.reset()
        per_seed.append(float(np.mean(returns)))
    return {"mean": float(np.mean(per_seed)), "per_seed": per_seed, "episodes_per_seed": int(cfg.eval.episodes)}


def _group_name(group: str) -> str:
    if "num_subpolicies=" in group:
        return f"K={group.rsplit('num_subpolicies=', 1)[1]}"
    if group.startswith("K="):  # a folder of runs kept under results/<name>_runs/K=<k>
        return group.split()[0]
    return "MLP"


def summarise(hc_dirs: list[Path], mlp_dir: Path, floor: dict, name: str, budget: str) -> dict:
    """compare() over the sweeps (HC ones over K, the MLP one), raw and normalised; copies each run's report
    under results/<name>_runs/."""
    from intarsia.compare import compare, stats

    out = RESULTS / f"{name}_compare"
    raw = compare([*hc_dirs, mlp_dir], "eval_return", out=out)
    groups: dict[str, dict] = {}
    for g, v in raw["groups"].items():  # one K may come from several sweeps (e.g. more seeds later)
        merged = groups.setdefault(_group_name(g), {"runs": 0, "scores": [], "dirs": []})
        for key in ("runs", "scores", "dirs"):
            merged[key] += v[key]
    scores = {g: np.array([[x] for x in v["scores"]]) for g, v in groups.items()}
    raw_agg = stats.aggregates(scores, reps=raw["reps"], seed=raw["seed"])
    for g in groups:
        groups[g].update(raw_agg[g])
    mlp_mean = float(np.mean(groups["MLP"]["scores"]))
    lo = floor["mean"]
    normalised = {g: np.array([[(s - lo) / (mlp_mean - lo)] for s in v["scores"]]) for g, v in groups.items()}
    agg = stats.aggregates(normalised, reps=raw["reps"], seed=raw["seed"])
    runs_out = RESULTS / f"{name}_runs"
    table = {}
    for g, v in groups.items():
        extra = {}
        for key in ("subpolicies_used", "switch_rate", "usage_entropy"):
            vals = []
            for d in v["dirs"]:
                m = json.loads((Path(d) / "report.json").read_text())["metrics"]
                if key in m:
                    vals.append(m[key])
            if vals:
                extra[key] = float(np.mean(vals))
        seconds = [json.loads((Path(d) / "report.json").read_text()).get("seconds") for d in v["dirs"]]
        table[g] = {"runs": v["runs"], "scores": v["scores"], "iqm": v["iqm"], "mean": v["mean"],
                    "normalised_iqm": agg[g]["iqm"], "normalised_mean": agg[g]["mean"],
                    "seconds_per_run": float(np.mean([s for s in seconds if s is not None])), **extra}
        for d in v["dirs"]:
            d = Path(d)
            dest = runs_out / g / d.name
            if dest.resolve() == d.resolve():  # summarising the kept runs themselves
                continue
            dest.mkdir(parents=True, exist_ok=True)
            for keep in KEEP:
                if (d / keep).exists():
                    shutil.copy2(d / keep, dest / keep)
            if d.name == "seed-0" and (d / "interpretability").is_dir():
                shutil.copytree(d / "interpretability", dest / "interpretability", dirs_exist_ok=True)
    order = sorted((g for g in table if g != "MLP"), key=lambda g: int(g[2:])) + ["MLP"]
    summary = {"name": name, "budget": budget, "metric": "eval_return (final greedy evaluation)",
               "random_floor": floor, "mlp_mean": mlp_mean, "normalised": "(R - R_random) / (R_MLP_mean - R_random)",
               "ci": "95% stratified bootstrap (rliable), 2000 resamples", "sweeps": [*map(str, hc_dirs), str(mlp_dir)],
               "command": " ".join(["benchmarks/" + Path(sys.argv[0]).name, *sys.argv[1:]]),
               "table": {g: table[g] for g in order}}
    (RESULTS / f"{name}.json").write_text(json.dumps(summary, indent=1))
    (RESULTS / f"{name}.md").write_text(table_markdown(summary))
    plot(summary, RESULTS / f"{name}.png")
    return summary


def _ci(v: dict, fmt: str = "{:.1f}") -> str:
    return f"{fmt.format(v['value'])} [{fmt.format(v['low'])}, {fmt.format(v['high'])}]"


def table_markdown(summary: dict) -> str:
    lines = [f"{summary['name']}: {summary['budget']}; random policy {summary['random_floor']['mean']:.1f}; "
             f"normalised {summary['normalised']}; {summary['ci']}", "",
             "| actor | seeds | return IQM [95% CI] | return mean [95% CI] | normalised mean [95% CI] | sub-policies used |"
             " switch rate | usage entropy (nats) |", "|---|---|---|---|---|---|---|---|"]
    for g, row in summary["table"].items():
        lines.append(f"| {g} | {row['runs']} | {_ci(row['iqm'])} | {_ci(row['mean'])} | "
                     f"{_ci(row['normalised_mean'], '{:.2f}')} | " +
                     " | ".join(f"{row[k]:.2f}" if k in row else "—" for k in ("subpolicies_used", "switch_rate",
                                                                                "usage_entropy")) + " |")
    return "\n".join(lines) + "\n"


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = summary["table"]
    names = list(table)
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for i, g in enumerate(names):
        r = table[g]["scores"]
        ax.scatter([i] * len(r), r, color="C3" if g == "MLP" else "C0", s=14, alpha=0.7)
        m = table[g]["iqm"]
        ax.errorbar(i, m["value"], yerr=[[m["value"] - m["low"]], [m["high"] - m["value"]]], fmt="_k", capsize=6)
    ax.axhline(summary["random_floor"]["mean"], color="0.5", ls="--", lw=1, label="random actions")
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("final eval return")
    ax.set_title(f"{summary['name']}: return against K (IQM, 95% CI)\n" + textwrap.fill(summary["budget"], 90),
                 fontsize=7)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
