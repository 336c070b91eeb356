"""The typed registry: name -> lazily imported factory, config dataclass and one-line summary."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DuplicateComponentError, IntarsiaError, UnknownComponentError, did_you_mean

KINDS = ("envs", "rewards", "policies", "world_models", "detectors", "llms", "jobs", "recipes", "analyses", "samplers", "encoders")
KIND_SINGULAR = {
    "envs": "env",
    "rewards": "reward",
    "policies": "policy",
    "world_models": "world model",
    "detectors": "detector",
    "llms": "LLM backend",
    "jobs": "job",
    "recipes": "recipe",
    "samplers": "sampler",
    "analyses": "analysis",
    "encoders": "encoder",
}


def import_object(spec: str | Any) -> Any:
    """Resolve a ``"module:attr"`` string registered by a plugin (objects are returned unchanged).

    Only strings that plugins registered reach this function; configs name components, never import paths.
    """
    if not isinstance(spec, str):
        return spec
    module_name, sep, attr = spec.partition(":")
    if not sep or not attr:
        raise IntarsiaError(f"bad factory spec {spec!r}: expected 'module:attr'")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass
class Component:
    """One registered component. ``factory``/``config`` stay strings until first use."""

    kind: str
    name: str
    factory: str | Callable | None
    config: str | type | None
    summary: str
    distribution: str
    file: Path | None = None  # recipes only

    def load_factory(self) -> Callable:
        if self.factory is None:
            raise IntarsiaError(f"{KIND_SINGULAR[self.kind]} {self.name!r} has no factory")
        return import_object(self.factory)

    def load_config_class(self) -> type | None:
        cls = import_object(self.config) if self.config is not None else None
        if cls is not None and not dataclasses.is_dataclass(cls):
            raise IntarsiaError(f"config of {KIND_SINGULAR[self.kind]} {self.name!r} is not a dataclass: {cls!r}")
        return cls


@dataclass
class Registry:
    """All registered components, by kind then name."""

    components: dict[str, dict[str, Component]] = field(default_factory=lambda: {k: {} for k in KINDS})

    def add(self, component: Component) -> None:
        table = self.components[component.kind]
        if component.name in table:
            other = table[component.name]
            error = DuplicateComponentError(
                f"{KIND_SINGULAR[component.kind]} {component.name!r} is registered twice: "
                f"by {other.distribution!r} and by {component.distribution!r}"
            )
            error.distributions = (other.distribution, component.distribution)
            raise error
        table[component.name] = component

    def registrar(self, kind: str, distribution: str) -> Callable[..., None]:
        """The ``register`` callable handed to a plugin's ``register_<kind>`` hook."""

        def register(
            name: str,
            factory: str | Callable | None = None,
            config: str | type | None = None,
            summary: str = "",
            *,
            file: str | Path | None = None,
        ) -> None:
            if not isinstance(name, str) or not name:
                raise IntarsiaError(f"{distribution}: component names must be non-empty strings, got {name!r}")
            if kind == "recipes":
                if file is None:
                    raise IntarsiaError(f"{distribution}: recipe {name!r} needs file=PATH")
            elif factory is None:
                raise IntarsiaError(f"{distribution}: {KIND_SINGULAR[kind]} {name!r} needs factory='module:attr'")
            self.add(Component(kind, name, factory, config, summary, distribution, Path(file) if file else None))

        register.kind = kind  # type: ignore[attr-defined]
        return register

    def get(self, kind: str, name: str) -> Component:
        if kind not in self.components:
            raise UnknownComponentError(f"unknown kind {kind!r}; kinds are: {', '.join(KINDS)}.{did_you_mean(kind, KINDS)}")
        table = self.components[kind]
        if name not in table:
            available = ", ".join(sorted(table)) or "(none installed)"
            raise UnknownComponentError(
                f"unknown {KIND_SINGULAR[kind]} {name!r}.{did_you_mean(name, table)} Available: {available}"
            )
        return table[name]

    def names(self, kind: str) -> list[str]:
        return sorted(self.components[kind])

    def __iter__(self) -> Iterator[Component]:
        for kind in KINDS:
            yield from self.components[kind].values()

    def by_distribution(self) -> dict[str, list[Component]]:
        out: dict[str, list[Component]] = {}
        for comp in self:
            out.setdefault(comp.distribution, []).append(comp)
        return out
