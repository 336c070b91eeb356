"""Checkpoints: one file per rank per step, written atomically; ``latest.json`` names the last complete one.

A checkpoint becomes visible only after every rank's file is on disk (rank 0 writes ``latest.json`` after
a barrier), so a run killed mid-write resumes from the previous checkpoint. Files hold tensors, numbers,
strings and containers only and are loaded with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from intarsia.errors import IntarsiaError


def _rank_file(folder: Path, step: int, rank: int) -> Path:
    return folder / f"step-{step:012d}.rank{rank}.pt"


def save(folder: Path, step: int, rank: int, state: dict) -> None:
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    target = _rank_file(folder, step, rank)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, target)


def commit(folder: Path, step: int, world_size: int, keep: int) -> None:
    """Rank 0, after a barrier: mark ``step`` complete and prune old checkpoints."""
    tmp = folder / f".latest.json.tmp{os.getpid()}"
    tmp.write_text(json.dumps({"step": step, "world_size": world_size}))
    os.replace(tmp, folder / "latest.json")
    steps = sorted({int(p.name.split(".")[0].split("-")[1]) for p in folder.glob("step-*.rank*.pt")})
    for old in steps[:-keep] if keep > 0 else []:
        for p in folder.glob(f"step-{old:012d}.rank*.pt"):
            p.unlink(missing_ok=True)


def latest(folder: Path) -> dict | None:
    marker = folder / "latest.json"
    if not marker.exists():
        return None
    try:
        return json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise IntarsiaError(f"cannot read checkpoint marker {marker}: {exc}") from exc


def load(folder: Path, step: int, rank: int, world_size: int) -> dict:
    import torch

    path = _rank_file(folder, step, rank)
    if not path.exists():
        if world_size > 1 or not _rank_file(folder, step, 0).exists():
            raise IntarsiaError(f"checkpoint {path} is missing (was the run resumed with a different number of devices?)")
        path = _rank_file(folder, step, 0)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise IntarsiaError(f"cannot load checkpoint {path}: {exc}") from exc
