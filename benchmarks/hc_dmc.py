"""HyperCombinator on DeepMind Control from state, CPU-sized: final return against K with the MLP actor as
reference (the paper's trade-off curve at a CPU budget).

    .venv/bin/python benchmarks/hc_dmc.py                                  # cartpole-swingup, K in {1, 8, 64} + MLP, seeds 0-4
    .venv/bin/python benchmarks/hc_dmc.py --ks 8 --seeds 0-4 --steps 5000  # a smaller budget
    .venv/bin/python benchmarks/hc_dmc.py --sweeps runs/A runs/B --steps 5000

The recipe is ``hc/cartpole-swingup-cpu`` (2 x 256 networks, batch 256, action repeat 8; ``steps`` counts
agent steps, 8 env steps each), the MLP its ``policy.name=sac-mlp policy.actor.kind=mlp`` twin; seeds through
``intarsia sweep``, statistics through ``intarsia compare`` (benchmarks/hc_sweeps.py), returns normalised
between a random policy's measured return and the MLP's mean. Writes benchmarks/results/hc_dmc_<task>.json, .md,
.png, and the runs' reports.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import hc_sweeps  # noqa: E402

RECIPES = {"cartpole-swingup": "hc/cartpole-swingup-cpu"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=sorted(RECIPES), default="cartpole-swingup")
    ap.add_argument("--ks", type=int, nargs="*", default=[1, 8, 64])
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--steps", type=int, default=None, help="agent steps per run (default: the recipe's 12,500)")
    ap.add_argument("--sweeps", type=Path, nargs=2, metavar=("HC_SWEEP", "MLP_SWEEP"))
    ap.add_argument("--runs-dir", type=Path, default=Path("runs"))
    args = ap.parse_args()
    recipe = RECIPES[args.task]
    overrides = [f"steps={args.steps}"] if args.steps else []
    if args.sweeps:
        hc_dir, mlp_dir = args.sweeps
    else:
        hc_dir, mlp_dir = hc_sweeps.run_sweeps(recipe, (recipe, ["policy.name=sac-mlp", "policy.actor.kind=mlp"]),
                                               args.ks, args.seeds, overrides, args.runs_dir)
    reports = [json.loads(p.read_text()) for p in Path(hc_dir).rglob("report.json")]
    seeds = sorted({int(r["seed"]) for r in reports})
    steps = reports[0]["steps"]
    floor = hc_sweeps.random_return(recipe, overrides, seeds)
    budget = (f"{steps:,} agent steps = {8 * steps:,} env steps per run (action repeat 8), 2x256 networks, "
              "10 final episodes")
    summary = hc_sweeps.summarise(hc_dir, mlp_dir, floor, f"hc_dmc_{args.task.replace('-', '_')}", budget)
    print(hc_sweeps.table_markdown(summary))


if __name__ == "__main__":
    main()
