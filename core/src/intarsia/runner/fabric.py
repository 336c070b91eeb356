"""Lightning from the one ``fabric:`` section: a Fabric for loops a job writes itself, Trainer settings for
supervised pieces. Both read the same accelerator, devices, strategy, precision and nodes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from intarsia.errors import ConfigError


def make_fabric(config: Any, run_dir: Path, *, loggers: bool = True, registry=None):
    """A ``lightning.fabric.Fabric`` (not launched) from ``config.fabric``, with the loggers of
    ``config.log.loggers`` under ``run_dir``."""
    from lightning.fabric import Fabric

    from intarsia.runner.loggers import logger_names, make_loggers

    found = make_loggers(logger_names(config), run_dir, name=str(getattr(config, "name", "run")),
                         registry=registry) if loggers else []
    f = config.fabric
    try:
        return Fabric(accelerator=f.accelerator, devices=f.devices, strategy=f.strategy, precision=f.precision,
                      num_nodes=f.num_nodes, loggers=found)
    except (ValueError, TypeError, RuntimeError) as exc:  # Lightning's MisconfigurationException is a ValueError
        raise ConfigError(f"fabric: {one_line(exc)} ({describe(f)})") from None


def trainer_settings(config: Any) -> dict:
    """``lightning.Trainer`` keyword arguments for where and how to run, from ``config.fabric``."""
    f = config.fabric
    return {"accelerator": f.accelerator, "devices": f.devices, "strategy": f.strategy, "precision": f.precision,
            "num_nodes": f.num_nodes}


def describe(f: Any) -> str:
    return (f"fabric.accelerator={f.accelerator!r}, fabric.devices={f.devices!r}, fabric.strategy={f.strategy!r}, "
            f"fabric.precision={f.precision!r}")


def one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + " …"
