"""HyperCombinator on DeepMind Control from state, CPU-sized: final return against K with the MLP actor as
reference (the paper's trade-off curve at a CPU budget).

    .venv/bin/python benchmarks/hc_dmc.py                                  # cartpole-swingup, K in {1, 8, 64} + MLP, seeds 0-4
    .venv/bin/python benchmarks/hc_dmc.py --ks 8 --seeds 0-4 --steps 5000  # a smaller budget
    .venv/bin/python benchmarks/hc_dmc.py --hc-sweeps runs/A --mlp-sweep runs/B --steps 5000
    .venv/bin/python benchmarks/hc_dmc.py --task reacher-easy --workers 2    # reacher-easy, two runs at once
    .venv/bin/python benchmarks/hc_dmc.py --cost-only                      # seconds per update and per agent step

The recipes are ``hc/cartpole-swingup-cpu``, ``hc/reacher-easy-cpu`` and ``hc/cheetah-run-cpu`` (2 x 256 networks,
batch 256, action repeat 8, 4 and 4; ``steps`` counts agent steps: 100k, 100k and 200k env steps per run), the MLP its ``policy.name=sac-mlp policy.actor.kind=mlp`` twin; seeds through
``intarsia sweep``, statistics through ``intarsia compare`` (benchmarks/hc_sweeps.py), returns normalised
between a random policy's measured return and the MLP's mean. Writes benchmarks/results/hc_dmc_<task>.json, .md,
.png, and the runs' reports.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import hc_sweeps  # noqa: E402

RECIPES = {"cartpole-swingup": "hc/cartpole-swingup-cpu", "reacher-easy": "hc/reacher-easy-cpu",
           "cheetah-run": "hc/cheetah-run-cpu"}


def update_cost(recipe: str, updates: int = 40) -> dict:
    """Seconds per SAC update (HC K = 8 and MLP, the recipe's sizes) and per agent step of the env, in this
    process: what a run's length is made of on this machine."""
    import numpy as np
    import torch
    from intarsia.build import build
    from intarsia.interfaces import EnvSpec
    from intarsia.runner.api import prepare
    from intarsia_hc.sac import SACAgent
    from lightning.fabric import Fabric

    torch.set_num_threads(1)
    _, _, cfg = prepare(recipe)
    env = build("envs", cfg.env)
    spec = EnvSpec(env.observation_space, env.action_space, 1, ("extrinsic",), None)
    out = {"recipe": recipe, "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}
    for name, actor in (("hc_k8", {}), ("mlp", {"kind": "mlp"})):
        policy_cfg = cfg.policy.config
        policy_cfg.actor.kind = actor.get("kind", "hc")
        agent = SACAgent(policy_cfg, env_spec=spec, fabric=Fabric(accelerator="cpu", devices=1))
        rng = np.random.default_rng(0)
        d, a = agent.obs_dim, agent.action_dim
        for _ in range(2 * policy_cfg.batch_size):
            agent.replay.add(obs=rng.normal(size=(1, d)).astype(np.float32), action=rng.uniform(-1, 1, (1, a)).astype(np.float32),
                             reward=np.zeros(1, np.float32), next_obs=rng.normal(size=(1, d)).astype(np.float32),
                             terminated=np.zeros(1, np.float32), done=np.zeros(1, bool))
        for _ in range(3):
            agent._update_once()
        t0 = time.perf_counter()
        for _ in range(updates):
            agent._update_once()
        out[f"seconds_per_update_{name}"] = (time.perf_counter() - t0) / updates
    env.reset(seed=0)
    t0 = time.perf_counter()
    for _ in range(100):
        env.step(env.action_space.sample())
    out["seconds_per_agent_step_env"] = (time.perf_counter() - t0) / 100
    out["updates_per_run"] = cfg.steps - cfg.policy.config.seed_steps
    out["estimated_minutes_per_run"] = (out["updates_per_run"] * out["seconds_per_update_hc_k8"]
                                        + cfg.steps * out["seconds_per_agent_step_env"]) / 60
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=sorted(RECIPES), default="cartpole-swingup")
    ap.add_argument("--ks", type=int, nargs="*", default=[1, 8, 64])
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--steps", type=int, default=None, help="agent steps per run (default: the recipe's 12,500)")
    ap.add_argument("--hc-sweeps", type=Path, nargs="*", help="summarise these finished sweep folders over K ...")
    ap.add_argument("--mlp-sweep", type=Path, help="... and this MLP one, instead of running new sweeps")
    ap.add_argument("--runs-dir", type=Path, default=Path("runs"))
    ap.add_argument("--workers", type=int, default=1, help="runs at once (one core each)")
    ap.add_argument("--cost-only", action="store_true")
    args = ap.parse_args()
    recipe = RECIPES[args.task]
    if args.cost_only:
        cost = update_cost(recipe)
        (hc_sweeps.RESULTS / f"hc_dmc_{args.task.replace('-', '_')}_cost.json").write_text(json.dumps(cost, indent=1))
        print(json.dumps(cost, indent=1))
        return
    overrides = [f"steps={args.steps}"] if args.steps else []
    if args.mlp_sweep:
        hc_dirs, mlp_dir = args.hc_sweeps, args.mlp_sweep
    else:
        hc_dir, mlp_dir = hc_sweeps.run_sweeps(recipe, (recipe, ["policy.name=sac-mlp", "policy.actor.kind=mlp"]),
                                               args.ks, args.seeds, overrides, args.runs_dir, args.workers)
        hc_dirs = [hc_dir]
    reports = [json.loads(p.read_text()) for d in hc_dirs for p in Path(d).rglob("report.json")]
    seeds = sorted({int(r["seed"]) for r in reports})
    steps = reports[0]["steps"]
    floor = hc_sweeps.random_return(recipe, overrides, seeds)
    from intarsia.runner.api import prepare

    repeat = prepare(recipe, overrides)[2].env.config.action_repeat  # the recipe's own, not a copy kept here
    budget = (f"{steps:,} agent steps = {repeat * steps:,} env steps per run (action repeat {repeat}), 2x256 networks, "
              "10 final episodes")
    summary = hc_sweeps.summarise(hc_dirs, mlp_dir, floor, f"hc_dmc_{args.task.replace('-', '_')}", budget)
    print(hc_sweeps.table_markdown(summary))


if __name__ == "__main__":
    main()
