"""The typed registry: kinds of component, and per kind name -> lazily imported factory, config dataclass
and one-line summary.

The core declares the kinds every method shares (:data:`CORE_KINDS`); a plugin declares its own through the
``register_kinds`` hook (see :mod:`intarsia.hookspecs`), after which it is a kind like any other here.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DuplicateComponentError, IntarsiaError, UnknownComponentError, did_you_mean

CORE_KINDS = {  # kind -> how a message names one component of it
    "envs": "env",
    "rewards": "reward",
    "policies": "policy",
    "world_models": "world model",
    "encoders": "encoder",
    "detectors": "detector",
    "llms": "LLM backend",
    "jobs": "job",
    "loggers": "logger",
    "recipes": "recipe",
}
CORE_DISTRIBUTION = "intarsia-core"
_KIND_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Kind:
    """A kind of component: what ``intarsia list KIND`` lists and ``build(KIND, name)`` builds."""

    name: str
    singular: str
    distribution: str
    """who declared it (``intarsia-core`` for :data:`CORE_KINDS`)"""

    @property
    def hook(self) -> str:
        """The hook plugins implement to register components of this kind."""
        return f"register_{self.name}"


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
    singular: str = ""
    """how messages name it (its kind's singular)"""

    def load_factory(self) -> Callable:
        if self.factory is None:
            raise IntarsiaError(f"{self.singular or self.kind} {self.name!r} has no factory")
        return import_object(self.factory)

    def load_config_class(self) -> type | None:
        cls = import_object(self.config) if self.config is not None else None
        if cls is not None and not dataclasses.is_dataclass(cls):
            raise IntarsiaError(f"config of {self.singular or self.kind} {self.name!r} is not a dataclass: {cls!r}")
        return cls


class Registrar:
    """The ``register`` callable handed to one plugin's ``register_<kind>`` hook: it knows the kind and the
    distribution calling, so every registration is attributed to it (and clashes name both sides)."""

    def __init__(self, registry: Registry, kind: str, distribution: str, plugin: str | None = None):
        self.registry, self.kind, self.distribution = registry, kind, distribution
        self.plugin = plugin
        """the plugin's name, the prefix its recipe names carry (``None``: not checked)"""

    def __call__(
        self,
        name: str,
        factory: str | Callable | None = None,
        config: str | type | None = None,
        summary: str = "",
        *,
        file: str | Path | None = None,
        renamed_from: Iterable[str] = (),
    ) -> None:
        """Register ``name``. ``renamed_from``: names it had before, which still resolve (with a one-line
        notice on stderr) so old configs and scripts keep working."""
        dist, kind = self.distribution, self.kind
        noun = self.registry.singular(kind)
        if not isinstance(name, str) or not name:
            raise IntarsiaError(f"{dist}: component names must be non-empty strings, got {name!r}")
        old_names = [renamed_from] if isinstance(renamed_from, str) else list(renamed_from)
        if not all(isinstance(old, str) and old for old in old_names):
            raise IntarsiaError(f"{dist}: renamed_from= takes the old names as strings, got {renamed_from!r}")
        if kind == "recipes":
            if file is None:
                raise IntarsiaError(f"{dist}: recipe {name!r} needs file=PATH")
            self._check_recipe_name(name)
        elif factory is None:
            raise IntarsiaError(f"{dist}: {noun} {name!r} needs factory='module:attr'")
        component = Component(kind, name, factory, config, summary, dist, Path(file) if file else None, noun)
        self.registry.add(component, renamed_from=old_names)

    def _check_recipe_name(self, name: str) -> None:
        prefix, sep, rest = name.partition("/")
        # "-" and "_" are one character here: a plugin passed as a module (tests) is named from its
        # module (intarsia_my_thing -> my-thing) while its entry point may be spelt my_thing
        if not (sep and prefix and rest) or (
                self.plugin is not None and prefix.replace("_", "-") != self.plugin.replace("_", "-")):
            want = f"'{self.plugin}/<recipe>'" if self.plugin is not None else "'<plugin>/<recipe>'"
            raise IntarsiaError(f"{self.distribution}: recipe {name!r} must be named {want}"
                                " (a recipe name starts with the name of the plugin that ships it)")

    def __repr__(self) -> str:  # what INTARSIA_TRACE_PLUGINS prints for the argument
        return f"<{self.kind} registrar for {self.distribution}>"


@dataclass
class Registry:
    """All declared kinds, and all registered components by kind then name."""

    kinds: dict[str, Kind] = field(
        default_factory=lambda: {k: Kind(k, s, CORE_DISTRIBUTION) for k, s in CORE_KINDS.items()})
    components: dict[str, dict[str, Component]] = field(default_factory=dict)
    renamed: dict[str, dict[str, str]] = field(default_factory=dict)
    """kind -> old name -> current name"""
    _noticed: set = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        for kind in self.kinds:
            self.components.setdefault(kind, {})
            self.renamed.setdefault(kind, {})

    # -- kinds ---------------------------------------------------------------------------------------
    def declare(self, name: str, singular: str, distribution: str) -> Kind:
        """Add a kind (``register_kinds``); declaring one that exists is an error naming both declarers."""
        self.check_kind(name, singular, distribution)
        kind = self.kinds[name] = Kind(name, singular, distribution)
        self.components[name], self.renamed[name] = {}, {}
        return kind

    def check_kind(self, name: str, singular: str, distribution: str) -> None:
        """Raise unless ``distribution`` may declare the kind ``name`` (see :meth:`declare`)."""
        if not isinstance(name, str) or not _KIND_NAME.fullmatch(name):
            raise IntarsiaError(f"{distribution}: kind names are lower-case identifiers ([a-z][a-z0-9_]*), got {name!r}")
        if not isinstance(singular, str) or not singular.strip():
            raise IntarsiaError(f"{distribution}: kind {name!r} needs singular='…' (how messages name one of them)")
        if name in self.kinds:
            other = self.kinds[name].distribution
            error = DuplicateComponentError(f"kind {name!r} is declared twice: by {other!r} and by {distribution!r}")
            error.distributions = (other, distribution)
            raise error

    def singular(self, kind: str) -> str:
        """How messages name one component of ``kind`` (the kind itself when nobody declared it)."""
        return self.kinds[kind].singular if kind in self.kinds else kind

    def _check_kind(self, kind: str) -> None:
        if kind not in self.kinds:
            raise UnknownComponentError(
                f"unknown kind {kind!r}; kinds are: {', '.join(self.kinds)}.{did_you_mean(kind, self.kinds)}"
                " (a plugin declares a kind; `intarsia plugins` shows which are loaded)")

    # -- components ----------------------------------------------------------------------------------
    def add(self, component: Component, *, renamed_from: Iterable[str] = ()) -> None:
        self._check_kind(component.kind)
        table, renamed = self.components[component.kind], self.renamed[component.kind]
        noun = self.singular(component.kind)
        for name in (component.name, *renamed_from):
            other = table.get(name) or (table[renamed[name]] if name in renamed else None)
            if other is not None:
                error = DuplicateComponentError(
                    f"{noun} {name!r} is registered twice: by {other.distribution!r} and by {component.distribution!r}")
                error.distributions = (other.distribution, component.distribution)
                raise error
        table[component.name] = component
        for old in renamed_from:
            renamed[old] = component.name

    def registrar(self, kind: str, distribution: str, plugin: str | None = None) -> Registrar:
        """The ``register`` callable handed to a plugin's ``register_<kind>`` hook. ``plugin``: the plugin's
        name, which its recipe names must start with (``None``: not checked)."""
        self._check_kind(kind)
        return Registrar(self, kind, distribution, plugin)

    def canonical(self, kind: str, name: str) -> str:
        """The current name of ``name`` (itself unless it is an old name of a renamed component); a one-line
        notice on stderr, once per process and name, when it is an old one."""
        current = self.renamed.get(kind, {}).get(name)
        if current is None:
            return name
        if (kind, name) not in self._noticed:
            self._noticed.add((kind, name))
            print(f"intarsia: {self.singular(kind)} {name!r} is now {current!r}; the old name will be removed",
                  file=sys.stderr)
        return current

    def has(self, kind: str, name: str) -> bool:
        """Whether ``name`` (a current or an old name) is registered as ``kind``."""
        return name in self.components.get(kind, {}) or name in self.renamed.get(kind, {})

    def get(self, kind: str, name: str) -> Component:
        self._check_kind(kind)
        table = self.components[kind]
        name = self.canonical(kind, name)
        if name not in table:
            available = ", ".join(sorted(table)) or "(none installed)"
            raise UnknownComponentError(
                f"unknown {self.singular(kind)} {name!r}.{did_you_mean(name, table)} Available: {available}"
            )
        return table[name]

    def names(self, kind: str) -> list[str]:
        """Current names of ``kind`` (old names of renamed components are not listed)."""
        self._check_kind(kind)
        return sorted(self.components[kind])

    def __iter__(self) -> Iterator[Component]:
        for kind in self.kinds:
            yield from self.components[kind].values()

    def by_distribution(self) -> dict[str, list[Component]]:
        out: dict[str, list[Component]] = {}
        for comp in self:
            out.setdefault(comp.distribution, []).append(comp)
        return out
