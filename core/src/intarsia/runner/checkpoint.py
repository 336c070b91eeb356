"""Checkpoints: one file per rank per step, written atomically; ``latest.json`` names the last complete one.

A checkpoint becomes visible only after every rank's file is on disk (rank 0 writes ``latest.json`` after
a barrier), so a run killed mid-write resumes from the previous checkpoint. :func:`candidates` lists what
a resume may try, best first: when the newest file is damaged (a full disk, a copy cut short) the runner
falls back to the older one kept beside it, and a lost ``latest.json`` falls back to the newest files. Files hold tensors, numbers,
strings and containers only and are loaded with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from intarsia.errors import IntarsiaError


def _rank_file(folder: Path, step: int, rank: int) -> Path:
    return folder / f"step-{step:012d}.rank{rank}.pt"


def trainer_file(folder: Path, step: int) -> Path:
    """A Lightning Trainer checkpoint in the same store (one file for all ranks: Lightning writes it on rank 0)."""
    return folder / f"step-{step:012d}.trainer.ckpt"


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
    steps = [s for s in steps_on_disk(folder) if s <= step]  # newer files: uncommitted leftovers, overwritten later
    for old in steps[:-keep] if keep > 0 else []:
        for p in folder.glob(f"step-{old:012d}.*"):
            if p.suffix in (".pt", ".ckpt"):
                p.unlink(missing_ok=True)


def latest(folder: Path) -> dict | None:
    """What ``latest.json`` says, or None when it is missing or unreadable (see :func:`candidates`)."""
    marker = folder / "latest.json"
    try:
        data = json.loads(marker.read_text())
        return data if isinstance(data, dict) and isinstance(data.get("step"), int) else None
    except (OSError, ValueError):
        return None


def steps_on_disk(folder: Path) -> list[int]:
    """Steps with at least one rank (or Trainer) file, oldest first."""
    steps = set()
    for p in folder.glob("step-*"):
        if p.suffix not in (".pt", ".ckpt") or ".tmp" in p.name:
            continue
        try:
            steps.add(int(p.name.split(".")[0].split("-")[1]))
        except (IndexError, ValueError):
            continue
    return sorted(steps)


def candidates(folder: Path) -> tuple[list[int], str]:
    """Steps a resume should try, best first, and a note when ``latest.json`` could not guide the choice.

    With a readable marker: its step, then the older kept ones (newer files are uncommitted writes of a
    killed run). Without one: every step on disk, newest first."""
    on_disk = steps_on_disk(folder) if folder.is_dir() else []
    marker = latest(folder)
    if marker is not None:
        step = marker["step"]
        return [step] + [s for s in reversed(on_disk) if s < step], ""
    if not on_disk:
        return [], ""
    state = "unreadable" if (folder / "latest.json").exists() else "missing"
    return list(reversed(on_disk)), f"{folder / 'latest.json'} is {state}; using the newest checkpoint files"


def load(folder: Path, step: int, rank: int, world_size: int) -> dict:
    import torch

    path = _rank_file(folder, step, rank)
    if not path.exists():
        if world_size > 1 or not _rank_file(folder, step, 0).exists():
            raise IntarsiaError(f"checkpoint {path} is missing (was the run resumed with a different number of devices?)")
        path = _rank_file(folder, step, 0)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch's messages run to many lines: the first sentence says what is wrong
        reason = " ".join(str(exc).split()).split(". ")[0][:200]
        raise IntarsiaError(f"cannot load checkpoint {path}: {type(exc).__name__}: {reason}") from exc
