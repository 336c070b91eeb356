"""The run context a job receives: the one run lifecycle every job shares.

A job factory is ``factory(config, *, run)``; ``run`` is a :class:`RunContext`. Through it a job gets
Fabric from the ``fabric:`` section (:meth:`RunContext.launch_fabric`) or a Lightning Trainer from the same
section (:meth:`RunContext.trainer`, :meth:`RunContext.fit`), saves and restores checkpoints in one store
(:meth:`~RunContext.save`, :meth:`~RunContext.restore`), runs resumable stages (:meth:`~RunContext.stage`) and
child runs (:meth:`~RunContext.child`), shows the one progress bar (:meth:`~RunContext.progress`) and returns
the one report schema (:meth:`~RunContext.report`). A job written on these is resumable by ``intarsia resume``
without code of its own for it.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from intarsia.errors import IntarsiaError

REPORT_SCHEMA = 1


@dataclass
class RunContext:
    dir: Path
    """the run directory (config.yaml, checkpoints/, logs/, stages/, report.json, plots)"""
    resume: bool = False
    """continue from what ``dir`` holds instead of starting afresh"""
    raw_config: Any = None
    """the untyped config (after overrides) that produced this run, as written to config.yaml"""
    registry: Any = None
    """the registry components are built from"""
    extra: dict = field(default_factory=dict)
    pending_config: str | None = None
    """a resume's changed config (YAML), written to ``config.yaml`` by :meth:`confirm_config`"""
    fabric: Any = None
    """the Fabric :meth:`launch_fabric` made (None before, and for Trainer jobs)"""
    loggers: list = field(default_factory=list)
    """every logger this run made (Fabric's and each Trainer's), ended by :meth:`finish_loggers`"""
    started: float = field(default_factory=time.perf_counter)

    @property
    def checkpoints(self) -> Path:
        return self.dir / "checkpoints"

    def confirm_config(self) -> None:
        """Write a resume's changed config to ``config.yaml``. :meth:`restore` calls this once the run's state
        has loaded under the new config (so a resume that fails leaves the old file); the runner calls it again
        after the job returns, for jobs that restore nothing."""
        if self.pending_config is not None:
            from intarsia.runner.run_dir import atomic_write

            atomic_write(self.dir / "config.yaml", self.pending_config)
            self.pending_config = None

    # -- where to run ---------------------------------------------------------------------------------
    def launch_fabric(self, config: Any, *, loggers: bool = True):
        """Fabric from ``config.fabric`` with the run's loggers, launched (DDP processes start here), torch's
        thread count from ``config.cpu_threads``, and every rank seeded with ``config.seed + rank``."""
        _set_threads(config)
        from intarsia.runner.fabric import make_fabric

        fabric = make_fabric(config, self.dir, loggers=loggers, registry=self.registry)
        self.loggers.extend(fabric.loggers)
        fabric.launch()
        fabric.seed_everything(int(config.seed) + fabric.global_rank, verbose=False)
        self.fabric = fabric
        return fabric

    # -- checkpoints (Fabric jobs) --------------------------------------------------------------------
    def save(self, fabric, step: int, payload: Mapping[str, Any], *, keep: int = 2, folder: Path | None = None) -> None:
        """Save a checkpoint at ``step`` (every rank calls this): each rank's ``payload`` plus the global RNG
        state, then rank 0 marks it complete and prunes all but the newest ``keep``. The payload holds
        tensors, numbers, strings and containers only (it is loaded with ``weights_only=True``)."""
        from intarsia.rng_state import capture_global_rng
        from intarsia.runner import checkpoint as ckpt

        folder = Path(folder) if folder is not None else self.checkpoints
        ckpt.save(folder, int(step), fabric.global_rank, {**payload, "step": int(step), "rng": capture_global_rng()})
        fabric.barrier()
        if fabric.global_rank == 0:
            ckpt.commit(folder, int(step), fabric.world_size, keep)
        fabric.barrier()

    def restore(self, fabric, load: Callable[[dict], None] | None = None, *, folder: Path | None = None) -> dict | None:
        """On a resume, the newest checkpoint every rank can load (falling back past damaged files), given to
        ``load(state)`` to put back into the job's objects; then the global RNG state is restored, the loggers
        are told the step (so ``metrics.csv`` and TensorBoard keep only what the checkpoint had seen), then
        given the run's config as hyperparameters, and a resume's changed config is confirmed (only now: a resume whose state does not fit leaves config.yaml
        as it was). Returns the saved payload plus ``step``, or ``None`` on a fresh run or when nothing was
        saved yet. A ``load`` that fails (a changed model size) becomes one line naming the checkpoint."""
        from intarsia.rng_state import restore_global_rng
        from intarsia.runner.fabric import one_line
        from intarsia.runner.loggers import log_config, resume_loggers

        folder = Path(folder) if folder is not None else self.checkpoints
        state = _newest_loadable(fabric, folder) if self.resume else None
        if state is not None:
            if load is not None:
                try:
                    load(state)
                except (RuntimeError, KeyError, ValueError, TypeError) as exc:
                    raise IntarsiaError(
                        f"the checkpoint at step {int(state['step'])} in {folder} does not fit this config "
                        f"({one_line(exc)}); resume without the overrides that change the model, or start a new run"
                    ) from None
            restore_global_rng(state["rng"])
            fabric.print(f"resumed from step {int(state['step'])} ({folder})")
        resume_loggers(fabric, int(state["step"]) if state is not None else None)
        log_config(fabric.loggers, self.raw_config)
        self.confirm_config()
        return state

    # -- supervised pieces (Lightning Trainer) ---------------------------------------------------------
    def trainer(self, config: Any, *, name: str | None = None, every: int | None = None, callbacks: Iterable = (),
                **kwargs):
        """A ``lightning.Trainer`` on ``config.fabric``'s accelerator, devices, strategy, precision and nodes,
        logging to ``config.log.loggers`` (``logs[/name]/metrics.csv``, kept across a resume, and the others,
        given the run's config as hyperparameters) and checkpointing into the run's one
        store (``checkpoints[/name]/``) every ``every`` optimizer steps (default ``config.checkpoint.every``;
        0: every epoch) and at the end. Fit it with :meth:`fit`, which resumes it. ``kwargs`` go to the
        Trainer (``max_epochs``, ``max_steps``, ``max_time``, ``log_every_n_steps``, …)."""
        import lightning as L

        _set_threads(config)
        from intarsia.runner.fabric import trainer_settings
        from intarsia.runner.loggers import log_config, logger_names, make_loggers
        from intarsia.runner.trainer_store import StoreCheckpoint, newest_trainer_checkpoint

        folder = self.checkpoints / name if name else self.checkpoints
        resume_from = newest_trainer_checkpoint(folder) if self.resume else None
        loggers = make_loggers(logger_names(config), self.dir, name=str(getattr(config, "name", "run")),
                               fit=name or "", resume_step=resume_from[0] if resume_from else None,
                               registry=self.registry)
        log_config(loggers, self.raw_config)
        self.loggers.extend(loggers)
        ck = getattr(config, "checkpoint", None)
        every = int(getattr(ck, "every", 0) or 0) if every is None else int(every)
        store = StoreCheckpoint(folder, every=every, keep=int(getattr(ck, "keep", 2) or 2))
        # the store callback is the one checkpointer: Lightning's own ModelCheckpoint is switched off
        settings = {**trainer_settings(config), "logger": loggers or False, "enable_progress_bar": False,
                    "enable_checkpointing": False, "enable_model_summary": False, "num_sanity_val_steps": 0, **kwargs}
        settings["callbacks"] = [store, *callbacks]
        trainer = L.Trainer(**settings)
        trainer.intarsia_resume_from = resume_from[1] if resume_from else None
        self.extra["trainer"] = trainer  # the report's world_size and the progress bar's rank
        return trainer

    def fit(self, trainer, module, train_dataloaders=None, val_dataloaders=None, **kwargs):
        """``trainer.fit``, continuing from the newest complete checkpoint :meth:`trainer` found on a resume."""
        path = getattr(trainer, "intarsia_resume_from", None)
        if path is not None:
            print(f"resuming the fit from {path}", file=sys.stderr)
        self.confirm_config()
        if path is not None:
            kwargs.setdefault("weights_only", True)
        return trainer.fit(module, train_dataloaders, val_dataloaders, ckpt_path=str(path) if path else None, **kwargs)

    def finish_loggers(self, status: str) -> None:
        """End the open sessions of this run's loggers (a W&B run): the runner calls this when the job
        returns (``"success"``) or fails (``"failed"``)."""
        from intarsia.runner.loggers import finish_loggers

        finish_loggers(self.loggers, status)

    # -- stages and child runs -------------------------------------------------------------------------
    def stage(self, name: str, fn: Callable[[], dict]) -> dict:
        """Run ``fn`` (returning a JSON-able dict) as the stage ``name`` unless it already finished: its result
        and seconds are written to ``stages/<name>.json``, and a resumed run returns that instead."""
        return self._stages().run(name, fn)

    def stage_done(self, name: str) -> dict | None:
        """The recorded result of a finished stage, or ``None``."""
        return self._stages().done(name)

    def stage_seconds(self) -> dict[str, float]:
        """Wall seconds of every finished stage, by name (from the markers: sessions before a resume count)."""
        out = {}
        root = self.dir / "stages"
        for path in sorted(root.glob("*.json")) if root.is_dir() else []:
            try:
                out[path.stem] = float(json.loads(path.read_text()).get("seconds", 0.0))
            except (OSError, ValueError, AttributeError):
                continue
        return out

    def _stages(self):
        from intarsia.runner.stages import Stages

        if "stages" not in self.extra:
            job = str(self.raw_config.get("job", "")) if hasattr(self.raw_config, "get") else ""
            self.extra["stages"] = Stages(self.dir, prefix=job)
        return self.extra["stages"]

    def child(self, name: str, config: Mapping[str, Any]) -> dict:
        """A nested run in ``<run dir>/<name>``: returns its report when it already finished, resumes it when
        it has checkpoints, starts it otherwise. ``config`` is a plain config mapping (``job``, ``name``, …
        as a recipe holds it); the child inherits nothing implicitly. A child still to run is refused (one
        line) when it, or this run, would use several processes: DDP's launcher would re-run the outer job."""
        from intarsia.runner.api import resume_run, run_config

        if "/" in name or name in ("", ".", ".."):
            raise IntarsiaError(f"child run name {name!r} must be a plain folder name")
        root = self.dir / name
        if (root / "report.json").is_file():
            return json.loads((root / "report.json").read_text())
        from intarsia.runner.fabric import refuse_nested_multiprocess

        refuse_nested_multiprocess(name, config.get("fabric"), outer=self.fabric.world_size if self.fabric else 1)
        if (root / "config.yaml").is_file() and (root / "checkpoints").is_dir():
            return resume_run(root, registry=self.registry)
        return run_config(dict(config), run_dir=root, registry=self.registry)

    def _runner(self):
        """What runs the job's processes: its Fabric, else its last Trainer (None before either)."""
        return self.fabric if self.fabric is not None else self.extra.get("trainer")

    # -- progress and report ---------------------------------------------------------------------------
    def progress(self, total: int, *, done: int = 0, description: str = "", unit: str = "steps",
                 enabled: bool = True):
        """The rich progress bar (rank 0 only; off when ``enabled`` is false or INTARSIA_NO_PROGRESS is set)."""
        from intarsia.runner.progress import Progress

        rank = self._runner().global_rank if self._runner() is not None else _env_rank()
        return Progress(total=total, done=done, description=description, unit=unit, enabled=enabled and rank == 0)

    def report(self, *, steps: int, unit: str, metrics: Mapping[str, Any], training: Mapping[str, Any] | None = None,
               artifacts: Iterable[str] = (), seconds: float | None = None, **sections: Any) -> dict:
        """The report in the one schema (the runner completes ``recipe``, ``job``, ``name``, ``seed`` and
        ``meta`` from the config, and keeps only the artifacts that exist):

        ``steps`` and ``step_unit`` (what a step is: ``"env steps"``, ``"iterations"``, ``"optimizer steps"``),
        ``seconds`` (default: this session's wall time), ``world_size``, ``metrics`` (the headline numbers,
        flat name -> number), ``training`` (other statistics), ``artifacts`` (files in the run directory),
        and any job-specific ``sections``."""
        world = self._runner().world_size if self._runner() is not None else 1
        out = {"schema": REPORT_SCHEMA, "steps": int(steps), "step_unit": str(unit),
               "seconds": round(float(seconds if seconds is not None else time.perf_counter() - self.started), 2),
               "world_size": int(world), "metrics": dict(metrics), "training": dict(training or {}),
               "artifacts": [str(a) for a in artifacts]}
        clash = set(sections) & set(out)
        if clash:
            raise IntarsiaError(f"report sections {sorted(clash)} clash with the schema's own keys")
        out.update(sections)
        return out


