"""Collect finished crl runs (two-stage or not) into one results file: each run's report metrics, its stages
(steps, seconds, stage 1's ARI, whether a time limit stopped it) and its held-out curves (``val/*`` columns
of ``logs/[<stage>/]metrics.csv``), with the machine's load at collection.

    .venv/bin/python benchmarks/crl_protocol.py RUN_DIR [RUN_DIR ...] --out crl_protocol

Writes benchmarks/results/<out>.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def curves(run_dir: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for path in sorted(run_dir.glob("logs/**/metrics.csv")):
        stage = path.parent.name if path.parent.name != "logs" else "train"
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh):
                vals = {k: float(v) for k, v in row.items() if k.startswith("val/") and v not in ("", None)}
                if vals:
                    out.setdefault(stage, []).append({"step": int(row["step"]), "epoch": int(row["epoch"]), **vals})
    return out


def collect(run_dir: Path) -> dict:
    report = json.loads((run_dir / "report.json").read_text())
    return {"run_dir": str(run_dir), "recipe": report.get("recipe"), "name": report.get("name"),
            "seed": report.get("seed"), "steps": report["steps"], "seconds": report["seconds"],
            "metrics": report["metrics"], "stages": report["training"].get("stages", {}),
            "stopped_by_time_limit": report["training"].get("stopped_by_time_limit"), "curves": curves(run_dir)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("--out", default="crl_protocol")
    args = ap.parse_args()
    rows = [collect(r) for r in args.runs]
    RESULTS.mkdir(exist_ok=True)
    out = {"rows": rows, "machine": platform.platform(), "load_avg_1_5_15_at_collection": list(os.getloadavg()),
           "note": "2-core CPU shared with other jobs, one torch thread per run; seconds include that load"}
    (RESULTS / f"{args.out}.json").write_text(json.dumps(out, indent=2))
    for r in rows:
        print(r["name"], r["seed"], {k: round(v, 3) for k, v in r["metrics"].items() if isinstance(v, float)})


if __name__ == "__main__":
    main()
