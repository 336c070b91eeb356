"""Checkpoints: one file per rank per step, written atomically; ``latest.json`` names the last complete one.

A checkpoint becomes visible only after every rank's file is on disk (rank 0 writes ``latest.json`` after
a barrier), so a run killed mid-write resumes from the previous checkpoint. :func:`candidates` lists what
a resume may try, best first: when the newest file is damaged (a full disk, a copy cut short) the runner
falls back to the older one kept beside it, and a lost ``latest.json`` falls back to the newest files. Files hold tensors, numbers,
strings and containers only and are loaded with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from intarsia.errors import IntarsiaError
from intarsia.runner.run_dir import write_new_file


def _rank_file(folder: Path, step: int, rank: int) -> Path:
    return folder / f"step-{step:012d}.rank{rank}.pt"


def trainer_file(folder: Path, step: int) -> Path:
    """A Lightning Trainer checkpoint in the same store (one file for all ranks: Lightning writes it on rank 0)."""
    return folder / f"step-{step:012d}.trainer.ckpt"


def save(folder: Path, step: int, rank: int, state: dict) -> None:
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    target = _rank_file(folder, step, rank)
    buf = io.BytesIO()
    torch.save(state, buf)
    write_new_file(target, buf.getvalue())


def commit(folder: Path, step: int, world_size: int, keep: int) -> None:
    """Rank 0, after a barrier: mark ``step`` complete and prune old checkpoints."""
    write_new_file(folder / "latest.json", json.dumps({"step": step, "world_size": world_size}).encode())
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
    from intarsia.safe_load import load_torch_file

    path = _rank_file(folder, step, rank)
    if not path.exists():
        if world_size > 1 or not _rank_file(folder, step, 0).exists():
            raise IntarsiaError(f"checkpoint {path} is missing (was the run resumed with a different number of devices?)")
        path = _rank_file(folder, step, 0)
    return load_torch_file(path, what="checkpoint")  # an IntarsiaError: the resume falls back to an older step
