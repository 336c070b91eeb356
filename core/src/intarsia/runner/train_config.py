"""Config of the core's ``train`` job (cheap to import: no torch, no lightning)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from intarsia.config import component


@dataclass
class FabricConfig:
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
    every: int = 10_000
    """env steps between checkpoints (0: only at the end)"""
    keep: int = 2
    """checkpoints kept on disk (oldest removed first)"""


@dataclass
class EvalConfig:
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
    log: LogConfig = field(default_factory=LogConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
