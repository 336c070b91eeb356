"""Programmatic entry points: what ``intarsia run`` and ``intarsia resume`` call.

>>> report = run_recipe("builtin/qlearning-grid", overrides=["steps=2000"], run_dir="runs/try")
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from intarsia.config import apply_overrides, load_raw, resolve, to_yaml
from intarsia.errors import ConfigError, IntarsiaError
from intarsia.runner.context import RunContext

RUN_DIR_ENV = "INTARSIA_RUN_DIR"  # set for DDP children so every rank writes to one run directory


def _registry(registry=None):
    if registry is not None:
        return registry
    from intarsia.plugins import get_registry

    return get_registry()


def prepare(source: str | Mapping | Any, overrides: Iterable[str] = (), registry=None):
    """Load + override + resolve. Returns ``(raw, job_name, config)``; raises on any bad key or name."""
    from omegaconf import DictConfig, OmegaConf

    registry = _registry(registry)
    if isinstance(source, (str, os.PathLike)):
        raw = load_raw(str(source), registry)
    elif isinstance(source, DictConfig):
        raw = source.copy()
    else:
        raw = OmegaConf.create(dict(source))
    raw = apply_overrides(raw, overrides)
    job_name, config = resolve(raw, registry)
    return raw, job_name, config


def new_run_dir(raw) -> Path:
    inherited = os.environ.get(RUN_DIR_ENV)
    if inherited:
        return Path(inherited)
    root = Path(str(raw.get("log", {}).get("dir", "runs"))) if hasattr(raw, "get") else Path("runs")
    name = str(raw.get("name", "run")).replace("/", "-")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / name / stamp
    n = 1
    while path.exists():
        n += 1
        path = root / name / f"{stamp}-{n}"
    return path


def execute(raw, job_name: str, config: Any, run_dir: Path, *, resume: bool, registry=None) -> dict:
    """Run a resolved job in ``run_dir`` and write ``report.json`` there."""
    registry = _registry(registry)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    outer = os.environ.get(RUN_DIR_ENV)  # a job that runs another job in-process (Motif's pipeline)
    os.environ[RUN_DIR_ENV] = str(run_dir.resolve())  # DDP children re-executing the command find it
    cfg_file = run_dir / "config.yaml"
    if not resume or not cfg_file.exists():
        if _is_rank_zero():
            _atomic_write(cfg_file, to_yaml(raw))
    job = registry.get("jobs", job_name).load_factory()
    ctx = RunContext(dir=run_dir, resume=resume, raw_config=raw, registry=registry)
    try:
        report = job(config, run=ctx)
    finally:
        if outer is None:
            os.environ.pop(RUN_DIR_ENV, None)
        else:
            os.environ[RUN_DIR_ENV] = outer
    report = dict(report or {})
    report.setdefault("recipe", str(raw.get("recipe", "")))
    report.setdefault("run_dir", str(run_dir))
    if _is_rank_zero():
        _atomic_write(run_dir / "report.json", json.dumps(report, indent=2, default=_jsonable))
    return report


def run_config(source, overrides: Iterable[str] = (), *, run_dir: str | Path | None = None, registry=None) -> dict:
    """Run a config given as a recipe name, a YAML path, a mapping or a DictConfig; returns the report."""
    raw, job_name, config = prepare(source, overrides, registry)
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(raw)
    if (run_dir / "config.yaml").exists() and (run_dir / "checkpoints").exists() and not os.environ.get(RUN_DIR_ENV):
        raise IntarsiaError(f"run directory {str(run_dir)!r} already holds a run: use `intarsia resume {run_dir}`"
                            " or choose another directory")
    return execute(raw, job_name, config, run_dir, resume=False, registry=registry)


run_recipe = run_config


def resume_run(run_dir: str | Path, overrides: Iterable[str] = (), *, registry=None) -> dict:
    """Continue the run in ``run_dir`` from its last checkpoint (its config.yaml, plus ``overrides``
    such as ``steps=…`` to extend it)."""
    run_dir = Path(run_dir)
    cfg_file = run_dir / "config.yaml"
    if not cfg_file.is_file():
        raise ConfigError(f"{str(run_dir)!r} is not a run directory (no config.yaml)")
    raw, job_name, config = prepare(str(cfg_file), overrides, registry)
    if overrides and _is_rank_zero():
        _atomic_write(cfg_file, to_yaml(raw))
    return execute(raw, job_name, config, run_dir, resume=True, registry=registry)


def _is_rank_zero() -> bool:
    return int(os.environ.get("LOCAL_RANK", "0")) == 0 and int(os.environ.get("NODE_RANK", "0")) == 0


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _jsonable(obj: Any):
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)
