"""Adam LMCDQN vs epsilon-greedy DQN on N-chain: greedy-evaluation return vs env steps (Ishfaq et al., 2024, Fig. 1).

Hyperparameters come from the plugin's recipes ``lmcdqn/nchain`` and ``lmcdqn/dqn-nchain`` (one source of truth).
Every ``--eval-every`` env steps the current network plays one greedy episode (the env is deterministic,
so one episode is the authors' 20 test episodes); for LMCDQN that is the current posterior sample.

    .venv/bin/python benchmarks/lmcdqn_nchain.py --ns 25 50 75 100 --seeds 3 --steps 100000

writes ``benchmarks/results/lmcdqn_nchain.json`` (after every finished run, so partial sweeps survive) and
``lmcdqn_nchain.png``.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
MAX_RETURN = 10.0


def recipe_policy(name: str) -> dict:
    import yaml
    from intarsia_lmcdqn import plugin

    recipe = "dqn_nchain.yaml" if name == "dqn" else "lmcdqn_nchain.yaml"
    policy = dict(yaml.safe_load((plugin.RECIPES / recipe).read_text())["policy"])
    policy.pop("name")
    if name == "lmcdqn_nonoise":  # ablation: the same agent with sigma = 0 (deterministic, greedy)
        policy["noise_scale"] = 0.0
    return policy


def greedy_return(agent, env) -> float:
    obs, _ = env.reset()
    total, done = 0.0, False
    while not done:
        action, _ = agent.act(obs[None], None, explore=False)
        obs, r, term, trunc, _ = env.step(int(action[0]))
        total += r
        done = term or trunc
    return total


def run_one(algo: str, n: int, seed: int, steps: int, eval_every: int, overrides: dict | None = None) -> dict:
    """One seeded run; ``overrides`` replaces recipe hyperparameters (the sigma / a sweep uses it)."""
    import torch
    from intarsia.interfaces import EnvSpec, Transitions
    from intarsia_lmcdqn.agent import DQNAgent, LMCDQNAgent
    from intarsia_lmcdqn.config import DQNConfig, LMCDQNConfig
    from intarsia_lmcdqn.envs.nchain import NChainEnv
    from lightning.fabric import Fabric

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    agent_cls, cfg_cls = (LMCDQNAgent, LMCDQNConfig) if algo.startswith("lmcdqn") else (DQNAgent, DQNConfig)
    env, eval_env = NChainEnv(n), NChainEnv(n)
    fabric = Fabric(accelerator="cpu", devices=1)
    hyperparameters = {**recipe_policy(algo), **(overrides or {})}
    agent = agent_cls(cfg_cls(seed=seed, **hyperparameters),
                      env_spec=EnvSpec(env.observation_space, env.action_space, 1), fabric=fabric)
    obs, _ = env.reset(seed=seed)
    curve_steps, curve_returns, train_returns, ret = [], [], [], 0.0
    start = time.perf_counter()
    for t in range(1, steps + 1):
        action, _ = agent.act(obs[None], None)
        nxt, r, term, trunc, _ = env.step(int(action[0]))
        ret += r
        agent.observe(Transitions(obs=obs[None], action=action, next_obs=nxt[None],
                                  env_reward=np.array([r], np.float32), terminated=np.array([term]),
                                  truncated=np.array([trunc]), reward=np.array([r], np.float32)))
        agent.update(t)
        obs = nxt
        if term or trunc:
            train_returns.append(ret)
            ret = 0.0
            obs, _ = env.reset()
        if t % eval_every == 0:
            curve_steps.append(t)
            curve_returns.append(greedy_return(agent, eval_env))
    return {"algo": algo, "n": n, "seed": seed, "hyperparameters": hyperparameters, "steps": curve_steps, "eval_return": curve_returns,
            "train_return_last100": float(np.mean(train_returns[-100:])) if train_returns else 0.0,
            "final_eval_return_last10": float(np.mean(curve_returns[-10:])), "seconds": time.perf_counter() - start}


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = sorted({r["n"] for r in results})
    fig, axes = plt.subplots(1, len(ns), figsize=(4 * len(ns), 3.2), squeeze=False)
    for ax, n in zip(axes[0], ns, strict=True):
        for algo, color, label in (("lmcdqn", "tab:blue", "Adam LMCDQN"), ("dqn", "tab:orange", "DQN (eps-greedy)"),
                                   ("lmcdqn_nonoise", "tab:gray", "LMCDQN, sigma=0")):
            runs = [r for r in results if r["n"] == n and r["algo"] == algo]
            if not runs:
                continue
            length = min(len(r["eval_return"]) for r in runs)
            ys = np.array([r["eval_return"][:length] for r in runs])
            xs = np.array(runs[0]["steps"][:length])
            ax.plot(xs, ys.mean(0), color=color, label=f"{label} ({len(runs)} seeds)")
            ax.fill_between(xs, ys.min(0), ys.max(0), color=color, alpha=0.2)
        ax.set_title(f"N = {n}")
        ax.set_xlabel("env steps")
        ax.set_ylim(-0.3, MAX_RETURN + 0.5)
    axes[0][0].set_ylabel("greedy episode return (max 10)")
    axes[0][-1].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ns", type=int, nargs="+", default=[25, 50, 75, 100])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--algos", nargs="+", default=["lmcdqn", "dqn"],
                        help="lmcdqn, dqn, lmcdqn_nonoise (the LMCDQN recipe with sigma = 0)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "lmcdqn_nchain.json")
    parser.add_argument("--keep-other-algos", action="store_true",
                        help="keep the runs of algorithms not rerun now from an existing --out file")
    parser.add_argument("--append", action="store_true", help="keep every run of an existing --out file (more seeds)")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    jobs = [(a, n, s, args.steps, args.eval_every) for n in args.ns
            for s in range(args.first_seed, args.first_seed + args.seeds) for a in args.algos]
    results: list[dict] = []
    if args.keep_other_algos and args.out.exists():
        old = json.loads(args.out.read_text())
        results = [r for r in old["runs"] if r["algo"] not in args.algos and r["steps"][-1] == args.steps]
    if args.append and args.out.exists():
        results = [r for r in json.loads(args.out.read_text())["runs"] if r["steps"][-1] == args.steps]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for res in pool.map(run_one, *zip(*jobs, strict=True)):
            results.append(res)
            print(f"{res['algo']:7s} N={res['n']:3d} seed={res['seed']} final greedy return "
                  f"{res['final_eval_return_last10']:.2f} ({res['seconds']:.0f}s)", flush=True)
            summary = {}
            for n in args.ns:
                for algo in sorted({r["algo"] for r in results}):
                    finals = [r["final_eval_return_last10"] for r in results if r["n"] == n and r["algo"] == algo]
                    if finals:
                        summary[f"{algo}/N={n}"] = {"mean": float(np.mean(finals)), "seeds": len(finals),
                                                    "per_seed": finals}
            payload = {"benchmark": "lmcdqn_nchain", "steps": args.steps, "eval_every": args.eval_every,
                       "metric": "greedy episode return, mean of the last 10 evaluations (max 10)",
                       "hyperparameters": {a: recipe_policy(a) for a in sorted({r["algo"] for r in results})},
                       "summary": summary, "runs": results}
            args.out.write_text(json.dumps(payload, indent=1))
            plot(results, args.out.with_suffix(".png"))


if __name__ == "__main__":
    main()
