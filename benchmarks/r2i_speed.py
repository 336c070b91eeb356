"""R2I speed: the scans, the S5 layer and the world-model update, each against its baselines, in one process.

Every number is a median over rounds in which each variant runs once (interleaved, so machine load hits
all variants alike); results are reported as ratios within one part. Three parts:

1. ``scan``: every ``model.scan`` mode of :mod:`intarsia_r2i.scan` and the peers that are installed
   (``accelerated-scan``'s pure-PyTorch reference, ``assoc-scan``, torch's ``associative_scan``; install
   them in the benchmark's environment only), forward (no grad) and forward+backward, real and complex,
   T in {64, 256, 1024, 4096}, and the memory autograd keeps for backward (unique storages saved).
2. ``layer``: one S5 layer (``scan: auto`` and the old Hillis-Steele ``parallel``) against ``torch.nn.GRU``
   and DreamerV3's GRU cell (Linear + LayerNorm, a Python loop) of the same width, forward+backward.
3. ``wm``: a full world-model update (loss, backward, Adam step) of S3M against the GRU-RSSM at
   T in {64, 256, 1024}: the paper's comparison (4.7x at T=256 and about 9x near 3,000 on a GPU).

    .venv/bin/pip install -c constraints.txt accelerated-scan==0.3.1 assoc-scan==0.0.6   # peers (optional)
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/r2i_speed.py     # CPU -> benchmarks/results/r2i_speed.{json,png}
    .venv/bin/python benchmarks/r2i_speed.py --device cuda --threads 0 --out benchmarks/results/r2i_speed_cuda
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces
from intarsia_r2i.config import WorldModelConfig
from intarsia_r2i.s5 import S5Layer
from intarsia_r2i.scan import SCAN_MODES, accelerated_available, linear_scan, resolve_mode
from intarsia_r2i.world_model import make_rssm, make_s3m


# -- timing ---------------------------------------------------------------------------------------------
def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def interleaved(fns: dict, rounds: int, device, warmup: int = 1) -> dict:
    """Median seconds per call of each fn; every round calls every fn once (order rotated per round)."""
    names = list(fns)
    times = {n: [] for n in names}
    for r in range(warmup + rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            _sync(device)
            t0 = time.perf_counter()
            fns[n]()
            _sync(device)
            if r >= warmup:
                times[n].append(time.perf_counter() - t0)
    return {n: statistics.median(v) for n, v in times.items()}


def saved_bytes(fn) -> int:
    """Bytes of the distinct storages autograd saves for backward while ``fn`` runs."""
    storages = {}

    def pack(t):
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


# -- part 1: scans --------------------------------------------------------------------------------------
def scan_variants(device) -> dict:
    """name -> fn(a, b, x0) -> states, for our modes and the installed peers."""
    variants = {}
    for mode in SCAN_MODES:
        if mode == "accelerated" and not accelerated_available(device):
            continue
        variants[mode] = lambda a, b, x0, m=mode: linear_scan(a, b, x0, m)

    def fold(a, b, x0):  # peers take no initial state: fold it into the first input
        return torch.cat([torch.addcmul(b[:, :1], a[:, :1], x0.unsqueeze(1)), b[:, 1:]], 1)

    try:
        from accelerated_scan.ref import scan as ref_scan

        variants["peer:accelerated-scan.ref"] = lambda a, b, x0: ref_scan(
            a.transpose(1, 2).contiguous(), fold(a, b, x0).transpose(1, 2).contiguous()).transpose(1, 2)
    except ImportError:
        pass
    try:
        from assoc_scan import AssocScan

        assoc = AssocScan()
        variants["peer:assoc-scan"] = lambda a, b, x0: assoc(a, b, prev=x0)
    except ImportError:
        pass
    try:
        from torch._higher_order_ops import associative_scan

        def combine(left, right):
            return right[0] * left[0], torch.addcmul(right[1], right[0], left[1])

        variants["peer:torch.associative_scan"] = lambda a, b, x0: associative_scan(
            combine, (a, fold(a, b, x0)), 1, combine_mode="generic")[1]
    except ImportError:
        pass
    return variants


def scan_inputs(B, T, D, dtype, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(B, T, D, generator=g) * 0.5 + 0.5
    if dtype.is_complex:
        a = torch.polar(a, torch.randn(B, T, D, generator=g))
    a[torch.rand(B, T, generator=g) < 0.01] = 0  # episode resets
    b = torch.randn(B, T, D, generator=g).to(dtype)
    x0 = torch.randn(B, D, generator=g).to(dtype)
    gout = torch.randn(B, T, D, generator=g).to(dtype)
    return [t.to(device) for t in (a.to(dtype), b, x0, gout)]


def _fwd(fn, a, b, x0):
    def run():
        with torch.no_grad():
            fn(a, b, x0)
    return run


def _fwd_bwd(fn, a, b, x0, gout):
    def run():
        leaves = [t.detach().requires_grad_(True) for t in (a, b)]
        torch.autograd.grad(fn(*leaves, x0), leaves, gout)
    return run


def _forward_with_grad(fn, a, b, x0):
    leaves = [t.detach().requires_grad_(True) for t in (a, b)]
    return lambda: fn(*leaves, x0)


def bench_scans(args, device) -> list[dict]:
    variants = scan_variants(device)
    rows = []
    for shape in args.scan_shapes:
        B, D = (int(v) for v in shape.split("x"))
        for dtype in (torch.float32, torch.complex64):
            for T in args.scan_lengths:
                a, b, x0, gout = scan_inputs(B, T, D, dtype, device)
                # the O(T log T)-memory Hillis-Steele scan is left out where it would take gigabytes
                names = [n for n in variants if not (n == "parallel" and T * B * D > 2 ** 22)]

                rounds = args.rounds if T <= 1024 else max(3, args.rounds // 2)
                t_f = interleaved({n: _fwd(variants[n], a, b, x0) for n in names}, rounds, device)
                t_fb = interleaved({n: _fwd_bwd(variants[n], a, b, x0, gout) for n in names}, rounds, device)
                for n in names:
                    saved = saved_bytes(_forward_with_grad(variants[n], a, b, x0))
                    row = {"part": "scan", "B": B, "D": D, "dtype": str(dtype).replace("torch.", ""), "T": T,
                           "variant": n, "fwd_s": t_f[n], "fwd_bwd_s": t_fb[n], "saved_mib": saved / 2 ** 20,
                           "auto_is": resolve_mode("auto", device, T, B * D)}
                    rows.append(row)
                    print(f"scan {B}x{D} {row['dtype']:9s} T={T:5d} {n:28s} fwd {t_f[n] * 1e3:9.2f} ms  "
                          f"fwd+bwd {t_fb[n] * 1e3:9.2f} ms  saved {row['saved_mib']:8.1f} MiB", flush=True)
    return rows


# -- part 2: one layer ----------------------------------------------------------------------------------
class DreamerGRUCell(torch.nn.Module):
    """DreamerV3's GRU cell (one Linear on [x, h], LayerNorm, update-gate bias -1), looped over time."""

    def __init__(self, width: int):
        super().__init__()
        self.linear = torch.nn.Linear(2 * width, 3 * width, bias=False)
        self.norm = torch.nn.LayerNorm(3 * width)

    def forward(self, x):
        h = x.new_zeros(x.shape[0], x.shape[2])
        out = []
        for x_t in x.unbind(1):
            reset, cand, update = self.norm(self.linear(torch.cat([x_t, h], -1))).chunk(3, -1)
            cand = torch.tanh(torch.sigmoid(reset) * cand)
            update = torch.sigmoid(update - 1.0)
            h = update * cand + (1 - update) * h
            out.append(h)
        return torch.stack(out, 1)


