"""The paper's qualitative claims at CPU scale, from the shipped recipes:

1. ``gap``: non-injective renderer (identical balls): the flat encoder fails, the slot encoder succeeds
   (``crl/balls-slots`` vs ``crl/balls-flat`` as shipped: 2 balls, 5000 pairs);
2. ``injectivity``: injective renderer (one hue band per ball): the flat encoder works too;
3. ``curve``: data efficiency: MCC against the number of perturbation pairs, slots vs flat, at k = 2 and 3.

    .venv/bin/python benchmarks/crl_claims.py [--seeds 0] [--claims gap injectivity curve]
        [--pairs 1000 2500 5000] [--ks 2 3] [--skip-points K:N ...] [--max-minutes M]
        [--merge FILE ...] [--out crl_claims]

Each point is one ``crl`` job run (``crl/balls-slots`` or ``crl/balls-flat`` with overrides), in this
process, one after another; the epochs are the recipe's (12 for slots, 25 for flat), so fewer pairs also
means fewer steps. The whole grid is hours on a 2-core CPU. ``--skip-curve`` = ``--claims gap injectivity``.
``--skip-points 2:5000`` leaves out curve points that the ``gap`` runs (or merged results) already give:
a ``gap`` row is the curve point k = 2, 5000 pairs. ``--merge`` adds rows of earlier results files (this
script's format, or ``crl_recipes.json``'s seed-0 recipe runs) to the table and the plot, marked with their
source. Writes benchmarks/results/<out>.json after every run, and <out>.png at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
RECIPE_FILE_KEYS = {"crl/balls-slots (as shipped)": "crl/balls-slots", "crl/balls-flat": "crl/balls-flat"}


def run(recipe: str, overrides: list[str], seed: int) -> dict:
    from intarsia.runner.api import prepare, run_config

    over = [*overrides, f"seed={seed}", "plots=false"]
    _, _, config = prepare(recipe, over)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report = run_config(recipe, over, run_dir=Path(tmp) / "run")
        return {"recipe": recipe, "overrides": overrides, "seed": seed, "k": config.sprites.num_objects,
                "pairs": config.sprites.num_pairs, "injective": config.sprites.injective,
                "mcc": report["metrics"]["mcc"], "mcc_x": report["metrics"].get("mcc_x"),
                "mcc_y": report["metrics"].get("mcc_y"), "r2": report["metrics"]["r2"],
                "mcc_perturbed": report["metrics"].get("mcc_perturbed"), "ari": report["metrics"].get("ari"),
                "fg_ari": report["metrics"].get("fg_ari"),
                "steps": report["steps"], "epochs": report["training"]["epochs"],
                "stopped_by_time_limit": report["training"]["stopped_by_time_limit"],
                "stages": report["training"].get("stages"),
                "seconds": round(time.perf_counter() - t0, 1), "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()]}


def merged_rows(path: Path) -> list[dict]:
    data = json.loads(path.read_text())
    if "rows" in data:
        return [{**r, "source": r.get("source", path.name)} for r in data["rows"]]
    rows = []  # crl_recipes.json: the seed-0 runs of the shipped recipes
    for key, recipe in RECIPE_FILE_KEYS.items():
        if key in data:
            e = data[key]
            rows.append({"claim": "gap", "recipe": recipe, "overrides": [], "seed": e["seed"], "k": 2, "pairs": 5000,
                         "injective": False, "mcc": e["metrics"]["mcc"], "mcc_x": e["metrics"]["mcc_x"],
                         "mcc_y": e["metrics"]["mcc_y"], "r2": e["metrics"]["r2"], "steps": e["steps"],
                         "epochs": e["epochs"], "stopped_by_time_limit": e["stopped_by_time_limit"],
                         "seconds": e["seconds"], "source": path.name})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--claims", nargs="+", choices=["gap", "injectivity", "curve"], default=["gap", "injectivity", "curve"])
    ap.add_argument("--skip-curve", action="store_true")
    ap.add_argument("--pairs", type=int, nargs="+", default=[1000, 2500, 5000])
    ap.add_argument("--ks", type=int, nargs="+", default=[2, 3])
    ap.add_argument("--skip-points", nargs="*", default=[], help="curve points K:N not to run (given elsewhere)")
    ap.add_argument("--max-minutes", type=float, default=None, help="override train.max_minutes of every run")
    ap.add_argument("--merge", type=Path, nargs="*", default=[])
    ap.add_argument("--out", default="crl_claims")
    args = ap.parse_args()
    claims = [c for c in args.claims if not (args.skip_curve and c == "curve")]
    skip = {tuple(int(v) for v in p.split(":")) for p in args.skip_points}
    cap = [f"train.max_minutes={args.max_minutes}"] if args.max_minutes is not None else []

    RESULTS.mkdir(exist_ok=True)
    rows = [r for path in args.merge for r in merged_rows(path)]

    def save() -> None:
        out = {"rows": rows, "args": {k: (list(map(str, v)) if k == "merge" else v) for k, v in vars(args).items()},
               "machine": platform.platform(),
               "note": "2-core shared CPU, one torch thread; seconds include load from other jobs (load_avg per row)"}
        (RESULTS / f"{args.out}.json").write_text(json.dumps(out, indent=2))

    def add(row: dict) -> None:
        rows.append(row)
        print(row, flush=True)
        save()

    for seed in args.seeds:
        if "gap" in claims:
            for recipe in ("crl/balls-slots", "crl/balls-flat"):
                add({"claim": "gap", **run(recipe, cap, seed)})
        if "injectivity" in claims:
            for recipe, extra in (("crl/balls-flat-injective", []), ("crl/balls-slots", ["sprites.injective=true"])):
                add({"claim": "injectivity", **run(recipe, [*extra, *cap], seed)})
        if "curve" in claims:
            for k in args.ks:
                for n in args.pairs:
                    if (k, n) in skip:
                        continue
                    for recipe in ("crl/balls-slots", "crl/balls-flat"):
                        over = [f"sprites.num_objects={k}", f"sprites.num_pairs={n}", *cap]
                        add({"claim": "data_efficiency", **run(recipe, over, seed)})
    save()
    plot(rows, RESULTS / f"{args.out}.png")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    bars: dict[str, list[float]] = {}
    for r in rows:
        if r["claim"] in ("gap", "injectivity"):
            label = r["recipe"].split("/")[1].replace("-injective", "") + (" (injective)" if r.get("injective") else "")
            bars.setdefault(label, []).append(r["mcc"])
    labels = list(bars)
    axes[0].bar(range(len(labels)), [np.mean(bars[lab]) for lab in labels], color="tab:blue")
    for i, lab in enumerate(labels):
        axes[0].plot([i] * len(bars[lab]), bars[lab], "k.", ms=4)
    axes[0].set_xticks(range(len(labels)), [f"{lab}\n(n={len(bars[lab])})" for lab in labels], fontsize=7)
    axes[0].set_ylabel("held-out MCC (mean, dots: seeds)")
    axes[0].set_ylim(0, 1)
    curve = [r for r in rows if r["claim"] in ("gap", "data_efficiency") and not r.get("injective")]
    for k in sorted({r["k"] for r in curve}):
        for recipe, style in (("crl/balls-slots", "-o"), ("crl/balls-flat", "--s")):
            pts: dict[int, list[float]] = {}
            for r in curve:
                if r["k"] == k and r["recipe"] == recipe:
                    pts.setdefault(r["pairs"], []).append(r["mcc"])
            if pts:
                xs = sorted(pts)
                axes[1].plot(xs, [np.mean(pts[x]) for x in xs], style, color=f"C{k - 2}",
                             label=f"{recipe.split('-')[-1]} k={k}")
                for x in xs:
                    axes[1].plot([x] * len(pts[x]), pts[x], "k.", ms=3)
    axes[1].set_xlabel("perturbation pairs")
    axes[1].set_ylabel("held-out MCC")
    axes[1].set_ylim(0, 1)
    if curve:
        axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
