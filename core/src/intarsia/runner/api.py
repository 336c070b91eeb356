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

from intarsia.config import apply_overrides, extend, load_raw, resolve, resolved_raw, to_yaml
from intarsia.errors import ConfigError, IntarsiaError
from intarsia.runner.context import RunContext, finish_report
from intarsia.runner.quiet import quiet_third_party
from intarsia.runner.run_dir import RunDirLock, atomic_write, make_run_dir, remove_stale_temporaries
from intarsia.runner.status import write_status

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
        raw = extend(source.copy(), registry)
    else:
        raw = extend(OmegaConf.create(dict(source)), registry)
    raw = apply_overrides(raw, overrides)
    job_name, config = resolve(raw, registry)
    # every default filled in: what config.yaml holds and --show-config prints
    return resolved_raw(raw, job_name, config), job_name, config


def new_run_dir(raw) -> Path:
    inherited = os.environ.get(RUN_DIR_ENV)
    if inherited:
        return Path(inherited)
    root = Path(str(raw.get("log", {}).get("dir", "runs"))) if hasattr(raw, "get") else Path("runs")
    name = str(raw.get("name", "run")).replace("/", "-")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    make_run_dir(root / name)
    path, n = root / name / stamp, 1
    while True:  # created here, exclusively: two runs started in the same second get different folders
        try:
            path.mkdir()
            return path
        except FileExistsError:
            n += 1
            path = root / name / f"{stamp}-{n}"


def execute(raw, job_name: str, config: Any, run_dir: Path, *, resume: bool, registry=None) -> dict:
    """Run a resolved job in ``run_dir`` and write ``report.json`` there.

    Rank 0 holds the run directory's lock for the whole job, so a second ``run`` or ``resume`` into the same
    directory fails at once instead of interleaving with this one. On a resume, a changed config reaches
    ``config.yaml`` only once the job accepted it (:meth:`RunContext.confirm_config`) or finished: a resume
    that fails (say, an override that does not fit the checkpoint) leaves the run as it was.
    """
    registry = _registry(registry)
    quiet_third_party()
    run_dir = Path(run_dir)
    outer = os.environ.get(RUN_DIR_ENV)  # a DDP child, or a job that runs another job in-process (Motif's pipeline)
    lock = RunDirLock(run_dir)
    if _is_rank_zero():
        make_run_dir(run_dir)
        lock.acquire()
    try:
        cfg_file = run_dir / "config.yaml"
        if not resume and outer is None and cfg_file.exists() and (run_dir / "checkpoints").exists():
            raise IntarsiaError(f"run directory {str(run_dir)!r} already holds a run: use `intarsia resume {run_dir}`"
                                " or choose another directory")
        if _is_rank_zero():
            remove_stale_temporaries(run_dir)
        text = to_yaml(raw)
        pending = None
        if _is_rank_zero():
            if not resume or not cfg_file.exists():
                atomic_write(cfg_file, text)
            elif cfg_file.read_text(encoding="utf-8") != text:
                pending = text
        job = registry.get("jobs", job_name).load_factory()
        ctx = RunContext(dir=run_dir, resume=resume, raw_config=raw, registry=registry, pending_config=pending)
        os.environ[RUN_DIR_ENV] = str(run_dir.resolve())  # DDP children re-executing the command find it
        if _is_rank_zero():
            write_status(run_dir, "running", job=job_name)
        try:
            report = job(config, run=ctx)
            ctx.finish_loggers("success")
        except BaseException as exc:
            ctx.finish_loggers("failed")
            if _is_rank_zero():
                state = "interrupted" if isinstance(exc, (KeyboardInterrupt, SystemExit)) else "failed"
                write_status(run_dir, state, job=job_name, error=_first_line(exc))
            raise
        finally:
            if outer is None:
                os.environ.pop(RUN_DIR_ENV, None)
            else:
                os.environ[RUN_DIR_ENV] = outer
        ctx.confirm_config()
        report = finish_report(report, config=config, raw=raw, job=job_name, run_dir=run_dir)
        if _is_rank_zero():
            atomic_write(run_dir / "report.json", json.dumps(report, indent=2, default=_jsonable))
            write_status(run_dir, "finished", job=job_name, steps=report.get("steps"))
        return report
    finally:
        lock.release()


def run_config(source, overrides: Iterable[str] = (), *, run_dir: str | Path | None = None, registry=None) -> dict:
    """Run a config given as a recipe name, a YAML path, a mapping or a DictConfig; returns the report."""
    raw, job_name, config = prepare(source, overrides, registry)
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(raw)
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
    return execute(raw, job_name, config, run_dir, resume=True, registry=registry)


def _is_rank_zero() -> bool:
    return int(os.environ.get("LOCAL_RANK", "0")) == 0 and int(os.environ.get("NODE_RANK", "0")) == 0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def _jsonable(obj: Any):
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)