def finish_report(report: Mapping[str, Any], *, config: Any, raw: Any, job: str, run_dir: Path) -> dict:
    """What the runner writes to ``report.json``: the job's report with the run's identity filled in, the
    schema's keys present, and only the artifacts that exist."""
    out = dict(report or {})
    out.setdefault("schema", REPORT_SCHEMA)
    out["recipe"] = str(out.get("recipe") or getattr(config, "recipe", "") or (raw.get("recipe", "") if hasattr(raw, "get") else ""))
    out["job"] = job
    for key in ("name", "seed"):
        if key not in out and hasattr(config, key):
            out[key] = getattr(config, key)
    meta = getattr(config, "meta", None)
    if "meta" not in out:
        out["meta"] = _plain(meta) if meta else {}
    out["run_dir"] = str(run_dir)
    out.setdefault("metrics", {})
    out.setdefault("training", {})
    out["artifacts"] = [a for a in out.get("artifacts", []) if (Path(run_dir) / str(a)).exists()]
    first = ("schema", "recipe", "job", "name", "seed", "steps", "step_unit", "seconds", "world_size", "metrics")
    return {**{k: out[k] for k in first if k in out}, **{k: v for k, v in out.items() if k not in first}}


def report_problems(report: Mapping[str, Any]) -> list[str]:
    """What keeps ``report`` from the one schema (empty when it conforms). Used by tests of every recipe."""
    import numbers

    problems = []
    for key, kind in (("schema", int), ("recipe", str), ("job", str), ("steps", int), ("step_unit", str),
                      ("seconds", numbers.Real), ("world_size", int), ("metrics", dict), ("training", dict),
                      ("artifacts", list), ("run_dir", str)):
        if key not in report:
            problems.append(f"missing {key!r}")
        elif not isinstance(report[key], kind) or isinstance(report[key], bool):
            problems.append(f"{key!r} is {type(report[key]).__name__}, expected {kind.__name__}")
    for name, value in (report.get("metrics") or {}).items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
            problems.append(f"metrics[{name!r}] is {type(value).__name__}, expected a number")
    return problems


