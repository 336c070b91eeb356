"""The paper's qualitative claims at CPU scale, from the shipped recipes:

1. non-injective renderer (identical balls): the flat encoder fails, the slot encoder succeeds;
2. injective renderer (one hue band per ball): the flat encoder works too;
3. data efficiency: MCC against the number of perturbation pairs, slots vs flat, at k = 2 and 3 balls.

    .venv/bin/python benchmarks/crl_claims.py [--seeds 0] [--pairs 1000 2500 5000] [--ks 2 3] [--skip-curve]

Each point is one ``crl`` job run (``crl/balls-slots`` or ``crl/balls-flat`` with overrides), in this
process, one after another. The whole grid is hours on a 2-core CPU: ``--skip-curve`` runs claims 1-2
only. Writes benchmarks/results/crl_claims.json and .png.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def run(recipe: str, overrides: list[str], seed: int) -> dict:
    from intarsia.runner.api import run_config

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report = run_config(recipe, [*overrides, f"seed={seed}", "plots=false"], run_dir=Path(tmp) / "run")
        return {"recipe": recipe, "overrides": overrides, "seed": seed, "mcc": report["metrics"]["mcc"],
                "r2": report["metrics"]["r2"], "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--pairs", type=int, nargs="+", default=[1000, 2500, 5000])
    ap.add_argument("--ks", type=int, nargs="+", default=[2, 3])
    ap.add_argument("--skip-curve", action="store_true")
    args = ap.parse_args()

    rows = []
    for seed in args.seeds:
        for recipe, extra in (("crl/balls-slots", []), ("crl/balls-flat", []),
                              ("crl/balls-flat-injective", []), ("crl/balls-slots", ["sprites.injective=true"])):
            rows.append({"claim": "injectivity", **run(recipe, extra, seed)})
            print(rows[-1], flush=True)
        if args.skip_curve:
            continue
        for k in args.ks:
            for n in args.pairs:
                for recipe in ("crl/balls-slots", "crl/balls-flat"):
                    over = [f"sprites.num_objects={k}", f"sprites.num_pairs={n}"]
                    rows.append({"claim": "data_efficiency", "k": k, "pairs": n, **run(recipe, over, seed)})
                    print(rows[-1], flush=True)
    RESULTS.mkdir(exist_ok=True)
    out = {"rows": rows, "machine": platform.platform(), "note": "2-core shared CPU; seconds include load from other jobs"}
    (RESULTS / "crl_claims.json").write_text(json.dumps(out, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    inj = [r for r in rows if r["claim"] == "injectivity"]
    labels = [r["recipe"].split("/")[1] + (" (injective)" if r["overrides"] else "") for r in inj]
    axes[0].bar(range(len(inj)), [r["mcc"] for r in inj], color="tab:blue")
    axes[0].set_xticks(range(len(inj)), labels, rotation=20, fontsize=7)
    axes[0].set_ylabel("MCC")
    axes[0].set_ylim(0, 1)
    for k in args.ks:
        for recipe, style in (("crl/balls-slots", "-o"), ("crl/balls-flat", "--s")):
            pts = sorted((r["pairs"], r["mcc"]) for r in rows if r.get("k") == k and r["recipe"] == recipe)
            if pts:
                axes[1].plot(*zip(*pts), style, label=f"{recipe.split('-')[-1]} k={k}")
    axes[1].set_xlabel("perturbation pairs")
    axes[1].set_ylabel("MCC")
    axes[1].set_ylim(0, 1)
    if rows and any(r["claim"] == "data_efficiency" for r in rows):
        axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / "crl_claims.png", dpi=100)


if __name__ == "__main__":
    main()
