"""``PluginContract``: the checks a whole plugin passes, whatever it registers.

::

    from intarsia.testing import PluginContract
    from intarsia_mything import plugin

    class TestMyPlugin(PluginContract):
        plugin = plugin
        uses = ("r2i",)   # installed plugins whose components the recipes name (entry-point names)
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .clauses import clause

# what `intarsia --help` and `intarsia plugins` must not pay for when they import a plugin's hooks module
HEAVY_MODULES = ("torch", "lightning", "gymnasium", "datasets", "transformers", "matplotlib", "sklearn")


class PluginContract:
    """Set ``plugin`` to the plugin's hooks module (what its entry point names); ``uses`` to the installed
    plugins its recipes need besides the core, by entry-point name."""

    clause_source = "intarsia.hookspecs"
    plugin = None
    uses: tuple[str, ...] = ()

    def _host(self, intarsia_host):
        if self.plugin is None:
            pytest.fail(f"{type(self).__name__}: set `plugin = <your plugin's hooks module>` on the class")
        host = intarsia_host(self.plugin, *self.uses)
        return host, host.registry.by_distribution().get(host.distribution_of(self.plugin), [])

    @clause("a plugin registers components through its register_<kind> hooks")
    def test_plugin_loads_and_registers_components(self, intarsia_host):
        host, components = self._host(intarsia_host)
        assert components, f"{self.plugin.__name__} registered nothing"

    @clause('factory and config are "module:attr" strings; the module is imported only when a run builds the '
            "component")
    def test_every_registration_imports(self, intarsia_host):
        _, components = self._host(intarsia_host)
        broken = []
        for comp in components:
            if comp.kind == "recipes":
                if not comp.file or not comp.file.is_file():
                    broken.append(f"recipe {comp.name!r}: file {comp.file} does not exist (package data?)")
                continue
            for what, load in (("factory", comp.load_factory), ("config", comp.load_config_class)):
                try:
                    obj = load()
                except Exception as exc:
                    broken.append(f"{comp.kind} {comp.name!r}: {what} {getattr(comp, what)!r} does not import "
                                  f"({type(exc).__name__}: {exc})")
                    continue
                if what == "factory" and not callable(obj):
                    broken.append(f"{comp.kind} {comp.name!r}: factory {comp.factory!r} is not callable")
        assert not broken, "\n".join(broken)

    @clause("Configs are dataclasses with a docstring per field")
    def test_every_config_field_is_documented(self, intarsia_host):
        from intarsia.describe import undocumented

        _, components = self._host(intarsia_host)
        missing = []
        for comp in components:
            if comp.kind == "recipes" or comp.config is None:
                continue
            try:
                cls = comp.load_config_class()
            except Exception:
                continue  # the registration clause reports it
            missing += [f"{comp.kind} {comp.name!r}: {cls.__qualname__}.{path}" for path in undocumented(cls)]
        assert not missing, ("fields without a docstring (a string literal on the line after the field) or a "
                             "# comment:\n" + "\n".join(missing))

    @clause("Recipes are YAML files shipped inside a plugin (package data) that resolve against the registered "
            "configs")
    def test_every_recipe_resolves_and_its_resolved_config_round_trips(self, intarsia_host):
        from intarsia.config import to_yaml
        from intarsia.runner.api import prepare

        host, components = self._host(intarsia_host)
        recipes = [c for c in components if c.kind == "recipes"]
        if not recipes:
            pytest.skip("the plugin registers no recipes")
        failures = []
        for comp in recipes:
            try:
                raw, _, _ = prepare(comp.name, [], host.registry)
                again, _, _ = prepare(raw, [], host.registry)  # what a resumed run reads from config.yaml
            except Exception as exc:
                hint = "" if self.uses else " (does it name another plugin's component? list that plugin in `uses`)"
                failures.append(f"recipe {comp.name!r}: {type(exc).__name__}: {exc}{hint}")
                continue
            if to_yaml(again) != to_yaml(raw):
                failures.append(f"recipe {comp.name!r}: its resolved config does not resolve to itself")
        assert not failures, "\n".join(failures)

    @clause("Keep plugin.py free of heavy imports (torch, lightning, gymnasium): intarsia --help and intarsia "
            "plugins import every installed plugin.py")
    def test_hooks_module_is_cheap_to_import(self):
        if self.plugin is None:
            pytest.fail(f"{type(self).__name__}: set `plugin = <your plugin's hooks module>` on the class")
        name = self.plugin.__name__
        code = (f"import sys, {name}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & "
                f"set({list(HEAVY_MODULES)!r}))))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        assert out.returncode == 0, out.stderr[-2000:]
        heavy = out.stdout.split()
        assert not heavy, (f"importing {name} imports {', '.join(heavy)}: name factories and configs as "
                           "'module:attr' strings and import inside command bodies")


__all__ = ["PluginContract"]
