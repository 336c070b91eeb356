"""The paper's qualitative claims at CPU scale (Mansouri, Hartford, Zhang, Bengio, "Object-centric architectures
enable efficient causal representation learning", ICLR 2024), over seeds on `intarsia sweep` and `intarsia
compare`:

1. ``gap``: non-injective renderer (identical balls): the flat encoder fails, the slot encoder succeeds
   (``crl/balls-slots`` vs ``crl/balls-flat`` as shipped: 2 balls);
2. ``injectivity``: injective renderer (one hue band per ball): the flat encoder works too
   (``crl/balls-flat-injective`` vs ``crl/balls-slots sprites.injective=true``);
3. ``balls3`` / ``balls4``: the same gap with 3 and 4 identical balls (``crl/balls3-*``, ``crl/balls4-*``);
4. ``curve``: data efficiency: the all-balls MCC against the number of perturbation pairs, slots vs flat, for
   each ``--ks`` value (one comparison per k, the pair counts as tasks: stratified over them);
5. ``efficiency``: the official data-efficiency experiment (``run_train_balls.sh``): 4 balls, {x, y, colour,
   shape}; the flat CNN on data made injective by size at ``--flat-pairs`` (official 100 200 500) against the two-stage slot
   model at ``--slot-pairs`` (official 1000 2000 5000 10000), each (arm, pair count) its own group
   (``crl/balls4-efficiency-*``): IQM [95% CI] of each, no pairing across the two count ranges.

Each arm is one recipe swept over the seeds (one sweep per claim, arm and seed batch; the curve is a grid
over ``sprites.num_pairs``). Each run is named ``crl-<claim>-<arm>``, and `intarsia compare` groups a
claim's runs by that name with the flat encoder as the baseline: IQM, mean, median of the held-out
all-balls MCC (``mcc``) with stratified-bootstrap 95% CIs, and P(slots > flat).

    .venv/bin/python benchmarks/crl_claims.py --claims gap --seeds 0-4
    .venv/bin/python benchmarks/crl_claims.py --claims curve --ks 2 3 --pairs 1000 2500 5000 --seeds 0-4
    .venv/bin/python benchmarks/crl_claims.py --claims efficiency --seeds 0-4
    .venv/bin/python benchmarks/crl_claims.py --compare-only          # recompute from what is under --runs

The runs stay under ``--runs`` (default ``runs/crl_claims``); the same command again finishes an interrupted
sweep and recomputes every comparison found there. Results:
``benchmarks/results/crl_claims/<claim>/compare.{json,md}`` (plots beside them) and the README table printed
at the end.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from seed_sweeps import add_sweep_arguments, sweep_once  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "crl_claims"
# claim -> arm -> (recipe, overrides)
CLAIMS: dict[str, dict[str, tuple[str, list[str]]]] = {
    "gap": {"slots": ("crl/balls-slots", []), "flat": ("crl/balls-flat", [])},
    "injectivity": {"slots": ("crl/balls-slots", ["sprites.injective=true"]),
                    "flat": ("crl/balls-flat-injective", [])},
    "balls3": {"slots": ("crl/balls3-slots", []), "flat": ("crl/balls3-flat", [])},
    "balls4": {"slots": ("crl/balls4-slots", []), "flat": ("crl/balls4-flat", [])},
    "curve": {"slots": ("crl/balls-slots", []), "flat": ("crl/balls-flat", [])},
    "efficiency": {"slots": ("crl/balls4-efficiency-slots", []), "flat": ("crl/balls4-efficiency-flat", [])},
}
METRIC = "mcc"
PAIRS_KEY = "sprites.num_pairs"


def claim_names(args) -> list[str]:
    """``curve`` becomes one claim per k (``curve-k2``, ...): each is its own comparison."""
    return [n for c in args.claims for n in ([f"curve-k{k}" for k in args.ks] if c == "curve" else [c])]


def run_sweeps(args) -> None:
    for seeds in args.seeds:
        for claim in claim_names(args):
            base, _, k = claim.partition("-k")
            if base == "efficiency":  # each arm at its own pair counts: one sweep (and group) per count
                for arm, (recipe, extra) in CLAIMS[base].items():
                    for n in (args.slot_pairs if arm == "slots" else args.flat_pairs):
                        overrides = [*extra, f"name=crl-efficiency-{arm}-{n}", f"{PAIRS_KEY}={n}", "plots=false",
                                     *arm_overrides(args, arm)]
                        sweep_once(args.runs / f"efficiency-{arm}-{n}-seeds-{seeds}", recipe, overrides, seeds=seeds,
                                   workers=args.workers, label=f"efficiency {arm} {n} pairs seeds {seeds}")
                continue
            for arm, (recipe, extra) in CLAIMS[base].items():
                overrides = [*extra, f"name=crl-{claim}-{arm}", "plots=false", *arm_overrides(args, arm)]
                grid = []
                if base == "curve":
                    overrides.append(f"sprites.num_objects={k}")
                    grid = [f"{PAIRS_KEY}={','.join(map(str, args.pairs))}"]
                sweep_once(args.runs / f"{claim}-{arm}-seeds-{seeds}", recipe, overrides, seeds=seeds, grid=grid,
                           workers=args.workers, label=f"{claim} {arm} seeds {seeds}")


def arm_overrides(args, arm: str) -> list[str]:
    """``--override`` for every run, ``--slot-override`` for the slot arm only (stage-1 keys such as
    ``pretrain.epochs``, which the flat encoder refuses: it has no auto-encoder stage)."""
    return [*args.override, *(args.slot_override if arm == "slots" else [])]


def compare_all(args) -> dict[str, dict]:
    from intarsia.compare import compare

    found: dict[str, list[Path]] = {}
    for d in sorted(args.runs.glob("*-seeds-*")):
        claim = "efficiency" if d.name.startswith("efficiency-") else re.match(r"(.+)-(slots|flat)-seeds-", d.name).group(1)
        found.setdefault(claim, []).append(d)
    results = {}
    for claim, dirs in sorted(found.items()):
        if claim == "efficiency":
            dirs = [d for d in dirs if any(d.rglob("report.json"))]
            if dirs:
                results[claim] = _compare_saved(compare, dirs, args, claim, baseline=None, task=None)
            continue
        arms = {re.match(r".+-(slots|flat)-seeds-", d.name).group(1) for d in dirs
                if any(d.rglob("report.json"))}
        if arms != {"slots", "flat"}:
            print(f"{claim}: only {sorted(arms)} has finished runs; no comparison", flush=True)
            continue
        task = PAIRS_KEY if claim.startswith("curve") else None
        results[claim] = _compare_saved(compare, dirs, args, claim, baseline=f"name=crl-{claim}-flat", task=task)
    return results


def _compare_saved(compare, dirs: list[Path], args, claim: str, *, baseline: str | None, task: str | None) -> dict:
    """``intarsia compare`` of one claim's sweeps by run name, with the CPU budget that produced them."""
    out = args.out / claim
    command = "benchmarks/crl_claims.py " + " ".join(args.argv)
    ran = not args.compare_only and claim.partition("-k")[0] in args.claims
    if not ran and (out / "compare.json").is_file():  # the command that ran these runs, not this recomputation's
        command = json.loads((out / "compare.json").read_text()).get("budget", {}).get("command", command)
    compare(dirs, METRIC, by="name", baseline=baseline, task=task, out=out, reps=args.reps)
    saved = json.loads((out / "compare.json").read_text())
    found = [p for d in dirs for p in sorted(d.rglob("report.json")) if p.parent != d]
    reports = [json.loads(p.read_text()) for p in found]
    saved["budget"] = {"runs": len(reports), "run_seconds_total": round(sum(r["seconds"] for r in reports), 1),
                       "command": command}
    # what the README reads beside the scores: each run's time and how well its stage 1 segmented the balls
    saved["runs"] = [{"name": r["name"], "seed": r["seed"], METRIC: r["metrics"][METRIC], "seconds": r["seconds"],
                      "stage1": {k: v for k, v in r["training"].get("stages", {}).get("autoencoder", {}).items()
                                 if k in ("steps", "ari", "fg_ari", "stopped_by_time_limit")} or None,
                      "stage1_fg_ari_curve": stage1_curve(p.parent)}
                     for p, r in zip(found, reports)]
    (out / "compare.json").write_text(json.dumps(saved, indent=2), encoding="utf-8")
    print((out / "compare.md").read_text(), flush=True)
    return saved


