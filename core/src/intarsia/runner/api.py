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

from intarsia.build import using_registry
from intarsia.config import apply_overrides, extend, load_raw, resolve, resolved_raw, to_yaml
from intarsia.errors import ConfigError, IntarsiaError
from intarsia.runner.context import RunContext, finish_report
from intarsia.runner.quiet import quiet_third_party
from intarsia.runner.run_dir import LOCK_NAME, RunDirLock, atomic_write, make_run_dir, remove_stale_temporaries
from intarsia.runner.status import write_status

RUN_DIR_ENV = "INTARSIA_RUN_DIR"  # set for DDP children so every rank writes to one run directory
# The pid of the process that set RUN_DIR_ENV. A run honours RUN_DIR_ENV only in that process (a job running
# another job in-process) or its direct children (the DDP ranks it launches): a value left in a shell or
# set by anyone else is ignored, so it can never aim a run at another run's folder past its checks.
RUN_DIR_OWNER_ENV = "INTARSIA_RUN_DIR_OWNER"


def inherited_run_dir() -> str | None:
    """The run directory this process was started in by the runner itself, else None."""
    path, owner = os.environ.get(RUN_DIR_ENV), os.environ.get(RUN_DIR_OWNER_ENV, "")
    if not path or owner not in (str(os.getpid()), str(os.getppid())):
        return None
    return path


def _set_inherited(path: str | None, owner: str | None) -> None:
    for key, value in ((RUN_DIR_ENV, path), (RUN_DIR_OWNER_ENV, owner)):
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _folder_name(name: str) -> str:
    """``name`` as one folder inside ``log.dir`` (``/`` becomes ``-``); never a way out of it."""
    folder = name.replace("/", "-").replace("\\", "-")
    if folder in ("", ".", "..") or "\0" in folder:
        raise ConfigError(f"name: {name!r} cannot be a run folder's name (runs go to <log.dir>/<name>/<time>)")
    return folder


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
    inherited = inherited_run_dir()
    if inherited:
        return Path(inherited)
    root = Path(str(raw.get("log", {}).get("dir", "runs"))) if hasattr(raw, "get") else Path("runs")
    name = _folder_name(str(raw.get("name", "run")))
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


def execute(raw, job_name: str, config: Any, run_dir: Path, *, resume: bool, registry=None,
            force: bool = False) -> dict:
    """Run a resolved job in ``run_dir`` and write ``report.json`` there.

    Rank 0 holds the run directory's lock for the whole job, so a second ``run`` or ``resume`` into the same
    directory fails at once instead of interleaving with this one. On a resume, a changed config reaches
    ``config.yaml`` only once the job accepted it (:meth:`RunContext.confirm_config`) or finished: a resume
    that fails (say, an override that does not fit the checkpoint) leaves the run as it was.

    A new run into a folder that already holds files of something else (not a run of this same config)
    needs ``force``: the run would overwrite a ``config.yaml`` or ``report.json`` that is not its own.
    """
    registry = _registry(registry)
    quiet_third_party()
    run_dir = Path(run_dir)
    # a DDP child, or a job that runs another job in-process (Motif's pipeline); set by this runner only
    outer = inherited_run_dir()
    before = os.environ.get(RUN_DIR_ENV), os.environ.get(RUN_DIR_OWNER_ENV)
    lock = RunDirLock(run_dir)
    if _is_rank_zero():
        make_run_dir(run_dir)
        lock.acquire()
    try:
        cfg_file = run_dir / "config.yaml"
        if not resume and outer is None and cfg_file.exists() and (run_dir / "checkpoints").exists():
            raise IntarsiaError(f"run directory {str(run_dir)!r} already holds a run: use `intarsia resume {run_dir}`"
                                " or choose another directory")
        text = to_yaml(raw)
        if not resume and outer is None and not force and _is_rank_zero():
            _check_fresh(run_dir, cfg_file, text)
        if _is_rank_zero():
            remove_stale_temporaries(run_dir)
        pending = None
        if _is_rank_zero():
            if not resume or not cfg_file.exists():
                atomic_write(cfg_file, text)
            elif cfg_file.read_text(encoding="utf-8") != text:
                pending = text
        job = registry.get("jobs", job_name).load_factory()
        ctx = RunContext(dir=run_dir, resume=resume, raw_config=raw, registry=registry, pending_config=pending)
        # DDP children re-executing the command find it (and check it was this process that set it)
        _set_inherited(str(run_dir.resolve()), before[1] if outer is not None else str(os.getpid()))
        if _is_rank_zero():
            write_status(run_dir, "running", job=job_name)
        try:
            with using_registry(registry):
                report = job(config, run=ctx)
            ctx.finish_loggers("success")
        except BaseException as exc:
            ctx.finish_loggers("failed")
            if _is_rank_zero():
                state = "interrupted" if isinstance(exc, (KeyboardInterrupt, SystemExit)) else "failed"
                write_status(run_dir, state, job=job_name, error=_first_line(exc))
            raise
        finally:
            _set_inherited(*before)
        ctx.confirm_config()
        report = finish_report(report, config=config, raw=raw, job=job_name, run_dir=run_dir)
        if _is_rank_zero():
            atomic_write(run_dir / "report.json", json.dumps(report, indent=2, default=_jsonable))
            write_status(run_dir, "finished", job=job_name, steps=report.get("steps"))
        return report
    finally:
        lock.release()


def run_config(source, overrides: Iterable[str] = (), *, run_dir: str | Path | None = None, registry=None,
               force: bool = False) -> dict:
    """Run a config given as a recipe name, a YAML path, a mapping or a DictConfig; returns the report.
    ``force`` lets the run use a ``run_dir`` that holds other files (see :func:`execute`)."""
    raw, job_name, config = prepare(source, overrides, registry)
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(raw)
    return execute(raw, job_name, config, run_dir, resume=False, registry=registry, force=force)


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


_OURS = {LOCK_NAME}  # what the lock itself adds to the folder


def _check_fresh(run_dir: Path, cfg_file: Path, text: str) -> None:
    """Refuse a new run into a folder holding anything but an unfinished run of this same config."""
    try:
        entries = [p.name for p in run_dir.iterdir() if p.name not in _OURS]
    except OSError:
        return  # make_run_dir already said what is wrong with it
    if not entries:
        return
    try:
        same = cfg_file.is_file() and not cfg_file.is_symlink() and cfg_file.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        same = False
    if not same:
        raise IntarsiaError(f"--run-dir {str(run_dir)!r} is not empty and holds no run of this config "
                            f"({', '.join(sorted(entries)[:3])}{', ...' if len(entries) > 3 else ''}): choose "
                            "another (or a new) folder, or pass --force to write the run there anyway")


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
