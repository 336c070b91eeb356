"""The metric loggers of a Fabric run (``logs/metrics.csv`` and ``tensorboard/``), both kept across
``intarsia resume``.

A resumed run logs again every step after its last checkpoint. The CSV logger drops the rows past that step
(:mod:`intarsia.runner.metrics_csv`); the TensorBoard logger writes a purge marker at the step after it, so
TensorBoard hides the events a killed run wrote past its checkpoint instead of drawing them twice.
"""

from __future__ import annotations

from pathlib import Path


def make_loggers(tensorboard: bool, run_dir: Path) -> list:
    from intarsia.runner.metrics_csv import ResumableCSVLogger

    # flush every log call: a long run's metrics.csv is readable while it runs
    loggers = [ResumableCSVLogger(root_dir=str(run_dir), name="logs", version="", flush_logs_every_n_steps=1)]
    if tensorboard:
        try:
            import tensorboard as _  # noqa: F401  (optional dependency)
        except ImportError:
            return loggers
        loggers.append(_resumable_tensorboard_logger()(root_dir=str(run_dir), name="tensorboard", version=""))
    return loggers


def resume_loggers(fabric, step: int | None) -> None:
    """Tell every logger the step the run resumed from (None: a fresh run). Call before the first log."""
    for logger in fabric.loggers:
        if hasattr(logger, "resume_from"):
            logger.resume_from(step)


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
