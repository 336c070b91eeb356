"""Noise scale sigma x bias factor a sweep of Adam LMCDQN on deep N-chains (N = 50 / 75).

The recipe's sigma = 1e-2 lies outside the authors' N-chain grid (panxulab/LSVI-ASE
``configs/nchain_aULMC.json``: sigma in {1e-4, 1e-5, 1e-6}, a in {1, 0.1, 0.01}, lr in {1e-2, 1e-3},
written for the underdamped sampler). This sweep measures how the greedy-evaluation score of
``benchmarks/lmcdqn_nchain.py`` depends on sigma and a at the recipe's lr 1e-2 and J = 4.

    nice -n 10 .venv/bin/python benchmarks/lmcdqn_nchain_sweep.py --ns 50 75 --seeds 2 --steps 20000

Jobs run seed-major (every (N, sigma, a) cell for the first seed before the next seed), and the JSON is
rewritten after each finished run, so a sweep cut short still leaves complete first-seed rows.
Writes ``benchmarks/results/lmcdqn_nchain_sweep.{json,png}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from lmcdqn_nchain import RESULTS, run_one  # noqa: E402


def plot(summary: dict, ns: list[int], sigmas: list[float], biases: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(ns), figsize=(4.2 * len(ns), 3.4), squeeze=False)
    for ax, n in zip(axes[0], ns, strict=True):
        grid = np.full((len(biases), len(sigmas)), np.nan)
        for i, a in enumerate(biases):
            for j, s in enumerate(sigmas):
                cell = summary.get(f"N={n}/sigma={s:g}/a={a:g}")
                if cell:
                    grid[i, j] = cell["mean"]
                    ax.text(j, i, f"{cell['mean']:.1f}\n({cell['seeds']})", ha="center", va="center", fontsize=8)
        ax.imshow(grid, vmin=0, vmax=10, cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(sigmas)), [f"{s:g}" for s in sigmas])
        ax.set_yticks(range(len(biases)), [f"{a:g}" for a in biases])
        ax.set_xlabel("sigma (noise_scale)")
        ax.set_ylabel("a (bias_factor)")
        ax.set_title(f"N = {n}: greedy return (seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ns", type=int, nargs="+", default=[50, 75])
    parser.add_argument("--sigmas", type=float, nargs="+", default=[1e-4, 1e-3, 1e-2, 3e-2])
    parser.add_argument("--biases", type=float, nargs="+", default=[1.0, 0.1, 0.01])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--skip", nargs="*", default=[], metavar="SIGMA,A",
                        help="cells not to run, e.g. 0.01,1 (the recipe: benchmarks/lmcdqn_nchain.py has it)")
    parser.add_argument("--resume", action="store_true", help="keep the runs of an existing --out file, run the rest")
    parser.add_argument("--out", type=Path, default=RESULTS / "lmcdqn_nchain_sweep.json")
    args = parser.parse_args()
    skip = {tuple(float(x) for x in cell.split(",")) for cell in args.skip}
    results: list[dict] = []
    if args.resume and args.out.exists():
        results = [r for r in json.loads(args.out.read_text())["runs"] if r["steps"][-1] == args.steps]
    done = {(r["n"], r["seed"], r["hyperparameters"]["noise_scale"], r["hyperparameters"]["bias_factor"])
            for r in results}
    jobs = [("lmcdqn", n, seed, args.steps, args.eval_every, {"noise_scale": s, "bias_factor": a})
            for seed in range(args.seeds) for n in args.ns for s in args.sigmas for a in args.biases
            if (s, a) not in skip and (n, seed, s, a) not in done]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for res in pool.map(run_one, *zip(*jobs, strict=True)) if jobs else []:
            hp = res["hyperparameters"]
            results.append(res)
            print(f"N={res['n']:3d} sigma={hp['noise_scale']:g} a={hp['bias_factor']:g} seed={res['seed']} "
                  f"score {res['final_eval_return_last10']:.2f} ({res['seconds']:.0f}s)", flush=True)
            summary: dict = {}
            for r in results:
                h = r["hyperparameters"]
                key = f"N={r['n']}/sigma={h['noise_scale']:g}/a={h['bias_factor']:g}"
                summary.setdefault(key, []).append(r["final_eval_return_last10"])
            summary = {k: {"mean": float(np.mean(v)), "seeds": len(v), "per_seed": v} for k, v in summary.items()}
            payload = {"benchmark": "lmcdqn_nchain_sweep", "steps": args.steps, "eval_every": args.eval_every,
                       "metric": "greedy episode return, mean of the last 10 evaluations (max 10)",
                       "grid": {"ns": args.ns, "sigmas": args.sigmas, "biases": args.biases, "seeds": args.seeds},
                       "summary": summary, "runs": results}
            args.out.write_text(json.dumps(payload, indent=1))
            plot(summary, args.ns, args.sigmas, args.biases, args.out.with_suffix(".png"))


if __name__ == "__main__":
    main()