def stage1_curve(run_dir: Path) -> list[list[float]] | None:
    """[step, held-out FG-ARI] at each of stage 1's evaluations (its ``logs/autoencoder/metrics.csv``)."""
    import csv

    path = run_dir / "logs" / "autoencoder" / "metrics.csv"
    if not path.is_file():
        return None
    with path.open(newline="") as f:
        return [[int(row["step"]), round(float(row["val/fg_ari"]), 4)] for row in csv.DictReader(f)
                if row.get("val/fg_ari")] or None


def readme_table(results: dict[str, dict]) -> str:
    """One row per claim (and per pair count for a curve): IQM [95% CI] of slots and flat, P(slots > flat)."""

    def cell(v: dict) -> str:
        return f"{v['value']:.3f} [{v['low']:.3f}, {v['high']:.3f}]"

    rows = ["| claim | pairs | runs (slots / flat) | slots MCC IQM | flat MCC IQM | P(slots > flat) |",
            "|---|---|---|---|---|---|"]
    for claim, result in results.items():
        if claim == "efficiency":  # one group per arm and pair count (name=crl-efficiency-<arm>-<n>), nothing paired
            cells = {tuple(g.rsplit("-", 2)[1:]): v for g, v in result["groups"].items()}
            for arm, n in sorted(cells, key=lambda an: (an[0], int(an[1]))):
                runs, iqm = str(cells[arm, n]["runs"]), cell(cells[arm, n]["iqm"])
                slots_cols, flat_cols = ((runs, iqm), ("–", "–")) if arm == "slots" else (("–", "–"), (runs, iqm))
                rows.append(f"| efficiency | {n} | {slots_cols[0]} / {flat_cols[0]} | {slots_cols[1]} | {flat_cols[1]} | – |")
            continue
        slots, flat = result["groups"][f"name=crl-{claim}-slots"], result["groups"][f"name=crl-{claim}-flat"]
        for task in result.get("tasks") or []:
            if task is None:
                continue
            a, b = slots["per_task"][task], flat["per_task"][task]
            rows.append(f"| {claim} | {task.split('=')[1]} | {a['runs']} / {b['runs']} | {cell(a['iqm'])} | "
                        f"{cell(b['iqm'])} | {cell(a['probability_of_improvement'])} |")
        label = "all (stratified)" if claim.startswith("curve") else "recipe's"
        rows.append(f"| {claim} | {label} | {slots['runs']} / {flat['runs']} | {cell(slots['iqm'])} | "
                    f"{cell(flat['iqm'])} | {cell(slots['probability_of_improvement'])} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--claims", nargs="+", choices=list(CLAIMS), default=["gap"])
    ap.add_argument("--pairs", type=int, nargs="+", default=[1000, 2500, 5000], help="the curve's pair counts")
    ap.add_argument("--ks", type=int, nargs="+", default=[2, 3], help="the curve's numbers of balls")
    ap.add_argument("--flat-pairs", type=int, nargs="+", default=[100, 200, 500],
                    help="efficiency: the flat CNN's training pairs (official 100 200 500)")
    ap.add_argument("--slot-pairs", type=int, nargs="+", default=[1000, 2000, 5000],
                    help="efficiency: the slot model's training pairs (official 1000 2000 5000 10000)")
    ap.add_argument("--override", nargs="*", default=[], help="extra overrides for every run, e.g. train.max_minutes=30")
    ap.add_argument("--slot-override", nargs="*", default=[],
                    help="extra overrides for the slot arm only, e.g. pretrain.epochs=45 (the flat encoder has no stage 1)")
    add_sweep_arguments(ap, runs="runs/crl_claims", out=RESULTS)
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if not args.compare_only:
        run_sweeps(args)
    if not args.no_compare:
        print(readme_table(compare_all(args)), flush=True)


if __name__ == "__main__":
    main()
