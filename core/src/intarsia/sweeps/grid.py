"""What a sweep runs: seeds (``0-9``, ``0,3,7``), grid axes (``key=v1,v2``) and their product of points."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping

from intarsia.errors import ConfigError

_SAFE = re.compile(r"[^A-Za-z0-9._=+-]+")


def parse_seeds(text: str | Iterable[int]) -> list[int]:
    """``"0-9"`` (inclusive), ``"0,3,7"``, ``"0-4,10"`` or a list of ints, as a sorted list without repeats."""
    if not isinstance(text, str):
        seeds = [int(s) for s in text]
    else:
        seeds = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            m = re.fullmatch(r"(-?\d+)(?:-(-?\d+))?", part)
            if not m:
                raise ConfigError(f"--seeds: {part!r} is not a seed or a range like 0-9")
            low, high = int(m.group(1)), int(m.group(2) if m.group(2) is not None else m.group(1))
            if high < low:
                raise ConfigError(f"--seeds: the range {part!r} runs backwards")
            seeds.extend(range(low, high + 1))
    if not seeds:
        raise ConfigError("--seeds: no seeds given")
    return sorted(set(seeds))


def parse_grid(items: Iterable[str] | Mapping[str, Iterable]) -> dict[str, list[str]]:
    """``["policy.lr=1e-3,1e-2", "env.size=5,7"]`` (or a mapping key -> values) as ``{key: [values]}``; the
    values stay override strings, read by the config as ``key=value`` overrides are."""
    if isinstance(items, Mapping):
        grid = {str(k): [str(v) for v in (vs if isinstance(vs, (list, tuple)) else [vs])] for k, vs in items.items()}
    else:
        grid = {}
        for item in items:
            key, sep, values = item.partition("=")
            key = key.strip()
            if not sep or not key or not values.strip():
                raise ConfigError(f"--grid: {item!r} is not key=value1,value2")
            if key in grid:
                raise ConfigError(f"--grid: {key!r} is given twice")
            grid[key] = [v.strip() for v in values.split(",") if v.strip()]
    for key, values in grid.items():
        if key == "seed":
            raise ConfigError("--grid: seed is swept with --seeds, not --grid")
        if not values:
            raise ConfigError(f"--grid: {key!r} has no values")
        if len(set(values)) != len(values):
            raise ConfigError(f"--grid: {key!r} repeats a value")
    return grid


def points(grid: Mapping[str, list[str]]) -> list[dict[str, str]]:
    """Every combination of the grid's values, in the order the axes and values were given ({} for no grid)."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def point_label(point: Mapping[str, str]) -> str:
    """``policy.lr=0.001,env.size=5``: how a point is shown and grouped ("" for the no-grid point)."""
    return ",".join(f"{k}={v}" for k, v in point.items())


def run_dir_name(point: Mapping[str, str], seed: int) -> str:
    """The run's folder inside the sweep folder: ``<point>/seed-<n>`` (``seed-<n>`` with no grid)."""
    seed_dir = f"seed-{seed}"
    if not point:
        return seed_dir
    slug = _SAFE.sub("-", "+".join(f"{k}={v}" for k, v in point.items())).strip("-.")
    return f"{slug or 'point'}/{seed_dir}"
