"""Config of the core's ``train`` job (cheap to import: no torch, no lightning)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from intarsia.config import component


@dataclass
class FabricConfig:
    """Where and how to run: Lightning Fabric's accelerator, devices, strategy and precision."""

    accelerator: str = "auto"
    """"cpu", "gpu", "cuda", "mps", or "auto" (a GPU when there is one)"""
    devices: Any = 1
    """number of devices per node (or "auto"); >1 with strategy "ddp" trains data-parallel"""
    strategy: str = "auto"
    """"auto", "ddp", "ddp_spawn", "fsdp", … (Lightning Fabric strategies)"""
    precision: str = "32-true"
    """"32-true", "bf16-mixed", "16-mixed", …"""
    num_nodes: int = 1
    """nodes for multi-node DDP"""


@dataclass
class LogConfig:
    """Metric logging (CSV, TensorBoard), the run directory's root and the report's statistics window."""

    every: int = 1000
    """env steps between metric logs"""
    dir: str = "runs"
    """root of run directories: <dir>/<name>/<timestamp>/"""
    window: int = 100
    """episodes in the rolling statistics of the report"""
    progress: bool = True
    """show a rich progress bar (rank 0)"""
    tensorboard: bool = True
    """also log to TensorBoard when it is installed"""


@dataclass
class CheckpointConfig:
    """How often checkpoints are written and how many are kept."""

    every: int = 10_000
    """env steps between checkpoints (0: only at the end)"""
    keep: int = 2
    """checkpoints kept on disk (oldest removed first)"""


@dataclass
class EvalConfig:
    """Greedy evaluation episodes on rank 0, during training and/or at the end."""

    every: int = 0
    """env steps between greedy evaluations on rank 0 (0: none during training)"""
    episodes: int = 10
    """episodes per evaluation"""
    final: bool = False
    """evaluate once more at the end of training"""


@dataclass
class TrainConfig:
    job: str = "train"
    """the job that runs this config"""
    name: str = "run"
    """run name: the folder under log.dir"""
    recipe: str = ""
    """recipe or file this config came from (filled in automatically)"""
    seed: int = 0
    """base seed; rank r's env i is seeded with seed + r * num_envs + i"""
    steps: int = 10_000
    """total env steps, summed over envs and ranks"""
    num_envs: int = 1
    """environments per rank"""
    cpu_threads: int = 0
    """torch intra-op threads per process (0: torch's default). Small RL networks run fastest with 1;
    several processes sharing a few cores (DDP on CPU, parallel jobs) need it to avoid oversubscription"""
    vector: str = "sync"
    """gymnasium vector env: "sync" (one process) or "async" (a process per env)"""
    env: Any = component("envs")
    """the env: {name: REGISTERED_ENV, ...its config fields}"""
    policy: Any = component("policies")
    """the agent: {name: REGISTERED_POLICY, ...its config fields}"""
    rewards: list = component("rewards", many=True, reserved={"coef": 1.0, "label": None})
    """extra reward terms: [{name: REGISTERED_REWARD, coef: 1.0, label: optional term name, ...its fields}]"""
    extrinsic_coef: float = 1.0
    """weight of the environment's own reward in the summed reward"""
    fabric: FabricConfig = field(default_factory=FabricConfig)
    """where and how to run: Lightning Fabric's accelerator, devices, strategy, precision"""
    log: LogConfig = field(default_factory=LogConfig)
    """metric logging (CSV, TensorBoard), the run directory's root, the report's statistics window"""
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    """how often checkpoints are written and how many are kept"""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """greedy evaluation episodes on rank 0 (during training and/or at the end)"""

    def __post_init__(self) -> None:
        # A ValueError here becomes a one-line config error naming the key (intarsia.config.merge_into).
        _at_least(self, "steps", 0)
        _at_least(self, "num_envs", 1)
        _at_least(self, "cpu_threads", 0)
        if self.vector not in ("sync", "async"):
            raise ValueError(f"vector: expected 'sync' or 'async', got {self.vector!r}")
        for section, name, low in ((self.log, "every", 0), (self.log, "window", 1), (self.checkpoint, "every", 0),
                                   (self.checkpoint, "keep", 0), (self.eval, "every", 0), (self.eval, "episodes", 0)):
            _at_least(section, name, low, prefix=f"{_SECTIONS[type(section)]}.")


_SECTIONS = {LogConfig: "log", CheckpointConfig: "checkpoint", EvalConfig: "eval"}


def _at_least(obj: Any, name: str, low: int, prefix: str = "") -> None:
    value = getattr(obj, name, None)
    if isinstance(value, int) and value < low:
        raise ValueError(f"{prefix}{name}: must be >= {low}, got {value}")
