"""The plugin manager: entry-point discovery, isolation of broken plugins, allow/deny lists, tracing.

Environment switches (as pytest, llm and datasette have them):

``INTARSIA_STRICT_PLUGINS=1``   a plugin that fails to import or register is fatal (name + traceback)
``INTARSIA_LOAD_PLUGINS=a,b``   load only these entry points (``""`` loads none besides the core's own)
``INTARSIA_DISABLE_PLUGINS=a,b`` skip these entry points
``INTARSIA_TRACE_PLUGINS=1``    print every hook call and its result to stderr

Every hook is called through pluggy's caller, one plugin at a time (a subset caller holding only that
plugin's implementation), so tracing and pluggy's monitoring see each call while the registrar handed to
the plugin knows which distribution is registering.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .errors import DuplicateComponentError, IntarsiaError, PluginLoadError, did_you_mean
from .hookspecs import hookimpl
from .registry import Registry, import_object

ENTRY_POINT_GROUP = "intarsia"


def _env_list(var: str) -> list[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def strict_mode() -> bool:
    return os.environ.get("INTARSIA_STRICT_PLUGINS", "").lower() in {"1", "true", "yes", "on"}


@dataclass
class PluginInfo:
    """What ``intarsia plugins`` shows for one plugin."""

    name: str
    distribution: str
    version: str
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None
    prefix: str = ""
    """the plugin's name as its recipe names start (``r2i`` in ``r2i/tiny``)"""


