"""The capprobe claims over seeds, from an ``intarsia sweep`` of a capprobe recipe:

    intarsia sweep capprobe/counter --seeds 0-4 sweep.enabled=false cpu_threads=1 log.dir=DIR
    .venv/bin/python benchmarks/capprobe_claims.py DIR/capprobe-counter/sweep-<stamp> [--out capprobe_counter_claims]

For every report metric: ``intarsia compare`` over the seeds (IQM, mean, median with 95 % stratified-bootstrap
CIs, rliable), written under ``benchmarks/results/<out>/<metric>/``. For every claim: the per-seed paired
quantity (below), its IQM with the same bootstrap CI, and how many seeds satisfy it:

* wrapper: ``wrapper_correlated_acc >= 0.9`` and ``wrapper_uncorrelated_acc <= 0.3``;
* pruning revival: ``pruned_original_acc - random_pruned_original_acc`` (> 0.1), and
  ``pruned_original_acc - control_pruned_original_acc`` (> 0.1: the revival needs a model that once counted a);
* probe survival: ``probe_count_a_after - probe_count_a_before`` (>= -0.1), read beside
  ``probe_count_a_after - probe_count_a_untrained`` (what training added over an untrained model);
* reverse fine-tuning speed: ``reverse_ft_steps / scratch_ft_steps`` (<= 1/3 counts as faster; steps that
  never reached the threshold count as the budget, a lower bound) and ``reverse_ft_steps / scratch_steps``.

Writes benchmarks/results/<out>.json (per-seed rows, the claims, seconds per run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"

CLAIMS = {
    "wrapper_correlated_acc": (lambda m: m["wrapper_correlated_acc"], lambda v: v >= 0.9),
    "wrapper_uncorrelated_acc": (lambda m: m["wrapper_uncorrelated_acc"], lambda v: v <= 0.3),
    "pruning_salient_minus_random": (lambda m: m["pruned_original_acc"] - m["random_pruned_original_acc"],
                                     lambda v: v > 0.1),
    "pruning_salient_minus_control": (lambda m: m["pruned_original_acc"] - m["control_pruned_original_acc"],
                                      lambda v: v > 0.1),
    "probe_after_minus_before": (lambda m: m["probe_count_a_after"] - m["probe_count_a_before"], lambda v: v >= -0.1),
    "probe_after_minus_untrained": (lambda m: m["probe_count_a_after"] - m["probe_count_a_untrained"],
                                    lambda v: v > 0.05),
    "reverse_over_scratch_ft_steps": (lambda m: m["reverse_ft_steps"] / max(1, m["scratch_ft_steps"]),
                                      lambda v: v <= 1 / 3),
    "reverse_over_scratch_steps": (lambda m: m["reverse_ft_steps"] / max(1, m["scratch_steps"]), lambda v: v <= 1 / 3),
}


def main() -> None:
    from intarsia.compare import compare
    from intarsia.compare.stats import aggregates

    ap = argparse.ArgumentParser()
    ap.add_argument("sweep", type=Path, help="an `intarsia sweep` folder of a capprobe recipe")
    ap.add_argument("--out", default="capprobe_counter_claims")
    args = ap.parse_args()

    reports = [json.loads(p.read_text()) for p in sorted(args.sweep.rglob("report.json"))]
    if not reports:
        raise SystemExit(f"no report.json under {args.sweep}")
    rows = [{"seed": r["seed"], "seconds": r["seconds"], "steps": r["steps"], "metrics": r["metrics"],
             "reached": {k: v for k, v in r["training"].items() if k.endswith("_reached")},
             "learning_rates": r["training"].get("learning_rates")} for r in reports]
    out_dir = RESULTS / args.out
    per_metric = {}
    for metric in reports[0]["metrics"]:
        res = compare([args.sweep], metric, out=out_dir / metric)
        (group,) = res["groups"].values()
        per_metric[metric] = {k: group[k] for k in ("runs", "scores", "iqm", "mean", "median") if k in group}
    claims = {}
    for name, (value, holds) in CLAIMS.items():
        vals = np.array([[value(r["metrics"])] for r in rows], dtype=float)
        agg = aggregates({name: vals})[name]
        claims[name] = {"per_seed": vals[:, 0].round(4).tolist(), "iqm": agg["iqm"], "mean": agg["mean"],
                        "holds_in": int(sum(holds(v) for v in vals[:, 0])), "seeds": len(rows)}
    result = {"sweep": str(args.sweep), "recipe": reports[0].get("recipe"), "rows": rows, "metrics": per_metric,
              "claims": claims, "machine": platform.platform(), "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()],
              "note": "2-core CPU shared with other jobs, one torch thread, nice 10; seconds are per run in the job"}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=2))
    for name, c in claims.items():
        iqm = c["iqm"]
        print(f"{name:34s} IQM {iqm['value']:.3f} [{iqm['low']:.3f}, {iqm['high']:.3f}]  holds {c['holds_in']}/{c['seeds']}")


if __name__ == "__main__":
    main()
