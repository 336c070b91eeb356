"""Noise scale sigma x bias factor a sweep of Adam LMCDQN on deep N-chains (N = 50 / 75), on `intarsia sweep`
and `intarsia compare`.

The recipe's sigma = 1e-2 lies outside the authors' N-chain grid (panxulab/LSVI-ASE
``configs/nchain_aULMC.json``: sigma in {1e-4, 1e-5, 1e-6}, a in {1, 0.1, 0.01}, lr in {1e-2, 1e-3},
written for the underdamped sampler). This sweep measures how the final greedy return of the recipe
``lmcdqn/nchain`` (the score of ``benchmarks/lmcdqn_nchain.py``) depends on sigma and a at the recipe's lr 1e-2
and J = 4: one `intarsia sweep` over the grid env.n x policy.noise_scale x policy.bias_factor, then one
`intarsia compare` with every (N, sigma, a) point a group.

    nice -n 10 .venv/bin/python benchmarks/lmcdqn_nchain_sweep.py --ns 50 75 --seeds 0-1 --steps 20000

Writes ``benchmarks/results/lmcdqn_nchain_sweep/compare.{json,md}`` and plots; run it again to finish
an interrupted sweep.
"""

from __future__ import annotations

import argparse
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "lmcdqn_nchain_sweep"


def main(argv: list[str] | None = None) -> None:
    from intarsia import sweep
    from intarsia.compare import compare

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ns", type=int, nargs="+", default=[50, 75])
    parser.add_argument("--seeds", default="0-1")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--sigmas", nargs="+", default=["0", "1e-4", "1e-3", "1e-2"])
    parser.add_argument("--biases", nargs="+", default=["1", "0.1"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=Path, default=Path("runs/lmcdqn_nchain_sweep"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if (args.runs / "sweep.yaml").exists():
        manifest = sweep(resume=args.runs, workers=args.workers, progress=False)
    else:
        overrides = [f"steps={args.steps}", "eval.final=true", "eval.episodes=1", "checkpoint.every=0",
                     "log.progress=false"]
        grid = [f"env.n={','.join(map(str, args.ns))}", f"policy.noise_scale={','.join(args.sigmas)}",
                f"policy.bias_factor={','.join(args.biases)}"]
        manifest = sweep("lmcdqn/nchain", overrides, seeds=args.seeds, grid=grid, workers=args.workers,
                         sweep_dir=args.runs, progress=False)
    print(manifest["counts"], flush=True)
    out = compare([args.runs], "eval_return", out=args.out, gap=10.0)  # a group per (N, sigma, a) point
    print((Path(out["dir"]) / "compare.md").read_text(), flush=True)


if __name__ == "__main__":
    main()
