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
    pending_config: str | None = None
    """a resume's changed config (YAML), written to ``config.yaml`` by :meth:`confirm_config`"""

    @property
    def checkpoints(self) -> Path:
        return self.dir / "checkpoints"

    def confirm_config(self) -> None:
        """Write a resume's changed config to ``config.yaml``. A job calls this once the run's state has
        loaded under the new config (so a resume that fails leaves the old file); the runner calls it
        again after the job returns, for jobs that do not."""
        if self.pending_config is not None:
            from intarsia.runner.run_dir import atomic_write

            atomic_write(self.dir / "config.yaml", self.pending_config)
            self.pending_config = None
