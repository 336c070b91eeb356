"""Cost of one Adam LMCDQN update (J = 1 Langevin step) vs one DQN update (one Adam step), same process.

Both agents get the same replay contents and network; an update is one ``_gradient_step``: sample a
minibatch, TD target, forward/backward, optimiser step (Adam vs Adam-Langevin with its Gaussian noise).
Timings alternate between the two agents so drifts in machine load hit both; the ratio of medians is
reported for the N-chain MLP (N = 100, batch 32) and the Atari Nature CNN (4x84x84, batch 32).

    .venv/bin/python benchmarks/lmcdqn_update_cost.py [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).parent / "results"


def make_agents(obs_shape, obs_dtype, device, network):
    import gymnasium as gym
    from intarsia.interfaces import EnvSpec, Transitions
    from intarsia_lmcdqn.agent import DQNAgent, LMCDQNAgent
    from intarsia_lmcdqn.config import DQNConfig, LMCDQNConfig
    from lightning.fabric import Fabric

    low, high = (0, 255) if obs_dtype == np.uint8 else (0.0, 1.0)
    space = gym.spaces.Box(low, high, shape=obs_shape, dtype=obs_dtype)
    spec = EnvSpec(space, gym.spaces.Discrete(4 if network == "nature_cnn" else 2), 1)
    fabric = Fabric(accelerator=device, devices=1)
    common = dict(seed=0, network=network, batch_size=32, buffer_size=2000, learning_starts=10**9)
    agents = {"dqn": DQNAgent(DQNConfig(**common), env_spec=spec, fabric=fabric),
              "lmcdqn": LMCDQNAgent(LMCDQNConfig(langevin_steps=1, **common), env_spec=spec, fabric=fabric)}
    rng = np.random.default_rng(0)
    for _ in range(1000):  # identical random replay for both
        obs = space.sample()[None]
        batch = Transitions(obs=obs, action=rng.integers(0, spec.action_space.n, 1), next_obs=space.sample()[None],
                            env_reward=rng.random(1).astype(np.float32), terminated=np.array([False]),
                            truncated=np.array([False]), reward=None)
        for agent in agents.values():
            agent.observe(batch)
    return agents


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def time_updates(agents, device, reps, warmup=20):
    for agent in agents.values():
        for _ in range(warmup):
            agent._gradient_step()
    times = {k: [] for k in agents}
    for _ in range(reps):
        for name, agent in agents.items():
            sync(device)
            t0 = time.perf_counter()
            agent._gradient_step()
            sync(device)
            times[name].append(time.perf_counter() - t0)
    med = {k: float(np.median(v)) for k, v in times.items()}
    return {"median_seconds": med, "ratio_lmcdqn_over_dqn": med["lmcdqn"] / med["dqn"], "reps": reps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--cnn-reps", type=int, default=40)
    parser.add_argument("--out", type=Path, default=RESULTS / "lmcdqn_update_cost.json")
    args = parser.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(1)
    results = {
        "benchmark": "lmcdqn_update_cost", "device": args.device, "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "nchain_mlp": time_updates(make_agents((100,), np.float32, args.device, "mlp"), args.device, args.reps),
        "atari_nature_cnn": time_updates(make_agents((4, 84, 84), np.uint8, args.device, "nature_cnn"), args.device,
                                         args.cnn_reps, warmup=5),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    for key in ("nchain_mlp", "atari_nature_cnn"):
        r = results[key]
        print(f"{key}: DQN {r['median_seconds']['dqn'] * 1e3:.3f} ms, LMCDQN {r['median_seconds']['lmcdqn'] * 1e3:.3f} ms"
              f" per update -> ratio {r['ratio_lmcdqn_over_dqn']:.2f}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    labels = ["N-chain MLP", "Atari Nature CNN"]
    for i, key in enumerate(("nchain_mlp", "atari_nature_cnn")):
        med = results[key]["median_seconds"]
        ax.bar([i - 0.2], [med["dqn"] * 1e3], width=0.4, color="tab:orange", label="DQN (Adam)" if i == 0 else None)
        ax.bar([i + 0.2], [med["lmcdqn"] * 1e3], width=0.4, color="tab:blue", label="LMCDQN J=1" if i == 0 else None)
        ax.text(i + 0.2, med["lmcdqn"] * 1e3, f"x{results[key]['ratio_lmcdqn_over_dqn']:.2f}", ha="center", va="bottom")
    ax.set_xticks([0, 1], labels)
    ax.set_yscale("log")
    ax.set_ylabel(f"ms per update ({args.device})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out.with_suffix(".png"), dpi=120)


if __name__ == "__main__":
    main()