def bench_layers(args, device) -> list[dict]:
    B, H, P = args.layer_batch, args.layer_width, args.layer_state
    torch.manual_seed(0)
    s5 = S5Layer(H, P, blocks=8).to(device)
    gru = torch.nn.GRU(H, H, batch_first=True).to(device)
    cell = DreamerGRUCell(H).to(device)
    x0 = torch.zeros(B, P, dtype=torch.complex64, device=device)
    rows = []
    for T in args.layer_lengths:
        u = torch.randn(B, T, H, device=device)
        reset = torch.zeros(B, T, device=device)
        reset[:, 0] = 1

        def step(run):
            def go():
                run().square().mean().backward()
            return go

        fns = {"s5_auto": step(lambda u=u, reset=reset: s5(u, x0, reset, scan="auto")[0]),
               "gru_torch": step(lambda u=u: gru(u)[0]),
               "gru_dreamerv3_cell": step(lambda u=u: cell(u))}
        if T * B * P <= 2 ** 22:
            fns["s5_parallel"] = step(lambda u=u, reset=reset: s5(u, x0, reset, scan="parallel")[0])
        times = interleaved(fns, args.rounds, device)
        for n, sec in times.items():
            rows.append({"part": "layer", "B": B, "width": H, "state": P, "T": T, "variant": n, "fwd_bwd_s": sec,
                         "auto_is": resolve_mode("auto", device, T, B * P)})
            print(f"layer T={T:5d} {n:20s} fwd+bwd {sec * 1e3:9.2f} ms", flush=True)
    return rows