class Host:
    """A plugin manager plus the registry its plugins filled.

    ``Host()`` loads the core's built-in plugin and every installed entry point of the group ``intarsia``.
    Tests pass ``autoload=False`` and their own plugins (modules or objects with hookimpls).
    """

    def __init__(
        self,
        plugins: Iterable[Any] = (),
        *,
        autoload: bool = True,
        builtin: bool = True,
        strict: bool | None = None,
    ):
        self.strict = strict_mode() if strict is None else strict
        self.pm = pluggy.PluginManager("intarsia")
        self.pm.add_hookspecs(hookspecs)
        if os.environ.get("INTARSIA_TRACE_PLUGINS"):
            self.pm.trace.root.setwriter(lambda msg: sys.stderr.write(msg))
            self.pm.enable_tracing()
        self.infos: list[PluginInfo] = []
        self.conflicts: list[DuplicateComponentError] = []
        self._dist_of: dict[int, str] = {}
        self._info_of: dict[int, PluginInfo] = {}
        self.registry = Registry()
        if builtin:
            from .builtin import plugin as builtin_plugin

            self._add(builtin_plugin, "builtin", "intarsia-core", _version("intarsia-core"))
        for plugin in plugins:
            if isinstance(plugin, str):  # an installed plugin, by entry-point or distribution name
                self._add(*_load_installed(plugin))
                continue
            if not _implements_hooks(plugin):
                raise PluginLoadError(
                    f"{plugin!r} is not an intarsia plugin: pass a module (or object) with @hookimpl functions,"
                    f" or the name of an installed one ({', '.join(installed_plugin_names()) or 'none installed'})")
            name = getattr(plugin, "__name__", type(plugin).__name__)
            self._add(plugin, name, getattr(plugin, "__distribution__", name), "", installed=False)
        if autoload:
            self._load_entry_points()
        self._declare_kinds()
        self._check_pending()
        self._collect()

    # -- loading -------------------------------------------------------------------------------------
    def _add(self, plugin: Any, name: str, distribution: str, version: str, *, installed: bool = True) -> PluginInfo:
        """``installed``: ``name`` is an entry-point name (the recipe prefix); otherwise the prefix is read off
        the distribution or module name (``intarsia_r2i.plugin`` -> ``r2i``)."""
        prefix = name if installed else _plugin_name(distribution)
        info = PluginInfo(name=name, distribution=distribution, version=version, prefix=prefix)
        self.infos.append(info)
        try:
            self.pm.register(plugin, name=f"{distribution}:{name}")
        except Exception as exc:  # a hookimpl with a misspelt argument, a duplicate module, ...
            self._fail(info, exc)
            return info
        self._dist_of[id(plugin)] = distribution
        self._info_of[id(plugin)] = info
        info.hooks = sorted(
            hook.name for hook in self.pm.get_hookcallers(plugin) or [] if not hook.name.startswith("_")
        )
        return info

    def _fail(self, info: PluginInfo, exc: BaseException) -> None:
        info.error = f"{type(exc).__name__}: {exc}"
        info.traceback = "".join(traceback.format_exception(exc))
        if self.strict:
            raise PluginLoadError(
                f"plugin {info.name!r} ({info.distribution}) failed to load "
                f"(INTARSIA_STRICT_PLUGINS is set):\n{info.traceback}"
            ) from exc

    def _load_entry_points(self) -> None:
        allow = _env_list("INTARSIA_LOAD_PLUGINS")
        deny = set(_env_list("INTARSIA_DISABLE_PLUGINS") or [])
        seen: set[tuple[str, str]] = set()
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else ep.name
            if (ep.name, dist) in seen:  # the same distribution visible twice on sys.path
                continue
            seen.add((ep.name, dist))
            if (allow is not None and ep.name not in allow and dist not in allow) or ep.name in deny or dist in deny:
                continue
            version = ep.dist.version if ep.dist is not None else ""
            try:
                module = ep.load()
            except Exception as exc:
                info = PluginInfo(name=ep.name, distribution=dist, version=version)
                self.infos.append(info)
                self._fail(info, exc)
                continue
            self._add(module, ep.name, dist, version)

    def _each_plugin(self, hook_name: str):
        """``(plugin, info, caller)`` for every plugin implementing ``hook_name``, in registration order;
        ``caller`` is pluggy's caller restricted to that plugin (so the call is traced and attributable)."""
        hook = getattr(self.pm.hook, hook_name, None)
        if hook is None:
            return
        impls = hook.get_hookimpls()
        for impl in reversed(impls):  # pluggy's own call order (the last registered first)
            others = [other.plugin for other in impls if other.plugin is not impl.plugin]
            info = self._info_of.get(id(impl.plugin))
            yield impl.plugin, info, self.pm.subset_hook_caller(hook_name, remove_plugins=others)

    def _guarded(self, info: PluginInfo | None, caller: Any, **kwargs: Any) -> None:
        """Call one plugin's hook; its failure is that plugin's (recorded, or fatal in strict mode)."""
        try:
            caller(**kwargs)
        except DuplicateComponentError as exc:
            self._conflict(exc, info.distribution if info else "?")
        except Exception as exc:
            if info is None:
                raise
            self._fail(info, exc)

    def _declare_kinds(self) -> None:
        """Call every ``register_kinds`` hook and add the hook spec of each kind declared (before
        :meth:`_check_pending`, so implementations of a declared kind's hook are not unknown hooks)."""
        for _plugin, info, caller in self._each_plugin("register_kinds"):
            self._guarded(info, caller, register=_KindRegistrar(self, info.distribution if info else "?"))

    def _check_pending(self) -> None:
        """A hookimpl naming a hook nobody declared (a typo, or a kind whose declaring plugin is not loaded)
        fails its plugin with one line naming the hook and the kinds there are."""
        while True:
            try:
                self.pm.check_pending()
                return
            except pluggy.PluginValidationError as exc:
                plugin = exc.plugin
                info = self._info_of.get(id(plugin))
                hooks = [h.name for h in self.pm.get_hookcallers(plugin) or [] if h.spec is None]
                hook = hooks[0] if hooks else "?"
                known = [n for n in dir(self.pm.hook) if n.startswith("register_") and
                         getattr(self.pm.hook, n).spec is not None]
                kind = hook.removeprefix("register_")
                why = (f"no loaded plugin declares the kind {kind!r} (kinds: {', '.join(self.registry.kinds)})"
                       if hook.startswith("register_") else "no such hook")
                who = info.distribution if info else repr(plugin)
                error = PluginLoadError(f"{who} implements {hook!r}, but {why}.{did_you_mean(hook, known)}")
                if info is None or self.strict:
                    raise error from exc
                self._fail(info, error)
                self.pm.unregister(plugin)

    def _collect(self) -> None:
        """Call every ``register_<kind>`` hook, one plugin at a time, attributing each registration to its
        distribution."""
        for kind in self.registry.kinds.values():
            for _plugin, info, caller in self._each_plugin(kind.hook):
                dist = info.distribution if info else "?"
                register = self.registry.registrar(kind.name, dist, info.prefix if info else None)
                self._guarded(info, caller, register=register)

    def _conflict(self, exc: DuplicateComponentError, dist: str) -> None:
        """Two distributions claim one name. There is no silent winner: :meth:`check` (which every command
        that uses components calls) fails, naming the way out, while ``--help``, ``--version`` and
        ``intarsia plugins`` keep working."""
        # the core's own components cannot be disabled: name the plugin that collides with them
        culprit = next((d for d in reversed(getattr(exc, "distributions", (dist,))) if d != "intarsia-core"), dist)
        info = next((i for i in self.infos if i.distribution == culprit), None)
        way_out = f"uninstall one of them or set INTARSIA_DISABLE_PLUGINS={info.name}" if info else "uninstall one of them"
        error = DuplicateComponentError(f"{exc}: {way_out} (`intarsia plugins` lists what each registers)")
        if self.strict or info is None:
            raise error from None
        self.conflicts.append(error)
        info.error = str(error)

    # -- queries -------------------------------------------------------------------------------------
    @property
    def errors(self) -> list[PluginInfo]:
        return [info for info in self.infos if info.error]

    def check(self) -> Host:
        """Raise the first name clash between plugins (see :meth:`_conflict`); the host otherwise."""
        if self.conflicts:
            raise self.conflicts[0]
        return self

    def distribution_of(self, plugin: Any) -> str:
        """The distribution name a plugin's registrations are attributed to (its module name for a plugin
        passed as a module)."""
        if isinstance(plugin, str):
            return _load_installed(plugin)[2]
        if id(plugin) not in self._dist_of:
            raise PluginLoadError(f"{plugin!r} is not registered with this host")
        return self._dist_of[id(plugin)]

    def add_commands(self, cli: Any) -> None:
        for _plugin, info, caller in self._each_plugin("register_commands"):
            self._guarded(info, caller, cli=cli)


