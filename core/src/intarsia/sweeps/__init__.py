"""Sweeps: one run per (grid point, seed), on local processes or SLURM, resumable after any crash.

>>> manifest = sweep("builtin/tiny", ["steps=1000"], seeds="0-4", grid=["policy.lr=1e-3,1e-2"], workers=2)
>>> manifest["counts"]
{'pending': 0, 'running': 0, 'done': 10, 'failed': 0}
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any


def sweep(source: str | None = None, overrides: Iterable[str] = (), *, seeds: Any = "0", grid: Any = (),
          launcher: str | None = None, workers: int | None = None, resume: str | Path | None = None,
          sweep_dir: str | Path | None = None, progress: bool = True, registry=None,
          **launcher_settings: Any) -> dict:
    """Run ``source`` (a recipe or YAML file, with ``overrides``) once per grid point and seed, or finish the
    sweep in ``resume`` (a sweep folder). ``grid``: ``["key=v1,v2", …]`` or ``{key: [v1, v2]}``; ``seeds``:
    ``"0-9"``, ``"0,3"`` or a list. ``launcher``: ``"local"`` (``workers`` processes), ``"inprocess"`` (one after another in
    this process: no interpreter start per run) or ``"slurm"`` (settings
    ``partition``, ``time``, ``cpus``, ``gpus``, ``mem``, ``account``, ``setup``, ``parallelism``), defaulting
    to the config's ``launcher:`` section. Returns the manifest (``sweep.yaml``) as a dict, with ``dir`` added."""
    from intarsia.sweeps import driver
    from intarsia.sweeps import manifest as mf

    settings = dict(launcher_settings)
    if workers is not None:
        settings["workers"] = workers
    if resume is not None:
        sweep_dir = Path(resume)
        manifest = mf.read(sweep_dir)
        result = driver.run(sweep_dir, manifest, resume=True, settings=settings, launcher=launcher, progress=progress)
    else:
        if source is None:
            from intarsia.errors import ConfigError

            raise ConfigError("sweep: give a recipe (or --resume DIR)")
        sweep_dir, manifest = driver.plan(source, overrides, seeds=seeds, grid=grid, launcher=launcher,
                                          settings=settings, registry=registry, sweep_dir=sweep_dir)
        result = driver.run(sweep_dir, manifest, settings=None, progress=progress)
    return {**result.to_dict(), "dir": str(sweep_dir)}