# -- part 3: world-model update -------------------------------------------------------------------------
def wm_batch(B, T, obs_dim, act_dim, device):
    g = torch.Generator().manual_seed(0)
    is_first = torch.zeros(B, T)
    is_first[:, 0] = 1
    return {"obs": torch.randn(B, T, obs_dim, generator=g).to(device),
            "action": torch.nn.functional.one_hot(torch.randint(0, act_dim, (B, T), generator=g), act_dim).float().to(device),
            "is_first": is_first.to(device), "is_terminal": torch.zeros(B, T, device=device),
            "rewards": {"extrinsic": torch.randn(B, T, generator=g).to(device)}}


WM_VARIANTS = {"s3m_auto": (make_s3m, "auto"), "s3m_parallel": (make_s3m, "parallel"), "gru_rssm": (make_rssm, "auto")}


def bench_world_models(args, device) -> list[dict]:
    rows = []
    for T in args.wm_lengths:
        batch = wm_batch(args.wm_batch, T, args.obs_dim, args.act_dim, device)
        fns = {}
        for name, (factory, scan) in WM_VARIANTS.items():
            cfg = WorldModelConfig(deter=args.width, units=args.width, ssm_state=args.state, ssm_layers=args.layers,
                                   stoch=args.stoch, classes=args.stoch, mlp_units=args.width,
                                   head_units=args.width, scan=scan)
            torch.manual_seed(0)
            wm = factory(cfg, obs_space=spaces.Box(-1, 1, (args.obs_dim,), np.float32),
                         action_space=spaces.Discrete(args.act_dim)).to(device)
            opt = torch.optim.Adam(wm.parameters(), lr=1e-4)

            def update(wm=wm, opt=opt, batch=batch):
                losses, _ = wm.loss(batch)
                opt.zero_grad(set_to_none=True)
                sum(losses.values()).backward()
                opt.step()

            fns[name] = update
        times = interleaved(fns, args.rounds, device)
        for n, sec in times.items():
            rows.append({"part": "wm", "T": T, "variant": n, "update_s": sec,
                         "auto_is": resolve_mode("auto", device, T, args.wm_batch * args.state)})
            print(f"world model T={T:5d} {n:14s} {sec * 1e3:9.1f} ms/update", flush=True)
        print(f"world model T={T:5d} GRU-RSSM / S3M(auto) = {times['gru_rssm'] / times['s3m_auto']:.2f}x", flush=True)
    return rows


# -- summary and plot ----------------------------------------------------------------------------------
def summarise(rows) -> dict:
    out = {"scan": {}, "layer": {}, "wm": {}}
    for key in sorted({(r["B"], r["D"], r["dtype"], r["T"]) for r in rows if r["part"] == "scan"}):
        sel = {r["variant"]: r for r in rows if r["part"] == "scan" and (r["B"], r["D"], r["dtype"], r["T"]) == key}
        peers = [r for n, r in sel.items() if n.startswith("peer:")]
        entry = {"auto_is": sel["auto"]["auto_is"]}
        for metric in ("fwd_s", "fwd_bwd_s"):
            entry[f"{metric}_relative_to_auto"] = {n: r[metric] / sel["auto"][metric] for n, r in sel.items()}
            if peers:
                best = min(peers, key=lambda r: r[metric])
                entry[f"{metric}_fastest_peer"] = best["variant"]
                entry[f"{metric}_auto_over_fastest_peer"] = sel["auto"][metric] / best[metric]
        entry["saved_mib"] = {n: r["saved_mib"] for n, r in sel.items()}
        if peers:
            entry["auto_saved_over_least_peer"] = sel["auto"]["saved_mib"] / min(r["saved_mib"] for r in peers)
        out["scan"]["{}x{} {} T={}".format(*key)] = entry
    for part, metric, base in (("layer", "fwd_bwd_s", "s5_auto"), ("wm", "update_s", "s3m_auto")):
        for T in sorted({r["T"] for r in rows if r["part"] == part}):
            sel = {r["variant"]: r[metric] for r in rows if r["part"] == part and r["T"] == T}
            out[part][f"T={T}"] = {f"{n}_over_{base}": v / sel[base] for n, v in sel.items() if n != base}
    return out


