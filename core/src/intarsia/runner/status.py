"""``status.json`` of a run folder: whether the run is running, finished, failed or was interrupted.

The runner writes ``running`` when the job starts, ``finished`` beside ``report.json``, and ``failed`` (with
the error's first line) when the job raises, so a run that fails while building its components leaves a
folder that says why instead of one holding only ``config.yaml``. A ``running`` run whose process is gone
(killed, the machine rebooted) reads as ``interrupted``: nobody holds its directory's lock.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from intarsia.runner.run_dir import LOCK_NAME, atomic_write

STATUS_FILE = "status.json"
STATES = ("running", "finished", "failed", "interrupted", "unknown")


def write_status(run_dir: Path, status: str, **fields: Any) -> None:
    """Record ``status`` (one of :data:`STATES`) with ``fields`` (``error``, ``steps``) and the time."""
    if status not in STATES:
        raise ValueError(f"status must be one of {STATES}, got {status!r}")
    data = {"status": status, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "pid": os.getpid(), **fields}
    atomic_write(Path(run_dir) / STATUS_FILE, json.dumps(data, indent=2, default=str))


def read_status(run_dir: Path) -> dict:
    """What ``status.json`` says, with ``running`` turned into ``interrupted`` when no process holds the
    run's lock; for a folder without one (written before status files existed), ``finished`` when it holds
    a report, else ``interrupted`` when it holds checkpoints, else ``unknown``."""
    run_dir = Path(run_dir)
    try:
        data = json.loads((run_dir / STATUS_FILE).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("status") not in STATES:
            raise ValueError("not a status")
    except (OSError, ValueError):
        if (run_dir / "report.json").is_file():
            return {"status": "finished"}
        return {"status": "interrupted" if (run_dir / "checkpoints").is_dir() else "unknown"}
    if data["status"] == "running" and not _locked(run_dir):
        data = {**data, "status": "interrupted"}
    return data


def _locked(run_dir: Path) -> bool:
    """Whether a live process holds the run directory's lock (probed without taking it for long)."""
    try:
        import fcntl
    except ImportError:
        return True
    lock = run_dir / LOCK_NAME
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
