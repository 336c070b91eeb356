"""``intarsia compare``: aggregate runs over seeds (rliable) into ``compare.json``, ``compare.md`` and plots."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from intarsia.errors import ConfigError


def compare(dirs, metric: str, *, by: str | None = None, baseline: str | None = None, curve: str | None = None,
            task: str | None = None, out: str | Path | None = None, reps: int = 2000, seed: int = 0,
            gap: float = 1.0) -> dict:
    """Aggregate the runs under ``dirs`` on ``metric``; writes into ``out`` (default: the first folder).
    ``curve``: a metrics.csv column for learning curves (default ``metric`` when it is one). ``task``: a config
    key whose values are tasks (``env.n``): each group's scores are then a runs x tasks matrix, the bootstrap
    resamples runs within each task (stratified), and every aggregate is also given per task."""
    from intarsia.compare import plots, stats
    from intarsia.compare.collect import collect, curve_of

    dirs = [Path(d) for d in dirs]
    if not dirs:
        raise ConfigError("compare: give at least one folder")
    first = next(iter(sorted(dirs[0].rglob("report.json"))), None)
    if curve is None and first is not None and curve_of(first.parent, metric):
        curve = metric
    runs = collect(dirs, metric, by=by, curve=curve, task=task)
    grouped: dict[str, list] = defaultdict(list)
    for r in runs:
        grouped[r.group].append(r)
    if baseline is not None and baseline not in grouped:
        raise ConfigError(f"compare: no group {baseline!r} (groups: {', '.join(grouped)})")
    tasks = _tasks(runs) if task else [None]
    cells = {g: _matrix(g, rs, tasks) for g, rs in grouped.items()}  # (runs per task) x tasks of Run
    scores = {g: np.array([[r.score for r in row] for row in m]) for g, m in cells.items()}
    out = Path(out) if out is not None else dirs[0]
    out.mkdir(parents=True, exist_ok=True)
    result: dict = {"metric": metric, "by": by, "baseline": baseline, "reps": reps, "seed": seed, "gap": gap,
                    "groups": {g: {"runs": len(rs), "scores": [r.score for r in rs], "dirs": [str(r.dir) for r in rs]}
                               for g, rs in grouped.items()}}
    agg = stats.aggregates(scores, reps=reps, seed=seed, gap=gap, per_task=bool(task))
    poi = stats.improvement(scores, baseline, reps=reps, seed=seed, per_task=bool(task)) if baseline is not None else {}
    for g in grouped:
        per = agg[g].pop("per_task", None)
        result["groups"][g].update(agg[g])
        if g in poi:
            result["groups"][g]["probability_of_improvement"] = {k: v for k, v in poi[g].items() if k != "per_task"}
        if per is not None:
            result["groups"][g]["per_task"] = {
                name: {"runs": int(scores[g].shape[0]), "scores": scores[g][:, j].tolist(), **per[j],
                       **({"probability_of_improvement": poi[g]["per_task"][j]} if g in poi else {})}
                for j, name in enumerate(tasks)}
    if task:
        result["task"], result["tasks"] = task, tasks
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
                cs[g] = np.array([[[dict(r.curve)[s] for s in common] for r in row] for row in cells[g]])
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


def _tasks(runs) -> list[str]:
    """The task labels in natural order (``env.n=50`` before ``env.n=100``)."""

    def key(label: str):
        value = label.partition("=")[2]
        try:
            return (0, float(value), "")
        except ValueError:
            return (1, 0.0, value)

    return sorted({r.task for r in runs}, key=key)


def _matrix(group: str, runs: list, tasks: list) -> list[list]:
    """``runs`` as rows of one run per task: rliable's (runs, tasks) score matrix needs as many runs per task."""
    per_task = {t: [r for r in runs if r.task == t] for t in tasks}
    counts = {t: len(rs) for t, rs in per_task.items()}
    if len(set(counts.values())) != 1:
        told = ", ".join(f"{t}: {n}" for t, n in counts.items())
        raise ConfigError(f"compare: group {group!r} needs as many runs on every task (runs per task: {told})")
    return [list(row) for row in zip(*(per_task[t] for t in tasks))]


def markdown(result: dict) -> str:
    """The table of ``compare.json``: IQM, mean, median, optimality gap with 95% CIs (and P(improvement))."""

    def cell(v: dict) -> str:
        return f"{v['value']:.3f} [{v['low']:.3f}, {v['high']:.3f}]"

    has_poi = any("probability_of_improvement" in g for g in result["groups"].values())
    poi_head = [f"P(> {result['baseline']})"] if has_poi else []

    def poi(v: dict) -> list[str]:
        if not has_poi:
            return []
        return [cell(v["probability_of_improvement"]) if "probability_of_improvement" in v else "baseline"]

    head = ["group", "runs", "IQM", "mean", "median", "optimality gap"] + poi_head
    over = f", tasks {', '.join(result['tasks'])} (stratified)" if result.get("tasks") else ""
    lines = [f"{result['metric']}: point estimate [95% stratified-bootstrap CI], {result['reps']} resamples{over}", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g, v in result["groups"].items():
        row = [g, str(v["runs"]), cell(v["iqm"]), cell(v["mean"]), cell(v["median"]), cell(v["optimality_gap"])]
        lines.append("| " + " | ".join(row + poi(v)) + " |")
    if result.get("tasks"):
        head = ["task", "group", "runs", "IQM", "mean"] + poi_head
        lines += ["", "Per task:", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for t in result["tasks"]:
            for g, v in result["groups"].items():
                p = v["per_task"][t]
                lines.append("| " + " | ".join([t, g, str(p["runs"]), cell(p["iqm"]), cell(p["mean"]), *poi(p)]) + " |")
    return "\n".join(lines) + "\n"
