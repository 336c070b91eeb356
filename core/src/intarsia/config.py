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
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, IntarsiaError, did_you_mean
from .registry import Registry


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
    """Read a recipe (by registered name) or a YAML file into an untyped ``DictConfig``, following
    ``extends:`` (see :func:`load_tree`)."""
    raw = load_tree(source, registry)
    if "recipe" not in raw:
        raw.recipe = registry.canonical("recipes", source)  # a renamed recipe is recorded by its current name
    return raw


def _locate(source: str, registry: Registry, base_dir: Path | None) -> Path:
    """A recipe name, a YAML path relative to ``base_dir`` (the extending file's folder), or a path."""
    if registry.has("recipes", source):  # an old name of a renamed recipe too (with a notice)
        return Path(registry.get("recipes", source).file)
    path = Path(source)
    if base_dir is not None and not path.is_absolute() and (base_dir / path).exists():
        return base_dir / path
    if not (path.suffix in {".yaml", ".yml"} or path.exists()):
        names = registry.names("recipes")
        raise ConfigError(
            f"{source!r} is neither a recipe nor a YAML file.{did_you_mean(source, names)}"
            f" Recipes: {', '.join(names) or '(none)'}"
        )
    return path


def _read_yaml(path: Path):
    from omegaconf import OmegaConf

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a YAML config (not UTF-8 text)") from None
    try:
        raw = OmegaConf.create(text)
    except Exception as exc:  # the parser's message may quote the file: say where, show a short excerpt only
        first = " ".join(str(exc).split())
        raise ConfigError(f"{path}: not valid YAML: {first[:120]}{'...' if len(first) > 120 else ''}") from None
    if raw is None or not hasattr(raw, "keys"):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return raw


def load_tree(source: str, registry: Registry, *, _chain: tuple[tuple[str, str], ...] = (), _base: Path | None = None):
    """Read ``source`` and, when it has ``extends: <recipe or file>``, merge it over what it extends.

    The merge is deep and the extending file's keys win; lists (``rewards``) are replaced whole. A
    component section whose ``name`` differs from the extended one's replaces it whole (its options belong
    to the other component). Chains are followed; a cycle is an error naming every link. A relative
    file path is looked up next to the extending file first.
    """
    path = _locate(source, registry, _base)
    key = str(path.resolve())
    if any(seen == key for _, seen in _chain):
        links = [name for name, _ in _chain] + [source]
        raise ConfigError(f"extends cycle: {' -> '.join(links)}")
    return extend(_read_yaml(path), registry, _chain=(*_chain, (source, key)), _base=path.parent, _where=str(path))


def extend(raw, registry: Registry, *, _chain: tuple[tuple[str, str], ...] = (), _base: Path | None = None,
           _where: str = "config"):
    """``raw`` merged over what its ``extends:`` key names (unchanged when it has none); see :func:`load_tree`."""
    from omegaconf import DictConfig, OmegaConf

    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str) or not parent:
        raise ConfigError(f"{_where}: extends: expected one recipe name or YAML path, got {parent!r}")
    base = load_tree(parent, registry, _chain=_chain or (("config", ""),), _base=_base)
    for section, value in raw.items():
        old = base.get(section) if isinstance(base, DictConfig) else None
        if isinstance(old, DictConfig) and "name" in old and (
                isinstance(value, str) or (isinstance(value, DictConfig) and value.get("name", old.name) != old.name)):
            base.pop(section)  # another component: the extended one's options do not apply to it
    return OmegaConf.merge(base, raw)


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
    _check_moved_keys(cls, section, path)
    _check_nested_sections(cls, section, path)
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
        if "is not a ListConfig" in msg or "is not a DictConfig" in msg:  # omegaconf's node names mean nothing to a user
            want = "a list, e.g. [64, 64]" if "ListConfig" in msg else "a mapping of keys"
            got = getattr(exc, "value", None)
            msg = f"expected {want}, got {got!r}" if got is not None else f"expected {want}"
        raise ConfigError(f"{full}: {msg.splitlines()[0]}" if full else msg.splitlines()[0]) from None
    except ValueError as exc:  # a dataclass's own check (__post_init__): "field: what is wrong"; after
        # omegaconf's errors, some of which are ValueErrors too
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{path}.{msg}" if path and re.match(r"[\w.]+: ", msg) else
                          f"{path}: {msg}" if path else msg) from None


def _check_moved_keys(cls: type, section: Any, path: str) -> None:
    """A key a config class lists in ``MOVED_KEYS`` (``{"train.accelerator": "fabric.accelerator"}``, dotted
    below ``cls``): one line naming where it went, instead of omegaconf's "unknown key"."""
    moved = getattr(cls, "MOVED_KEYS", None)
    if not moved or not hasattr(section, "get"):
        return
    for old, new in moved.items():
        node = section
        for part in old.split("."):
            node = node.get(part) if hasattr(node, "get") and part in node else None
            if node is None:
                break
        if node is not None:
            full = ".".join(p for p in (path, old) if p)
            raise ConfigError(f"{full}: moved to {new} (set {new}={node!r} instead)")


