"""Training throughput of SA-MESH against softmax Slot Attention, as a ratio measured in one process.

    .venv/bin/python benchmarks/crl_speed.py [--steps 30] [--image-size 32] [--threads 1]

Both run the same training step of the ``crl/balls-slots`` model (pairs of 2-ball images, both images
encoded, Hungarian matching, latent + similarity loss, AdamW) on the same batches; the variants alternate
in blocks so machine load hits both alike. Writes benchmarks/results/crl_speed.json and .png.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--blocks", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from intarsia_crl.config import CRLJobConfig, LossConfig, ModelConfig, SpritesConfig
    from intarsia_crl.sprites import make_pairs, to_tensors
    from intarsia_crl.training import CRLModule, loader

    sprites = SpritesConfig(num_objects=2, properties=["x", "y"], image_size=args.image_size)
    data = to_tensors(make_pairs(sprites, args.batch_size * args.steps, seed=0))
    batches = list(loader(data, args.batch_size, shuffle=False))
    modules = {}
    for variant in ("softmax", "mesh"):
        torch.manual_seed(0)
        cfg = CRLJobConfig(sprites=sprites, loss=LossConfig(w_recon=0.0),
                           model=ModelConfig(slot_attention=variant, slot_dim=32, hidden_dim=32, cnn_layers=3,
                                             cnn_stride=2, kernel_size=3, decoder=False))
        module = CRLModule(cfg)
        modules[variant] = (module, module.configure_optimizers())
    seconds = {v: 0.0 for v in modules}
    per_block = max(1, args.steps // args.blocks)
    for block in range(args.blocks):
        for variant, (module, opt) in modules.items():
            t0 = time.perf_counter()
            for batch in batches[block * per_block:(block + 1) * per_block]:
                terms = module.loss_terms(batch)
                loss = sum(module.weights()[k] * v for k, v in terms.items())
                opt.zero_grad()
                loss.backward()
                opt.step()
            seconds[variant] += time.perf_counter() - t0
    steps = per_block * args.blocks
    pairs_per_s = {v: steps * args.batch_size / s for v, s in seconds.items()}
    result = {
        "what": "training pairs per second, SA-MESH vs softmax slot attention (crl/balls-slots model)",
        "pairs_per_second": pairs_per_s,
        "mesh_over_softmax_throughput": pairs_per_s["mesh"] / pairs_per_s["softmax"],
        "steps_each": steps, "batch_size": args.batch_size, "image_size": args.image_size, "threads": args.threads,
        "machine": platform.platform(), "processor": platform.processor(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "crl_speed.json").write_text(json.dumps(result, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(list(pairs_per_s), list(pairs_per_s.values()), color=["tab:blue", "tab:orange"])
    ax.set_ylabel("training pairs / s")
    ax.set_title(f"SA-MESH / softmax = {result['mesh_over_softmax_throughput']:.2f}")
    fig.tight_layout()
    fig.savefig(RESULTS / "crl_speed.png", dpi=100)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
