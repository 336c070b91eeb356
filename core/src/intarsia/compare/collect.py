"""The runs ``intarsia compare`` reads: every folder with a ``report.json`` under the given folders, grouped,
with each run's final score and learning curve."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from intarsia.errors import ConfigError


@dataclass
class Run:
    dir: Path
    group: str
    score: float
    curve: list[tuple[float, float]] = field(default_factory=list)
    task: str | None = None
    """``key=value`` of the ``--task`` config key (runs of one task are stratified together)"""


def _lookup(tree: dict, key: str):
    node = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def score_of(report: dict, run_dir: Path, metric: str) -> float | None:
    """``metric`` from the report (``metrics``, ``training``, top level), else the last value in metrics.csv."""
    for section in (report.get("metrics") or {}, report.get("training") or {}, report):
        value = section.get(metric) if isinstance(section, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    curve = curve_of(run_dir, metric)
    return curve[-1][1] if curve else None


def curve_of(run_dir: Path, column: str) -> list[tuple[float, float]]:
    path = Path(run_dir) / "logs" / "metrics.csv"
    if not path.is_file():
        return []
    out = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                out.append((float(row["step"]), float(row[column])))
            except (KeyError, TypeError, ValueError):
                continue
    return out


def collect(dirs: list[str | Path], metric: str, *, by: str | None = None, curve: str | None = None,
            task: str | None = None) -> list[Run]:
    """Every finished run under ``dirs``. Groups: the value of config key ``by`` (``key=value``), else each
    given folder is a group (named for its folder; a sweep's grid point is added to the name). ``task``: a
    config key whose value names each run's task (``env.n`` -> ``env.n=50``)."""
    import yaml

    runs = []
    for top in dirs:
        top = Path(top)
        if not top.is_dir():
            raise ConfigError(f"compare: {str(top)!r} is not a folder")
        reports = sorted(top.rglob("report.json"))
        if not reports:
            raise ConfigError(f"compare: no finished run (report.json) under {str(top)!r}")
        label = top.name if not top.name.startswith("sweep-") else f"{top.parent.name}/{top.name}"
        for rep in reports:
            run_dir = rep.parent
            report = yaml.safe_load(rep.read_text(encoding="utf-8"))
            score = score_of(report, run_dir, metric)
            if score is None:
                raise ConfigError(f"compare: {run_dir} has no metric {metric!r} (report.json metrics: "
                                  f"{', '.join(sorted(report.get('metrics') or {})) or 'none'})")
            cfg_file = run_dir / "config.yaml"
            config = (yaml.safe_load(cfg_file.read_text(encoding="utf-8")) if cfg_file.is_file() else None) or {}
            if task and _lookup(config, task) is None:
                raise ConfigError(f"compare: {run_dir} has no config key {task!r} (--task)")
            if by:
                group = f"{by}={_lookup(config, by)}"
            else:
                inner = run_dir.relative_to(top).parent
                # with --task the sweep point is the task: the folder alone is the group
                group = label if task or str(inner) in (".", "") else f"{label} {inner}"
            runs.append(Run(dir=run_dir, group=group, score=score, curve=curve_of(run_dir, curve) if curve else [],
                            task=f"{task}={_lookup(config, task)}" if task else None))
    return runs