def _plain(value: Any) -> Any:
    try:
        from omegaconf import OmegaConf

        if OmegaConf.is_config(value):
            return OmegaConf.to_container(value, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    return dict(value) if isinstance(value, Mapping) else value


def _set_threads(config: Any) -> None:
    threads = int(getattr(config, "cpu_threads", 0) or 0)
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def _env_rank() -> int:
    import os

    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) or 0)


def _newest_loadable(fabric, folder: Path) -> dict | None:
    """The newest checkpoint every rank can load, falling back past damaged files (None: nothing saved)."""
    import torch

    from intarsia.runner import checkpoint as ckpt

    rank, world = fabric.global_rank, fabric.world_size
    steps, note = ckpt.candidates(folder)
    if note and rank == 0:
        print(f"warning: {note}", file=sys.stderr)
    failures = []
    for step in steps:
        try:
            state, ok = ckpt.load(folder, step, rank, world), 1.0
        except IntarsiaError as exc:
            state, ok = None, 0.0
            failures.append(str(exc))
        if world > 1:  # every rank must resume from the same step
            ok = float(fabric.all_reduce(torch.tensor(ok), reduce_op="sum")) / world
        if ok == 1.0:
            if failures and rank == 0:
                print(f"warning: {failures[0]}; resuming from the older checkpoint at step {step}", file=sys.stderr)
            state.setdefault("step", step)
            return state
    if failures:
        raise IntarsiaError(f"no checkpoint in {folder} can be loaded ({failures[0]}); "
                            "start a new run (or restore the files from a copy)")
    return None