def _check_nested_sections(cls: type, section: Any, path: str) -> None:
    """A nested dataclass field given a scalar (``log=5``): omegaconf's error names no key, so name it here."""
    import typing

    if not dataclasses.is_dataclass(cls) or not hasattr(section, "get"):
        return
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an annotation that does not evaluate: leave the check to omegaconf
        return
    for f in dataclasses.fields(cls):
        sub, value = hints.get(f.name), section.get(f.name) if f.name in section else None
        if isinstance(sub, type) and dataclasses.is_dataclass(sub) and value is not None and not hasattr(value, "keys"):
            full = ".".join(p for p in (path, f.name) if p)
            raise ConfigError(f"{full}: expected a section with the keys {', '.join(_fields(sub))}, got {value!r}"
                              f" (set one of them, e.g. {full}.{_fields(sub)[0]}=…)")


def resolve_section(registry: Registry, kind: str, section: Any, path: str, reserved: dict) -> Spec:
    from omegaconf import DictConfig, OmegaConf

    if isinstance(section, str):  # shorthand: `policy: dqn`
        section = {"name": section}
    if isinstance(section, DictConfig):
        section = OmegaConf.to_container(section, resolve=True)
    if not isinstance(section, dict) or "name" not in section:
        raise ConfigError(f"{path}: expected a mapping with 'name' (a registered {registry.singular(kind)})")
    section = dict(section)
    name = section.pop("name")
    extra = {key: section.pop(key, default) for key, default in reserved.items()}
    if kind == "envs" and not registry.has(kind, str(name)) and gymnasium_id(str(name), path):
        # a plain gymnasium id (gymnasium's own, or one another installed package registered): its options are
        # gym.make's keyword arguments
        return Spec(str(name), None, {**extra, **section})
    comp = registry.get(kind, str(name))  # UnknownComponentError lists what is available
    cls = comp.load_config_class()
    if cls is None:
        if section:
            raise ConfigError(f"{path}: {registry.singular(kind)} {name!r} takes no options, got {', '.join(section)}")
        return Spec(comp.name, None, extra)
    return Spec(comp.name, merge_into(cls, section, path), extra)


def gymnasium_id(name: str, path: str = "env") -> bool:
    """Whether ``name`` is an env id registered with gymnasium in this process (never an import path: a
    ``module:Env`` name is refused with a one-line error)."""
    from .env_ids import check_env_id

    if ":" in name:
        check_env_id(name, what=f"{path}.name")
    try:
        import gymnasium
    except ImportError:
        return False
    return name in gymnasium.registry


def resolve(raw, registry: Registry):
    """Phase 2: the job's dataclass with every component section resolved. Returns ``(job_name, config)``."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        data = OmegaConf.to_container(raw, resolve=True)
    except OmegaConfBaseException as exc:  # ${...} interpolations: a missing key, a cycle, a bad resolver
        msg = (getattr(exc, "msg", None) or str(exc)).splitlines()[0]
        where = getattr(exc, "full_key", None)
        raise ConfigError(f"{where + ': ' if where else ''}{msg} (a ${{…}} reference must name a key of this"
                          " config, e.g. ${seed})") from None
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
                raise ConfigError(f"{f.name}: missing; name a registered {registry.singular(meta['component'])}"
                                  f" ({', '.join(registry.names(meta['component'])) or 'none installed'})")
            setattr(config, f.name, [] if meta.get("many") else None)
            continue
        value = sections[f.name][1]
        if meta.get("many"):
            if value is None:
                value = []
            if not isinstance(value, list):
                raise ConfigError(f"{f.name}: expected a list of {registry.singular(meta['component'])} sections")
            specs = [resolve_section(registry, meta["component"], item, f"{f.name}.{i}", meta["reserved"])
                     for i, item in enumerate(value)]
            setattr(config, f.name, specs)
        elif value is None and not meta.get("required"):
            setattr(config, f.name, None)
        else:
            setattr(config, f.name, resolve_section(registry, meta["component"], value, f.name, meta["reserved"]))
    return job_name, config


def to_tree(job_name: str, config: Any, raw=None) -> dict:
    """The fully resolved config as plain data: every default filled in, each component section as
    ``{name, <caller's keys such as coef>, <every field of its config>}``. Resolving it again gives the
    same config, so it is what ``--show-config`` prints and what a run saves as ``config.yaml``."""
    tree = _plain(config)
    if not isinstance(tree, dict):
        raise IntarsiaError(f"job {job_name!r}: its config is not a dataclass")
    tree.setdefault("job", job_name)
    if raw is not None and "recipe" not in tree and raw.get("recipe") is not None:
        tree["recipe"] = str(raw.get("recipe"))  # a job without a ``recipe`` field still reports its source
    return tree


def _plain(value: Any) -> Any:
    import enum

    if isinstance(value, Spec):
        out = {"name": value.name, **{k: _plain(v) for k, v in value.extra.items()}}
        if value.config is not None:
            out.update(_plain(value.config))
        return out
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, Path):
        return str(value)
    return value


def resolved_raw(raw, job_name: str, config: Any):
    """:func:`to_tree` as a ``DictConfig`` (what the runner writes and ``--show-config`` prints)."""
    from omegaconf import OmegaConf

    return OmegaConf.create(to_tree(job_name, config, raw))


def to_yaml(raw) -> str:
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(raw)
