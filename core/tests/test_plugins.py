"""Plugin manager: isolation of broken plugins, strict mode, allow/deny lists, typos, duplicates."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from importlib import metadata

import pytest
from intarsia import hookimpl
from intarsia.errors import DuplicateComponentError, PluginLoadError
from intarsia.plugins import Host


def _module(name: str, source: str) -> types.ModuleType:
    mod = types.ModuleType(name)
    exec(source, mod.__dict__)
    sys.modules[name] = mod
    return mod


GOOD = """
from intarsia import hookimpl
@hookimpl
def register_rewards(register):
    register("good-reward", factory="intarsia.builtin.rewards:ZeroReward", summary="fine")
"""


@pytest.fixture
def fake_entry_points(monkeypatch):
    """Install fake entry points of the group ``intarsia`` pointing at in-memory modules."""

    def install(**sources):
        eps = []
        for name, source in sources.items():
            modname = f"_fake_intarsia_{name}"
            if source == "RAISE":
                sys.modules.pop(modname, None)
                eps.append(metadata.EntryPoint(name, f"{modname}_missing.plugin", "intarsia"))
            else:
                _module(modname, source)
                eps.append(metadata.EntryPoint(name, modname, "intarsia"))
        monkeypatch.setattr(metadata, "entry_points", lambda group=None: [e for e in eps if e.group == group])

    return install


def test_a_plugin_that_raises_on_import_is_recorded_and_the_rest_work(fake_entry_points, monkeypatch):
    monkeypatch.delenv("INTARSIA_STRICT_PLUGINS", raising=False)
    fake_entry_points(good=GOOD, broken="RAISE")
    host = Host()
    broken = [i for i in host.infos if i.name == "broken"]
    assert broken and "ModuleNotFoundError" in broken[0].error and broken[0].traceback
    assert "good-reward" in host.registry.names("rewards")


def test_strict_mode_makes_an_import_failure_fatal_naming_the_plugin(fake_entry_points, monkeypatch):
    monkeypatch.setenv("INTARSIA_STRICT_PLUGINS", "1")
    fake_entry_points(good=GOOD, broken="RAISE")
    with pytest.raises(PluginLoadError, match="(?s)'broken'.*Traceback"):
        Host()


def test_allow_and_deny_lists(fake_entry_points, monkeypatch):
    other = GOOD.replace("good-reward", "other-reward")
    fake_entry_points(good=GOOD, other=other)
    monkeypatch.setenv("INTARSIA_LOAD_PLUGINS", "other")
    assert "good-reward" not in Host().registry.names("rewards")
    monkeypatch.delenv("INTARSIA_LOAD_PLUGINS")
    monkeypatch.setenv("INTARSIA_DISABLE_PLUGINS", "other")
    names = Host().registry.names("rewards")
    assert "good-reward" in names and "other-reward" not in names


def test_a_misspelt_hook_is_an_error():
    typo = _module("_typo_plugin", "from intarsia import hookimpl\n@hookimpl\ndef register_reward(register):\n    pass\n")
    host = Host([typo], autoload=False, strict=False)
    assert any("register_reward" in (i.error or "") for i in host.infos)
    with pytest.raises(PluginLoadError, match="register_reward"):
        Host([typo], autoload=False, strict=True)


def test_duplicate_names_name_both_distributions():
    class A:
        __distribution__ = "intarsia-a"

        @hookimpl
        def register_rewards(self, register):
            register("same", factory="intarsia.builtin.rewards:ZeroReward")

    class B(A):
        __distribution__ = "intarsia-b"

    host = Host([A(), B()], autoload=False, strict=False)  # recorded, so `intarsia plugins` can still show it
    assert [i.distribution for i in host.errors] in (["intarsia-a"], ["intarsia-b"])
    assert "registered twice" in host.errors[0].error
    with pytest.raises(DuplicateComponentError, match="(intarsia-a.*intarsia-b|intarsia-b.*intarsia-a).*"
                                                      "INTARSIA_DISABLE_PLUGINS=[AB]"):
        host.check()
    with pytest.raises(DuplicateComponentError):
        Host([A(), B()], autoload=False, strict=True)


def test_a_registration_that_raises_is_isolated():
    class Bad:
        __distribution__ = "intarsia-bad"

        @hookimpl
        def register_policies(self, register):
            raise RuntimeError("boom")

    host = Host([Bad()], autoload=False, strict=False)
    assert any(i.distribution == "intarsia-bad" and "boom" in i.error for i in host.errors)
    assert "qlearning" in host.registry.names("policies")


def test_every_hook_is_called_with_its_registrar():
    """Each register_<kind> hook reaches the registry of that kind; register_commands gets the CLI."""
    from intarsia import hookspecs
    from intarsia.registry import CORE_KINDS

    calls = {}

    class All:
        __distribution__ = "intarsia-all"

    for kind in CORE_KINDS:
        def impl(self, register, kind=kind):
            calls[kind] = register.kind
        setattr(All, f"register_{kind}", hookimpl(impl))

    def commands(self, cli):
        calls["commands"] = cli
    All.register_commands = hookimpl(commands)
    host = Host([All()], autoload=False)
    host.add_commands("the-cli")
    specs = {n for n in dir(hookspecs) if n.startswith("register_")}
    assert specs == {f"register_{k}" for k in CORE_KINDS} | {"register_commands", "register_kinds"}
    assert calls == {**{k: k for k in CORE_KINDS}, "commands": "the-cli"}


def test_the_trace_switch_prints_every_hook_call_with_the_distribution_registering(monkeypatch, capsys):
    class Traced:
        __distribution__ = "intarsia-traced"

        @hookimpl
        def register_rewards(self, register):
            register("traced-reward", factory="intarsia.builtin.rewards:ZeroReward")

        @hookimpl
        def register_commands(self, cli):
            pass

    monkeypatch.setenv("INTARSIA_TRACE_PLUGINS", "1")
    Host([Traced()], autoload=False).add_commands("the-cli")
    err = capsys.readouterr().err
    # one call per plugin: the builtin's and this plugin's register_rewards, each with its own registrar
    assert "register_rewards [hook]" in err and "finish register_rewards" in err
    assert "<rewards registrar for intarsia-core>" in err and "<rewards registrar for intarsia-traced>" in err
    assert "register_commands [hook]\n      cli: the-cli" in err
    assert "register_kinds [hook]" not in err  # no plugin here declares a kind
    monkeypatch.delenv("INTARSIA_TRACE_PLUGINS")
    Host([Traced()], autoload=False)
    assert capsys.readouterr().err == ""


def test_hookimpl_lives_beside_the_hookspecs_and_the_builtin_plugin_does_not_import_the_manager():
    import intarsia
    import intarsia.plugins
    from intarsia import hookspecs

    assert intarsia.hookimpl is hookspecs.hookimpl is intarsia.plugins.hookimpl
    code = ("import sys, intarsia.builtin.plugin; "
            "assert 'intarsia.plugins' not in sys.modules, 'the builtin plugin imports the plugin manager'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.returncode == 0, out.stderr


def test_every_hook_has_a_contract_docstring():
    from intarsia import hookspecs

    for name in dir(hookspecs):
        if name.startswith("register_"):
            doc = getattr(hookspecs, name).__doc__ or ""
            assert len(doc.strip()) > 60, f"{name} needs a docstring stating its contract"
