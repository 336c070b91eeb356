"""Experiment trackers as loggers (``log.loggers: [csv, wandb, mlflow]``), through Lightning's own loggers.

``wandb`` logs offline into ``<run>/wandb/`` unless there is a key (``WANDB_API_KEY``, or ``wandb login``)
or ``WANDB_MODE`` says otherwise; ``wandb sync <run>/wandb/offline-run-*`` uploads it later. The project is
``WANDB_PROJECT`` (default ``intarsia``). ``mlflow`` writes a file store in ``<run>/mlruns/`` unless
``MLFLOW_TRACKING_URI`` names a server; the experiment is ``MLFLOW_EXPERIMENT_NAME`` (default ``intarsia``).
Each shows the run under its ``name`` (a Trainer fit's as ``name/fit``), with the config as hyperparameters.
A resumed run is a new run in either tracker.
"""

from __future__ import annotations

import os
from pathlib import Path

from intarsia.errors import ConfigError


def wandb_logger(*, run_dir: Path, name: str, fit: str | None, resume_step: int | None):
    """Lightning's ``WandbLogger``: offline without a key, quiet on the console, ended when the run ends."""
    _require("wandb", "wandb")
    import wandb
    from lightning.pytorch.loggers import WandbLogger

    class FinishingWandbLogger(WandbLogger):
        """``WandbLogger`` whose run ends with the job: another run in this process would reuse an open one."""

        _finished = False

        def finalize(self, status: str) -> None:
            super().finalize(status)
            self.finish(status)

        def finish(self, status: str) -> None:
            if self._experiment is not None and not self._finished:
                self._finished = True
                self._experiment.finish(exit_code=0 if status == "success" else 1)

    offline = "WANDB_MODE" not in os.environ and not _wandb_key()
    logger = FinishingWandbLogger(
        name=_title(name, fit), save_dir=str(run_dir), project=os.environ.get("WANDB_PROJECT", "intarsia"),
        # console="off": the run's own progress line stays as it is (wandb would wrap stdout)
        settings=wandb.Settings(quiet=True, console="off", x_disable_stats=True),
        **({"mode": "offline"} if offline else {}))
    logger._wandb_init.pop("anonymous", None)  # Lightning passes it; wandb warns that it has no effect
    return logger


def mlflow_logger(*, run_dir: Path, name: str, fit: str | None, resume_step: int | None):
    """Lightning's ``MLFlowLogger`` on ``file:<run>/mlruns`` (or ``MLFLOW_TRACKING_URI``)."""
    _require("mlflow", "mlflow")
    from lightning.pytorch.loggers import MLFlowLogger

    class FinishingMLFlowLogger(MLFlowLogger):
        """``MLFlowLogger`` that marks its run FAILED when the job fails (Lightning ends it only on success)."""

        _finished = False

        def finalize(self, status: str = "success") -> None:
            self._finished = True
            super().finalize(status)

        def finish(self, status: str) -> None:
            if self._initialized and not self._finished:
                self.finalize(status)

    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"file:{(Path(run_dir) / 'mlruns').resolve()}"
    if uri.startswith("file:"):
        # MLflow 3 refuses a file store unless told; it is the one that needs no database package
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return FinishingMLFlowLogger(experiment_name=os.environ.get("MLFLOW_EXPERIMENT_NAME", "intarsia"),
                                 run_name=_title(name, fit), tracking_uri=uri)


def _title(name: str, fit: str | None) -> str:
    return f"{name}/{fit}" if fit else name


def _require(module: str, extra: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise ConfigError(f"log.loggers: {extra!r} needs the {module} package: "
                          f"pip install 'intarsia-core[{extra}]'") from None


def _wandb_key() -> bool:
    """Whether W&B has a key here: ``WANDB_API_KEY``, or the netrc entry ``wandb login`` writes."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    import netrc

    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False
