"""Meta-tests over the whole repository: hooks documented and exercised, plugins discovered after a
non-editable install, every plugin's shape."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from intarsia import hookspecs

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p.parent.name for p in (ROOT / "plugins").glob("*/pyproject.toml"))

def _spec_modules() -> dict[str, object]:
    """Hook spec modules: the core's, and each first-party plugin's ``hookspecs.py`` (the kinds it declares)."""
    import importlib

    found = {"intarsia-core": hookspecs}
    for name in PLUGINS:
        if (ROOT / f"plugins/{name}/src/intarsia_{name}/hookspecs.py").exists():
            found[f"intarsia-{name}"] = importlib.import_module(f"intarsia_{name}.hookspecs")
    return found


SPECS = {hook: (dist, getattr(module, hook)) for dist, module in _spec_modules().items()
         for hook in dir(module) if hook.startswith("register_")}
HOOKS = sorted(SPECS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_for_plugin_authors(hook):
    assert hook in (ROOT / "docs" / "writing-plugins.md").read_text()
    assert len((SPECS[hook][1].__doc__ or "").strip()) > 60


def test_every_hook_spec_a_plugin_ships_is_a_kind_it_declares():
    from intarsia.plugins import Host

    kinds = Host().registry.kinds
    for hook, (dist, _) in SPECS.items():
        if dist != "intarsia-core":
            kind = hook.removeprefix("register_")
            assert kind in kinds and kinds[kind].distribution == dist, f"{dist} ships {hook} but does not declare {kind!r}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_implemented_by_some_package_in_this_repository(hook):
    sources = [ROOT / "core/src/intarsia/builtin/plugin.py"] + [ROOT / f"plugins/{p}/src/intarsia_{p}/plugin.py" for p in PLUGINS]
    assert any(f"def {hook}(" in s.read_text() for s in sources if s.exists()), f"no plugin implements {hook}"


@pytest.mark.parametrize("name", PLUGINS)
def test_plugin_has_its_own_package_readme_tests_and_entry_point(name):
    folder = ROOT / "plugins" / name
    text = (folder / "pyproject.toml").read_text()
    assert f'name = "intarsia-{name}"' in text
    assert "[project.entry-points.intarsia]" in text and f'"intarsia_{name}.plugin"' in text
    assert (folder / "README.md").exists() and any((folder / "tests").glob("test_*.py"))


@pytest.mark.parametrize("name", PLUGINS)
def test_installed_plugin_loads_without_errors(name):
    from intarsia.plugins import Host

    eps = [ep for ep in metadata.entry_points(group="intarsia") if ep.dist and ep.dist.name == f"intarsia-{name}"]
    assert eps, f"intarsia-{name} is not installed (make install)"
    host = Host()
    info = [i for i in host.infos if i.distribution == f"intarsia-{name}"]
    assert info and info[0].error is None, info[0].traceback if info else ""
    assert host.registry.by_distribution().get(f"intarsia-{name}"), f"intarsia-{name} registered nothing"


@pytest.mark.parametrize("name", ["core", *PLUGINS])
def test_entry_point_is_discovered_after_a_non_editable_install(name, tmp_path):
    folder = ROOT / ("core" if name == "core" else f"plugins/{name}")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-compile",
                    "--target", str(site), str(folder)], check=True, capture_output=True)
    dist = "intarsia-core" if name == "core" else f"intarsia-{name}"
    code = ("import sys; from importlib import metadata; "
            f"d = metadata.distribution({dist!r}); "
            "assert str(d.locate_file('')).startswith(sys.argv[1]), d.locate_file(''); "
            "print([e.value for e in d.entry_points if e.group in ('intarsia', 'console_scripts')])")
    # the target folder first on the path, so the built wheel (not the editable checkout) is what loads
    out = subprocess.run([sys.executable, "-c", code, str(site)], env={**os.environ, "PYTHONPATH": str(site)},
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    expected = "intarsia.cli:main" if name == "core" else f"intarsia_{name}.plugin"
    assert expected in out.stdout
    if name != "core":
        recipes = list((site / f"intarsia_{name}").rglob("*.yaml"))
        assert recipes or not list((folder / "src").rglob("*.yaml")), "recipes missing from the built package"
