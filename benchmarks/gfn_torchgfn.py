"""intarsia-gfn against torchgfn 2.4.1, side by side in one process: TB on HyperGrid.

    .venv/bin/pip install -c constraints.txt -e "plugins/gfn[bench]"   # what torchgfn imports
    .venv/bin/pip install --no-deps torchgfn==2.4.1      # its numpy pin conflicts; the benchmark skips without it
    .venv/bin/python benchmarks/gfn_torchgfn.py [--only 2d|4d] [--iterations-2d 2000] [--iterations-4d 100]

Cases (the issue's): 2D H=8 batch 16 and 4D H=8 batch 2048, the standard ("original") reward R0=0.1,
R1=0.5, R2=2. Both sides get the same seed, the same network (one-hot per coordinate in, a 2-layer 256-wide
ReLU trunk shared by P_F and P_B, as torchgfn's tutorial), Adam lr 1e-3 (log Z 1e-1), gradient clipping at
1, no exploration, and the same number of trajectories. Per iteration: sample a batch on-policy, TB loss,
one step; the two sides take their iterations in turn (each on its own RNG stream), so load changes hit
both. The exact sum-L1 of each side is computed by intarsia-gfn's dynamic programming on the side's own
P_F (torchgfn's regression tests state the empirical sum-L1 from 200k fresh samples: 0.012 for 2D, 0.25
for 4D). Writes benchmarks/results/gfn_torchgfn.json and .png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"


def exact_l1(env, logits_fn):
    from intarsia_gfn.evaluation import distribution_metrics, target_distribution, terminal_distribution
    from intarsia_gfn.networks import masked_log_softmax

    states = env.all_states()
    with torch.no_grad():
        logp = masked_log_softmax(logits_fn(states), env.forward_mask(states))
    target, terminal = target_distribution(env)
    return distribution_metrics(terminal_distribution(env, logp), target, terminal)["l1_sum"]


class Ours:
    name = "intarsia-gfn"

    def __init__(self, ndim, height, batch, seed):
        from intarsia_gfn.config import EnvConfig, GFlowNetConfig
        from intarsia_gfn.gflownet import GFlowNet
        from lightning.fabric import Fabric

        fabric = Fabric(accelerator="cpu", devices=1)
        torch.manual_seed(seed)
        self.gfn = GFlowNet(GFlowNetConfig(env=EnvConfig(ndim=ndim, height=height), batch_size=batch), fabric=fabric)
        self.env = self.gfn.env

    def step(self, i):
        self.gfn.update(i)

    def l1(self):
        return exact_l1(self.env, lambda s: self.gfn._forward_logits(s))


class TorchGFN:
    name = "torchgfn 2.4.1"

    def __init__(self, ndim, height, batch, seed):
        from gfn.estimators import DiscretePolicyEstimator
        from gfn.gflownet import TBGFlowNet
        from gfn.gym import HyperGrid
        from gfn.preprocessors import KHotPreprocessor
        from gfn.samplers import Sampler
        from gfn.utils.modules import MLP
        from intarsia_gfn.config import EnvConfig
        from intarsia_gfn.envs import make_env

        torch.manual_seed(seed)
        self.tenv = HyperGrid(ndim=ndim, height=height, reward_fn_str="original",
                              reward_fn_kwargs={"R0": 0.1, "R1": 0.5, "R2": 2.0}, device="cpu")
        pre = KHotPreprocessor(height=height, ndim=ndim)
        pf = MLP(input_dim=pre.output_dim, output_dim=self.tenv.n_actions, hidden_dim=256, n_hidden_layers=2)
        pb = MLP(input_dim=pre.output_dim, output_dim=self.tenv.n_actions - 1, hidden_dim=256, n_hidden_layers=2,
                 trunk=pf.trunk)
        self.pf = DiscretePolicyEstimator(pf, self.tenv.n_actions, preprocessor=pre, is_backward=False)
        pb_est = DiscretePolicyEstimator(pb, self.tenv.n_actions, preprocessor=pre, is_backward=True)
        self.gfn = TBGFlowNet(pf=self.pf, pb=pb_est, init_logZ=0.0)
        self.opt = torch.optim.Adam(self.gfn.pf_pb_parameters(), lr=1e-3)
        self.opt.add_param_group({"params": self.gfn.logz_parameters(), "lr": 1e-1})
        self.sampler = Sampler(estimator=self.pf)
        self.batch = batch
        self.env = make_env(EnvConfig(ndim=ndim, height=height))  # for the exact evaluation only

    def step(self, i):
        traj = self.sampler.sample_trajectories(self.tenv, n=self.batch, save_logprobs=True)
        self.opt.zero_grad()
        loss = self.gfn.loss_from_trajectories(self.tenv, traj, recalculate_all_logprobs=False)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.gfn.parameters(), 1.0)
        self.opt.step()

    def l1(self):
        def logits(states):
            return self.pf.module(self.pf.preprocessor(self.tenv.States(states)))

        return exact_l1(self.env, logits)


def run_case(classes, ndim, height, batch, iterations, seed, evals):
    """Both sides step in turn, each on its own saved RNG stream, so that a change in machine load hits
    both alike and each side draws exactly what it would draw alone."""
    sides, rng, curves, seconds = [], [], [], []
    for cls in classes:
        sides.append(cls(ndim, height, batch, seed))
        rng.append(torch.get_rng_state())
        curves.append([])
        seconds.append(0.0)
    for i in range(iterations):
        for j, side in enumerate(sides):
            torch.set_rng_state(rng[j])
            t0 = time.perf_counter()
            side.step(i)
            seconds[j] += time.perf_counter() - t0
            rng[j] = torch.get_rng_state()
            if (i + 1) in evals:
                curves[j].append({"iteration": i + 1, "trajectories": (i + 1) * batch, "l1_sum": side.l1()})
    return [{"side": side.name, "ms_per_iteration": 1000 * seconds[j] / iterations,
             "final_l1_sum": curves[j][-1]["l1_sum"], "curve": curves[j]} for j, side in enumerate(sides)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["2d", "4d"], default=None)
    parser.add_argument("--iterations-2d", type=int, default=2000)
    parser.add_argument("--iterations-4d", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS / "gfn_torchgfn.json"))
    args = parser.parse_args()
    try:
        import gfn.gflownet  # noqa: F401
    except ImportError as exc:
        print(f"torchgfn is not usable ({exc}): pip install --no-deps torchgfn==2.4.1 and the [bench] extra; skipping")
        return
    torch.set_num_threads(args.threads)
    cases = [("2d", 2, 8, 16, args.iterations_2d), ("4d", 4, 8, 2048, args.iterations_4d)]
    results = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "threads": args.threads,
                           "load_average": os.getloadavg()},
               "torch": torch.__version__, "seed": args.seed, "cases": {}}
    for key, ndim, height, batch, its in cases:
        if args.only and key != args.only:
            continue
        evals = sorted({max(1, its * k // 10) for k in range(1, 11)})
        sides = run_case((Ours, TorchGFN), ndim, height, batch, its, args.seed, evals)
        ratio = sides[0]["ms_per_iteration"] / sides[1]["ms_per_iteration"]
        results["cases"][key] = {"ndim": ndim, "height": height, "batch": batch, "iterations": its,
                                 "trajectories": its * batch, "sides": sides, "time_ratio_ours_over_torchgfn": ratio}
        print(f"{key}: ours {sides[0]['ms_per_iteration']:.2f} ms/it, L1 {sides[0]['final_l1_sum']:.4f} | "
              f"torchgfn {sides[1]['ms_per_iteration']:.2f} ms/it, L1 {sides[1]['final_l1_sum']:.4f} | "
              f"time ratio {ratio:.2f}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    plot(results, out.with_suffix(".png"))


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = results["cases"]
    fig, axes = plt.subplots(1, 2 * len(cases), figsize=(8 * len(cases), 3.4), squeeze=False)
    for j, (key, case) in enumerate(cases.items()):
        ax_l1, ax_t = axes[0, 2 * j], axes[0, 2 * j + 1]
        for side in case["sides"]:
            ax_l1.plot([c["trajectories"] for c in side["curve"]], [c["l1_sum"] for c in side["curve"]], marker=".",
                       label=side["side"])
        ax_l1.set_yscale("log")
        ax_l1.set_xlabel("trajectories")
        ax_l1.set_title(f"{key} H={case['height']} batch {case['batch']}: exact sum-L1")
        ax_l1.legend()
        ax_t.bar([s["side"] for s in case["sides"]], [s["ms_per_iteration"] for s in case["sides"]])
        ax_t.set_title(f"{key}: ms/iteration (ratio {case['time_ratio_ours_over_torchgfn']:.2f})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
