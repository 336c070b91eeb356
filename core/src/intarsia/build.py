"""Build registered components from a name (or a resolved :class:`~intarsia.config.Spec`) and options.

This is how one plugin uses another's component without importing it: ``build("llms", "gguf",
options={"n_ctx": 1024})`` or, from a resolved config section, ``build("rewards", spec, env_spec=...)``.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import re
from collections.abc import Iterator, Mapping
from typing import Any

from .config import Spec, resolve_section
from .errors import ConfigError, IntarsiaError
from .registry import Registry

# the registry of the build (or job) in progress: a component that builds its own parts (a policy its world
# model, a world model its encoder) without naming a registry gets the one it was built from, not the process's
_CURRENT: contextvars.ContextVar[Registry | None] = contextvars.ContextVar("intarsia_build_registry", default=None)

# how a message names the config section a component of each kind is built from (the train job's keys)
SECTIONS = {"envs": "env", "policies": "policy"}


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
          registry: Registry | None = None, section: str | None = None, **kwargs: Any) -> Any:
    """Instantiate a component. Envs get their config fields as keyword arguments (gymnasium style);
    every other kind gets ``factory(config, **kwargs)`` (or ``factory(**kwargs)`` without a config).

    A ``ValueError`` raised while the component is built is a value it refuses (``n must be >= 3``): it
    becomes a :class:`~intarsia.errors.ConfigError` naming the config ``section`` (default: ``env``,
    ``policy`` or the kind), which the CLI prints as one line (``env: n must be >= 3``) with exit status 2;
    the original stays chained for ``--debug``. Every other exception (``TypeError``, ``AttributeError``,
    ...) is a bug in the component, not in the config, and keeps its traceback."""
    registry = registry or _registry()
    spec = make_spec(kind, name_or_spec, options, registry)
    if kind == "envs" and spec.config is None and not registry.has(kind, spec.name):
        return _make_gymnasium(spec, **kwargs)
    factory = registry.get(kind, spec.name).load_factory()
    try:
        with using_registry(registry):
            if kind == "envs":
                fields = dataclasses.asdict(spec.config) if spec.config is not None else {}
                return factory(**fields, **kwargs)
            if spec.config is None:
                return factory(**kwargs)
            return factory(spec.config, **kwargs)
    except IntarsiaError:
        raise
    except ValueError as exc:
        where = section or SECTIONS.get(kind, kind)
        msg = (str(exc).splitlines() or [type(exc).__name__])[0]
        # "key: what is wrong" from a component names a key of its section: "policy.key: what is wrong"
        raise ConfigError(msg if msg.startswith(f"{where}") else f"{where}.{msg}" if re.match(r"[\w.]+: ", msg)
                          else f"{where}: {msg}") from exc


@contextlib.contextmanager
def using_registry(registry: Registry) -> Iterator[Registry]:
    """Within this block, :func:`build` and :func:`make_spec` called without ``registry=`` use ``registry``.

    :func:`build` enters it around every factory call, and the runner around every job, so nested builds
    resolve names in the registry their caller was given (a test's own, or a host with extra plugins)."""
    token = _CURRENT.set(registry)
    try:
        yield registry
    finally:
        _CURRENT.reset(token)


def _make_gymnasium(spec: Spec, **kwargs: Any) -> Any:
    """A plain gymnasium id that intarsia does not register: ``gymnasium.make(id, **options)``."""
    import gymnasium

    from .env_ids import check_env_id

    try:
        return gymnasium.make(check_env_id(spec.name, what="env.name"), **spec.extra, **kwargs)
    except gymnasium.error.Error as exc:
        raise ConfigError(f"env: {spec.name}: {str(exc).splitlines()[0]}") from exc
    except TypeError as exc:  # an option the env's constructor does not take
        raise ConfigError(f"env: {spec.name}: {str(exc).splitlines()[0]}") from exc


def _registry() -> Registry:
    current = _CURRENT.get()
    if current is not None:
        return current
    from .plugins import get_registry

    return get_registry()
