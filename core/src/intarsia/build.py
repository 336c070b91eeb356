"""Build registered components from a name (or a resolved :class:`~intarsia.config.Spec`) and options.

This is how one plugin uses another's component without importing it: ``build("llms", "gguf",
options={"n_ctx": 1024})`` or, from a resolved config section, ``build("rewards", spec, env_spec=...)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .config import Spec, resolve_section
from .registry import Registry


def make_spec(kind: str, name_or_spec: str | Spec | Mapping, options: Mapping | None = None,
              registry: Registry | None = None, path: str | None = None) -> Spec:
    """Resolve ``name`` + ``options`` (a plain mapping) into a :class:`Spec`, validating every key."""
    if isinstance(name_or_spec, Spec):
        return name_or_spec
    registry = registry or _registry()
    section = dict(name_or_spec) if isinstance(name_or_spec, Mapping) else {"name": name_or_spec}
    section.update(options or {})
    return resolve_section(registry, kind, section, path or kind, {})


def build(kind: str, name_or_spec: str | Spec | Mapping, options: Mapping | None = None, *,
          registry: Registry | None = None, **kwargs: Any) -> Any:
    """Instantiate a component. Envs get their config fields as keyword arguments (gymnasium style);
    every other kind gets ``factory(config, **kwargs)`` (or ``factory(**kwargs)`` without a config)."""
    registry = registry or _registry()
    spec = make_spec(kind, name_or_spec, options, registry)
    factory = registry.get(kind, spec.name).load_factory()
    if kind == "envs":
        fields = dataclasses.asdict(spec.config) if spec.config is not None else {}
        return factory(**fields, **kwargs)
    if spec.config is None:
        return factory(**kwargs)
    return factory(spec.config, **kwargs)


def _registry() -> Registry:
    from .plugins import get_registry

    return get_registry()
