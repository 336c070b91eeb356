"""The metric loggers of a run, by name (``log.loggers``): the builtin ``csv`` (``logs/metrics.csv``) and
``tensorboard`` (``tensorboard/``), both kept across ``intarsia resume``, the trackers in
:mod:`intarsia.runner.trackers`, and any a plugin registers (``register_loggers``).

A resumed run logs again every step after its last checkpoint. The CSV logger drops the rows past that step
(:mod:`intarsia.runner.metrics_csv`); the TensorBoard logger writes a purge marker at the step after it, so
TensorBoard hides the events a killed run wrote past its checkpoint instead of drawing them twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from intarsia.errors import ConfigError, UnknownComponentError


def logger_names(config: Any) -> list[str]:
    """``config.log.loggers`` in order, each once, without "tensorboard" when ``log.tensorboard`` is false."""
    log = getattr(config, "log", None)
    names = list(getattr(log, "loggers", ["csv", "tensorboard"]) or [])
    if not getattr(log, "tensorboard", True):
        names = [n for n in names if n != "tensorboard"]
    return list(dict.fromkeys(str(n) for n in names))


def make_loggers(names: Iterable[str], run_dir: Path, *, name: str = "run", fit: str | None = None,
                 resume_step: int | None = None, registry=None) -> list:
    """The loggers ``names`` for a Fabric job (``fit=None``) or a Trainer fit (see the ``register_loggers``
    hook's contract); an unknown name is one line naming ``log.loggers`` and the loggers there are."""
    if registry is None:
        from intarsia.plugins import get_registry

        registry = get_registry()
    out = []
    for logger_name in names:
        try:
            factory = registry.get("loggers", logger_name).load_factory()
        except UnknownComponentError as exc:
            raise ConfigError(f"log.loggers: {exc}") from None
        logger = factory(run_dir=Path(run_dir), name=name, fit=fit, resume_step=resume_step)
        if logger is not None:
            out.append(logger)
    return out


def resume_loggers(fabric, step: int | None) -> None:
    """Tell every logger the step the run resumed from (None: a fresh run). Call before the first log."""
    for logger in fabric.loggers:
        if hasattr(logger, "resume_from"):
            logger.resume_from(step)


def log_config(loggers: Iterable, raw_config: Any) -> None:
    """Give every logger the run's config (as written to config.yaml) as its hyperparameters: what W&B and
    MLflow show beside the metrics. Call after :func:`resume_loggers` (the first write opens a logger)."""
    params = _plain(raw_config)
    if not params:
        return
    for logger in loggers:
        logger.log_hyperparams(params)


def finish_loggers(loggers: Iterable, status: str) -> None:
    """End the open sessions of the loggers that hold one (a W&B run): ``"success"`` or ``"failed"``."""
    for logger in loggers:
        finish = getattr(logger, "finish", None)
        if callable(finish):
            finish(status)


def _plain(raw_config: Any) -> dict:
    try:
        from omegaconf import OmegaConf

        if OmegaConf.is_config(raw_config):
            return dict(OmegaConf.to_container(raw_config, resolve=True))
    except ImportError:  # pragma: no cover
        pass
    return dict(raw_config) if isinstance(raw_config, Mapping) else {}


# -- the builtin factories (registered in intarsia.builtin.plugin) ------------------------------------------
def csv_logger(*, run_dir: Path, name: str, fit: str | None, resume_step: int | None):
    """``logs[/<fit>]/metrics.csv``, flushed on every log call (a long run's file is readable while it runs)."""
    from intarsia.runner.metrics_csv import ResumableCSVLogger, trainer_csv_logger

    if fit is not None:
        log_root = run_dir / "logs" / fit if fit else run_dir / "logs"
        return trainer_csv_logger(str(log_root.parent), log_root.name, resume_step=resume_step)
    return ResumableCSVLogger(root_dir=str(run_dir), name="logs", version="", flush_logs_every_n_steps=1)


def tensorboard_logger(*, run_dir: Path, name: str, fit: str | None, resume_step: int | None):
    """``tensorboard[/<fit>]/``, or None when tensorboard is not installed (it is in the default list)."""
    try:
        import tensorboard as _  # noqa: F401  (optional dependency)
    except ImportError:
        return None
    if fit is not None:
        from lightning.pytorch.loggers import TensorBoardLogger

        return TensorBoardLogger(str(run_dir), name="tensorboard", version=fit, default_hp_metric=False)
    return _resumable_tensorboard_logger()(root_dir=str(run_dir), name="tensorboard", version="",
                                          default_hp_metric=False)


def _resumable_tensorboard_logger():
    from lightning.fabric.loggers import TensorBoardLogger

    class ResumableTensorBoardLogger(TensorBoardLogger):
        """Lightning Fabric's ``TensorBoardLogger`` that hides what a killed run logged past its checkpoint."""

        def resume_from(self, step: int | None) -> None:
            if self._experiment is not None:
                raise RuntimeError("resume_from() must be called before anything is logged")
            if step is not None:
                # SummaryWriter(purge_step=T) hides every event at step >= T logged before this session;
                # the checkpoint had seen the events at its own step, so they stay
                self._kwargs["purge_step"] = step + 1

    return ResumableTensorBoardLogger
