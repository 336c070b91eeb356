"""World-model training-step time: S5 (parallel scan) vs S5 (sequential scan) vs GRU-RSSM.

One process, same widths, sequence lengths 64/256/1024 by default; each number is the median wall time of
a full world-model update (loss forward, backward, optimiser step) on a (batch, T) chunk. Ratios are
GRU-RSSM time / S5 time (> 1: the SSM is faster). The paper reports 4.7x at T=256 and 9x at ~3000 on a GPU.

    .venv/bin/python benchmarks/r2i_speed.py                    # CPU, writes benchmarks/results/r2i_speed.{json,png}
    .venv/bin/python benchmarks/r2i_speed.py --device cuda --batch 16 --width 512
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces
from intarsia_r2i.config import WorldModelConfig
from intarsia_r2i.world_model import make_rssm, make_s3m

VARIANTS = {"s5_parallel": (make_s3m, "parallel"), "s5_sequential": (make_s3m, "sequential"),
            "gru_rssm": (make_rssm, "parallel")}


def batch_for(B, T, obs_dim, act_dim, device):
    g = torch.Generator().manual_seed(0)
    is_first = torch.zeros(B, T)
    is_first[:, 0] = 1
    return {"obs": torch.randn(B, T, obs_dim, generator=g).to(device),
            "action": torch.nn.functional.one_hot(torch.randint(0, act_dim, (B, T), generator=g), act_dim).float().to(device),
            "is_first": is_first.to(device), "is_terminal": torch.zeros(B, T, device=device),
            "rewards": {"extrinsic": torch.randn(B, T, generator=g).to(device)}}


def time_variant(name, T, args, device):
    factory, scan = VARIANTS[name]
    cfg = WorldModelConfig(deter=args.width, units=args.width, ssm_state=args.state, ssm_layers=args.layers,
                           stoch=args.stoch, classes=args.stoch, mlp_units=args.width, head_units=args.width,
                           scan=scan)
    torch.manual_seed(0)
    wm = factory(cfg, obs_space=spaces.Box(-1, 1, (args.obs_dim,), np.float32),
                 action_space=spaces.Discrete(args.act_dim)).to(device)
    opt = torch.optim.Adam(wm.parameters(), lr=1e-4)
    batch = batch_for(args.batch, T, args.obs_dim, args.act_dim, device)

    def step():
        losses, _ = wm.loss(batch)
        opt.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), sum(p.numel() for p in wm.parameters())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lengths", type=int, nargs="+", default=[64, 256, 1024])
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--width", type=int, default=128, help="deter = units = MLP width (same for all variants)")
    p.add_argument("--state", type=int, default=64, help="S5 states per layer")
    p.add_argument("--layers", type=int, default=2, help="S5 layers")
    p.add_argument("--stoch", type=int, default=16, help="latents x classes")
    p.add_argument("--obs-dim", type=int, default=8)
    p.add_argument("--act-dim", type=int, default=4)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="benchmarks/results/r2i_speed")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = []
    for T in args.lengths:
        row = {"T": T}
        for name in VARIANTS:
            sec, params = time_variant(name, T, args, device)
            row[name] = sec
            row[f"{name}_params"] = params
            print(f"T={T:5d} {name:14s} {sec * 1000:9.1f} ms/update  ({params} params)", flush=True)
        row["ratio_gru_over_s5_parallel"] = row["gru_rssm"] / row["s5_parallel"]
        row["ratio_gru_over_s5_sequential"] = row["gru_rssm"] / row["s5_sequential"]
        print(f"T={T:5d} GRU/S5-parallel = {row['ratio_gru_over_s5_parallel']:.2f}x, "
              f"GRU/S5-sequential = {row['ratio_gru_over_s5_sequential']:.2f}x", flush=True)
        rows.append(row)
    result = {"device": str(device), "machine": platform.processor() or platform.machine(), "threads": args.threads,
              "torch": torch.__version__, "args": vars(args), "rows": rows,
              "note": "median seconds per world-model update; ratio > 1 means S5 is faster than the GRU-RSSM"}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    Ts = [r["T"] for r in rows]
    for name in VARIANTS:
        ax[0].plot(Ts, [r[name] * 1000 for r in rows], marker="o", label=name)
    ax[0].set(xscale="log", yscale="log", xlabel="sequence length T", ylabel="ms per world-model update",
              title=f"train-step time ({device})")
    ax[0].legend()
    ax[1].plot(Ts, [r["ratio_gru_over_s5_parallel"] for r in rows], marker="o", label="GRU / S5-parallel")
    ax[1].plot(Ts, [r["ratio_gru_over_s5_sequential"] for r in rows], marker="o", label="GRU / S5-sequential")
    ax[1].axhline(1.0, color="gray", lw=0.5)
    ax[1].set(xscale="log", xlabel="sequence length T", ylabel="speed-up over GRU-RSSM", title="ratio")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=100)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
