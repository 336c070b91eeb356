"""What the benchmarks that compare methods over seeds share: one resumable sweep per arm and seed batch,
and the command-line options that go with it."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_sweep_arguments(parser: argparse.ArgumentParser, *, runs: str, out: Path, workers: int = 1) -> None:
    """--seeds (batches, each one sweep), --workers, --reps, --runs, --out, --no-compare, --compare-only."""
    parser.add_argument("--seeds", nargs="+", default=["0-4"], help="seed batches, each one sweep: 0-4 5-9")
    parser.add_argument("--workers", type=int, default=workers, help="runs at once per sweep (one torch thread each)")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--runs", type=Path, default=Path(runs), help="where the sweeps' run folders stay")
    parser.add_argument("--out", type=Path, default=out, help="where compare.json, compare.md and plots go")
    parser.add_argument("--no-compare", action="store_true", help="run the sweeps only")
    parser.add_argument("--compare-only", action="store_true", help="start no runs: compare what is under --runs")


def sweep_once(where: Path, source: str, overrides: list[str], *, seeds: str, grid: list[str] = (),
               workers: int = 1, label: str = "") -> dict:
    """Start the sweep in ``where``, or finish it when a manifest is already there (finished runs are kept,
    checkpointed ones resumed); prints its counts."""
    from intarsia import sweep

    start = time.perf_counter()
    if (where / "sweep.yaml").exists():
        manifest = sweep(resume=where, workers=workers, progress=False)
    else:
        manifest = sweep(source, overrides, seeds=seeds, grid=list(grid), workers=workers, sweep_dir=where,
                         progress=False)
    print(f"{label or where.name}: {manifest['counts']} in {time.perf_counter() - start:.0f} s ({where})", flush=True)
    return manifest
