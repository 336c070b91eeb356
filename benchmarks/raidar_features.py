"""Raidar feature extraction: rapidfuzz vs the plain-Python reference, in one process, same records.

    .venv/bin/python benchmarks/raidar_features.py [--n 120] [--repeats 3]

Times ``intarsia_raidar.features.features_matrix`` (rapidfuzz similarities, set-based n-grams) against
``intarsia_raidar.reference.reference_features`` with (a) an exact dynamic-programming LCS (the
"pure-Python" reference: the same numbers) and (b) ``difflib.SequenceMatcher`` (fuzzywuzzy's fallback
without python-Levenshtein: approximate numbers). Also times the two similarities alone. Reads the
paper's News records from ``$INTARSIA_SHARED_DATA/raidar/news`` (default ``<repo>/../shared/data``);
writes ``benchmarks/results/raidar_features.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from intarsia_raidar import reference
from intarsia_raidar.features import SimilarityFns, features_matrix

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results"


def best_time(fn, repeats: int) -> float:
    """Best of ``repeats`` wall-clock runs (the machine is shared; the minimum is the least disturbed)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=120, help="records (half human, half GPT) timed by every method")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    data = Path(os.environ.get("INTARSIA_SHARED_DATA", REPO.parent / "shared" / "data")) / "raidar" / "news"
    if not (data / "Human.json").is_file():
        raise SystemExit(f"News data not found in {data}; set INTARSIA_SHARED_DATA")
    human = json.loads((data / "Human.json").read_text(encoding="utf-8"))
    machine = json.loads((data / "GPT.json").read_text(encoding="utf-8"))
    records = human[: args.n // 2] + machine[: args.n - args.n // 2]
    prompts = [k for k in records[0] if k != "input"]
    pairs = [(r["input"], r[k]) for r in records for k in ["input", *prompts]]
    chars = float(np.mean([len(r["input"]) for r in records]))

    fast = features_matrix(records, prompts)
    exact = np.array([reference.reference_features(r, prompts) for r in records])
    approx = np.array([reference.reference_features(r, prompts, similarity="difflib") for r in records])
    sim_cols = slice(fast.shape[1] - 2 * (len(prompts) + 1), None)
    equal = bool(np.array_equal(fast, exact))
    diff = np.abs(fast[:, sim_cols] - approx[:, sim_cols])

    t_fast = best_time(lambda: features_matrix(records, prompts), args.repeats)
    t_exact = best_time(lambda: [reference.reference_features(r, prompts) for r in records], args.repeats)
    t_difflib = best_time(lambda: [reference.reference_features(r, prompts, similarity="difflib") for r in records],
                          args.repeats)
    sim = SimilarityFns()
    s_fast = best_time(lambda: [sim(a, b) for a, b in pairs], args.repeats)
    s_exact = best_time(lambda: [(reference.indel_ratio(a, b), reference.token_set_ratio(a, b)) for a, b in pairs],
                        args.repeats)
    s_difflib = best_time(lambda: [(reference.difflib_ratio(a, b), reference.token_set_ratio(a, b, reference.difflib_ratio))
                                   for a, b in pairs], args.repeats)

    result = {
        "records": len(records), "pairs": len(pairs), "prompts": len(prompts), "mean_input_chars": chars,
        "repeats": args.repeats, "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared)",
        "features_seconds": {"rapidfuzz": t_fast, "pure_python_exact": t_exact, "difflib": t_difflib},
        "features_ms_per_record": {"rapidfuzz": 1e3 * t_fast / len(records), "pure_python_exact": 1e3 * t_exact / len(records),
                                   "difflib": 1e3 * t_difflib / len(records)},
        "features_speedup": {"vs_pure_python_exact": t_exact / t_fast, "vs_difflib": t_difflib / t_fast},
        "similarity_seconds": {"rapidfuzz": s_fast, "pure_python_exact": s_exact, "difflib": s_difflib},
        "similarity_speedup": {"vs_pure_python_exact": s_exact / s_fast, "vs_difflib": s_difflib / s_fast},
        "rapidfuzz_equals_exact_reference": equal,
        "difflib_vs_exact": {"max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()),
                             "fraction_of_values_differing": float((diff > 0).mean())},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "raidar_features.json").write_text(json.dumps(result, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    names = ["rapidfuzz", "pure_python_exact", "difflib"]
    labels = ["rapidfuzz\n(plugin)", "pure Python\n(exact LCS)", "difflib\n(fuzzywuzzy\nfallback)"]
    for ax, key, title in ((axes[0], "features_seconds", "all features"), (axes[1], "similarity_seconds", "ratio + token_set_ratio only")):
        vals = [1e3 * result[key][n] / len(records) for n in names]
        bars = ax.bar(labels, vals, color=["tab:green", "tab:grey", "tab:orange"])
        ax.set_yscale("log")
        ax.set_ylabel("ms per record (log)")
        ax.set_title(f"{title}\n({len(records)} News records, {len(prompts) + 1} keys each)", fontsize=10)
        for b, v in zip(bars, vals, strict=True):
            ax.text(b.get_x() + b.get_width() / 2, v, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "raidar_features.png", dpi=120)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
