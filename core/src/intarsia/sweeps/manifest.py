"""``sweep.yaml``: what a sweep runs (recipe, overrides, grid, seeds, launcher) and each run's folder and state.

The manifest is rewritten (atomically) whenever a run changes state, but it is never the source of truth for
whether a run finished: :func:`disk_state` reads that from the run folder itself (``report.json`` is written
last, once the job returned), so a launcher killed with ``kill -9`` between a run's end and the manifest's
next write loses nothing on ``intarsia sweep --resume``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from intarsia.errors import ConfigError
from intarsia.runner.run_dir import atomic_write

MANIFEST = "sweep.yaml"
STATES = ("pending", "running", "done", "failed")


@dataclass
class RunEntry:
    """One (grid point, seed) of a sweep."""

    dir: str
    """the run folder, relative to the sweep folder"""
    point: dict[str, str]
    """the grid values of this run (key -> override value)"""
    seed: int
    """the run's seed"""
    state: str = "pending"
    """pending, running, done or failed"""
    attempts: int = 0
    """how many times the run was started (a resume from a checkpoint counts)"""
    error: str = ""
    """the last line of a failed attempt's log"""
    job_id: str = ""
    """the SLURM job id of the last attempt (slurm launcher)"""


@dataclass
class Manifest:
    """A sweep: its inputs and its runs."""

    name: str
    """the swept config's ``name``"""
    recipe: str
    """the recipe name or YAML file the runs start from"""
    overrides: list[str]
    """overrides given to every run"""
    grid: dict[str, list[str]]
    """grid axes: key -> values"""
    seeds: list[int]
    """the seeds, run at every grid point"""
    launcher: dict[str, Any]
    """the launcher's name and settings"""
    created: str = ""
    """when the sweep started (UTC)"""
    runs: list[RunEntry] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for r in self.runs:
            out[r.state] = out.get(r.state, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["counts"] = self.counts()
        return out


def write(sweep_dir: Path, manifest: Manifest) -> None:
    import yaml

    atomic_write(Path(sweep_dir) / MANIFEST, yaml.safe_dump(manifest.to_dict(), sort_keys=False))


def read(sweep_dir: Path) -> Manifest:
    import yaml

    path = Path(sweep_dir) / MANIFEST
    if not path.is_file():
        raise ConfigError(f"{str(sweep_dir)!r} is not a sweep folder (no {MANIFEST})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        runs = [RunEntry(**r) for r in data.pop("runs", [])]
        data.pop("counts", None)
        return Manifest(**data, runs=runs)
    except (yaml.YAMLError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path} is not a readable sweep manifest ({str(exc).splitlines()[0]})") from None


def disk_state(run_dir: Path) -> str:
    """What the run folder says: ``done`` (report.json), ``checkpointed`` (a checkpoint to resume from) or
    ``fresh`` (nothing to keep: start it again)."""
    run_dir = Path(run_dir)
    if (run_dir / "report.json").is_file():
        return "done"
    ckpts = run_dir / "checkpoints"
    if ckpts.is_dir() and any(p.suffix in (".pt", ".ckpt") for p in ckpts.rglob("*") if p.is_file()):
        return "checkpointed"  # a step file (never a temporary: those end in .tmp<pid>)
    return "fresh"