class _KindRegistrar:
    """The ``register`` callable of one plugin's ``register_kinds`` hook (see :mod:`intarsia.hookspecs`)."""

    def __init__(self, host: Host, distribution: str):
        self.host, self.distribution = host, distribution

    def __call__(self, kind: str, *, singular: str, hookspec: Any) -> None:
        registry = self.host.registry
        registry.check_kind(kind, singular, self.distribution)
        spec = import_object(hookspec)
        _check_kind_spec(kind, spec, self.distribution)
        registry.declare(kind, singular, self.distribution)
        # a namespace holding only this spec: add_hookspecs adds every spec it finds
        self.host.pm.add_hookspecs(type(f"{kind}_hookspec", (), {f"register_{kind}": staticmethod(spec)}))

    def __repr__(self) -> str:  # what INTARSIA_TRACE_PLUGINS prints for the argument
        return f"<kinds registrar for {self.distribution}>"


def _plugin_name(distribution: str) -> str:
    """The plugin name of a plugin passed as a module or object: ``intarsia_r2i.plugin`` or
    ``intarsia-r2i`` -> ``r2i``."""
    top = distribution.split(".")[0]
    for lead in ("intarsia-", "intarsia_"):
        top = top.removeprefix(lead)
    return top.replace("_", "-")


def _check_kind_spec(kind: str, spec: Any, distribution: str) -> None:
    name = getattr(spec, "__name__", None)
    if not callable(spec) or name != f"register_{kind}":
        raise IntarsiaError(f"{distribution}: the hookspec of kind {kind!r} must be a function named "
                            f"'register_{kind}', got {spec!r}")
    if not hasattr(spec, f"{ENTRY_POINT_GROUP}_spec"):
        raise IntarsiaError(f"{distribution}: mark {spec.__module__}.{name} with @intarsia.hookspecs.hookspec")
    if len((spec.__doc__ or "").strip()) < 60:
        raise IntarsiaError(f"{distribution}: {spec.__module__}.{name} needs a docstring stating the kind's contract")


def _implements_hooks(plugin: Any) -> bool:
    marker = f"{ENTRY_POINT_GROUP}_impl"  # what @hookimpl sets on a function
    return any(hasattr(getattr(plugin, attr, None), marker) for attr in dir(plugin) if not attr.startswith("__"))


def _installed_entry_points() -> list:
    return sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)


def installed_plugin_names() -> list[str]:
    """Entry-point names of the installed plugins (``r2i``, ``motif``, ...)."""
    return sorted({ep.name for ep in _installed_entry_points()})


def _load_installed(name: str) -> tuple[Any, str, str, str]:
    """``(module, entry-point name, distribution, version)`` of an installed plugin named by its entry
    point (``r2i``) or distribution (``intarsia-r2i``); an error naming it otherwise."""
    for ep in _installed_entry_points():
        dist = ep.dist.name if ep.dist is not None else ep.name
        if name in (ep.name, dist):
            try:
                module = ep.load()
            except Exception as exc:
                raise PluginLoadError(f"installed plugin {name!r} ({dist}) failed to import: "
                                      f"{type(exc).__name__}: {exc}") from exc
            return module, ep.name, dist, ep.dist.version if ep.dist is not None else ""
    from .errors import did_you_mean

    names = installed_plugin_names()
    raise PluginLoadError(f"no installed intarsia plugin is named {name!r}.{did_you_mean(name, names)}"
                          f" Installed: {', '.join(names) or '(none)'}")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""


_HOST: Host | None = None


def get_host() -> Host:
    """The process-wide host, loaded on first use."""
    global _HOST
    if _HOST is None:
        _HOST = Host()
    return _HOST


def set_host(host: Host | None) -> Host | None:
    """Replace the process-wide host (tests); returns the previous one."""
    global _HOST
    previous, _HOST = _HOST, host
    return previous


def get_registry() -> Registry:
    return get_host().check().registry


__all__ = ["ENTRY_POINT_GROUP", "Host", "PluginInfo", "get_host", "get_registry", "hookimpl", "installed_plugin_names",
           "set_host"]
