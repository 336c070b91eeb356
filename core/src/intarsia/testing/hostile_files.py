"""Damaged and hostile torch files, for testing that a loader refuses them with one line.

A hostile file is what ``torch.save`` writes for an object whose unpickling would call a function (here:
create a marker file); a loader that honours ``weights_only=True`` refuses it and the marker never appears.
"""

from __future__ import annotations

from pathlib import Path


class _Hostile:
    """Unpickling this calls ``Path.touch(marker)``: code a weights-only load must never run."""

    def __init__(self, marker: Path):
        self.marker = Path(marker)

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def write_hostile_torch_file(path: str | Path, payload: dict | None = None) -> Path:
    """Write ``payload`` (default: a format-less dict) with an object whose unpickling creates a file;
    returns that marker file's path (it must not exist after a safe load)."""
    import torch

    path = Path(path)
    marker = path.with_name(path.name + ".unpickled")
    torch.save({**(payload or {}), "hostile": _Hostile(marker)}, path)
    return marker


def write_truncated_torch_file(path: str | Path, payload: dict, keep: float = 0.5) -> None:
    """Write ``payload`` with ``torch.save`` and keep only the first ``keep`` of its bytes."""
    import torch

    path = Path(path)
    torch.save(payload, path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def assert_one_line_refusal(exc: BaseException, path: str | Path) -> str:
    """The error names the file on one line and does not suggest ``weights_only=False``."""
    msg = str(exc)
    assert len(msg.splitlines()) == 1, msg
    assert Path(path).name in msg, msg
    assert "weights_only" not in msg, msg
    return msg
