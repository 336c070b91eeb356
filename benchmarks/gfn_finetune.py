"""OC-GFN fine-tuning against a DB GFlowNet trained from scratch, on new rewards: modes found against
reward queries, and against wall-clock seconds with and without the pre-training compute.

    .venv/bin/python benchmarks/gfn_finetune.py [--height 8] [--pretrain-iterations 2000] [--iterations 600]
        [--rewards 3] [--pretrained PATH/model.pt --pretrain-seconds S]

One reward-free OC-GFN is pre-trained on the 2-D grid (or loaded), then for each new reward (``random``
modes, R0 = 0.01, drawn with seeds 1..rewards) the amortized fine-tuning and a DB GFlowNet from scratch
(same batch of 16 trajectories per iteration) run for the same number of iterations. Reward queries are
counted by wrapping the environment's reward during training (calls and distinct objects); pre-training
queries none. Writes benchmarks/results/gfn_finetune.json and .png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"


class CountedReward:
    """Wraps ``env.log_reward`` to count the queries made while ``active``."""

    def __init__(self, env):
        self.inner, self.active, self.calls, self.seen = env.log_reward, False, 0, set()
        env.log_reward = self

    def __call__(self, x):
        if self.active:
            self.calls += len(x)
            self.seen.update(map(tuple, x.tolist()))
        return self.inner(x)


def pretrain(height, iterations, seed, path):
    from intarsia_gfn.config import EnvConfig, NetworkConfig, OCGFNConfig
    from intarsia_gfn.ocgfn import OutcomeConditionedGFlowNet
    from lightning.fabric import Fabric

    fabric = Fabric(accelerator="cpu", devices=1)
    fabric.seed_everything(seed, verbose=False)
    oc = OutcomeConditionedGFlowNet(OCGFNConfig(env=EnvConfig(ndim=2, height=height), batch_size=64, teleport=False,
                                                network=NetworkConfig(hidden=128)), fabric=fabric)
    t0 = time.perf_counter()
    for i in range(iterations):
        oc.update(i + 1)
    seconds = time.perf_counter() - t0
    torch.save(oc.model_state(), path)
    return seconds, oc.success_rate()


def curve(sampler, iterations, every=10):
    counter = CountedReward(sampler.env)
    out, seconds = [], 0.0
    for i in range(iterations):
        counter.active = True
        t0 = time.perf_counter()
        sampler.update(i + 1)
        seconds += time.perf_counter() - t0
        counter.active = False
        if (i + 1) % every == 0 or i == 0:
            out.append({"iteration": i + 1, "seconds": seconds, "reward_calls": counter.calls,
                        "distinct_queries": len(counter.seen), "modes_found": len(sampler.modes)})
    final = sampler.evaluate()
    return {"curve": out, "final": {k: float(v) for k, v in final.items()}}


def main() -> None:
    from intarsia_gfn.config import EnvConfig, FinetuneConfig, GFlowNetConfig
    from intarsia_gfn.finetune import AmortizedFinetune
    from intarsia_gfn.gflownet import GFlowNet
    from lightning.fabric import Fabric

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=8)
    parser.add_argument("--modes", type=int, default=4)
    parser.add_argument("--pretrain-iterations", type=int, default=2000)
    parser.add_argument("--iterations", type=int, default=600)
    parser.add_argument("--rewards", type=int, default=3)
    parser.add_argument("--pretrained", default="")
    parser.add_argument("--pretrain-seconds", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS / "gfn_finetune.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, pre_seconds, success = args.pretrained, args.pretrain_seconds, None
    if not model:
        model = str(Path(tempfile.mkdtemp()) / "model.pt")
        pre_seconds, success = pretrain(args.height, args.pretrain_iterations, args.seed, model)
        print(f"pre-trained in {pre_seconds:.0f}s, success rate {success:.3f}", flush=True)
    results = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average": os.getloadavg()},
               "height": args.height, "pretrain_seconds": pre_seconds, "pretrain_success_rate": success,
               "iterations": args.iterations, "rewards": []}
    for r in range(1, args.rewards + 1):
        env = EnvConfig(ndim=2, height=args.height, reward="random", modes=args.modes, modes_seed=r, R0=0.01, R2=1.0)
        fabric = Fabric(accelerator="cpu", devices=1)
        fabric.seed_everything(args.seed, verbose=False)
        ft = curve(AmortizedFinetune(FinetuneConfig(env=env, pretrained=model), fabric=fabric), args.iterations)
        fabric.seed_everything(args.seed, verbose=False)
        db = curve(GFlowNet(GFlowNetConfig(env=env, loss="db", batch_size=16), fabric=fabric), args.iterations)
        results["rewards"].append({"modes_seed": r, "ocgfn_finetune": ft, "db_from_scratch": db})
        print(f"reward {r}: finetune modes {ft['final']['modes_found']:.0f} l1 {ft['final']['l1_sum']:.3f} | "
              f"DB modes {db['final']['modes_found']:.0f} l1 {db['final']['l1_sum']:.3f}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    plot(results, out.with_suffix(".png"))


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    colors = {"ocgfn_finetune": "tab:blue", "db_from_scratch": "tab:orange"}
    pre = results["pretrain_seconds"]
    for run in results["rewards"]:
        for key, color in colors.items():
            c = run[key]["curve"]
            label = key if run is results["rewards"][0] else None
            modes = [p["modes_found"] for p in c]
            axes[0].plot([p["distinct_queries"] for p in c], modes, color=color, alpha=0.7, label=label)
            axes[1].plot([p["seconds"] for p in c], modes, color=color, alpha=0.7, label=label)
            shift = pre if key == "ocgfn_finetune" else 0.0
            axes[2].plot([p["seconds"] + shift for p in c], modes, color=color, alpha=0.7, label=label)
    axes[0].set_xlabel("distinct reward queries")
    axes[1].set_xlabel("seconds (fine-tuning only)")
    axes[2].set_xlabel("seconds (pre-training included)")
    for ax in axes:
        ax.set_ylabel("modes found")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"OC-GFN fine-tuning vs DB from scratch, 2D H={results['height']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
