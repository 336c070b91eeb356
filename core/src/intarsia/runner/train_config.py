"""Config of the core's ``train`` job (cheap to import: no torch, no lightning)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intarsia.config import component
from intarsia.runner.run_config import (  # noqa: F401  (re-exported: where these lived before RunConfig)
    CheckpointConfig,
    EvalConfig,
    FabricConfig,
    LogConfig,
    RunConfig,
    at_least,
    at_most,
    check_values,
)

MAX_STEPS = 10**12
"""more env steps than any run could take: a larger ``steps`` is a typo"""
MAX_ENVS = 10**5
"""more envs per rank than one machine holds"""


@dataclass
class TrainConfig(RunConfig):
    """The ``train`` job: a policy in vectorised gymnasium envs, rewards composed from named terms."""

    job: str = "train"
    """the job that runs this config"""
    seed: int = 0
    """base seed; rank r's env i is seeded with seed + r * num_envs + i"""
    steps: int = 10_000
    """total env steps, summed over envs and ranks"""
    num_envs: int = 1
    """environments per rank"""
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

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least(self, "steps", 0)
        at_most(self, "steps", MAX_STEPS)
        at_least(self, "num_envs", 1)
        at_most(self, "num_envs", MAX_ENVS)
        check_values(self)  # extrinsic_coef finite
        if self.vector not in ("sync", "async"):
            raise ValueError(f"vector: expected 'sync' or 'async', got {self.vector!r}")
