"""HyperCombinator on Pendulum: final return against K with the MLP actor as reference, and the actor's cost.

    .venv/bin/python benchmarks/hc_pendulum.py                         # sweeps K in {1, 4, 8, 64} + MLP, seeds 0-4
    .venv/bin/python benchmarks/hc_pendulum.py --ks 1 4 64 --seeds 0-4
    .venv/bin/python benchmarks/hc_pendulum.py --hc-sweeps runs/hc-pendulum-k/sweep-A --mlp-sweep runs/hc-pendulum-mlp/sweep-B
    .venv/bin/python benchmarks/hc_pendulum.py --cost-only             # only the forward+backward timing

The seeds run through ``intarsia sweep`` (``hc/pendulum`` with a grid over ``policy.actor.num_subpolicies``, and
``hc/pendulum-mlp``), the statistics through ``intarsia compare`` (benchmarks/hc_sweeps.py): IQM and mean of the
final greedy evaluation return (10 episodes) with 95% stratified-bootstrap CIs, and the same normalised as
(R - R_random) / (R_MLP - R_random), R_random the measured return of uniform actions on the same evaluation
episodes. ``--hc-sweeps`` / ``--mlp-sweep`` summarise finished sweep folders instead of running new ones.

Cost: the actor's forward + backward on a batch of 1024 states (pytorch_sac's batch; the paper-size 2 x 1024
combinator / MLP), HC (K = 4) against MLP, in this process, median of repeated timings; a ratio.
Writes benchmarks/results/hc_pendulum.json, .md, .png, hc_pendulum_compare/ and hc_pendulum_runs/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import hc_sweeps  # noqa: E402

RESULTS = hc_sweeps.RESULTS


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
    ap.add_argument("--ks", type=int, nargs="*", default=[1, 4, 8, 64])
    ap.add_argument("--seeds", default="0-4", help="seeds of every sweep point (0-4, 0,3,7)")
    ap.add_argument("--hc-sweeps", type=Path, nargs="*", help="summarise these finished sweep folders over K ...")
    ap.add_argument("--mlp-sweep", type=Path, help="... and this MLP one, instead of running new sweeps")
    ap.add_argument("--runs-dir", type=Path, default=Path("runs"), help="log.dir of the sweeps (default runs/)")
    ap.add_argument("--cost-only", action="store_true")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    overrides = ["eval.every=0"]  # the final evaluation is the score; intermediate ones only cost time
    if not args.cost_only:
        if args.mlp_sweep:
            hc_dirs, mlp_dir = args.hc_sweeps, args.mlp_sweep
        else:
            hc_dir, mlp_dir = hc_sweeps.run_sweeps("hc/pendulum", ("hc/pendulum-mlp", []), args.ks, args.seeds,
                                                   overrides, args.runs_dir)
            hc_dirs = [hc_dir]
        seeds = sorted({int(json.loads(p.read_text())["seed"]) for d in hc_dirs for p in Path(d).rglob("report.json")})
        floor = hc_sweeps.random_return("hc/pendulum", [], seeds)
        summary = hc_sweeps.summarise(hc_dirs, mlp_dir, floor, "hc_pendulum",
                                      "10,000 env steps per run (recipes hc/pendulum, hc/pendulum-mlp), 10 final episodes")
        print(hc_sweeps.table_markdown(summary))
    cost = actor_cost()
    cost["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(),
                       "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}
    (RESULTS / "hc_actor_cost.json").write_text(json.dumps(cost, indent=1))
    print(json.dumps(cost, indent=1))


if __name__ == "__main__":
    main()
