"""Lightning from the one ``fabric:`` section: a Fabric for loops a job writes itself, Trainer settings for
supervised pieces. Both read the same accelerator, devices, strategy, precision and nodes."""

from __future__ import annotations

from collections.abc import Mapping
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


def world_size(f: Any) -> int:
    """The processes a ``fabric`` section (a dataclass or a plain mapping) asks for, as Lightning resolves
    its accelerator, devices, strategy and nodes ("auto" included); nothing is launched."""
    from lightning.fabric import Fabric

    get = f.get if isinstance(f, Mapping) else lambda key, default: getattr(f, key, default)
    settings = {"accelerator": get("accelerator", "auto"), "devices": get("devices", 1),
                "strategy": get("strategy", "auto"), "num_nodes": get("num_nodes", 1)}
    try:
        return int(Fabric(**settings).world_size)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise ConfigError(f"fabric: {one_line(exc)} ({', '.join(f'fabric.{k}={v!r}' for k, v in settings.items())})") from None


def refuse_nested_multiprocess(stage: str, f: Any = None, *, outer: int = 1) -> None:
    """A nested run (a stage that is a run of its own, with ``fabric`` section ``f``) inside a job running
    ``outer`` processes: refused, in one line naming the stage, when either side has several processes.
    Lightning starts ranks >= 1 by re-running the whole command, so they would run the outer job again
    from its start (and the nested run's launch would start yet more processes)."""
    n = max(int(outer), world_size(f) if f is not None else 1)
    if n > 1:
        raise ConfigError(f"{stage}: a nested run cannot run under {n} processes (DDP's extra ranks would re-run the "
                          "whole outer job); run this stage on one device, or as a run of its own and point the "
                          "outer job at its result")


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
