"""The config every job extends: :class:`RunConfig` and its typed sections (cheap to import: no torch).

A job's config is a dataclass that extends :class:`RunConfig` and sets its own ``job`` default::

    @dataclass
    class GFNJobConfig(RunConfig):
        job: str = "gfn"
        iterations: int = 1000
        \"\"\"training iterations (one update() each)\"\"\"

so ``fabric:`` (where and how to run), ``log:``, ``checkpoint:`` and ``eval:`` are spelled and mean the same
in every job. A job that needs more in a section extends that section's class and redeclares the field
(``log: GFNLogConfig = field(default_factory=GFNLogConfig)``). ``checkpoint.every`` and ``eval.every``
count in the job's own step unit (env steps, iterations, optimizer steps), the one its report names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any


@dataclass
class FabricConfig:
    """Where and how to run: Lightning's accelerator, devices, strategy, precision and nodes. Every job reads
    this one section, whether it drives Lightning Fabric (RL loops, samplers) or the Trainer (supervised
    pieces)."""

    accelerator: str = "auto"
    """"cpu", "gpu", "cuda", "mps", or "auto" (a GPU when there is one)"""
    devices: Any = 1
    """number of devices per node (or "auto"); >1 with strategy "ddp" trains data-parallel"""
    strategy: str = "auto"
    """"auto", "ddp", "ddp_spawn", "fsdp", … (Lightning strategies)"""
    precision: str = "32-true"
    """"32-true", "bf16-mixed", "16-mixed", … (Lightning precision plugins)"""
    num_nodes: int = 1
    """nodes for multi-node DDP"""


@dataclass
class LogConfig:
    """Metric logging (the loggers: CSV, TensorBoard, W&B, MLflow, a plugin's), the run directory's root and the
    report's statistics window."""

    every: int = 1000
    """steps (in the job's step unit) between metric logs"""
    dir: str = "runs"
    """root of run directories: <dir>/<name>/<timestamp>/"""
    window: int = 100
    """episodes in the rolling statistics of the report (RL jobs)"""
    progress: bool = True
    """show a rich progress bar (rank 0)"""
    tensorboard: bool = True
    """false drops "tensorboard" from ``loggers`` (the older switch, kept working)"""
    loggers: list[str] = field(default_factory=lambda: ["csv", "tensorboard"])
    """the metric loggers, by name (``intarsia list loggers``): "csv" (logs/metrics.csv, which the report and
    plots read), "tensorboard" (tensorboard/, when installed), "wandb" (W&B, offline under wandb/ when
    WANDB_API_KEY is unset), "mlflow" (a file store in mlruns/ unless MLFLOW_TRACKING_URI is set), or a
    plugin's. Each receives every logged metric and the run's config as hyperparameters"""


@dataclass
class CheckpointConfig:
    """How often checkpoints are written and how many are kept."""

    every: int = 10_000
    """steps (in the job's step unit) between checkpoints (0: only at the end; for a Trainer fit, every
    epoch and at the end)"""
    keep: int = 2
    """checkpoints kept on disk (oldest removed first)"""


@dataclass
class EvalConfig:
    """Evaluation on rank 0, during the run and/or at its end."""

    every: int = 0
    """steps (in the job's step unit) between evaluations on rank 0 (0: none during the run)"""
    episodes: int = 10
    """episodes per evaluation (RL jobs)"""
    final: bool = False
    """evaluate once more at the end"""
    seed: int = -1
    """seed of the evaluation env's episodes (-1: derived from the run's seed); set it to evaluate every run of
    a comparison on the same episodes (the same goals, the same start states)"""


@dataclass
class RunConfig:
    """What every job's config holds: its identity, seed, and the ``fabric``/``log``/``checkpoint``/``eval``
    sections the run lifecycle reads."""

    job: str = "train"
    """the job that runs this config"""
    name: str = "run"
    """run name: the folder under log.dir"""
    recipe: str = ""
    """recipe or file this config came from (filled in automatically)"""
    seed: int = 0
    """base seed; rank r seeds torch, numpy and python with seed + r"""
    meta: dict[str, Any] | None = None
    """free-form notes (a recipe's caveats), copied into the report"""
    cpu_threads: int = 0
    """torch intra-op threads per process (0: torch's default). Small networks run fastest with 1; several
    processes sharing a few cores (DDP on CPU, parallel runs) need it to avoid oversubscription"""
    fabric: FabricConfig = field(default_factory=FabricConfig)
    """where and how to run: Lightning's accelerator, devices, strategy, precision, num_nodes"""
    log: LogConfig = field(default_factory=LogConfig)
    """metric logging (the loggers), the run directory's root, the report's statistics window"""
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    """how often checkpoints are written and how many are kept"""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """evaluation on rank 0 (during the run and/or at its end)"""
    launcher: dict[str, Any] | None = None
    """where ``intarsia sweep`` runs this config's runs: ``name`` (local, slurm) and that launcher's settings
    (``workers``; ``partition``, ``time``, ``cpus``, ``gpus``, ``mem``, ``account``, ``setup``); a run ignores it"""

    def __post_init__(self) -> None:
        # A ValueError here becomes a one-line config error naming the key (intarsia.config.merge_into).
        check_sections(self)


def check_sections(config: Any) -> None:
    """Bounds of the lifecycle sections (``cpu_threads``, ``log``, ``checkpoint``, ``eval``, ``fabric``)."""
    at_least(config, "cpu_threads", 0)
    for section in ("log", "checkpoint", "eval"):
        part = getattr(config, section, None)
        if part is None or not is_dataclass(part):
            continue
        for f in fields(part):
            value = getattr(part, f.name)
            if isinstance(value, int) and not isinstance(value, bool):
                low = {("log", "window"): 1, ("eval", "seed"): -1}.get((section, f.name), 0)
                at_least(part, f.name, low, prefix=f"{section}.")
    fab = getattr(config, "fabric", None)
    if fab is not None:
        at_least(fab, "num_nodes", 1, prefix="fabric.")
        if isinstance(fab.devices, int) and not isinstance(fab.devices, bool) and fab.devices < 1 and fab.devices != -1:
            raise ValueError(f"fabric.devices: must be >= 1 (or -1 / \"auto\"), got {fab.devices}")


def at_most(obj: Any, name: str, high: float, prefix: str = "") -> None:
    """``obj.name <= high`` or a ``ValueError`` naming the key (a sane upper bound: ``steps``, ``num_envs``)."""
    value = getattr(obj, name, None)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > high:
        raise ValueError(f"{prefix}{name}: must be <= {high:g}, got {value:g}")


def check_values(obj: Any, *, positive: tuple[str, ...] = (), non_negative: tuple[str, ...] = (),
                 probabilities: tuple[str, ...] = (), prefix: str = "") -> None:
    """The bounds a plugin config's ``__post_init__`` checks, each a ``ValueError`` naming the key (which the
    loader turns into a one-line config error): every float field finite; ``positive`` fields > 0 (a list
    field: every entry); ``non_negative`` fields >= 0; ``probabilities`` in [0, 1]."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{prefix}{f.name}: must be a finite number, got {value}")
    for name in positive:
        value = getattr(obj, name)
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, (int, float)) and not isinstance(item, bool) and not item > 0:
                raise ValueError(f"{prefix}{name}: must be > 0, got {value}")
    for name in non_negative:
        at_least(obj, name, 0, prefix)
    for name in probabilities:
        value = getattr(obj, name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not 0.0 <= value <= 1.0:
            raise ValueError(f"{prefix}{name}: must be a probability in [0, 1], got {value}")


def at_least(obj: Any, name: str, low: float, prefix: str = "") -> None:
    """``obj.name >= low`` or a ``ValueError`` naming the key (ints and floats; non-finite floats refused)."""
    value = getattr(obj, name, None)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{prefix}{name}: must be a finite number, got {value}")
    if value < low:
        raise ValueError(f"{prefix}{name}: must be >= {low}, got {value}")
