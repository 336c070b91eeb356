"""``intarsia compare``: aggregate runs over seeds (rliable) into ``compare.json``, ``compare.md`` and plots."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from intarsia.errors import ConfigError


def compare(dirs, metric: str, *, by: str | None = None, baseline: str | None = None, curve: str | None = None,
            out: str | Path | None = None, reps: int = 2000, seed: int = 0, gap: float = 1.0) -> dict:
    """Aggregate the runs under ``dirs`` on ``metric``; writes into ``out`` (default: the first folder).
    ``curve``: a metrics.csv column for learning curves (default ``metric`` when it is one)."""
    from intarsia.compare import plots, stats
    from intarsia.compare.collect import collect, curve_of

    dirs = [Path(d) for d in dirs]
    if not dirs:
        raise ConfigError("compare: give at least one folder")
    first = next(iter(sorted(dirs[0].rglob("report.json"))), None)
    if curve is None and first is not None and curve_of(first.parent, metric):
        curve = metric
    runs = collect(dirs, metric, by=by, curve=curve)
    grouped: dict[str, list] = defaultdict(list)
    for r in runs:
        grouped[r.group].append(r)
    if baseline is not None and baseline not in grouped:
        raise ConfigError(f"compare: no group {baseline!r} (groups: {', '.join(grouped)})")
    scores = {g: np.array([[r.score] for r in rs]) for g, rs in grouped.items()}
    out = Path(out) if out is not None else dirs[0]
    out.mkdir(parents=True, exist_ok=True)
    result: dict = {"metric": metric, "by": by, "baseline": baseline, "reps": reps, "seed": seed,
                    "groups": {g: {"runs": len(rs), "scores": [r.score for r in rs], "dirs": [str(r.dir) for r in rs]}
                               for g, rs in grouped.items()}}
    agg = stats.aggregates(scores, reps=reps, seed=seed, gap=gap)
    for g in grouped:
        result["groups"][g].update(agg[g])
    if baseline is not None:
        for g, p in stats.improvement(scores, baseline, reps=reps, seed=seed).items():
            result["groups"][g]["probability_of_improvement"] = p
    plots_made = [plots.plot_aggregates(agg, metric, out / "compare_aggregates.png")]
    all_scores = np.concatenate([s.ravel() for s in scores.values()])
    taus = np.linspace(all_scores.min(), all_scores.max(), 50) if all_scores.max() > all_scores.min() else None
    if taus is not None:
        point, interval = stats.profiles(scores, taus, reps=min(reps, 500))
        plots_made.append(plots.plot_profiles(taus, point, interval, metric, out / "compare_profiles.png"))
    if curve:
        steps, cs = {}, {}
        for g, rs in grouped.items():
            common = sorted(set.intersection(*(set(s for s, _ in r.curve) for r in rs))) if all(r.curve for r in rs) else []
            if common:
                steps[g] = common
                cs[g] = np.array([[[dict(r.curve)[s] for s in common]] for r in rs])
        if cs:
            point, interval = stats.curves(cs, reps=min(reps, 500), seed=seed)
            plots_made.append(plots.plot_curves(steps, point, interval, curve, out / "compare_curves.png"))
            result["curves"] = {g: {"column": curve, "steps": steps[g], "iqm": point[g].tolist(),
                                    "low": interval[g][0].tolist(), "high": interval[g][1].tolist()} for g in cs}
    result["plots"] = [str(p) for p in plots_made]
    (out / "compare.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (out / "compare.md").write_text(markdown(result), encoding="utf-8")
    result["dir"] = str(out)
    return result


def markdown(result: dict) -> str:
    """The table of ``compare.json``: IQM, mean, median, optimality gap with 95% CIs (and P(improvement))."""

    def cell(v: dict) -> str:
        return f"{v['value']:.3f} [{v['low']:.3f}, {v['high']:.3f}]"

    has_poi = any("probability_of_improvement" in g for g in result["groups"].values())
    head = ["group", "runs", "IQM", "mean", "median", "optimality gap"] + ([f"P(> {result['baseline']})"] if has_poi else [])
    lines = [f"{result['metric']}: point estimate [95% stratified-bootstrap CI], {result['reps']} resamples", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g, v in result["groups"].items():
        row = [g, str(v["runs"]), cell(v["iqm"]), cell(v["mean"]), cell(v["median"]), cell(v["optimality_gap"])]
        if has_poi:
            row.append(cell(v["probability_of_improvement"]) if "probability_of_improvement" in v else "baseline")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
