"""Stage markers for multi-stage jobs (collect → annotate → train …), so a resumed job skips finished stages.

A job calls ``stages.run(name, fn)`` for each stage: ``fn()`` returns a JSON-able dict of what the stage
produced; it is written atomically to ``<run dir>/stages/<name>.json`` with the stage's wall time, and a
later run (``intarsia resume``) that finds the marker returns it instead of running ``fn`` again. Stages
that are themselves long keep their own checkpoints; the marker only says "finished".
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .run_dir import atomic_write


def write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON at ``path``, atomically (numpy scalars and paths become numbers / strings)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data, indent=2, default=_plain))


def _plain(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


class Stages:
    """Completion markers: ``run(name, fn)`` runs ``fn`` unless ``stages/<name>.json`` exists."""

    def __init__(self, root: Path, *, prefix: str = "", log: Callable[[str], None] = print):
        self.root = Path(root) / "stages"
        self.prefix = f"[{prefix}] " if prefix else ""
        self.log = log
        self.timings: dict[str, float] = {}

    def done(self, name: str) -> dict | None:
        """The recorded result of a finished stage, or ``None``."""
        path = self.root / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def run(self, name: str, fn: Callable[[], dict]) -> dict:
        prior = self.done(name)
        if prior is not None:
            self.log(f"{self.prefix}{name}: complete, skipped")
            return prior
        self.log(f"{self.prefix}{name} ...")
        t0 = time.perf_counter()
        result = {**fn(), "seconds": round(time.perf_counter() - t0, 2)}
        self.timings[name] = result["seconds"]
        write_json(self.root / f"{name}.json", result)
        self.log(f"{self.prefix}{name}: done in {result['seconds']:.1f}s")
        return result
