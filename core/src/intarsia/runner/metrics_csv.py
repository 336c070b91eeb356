"""``logs/metrics.csv`` that survives ``intarsia resume``.

Lightning's CSV logger deletes an existing ``metrics.csv`` when it starts writing, which on a resume threw
away every row logged before the crash. :class:`ResumableCSVLogger` is that logger with one change: told
the step a run resumed from (:meth:`ResumableCSVLogger.resume_from`), it keeps the rows logged up to that
step (everything the checkpoint had seen, once) and drops the rest — the rows a killed run wrote after its
last checkpoint, which the resumed run logs again — and a torn last line. New rows are appended after them.
"""

from __future__ import annotations

import csv
import io
import os

from lightning.fabric.loggers import CSVLogger
from lightning.fabric.loggers.csv_logs import _ExperimentWriter


def rows_up_to(path: str, step: int) -> tuple[list[str], list[dict]]:
    """The header and the complete rows of a metrics CSV whose ``step`` is at most ``step``."""
    if not os.path.isfile(path):
        return [], []
    with open(path, newline="", encoding="utf-8") as fh:
        text = fh.read()
    if text and not text.endswith("\n"):  # a row torn by a kill mid-write
        text = text[: text.rfind("\n") + 1]
    reader = csv.DictReader(io.StringIO(text))
    header = list(reader.fieldnames or [])
    kept = []
    for row in reader:
        if None in row or None in row.values():  # too many or too few fields: torn
            continue
        try:
            row_step = int(float(row.get("step", "")))
        except ValueError:
            continue
        if row_step <= step:
            kept.append(row)
    return header, kept


class _KeepRows:
    """Mixed into a Lightning CSV experiment writer: keep the rows up to ``_keep_until`` instead of deleting."""

    _keep_until: int | None = None

    def _check_log_dir_exists(self) -> None:  # called by __init__, where the stock writer deletes the file
        if self._keep_until is None:
            return super()._check_log_dir_exists()
        header, rows = rows_up_to(self.metrics_file_path, self._keep_until)
        if not rows:
            if os.path.isfile(self.metrics_file_path):
                os.remove(self.metrics_file_path)
            return None
        tmp = f"{self.metrics_file_path}.tmp{os.getpid()}"
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, self.metrics_file_path)
        self.metrics_keys = header  # appended rows use this header; new keys make the writer rewrite it
        return None


class _KeepingWriter(_KeepRows, _ExperimentWriter):
    def __init__(self, log_dir: str, keep_until: int | None):
        self._keep_until = keep_until
        super().__init__(log_dir)


def _experiment(logger, stock_experiment, make_writer):
    """The ``experiment`` property of both resumable loggers: rank 0 builds ``make_writer(log_dir)``, which
    keeps the rows; other ranks get the stock experiment (they write nothing)."""
    if logger._experiment is None:
        from lightning.fabric.utilities.rank_zero import rank_zero_only

        if rank_zero_only.rank > 0:
            return stock_experiment()
        logger._fs.makedirs(logger._root_dir, exist_ok=True)
        logger._experiment = make_writer(logger.log_dir)
    return logger._experiment


def trainer_csv_logger(save_dir: str, name: str = "logs", *, resume_step: int | None = None):
    """A Lightning *Trainer* ``CSVLogger`` at ``<save_dir>/<name>/metrics.csv`` that, given the step a fit
    resumes from (the checkpoint's ``global_step``), keeps the rows up to it instead of deleting the file.
    For jobs on the Trainer; Fabric jobs use :class:`ResumableCSVLogger`."""
    from lightning.pytorch.loggers import CSVLogger as TrainerCSVLogger
    from lightning.pytorch.loggers.csv_logs import ExperimentWriter

    class KeepingTrainerWriter(_KeepRows, ExperimentWriter):
        def __init__(self, log_dir: str):
            self._keep_until = resume_step
            super().__init__(log_dir)

    class ResumableTrainerCSVLogger(TrainerCSVLogger):
        @property
        def experiment(self):
            return _experiment(self, lambda: super(ResumableTrainerCSVLogger, self).experiment, KeepingTrainerWriter)

    return ResumableTrainerCSVLogger(save_dir, name=name, version="")


def checkpoint_global_step(path) -> int | None:
    """The ``global_step`` a Lightning Trainer checkpoint was saved at (None if it cannot be read)."""
    from intarsia.safe_load import load_torch_file

    try:
        return int(load_torch_file(path, what="checkpoint")["global_step"])
    except Exception:  # an unreadable checkpoint fails loudly in the fit itself; here it only means "fresh"
        return None


class ResumableCSVLogger(CSVLogger):
    """Lightning Fabric's ``CSVLogger`` that keeps the rows of the run it resumes."""

    _keep_until: int | None = None

    def resume_from(self, step: int | None) -> None:
        """Keep the rows up to ``step`` (None: keep none, as a fresh run does). Call before the first log."""
        if self._experiment is not None:
            raise RuntimeError("resume_from() must be called before anything is logged")
        self._keep_until = step

    def log_hyperparams(self, params) -> None:
        """Nothing: the run's config.yaml holds them (Fabric's CSV logger refuses hyperparameters)."""

    @property
    def experiment(self):
        return _experiment(self, lambda: super(ResumableCSVLogger, self).experiment,
                           lambda log_dir: _KeepingWriter(log_dir, self._keep_until))
