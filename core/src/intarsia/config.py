"""Configuration: YAML + ``a.b=c`` overrides, resolved in two phases against registered dataclasses.

Phase 1 reads the raw tree (recipe or file, then overrides) and finds the job and every component's
``name``. Phase 2 merges each section into its registered dataclass, so unknown keys and wrong types fail
with the key's full path and the closest valid names.

A job's config dataclass marks its component sections with :func:`component`::

    @dataclass
    class TrainConfig:
        policy: Any = component("policies")
        rewards: list = component("rewards", many=True, reserved={"coef": 1.0})

After resolution such a field holds a :class:`Spec` (or a list of them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, IntarsiaError, did_you_mean
from .registry import KIND_SINGULAR, Registry


@dataclass
class Spec:
    """A resolved component section: its registered ``name``, its config dataclass instance, and the
    section-level keys that belong to the caller rather than the component (``coef`` of a reward)."""

    name: str
    config: Any = None
    extra: dict = field(default_factory=dict)


def component(kind: str, *, many: bool = False, reserved: dict | None = None, default: Any = None, required: bool = True):
    """Declare a config field as a component section of ``kind`` (a registry kind)."""
    meta = {"component": kind, "many": many, "reserved": dict(reserved or {}), "required": required and not many}
    if many:
        return field(default_factory=list, metadata=meta)
    return field(default_factory=lambda: dict(default or {}), metadata=meta)


def load_raw(source: str, registry: Registry):
    """Read a recipe (by registered name) or a YAML file into an untyped ``DictConfig``."""
    from omegaconf import OmegaConf

    path = Path(source)
    if source in registry.components["recipes"]:
        path = registry.get("recipes", source).file
    elif not (path.suffix in {".yaml", ".yml"} or path.exists()):
        names = registry.names("recipes")
        raise ConfigError(
            f"{source!r} is neither a recipe nor a YAML file.{did_you_mean(source, names)}"
            f" Recipes: {', '.join(names) or '(none)'}"
        )
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        raw = OmegaConf.create(text)
    except Exception as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if raw is None or not hasattr(raw, "keys"):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    if "recipe" not in raw:
        raw.recipe = source
    return raw


def apply_overrides(raw, overrides: Iterable[str]):
    """Apply ``key.path=value`` overrides (values parsed as YAML; ``rewards.0.coef=0.5`` indexes lists)."""
    import yaml
    from omegaconf import OmegaConf

    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"bad override {item!r}: expected key.path=value")
        try:
            parsed = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            parsed = value
        try:
            OmegaConf.update(raw, key, parsed, merge=False, force_add=True)
        except Exception as exc:
            raise ConfigError(f"cannot apply override {item!r}: {exc}") from exc
    return raw


def _fields(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []


def merge_into(cls: type, section: Any, path: str):
    """Merge a plain mapping into dataclass ``cls``; errors name ``path.key`` and close matches."""
    from omegaconf import OmegaConf
    from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

    base = OmegaConf.structured(cls)
    try:
        merged = OmegaConf.merge(base, section if section is not None else {})
        return OmegaConf.to_object(merged)
    except ConfigKeyError as exc:
        key = str(getattr(exc, "key", "") or "")
        sub = (exc.full_key or key).rsplit(".", 1)[0] if "." in (exc.full_key or "") else ""
        owner = getattr(exc, "object_type", None) or cls
        full = ".".join(p for p in (path, exc.full_key or key) if p)
        choices = _fields(owner)
        raise ConfigError(
            f"{full}: unknown key.{did_you_mean(key, choices)} Valid keys{' of ' + sub if sub else ''}: {', '.join(choices)}"
        ) from None
    except OmegaConfBaseException as exc:
        full = ".".join(p for p in (path, getattr(exc, "full_key", "") or "") if p)
        msg = getattr(exc, "msg", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{full}: {msg.splitlines()[0]}") from None


def resolve_section(registry: Registry, kind: str, section: Any, path: str, reserved: dict) -> Spec:
    from omegaconf import DictConfig, OmegaConf

    if isinstance(section, str):  # shorthand: `policy: dqn`
        section = {"name": section}
    if isinstance(section, DictConfig):
        section = OmegaConf.to_container(section, resolve=True)
    if not isinstance(section, dict) or "name" not in section:
        raise ConfigError(f"{path}: expected a mapping with 'name' (a registered {KIND_SINGULAR[kind]})")
    section = dict(section)
    name = section.pop("name")
    extra = {key: section.pop(key, default) for key, default in reserved.items()}
    comp = registry.get(kind, str(name))  # UnknownComponentError lists what is available
    cls = comp.load_config_class()
    if cls is None:
        if section:
            raise ConfigError(f"{path}: {KIND_SINGULAR[kind]} {name!r} takes no options, got {', '.join(section)}")
        return Spec(str(name), None, extra)
    return Spec(str(name), merge_into(cls, section, path), extra)


def resolve(raw, registry: Registry):
    """Phase 2: the job's dataclass with every component section resolved. Returns ``(job_name, config)``."""
    from omegaconf import OmegaConf

    data = OmegaConf.to_container(raw, resolve=True)
    job_name = str(data.get("job", "train"))
    job = registry.get("jobs", job_name)
    cls = job.load_config_class()
    if cls is None:
        raise IntarsiaError(f"job {job_name!r} registered no config dataclass")
    sections: dict[str, tuple[dataclasses.Field, Any]] = {}
    for f in dataclasses.fields(cls):
        if "component" in f.metadata and f.name in data:
            sections[f.name] = (f, data.pop(f.name))
    config = merge_into(cls, data, "")
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if "component" not in meta:
            continue
        if f.name not in sections:
            if meta.get("required"):
                raise ConfigError(f"{f.name}: missing; name a registered {KIND_SINGULAR[meta['component']]}"
                                  f" ({', '.join(registry.names(meta['component'])) or 'none installed'})")
            setattr(config, f.name, [] if meta.get("many") else None)
            continue
        value = sections[f.name][1]
        if meta.get("many"):
            if value is None:
                value = []
            if not isinstance(value, list):
                raise ConfigError(f"{f.name}: expected a list of {KIND_SINGULAR[meta['component']]} sections")
            specs = [resolve_section(registry, meta["component"], item, f"{f.name}.{i}", meta["reserved"])
                     for i, item in enumerate(value)]
            setattr(config, f.name, specs)
        elif value is None and not meta.get("required"):
            setattr(config, f.name, None)
        else:
            setattr(config, f.name, resolve_section(registry, meta["component"], value, f.name, meta["reserved"]))
    return job_name, config


def to_yaml(raw) -> str:
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(raw)
