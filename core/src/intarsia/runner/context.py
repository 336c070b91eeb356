"""What a job receives besides its config."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunContext:
    dir: Path
    """the run directory (config.yaml, checkpoints/, logs/, report.json, plots)"""
    resume: bool = False
    """continue from what ``dir`` holds instead of starting afresh"""
    raw_config: Any = None
    """the untyped config (after overrides) that produced this run, as written to config.yaml"""
    registry: Any = None
    """the registry components are built from"""
    extra: dict = field(default_factory=dict)

    @property
    def checkpoints(self) -> Path:
        return self.dir / "checkpoints"