def plot(rows, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 2, figsize=(13, 9))
    scan = [r for r in rows if r["part"] == "scan"]
    if scan:
        B, D = max({(r["B"], r["D"]) for r in scan}, key=lambda s: s[0] * s[1])
        for n in dict.fromkeys(r["variant"] for r in scan):
            sel = sorted((r for r in scan if r["variant"] == n and (r["B"], r["D"]) == (B, D)
                          and r["dtype"] == "complex64"), key=lambda r: r["T"])
            if sel:
                style = "--" if n.startswith("peer:") else "-"
                ax[0, 0].plot([r["T"] for r in sel], [r["fwd_bwd_s"] * 1e3 for r in sel], style, marker="o", label=n)
                ax[0, 1].plot([r["T"] for r in sel], [r["saved_mib"] for r in sel], style, marker="o", label=n)
        ax[0, 0].set(xscale="log", yscale="log", xlabel="T", ylabel="ms", title=f"scan fwd+bwd, complex64, B={B}, D={D}")
        ax[0, 1].set(xscale="log", yscale="log", xlabel="T", ylabel="MiB",
                     title="memory kept for backward (same scans)")
        ax[0, 0].legend(fontsize=7)
    layer = [r for r in rows if r["part"] == "layer"]
    for n in dict.fromkeys(r["variant"] for r in layer):
        sel = sorted((r for r in layer if r["variant"] == n), key=lambda r: r["T"])
        ax[1, 0].plot([r["T"] for r in sel], [r["fwd_bwd_s"] * 1e3 for r in sel], marker="o", label=n)
    if layer:
        ax[1, 0].set(xscale="log", yscale="log", xlabel="T", ylabel="ms",
                     title="one layer fwd+bwd (B={B}, width {width}, {state} states)".format(**layer[0]))
        ax[1, 0].legend(fontsize=7)
    wm = [r for r in rows if r["part"] == "wm"]
    if wm:
        Ts = sorted({r["T"] for r in wm})
        get = lambda n, T: next(r["update_s"] for r in wm if r["variant"] == n and r["T"] == T)  # noqa: E731
        for n in ("s3m_auto", "s3m_parallel"):
            ax[1, 1].plot(Ts, [get("gru_rssm", T) / get(n, T) for T in Ts], marker="o", label=f"GRU-RSSM / {n}")
        ax[1, 1].plot([256], [4.7], "k*", label="paper, GPU, T=256")
        ax[1, 1].axhline(1.0, color="gray", lw=0.5)
        ax[1, 1].set(xscale="log", xlabel="T", ylabel="speed-up of S3M over GRU-RSSM", title="world-model update")
        ax[1, 1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--parts", nargs="+", default=["scan", "layer", "wm"], choices=["scan", "layer", "wm"])
    p.add_argument("--scan-lengths", type=int, nargs="+", default=[64, 256, 1024, 4096])
    p.add_argument("--scan-shapes", nargs="+", default=["16x256", "4x64"], help="BxD of the scan inputs")
    p.add_argument("--layer-lengths", type=int, nargs="+", default=[64, 256, 1024])
    p.add_argument("--layer-batch", type=int, default=16)
    p.add_argument("--layer-width", type=int, default=256, help="S5 model width H = GRU width")
    p.add_argument("--layer-state", type=int, default=128, help="S5 states P")
    p.add_argument("--wm-lengths", type=int, nargs="+", default=[64, 256, 1024])
    p.add_argument("--wm-batch", type=int, default=4)
    p.add_argument("--width", type=int, default=128, help="world model: deter = units = MLP width")
    p.add_argument("--state", type=int, default=64, help="world model: S5 states per layer")
    p.add_argument("--layers", type=int, default=2, help="world model: S5 layers")
    p.add_argument("--stoch", type=int, default=16, help="world model: latents x classes")
    p.add_argument("--obs-dim", type=int, default=8)
    p.add_argument("--act-dim", type=int, default=4)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: leave torch's default)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="benchmarks/results/r2i_speed")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    started = time.time()
    rows = []
    if "scan" in args.parts:
        rows += bench_scans(args, device)
    if "layer" in args.parts:
        rows += bench_layers(args, device)
    if "wm" in args.parts:
        rows += bench_world_models(args, device)
    result = {"device": str(device), "machine": platform.processor() or platform.machine(),
              "cpus": os.cpu_count(), "load_average_at_end": os.getloadavg(), "threads": torch.get_num_threads(),
              "torch": torch.__version__, "args": vars(args), "minutes": (time.time() - started) / 60,
              "summary": summarise(rows), "rows": rows,
              "note": "medians of interleaved rounds; *_over_* ratios > 1 mean the named variant is slower"}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    plot(rows, out.with_suffix(".png"))
    print(json.dumps(result["summary"], indent=1))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
