"""Kinds a plugin declares (``register_kinds``), renamed components, and the ``<plugin>/<recipe>`` rule."""

from __future__ import annotations

import json
import re
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from intarsia import hookimpl, hookspec
from intarsia.build import build
from intarsia.errors import DuplicateComponentError, IntarsiaError, PluginLoadError, UnknownComponentError


@dataclass
class GadgetConfig:
    size: int = 2
    """how many parts the gadget has"""


class Gadget:
    def __init__(self, config: GadgetConfig, *, colour: str):
        self.size, self.colour = config.size, colour


@hookspec
def register_gadgets(register):
    """Register gadgets: ``factory(config, *, colour)`` returns an object with ``size`` and ``colour``
    (a kind made up for these tests, declared by a plugin rather than the core)."""


class Declares:
    """A plugin that owns a job which builds gadgets, so it declares the kind."""

    __distribution__ = "intarsia-workshop"

    @hookimpl
    def register_kinds(self, register):
        register("gadgets", singular="gadget", hookspec=register_gadgets)


class Registers:
    """Another distribution registering into the declared kind."""

    __distribution__ = "intarsia-parts"

    @hookimpl
    def register_gadgets(self, register):
        register("sprocket", factory=Gadget, config=GadgetConfig, summary="a gadget with teeth")


def test_a_plugin_declares_a_kind_and_another_registers_into_it(intarsia_host):
    host = intarsia_host(Registers(), Declares())  # the order the plugins load in does not matter
    assert host.registry.kinds["gadgets"].distribution == "intarsia-workshop"
    assert host.registry.names("gadgets") == ["sprocket"]
    assert host.registry.get("gadgets", "sprocket").distribution == "intarsia-parts"
    gadget = build("gadgets", "sprocket", {"size": 5}, colour="red")
    assert (gadget.size, gadget.colour) == (5, "red")
    with pytest.raises(UnknownComponentError, match="unknown gadget 'sprockett'.*Did you mean 'sprocket'"):
        build("gadgets", "sprockett", colour="red")

    from intarsia.cli import cli

    runner = CliRunner()
    listed = runner.invoke(cli, ["list", "gadgets"])
    assert listed.exit_code == 0 and "sprocket" in listed.output and "intarsia-parts" in listed.output
    assert "sprocket" in runner.invoke(cli, ["list"]).output
    shown = runner.invoke(cli, ["show", "gadgets", "sprocket"])
    assert shown.exit_code == 0 and "gadget 'sprocket' (from intarsia-parts)" in shown.output
    assert "how many parts the gadget has" in shown.output
    rows = json.loads(runner.invoke(cli, ["plugins", "--json"]).output)
    assert {"kinds": ["gadgets"]} == {k: v for r in rows if r["distribution"] == "intarsia-workshop"
                                      for k, v in r["registered"].items()}
    from intarsia.cli import _complete_kind

    assert _complete_kind(None, None, "gad") == ["gadgets"]


def test_registering_into_a_kind_nobody_declared_is_a_one_line_error_naming_the_kind(intarsia_host):
    with pytest.raises(PluginLoadError) as info:
        intarsia_host(Registers())  # the declaring plugin is not loaded
    message = str(info.value)
    assert "\n" not in message
    assert "intarsia-parts implements 'register_gadgets', but no loaded plugin declares the kind 'gadgets'" in message
    host = intarsia_host(Registers(), strict=False)  # not strict: that plugin fails, the rest load
    assert [i.distribution for i in host.errors] == ["intarsia-parts"]
    assert "qlearning" in host.registry.names("policies")
    with pytest.raises(UnknownComponentError, match="unknown kind 'gadgets'.*a plugin declares a kind"):
        host.registry.names("gadgets")


def test_a_kind_declared_twice_names_both_declarers(intarsia_host):
    class Again(Declares):
        __distribution__ = "intarsia-rival"

    with pytest.raises(DuplicateComponentError, match="kind 'gadgets' is declared twice: by 'intarsia-(workshop|rival)' "
                                                      "and by 'intarsia-(workshop|rival)'"):
        intarsia_host(Declares(), Again())
    with pytest.raises(DuplicateComponentError, match="kind 'rewards' is declared twice: by 'intarsia-core'"):
        intarsia_host(_declaring("rewards", "intarsia.hookspecs:register_rewards"))


def _declaring(kind, spec, singular="thing"):
    class Bad:
        __distribution__ = "intarsia-bad"

        @hookimpl
        def register_kinds(self, register):
            register(kind, singular=singular, hookspec=spec)

    return Bad()


def _unmarked_register_gadgets(register):
    """Long enough to be a contract, but this function has no hookspec marker on it at all."""


_unmarked_register_gadgets.__name__ = "register_gadgets"


@pytest.mark.parametrize(("kind", "spec", "message"), [
    ("Gadgets", register_gadgets, "kind names are lower-case identifiers"),
    ("widgets", register_gadgets, "must be a function named 'register_widgets'"),
    ("gadgets", _unmarked_register_gadgets, "mark .* with @intarsia.hookspecs.hookspec"),
    ("gadgets", "no_such_module:register_gadgets", "No module named 'no_such_module'"),
])
def test_a_bad_kind_declaration_fails_its_plugin_with_the_reason(intarsia_host, kind, spec, message):
    host = intarsia_host(_declaring(kind, spec), strict=False)
    assert [i.distribution for i in host.errors] == ["intarsia-bad"]
    assert re.search(message, host.errors[0].error), host.errors[0].error
    assert "gadgets" not in host.registry.kinds


# -- renamed components and recipe names ---------------------------------------------------------------
def _recipes_plugin(tmp_path: Path, name: str, **register_kwargs) -> types.ModuleType:
    """A plugin module ``intarsia_shop.plugin`` (so its plugin name is ``shop``) shipping one recipe."""
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("extends: builtin/tiny\nname: from-the-shop\nsteps: 64\n")
    module = types.ModuleType("intarsia_shop.plugin")

    @hookimpl
    def register_recipes(register):
        register(name, file=recipe, summary="a recipe", **register_kwargs)

    module.register_recipes = register_recipes
    return module


def test_an_old_recipe_name_resolves_with_a_one_line_notice(intarsia_host, tmp_path, capsys):
    from intarsia.runner.api import prepare

    host = intarsia_host(_recipes_plugin(tmp_path, "shop/tiny-run", renamed_from=["old/tiny"]))
    assert host.registry.names("recipes") == ["builtin/qlearning-grid", "builtin/random-grid", "builtin/tiny",
                                              "shop/tiny-run"]  # old names are not listed
    raw, _, config = prepare("old/tiny", [])
    assert config.name == "from-the-shop" and raw.recipe == "shop/tiny-run"  # recorded by its current name
    assert capsys.readouterr().err == "intarsia: recipe 'old/tiny' is now 'shop/tiny-run'; the old name will be removed\n"
    mine = tmp_path / "mine.yaml"
    mine.write_text("extends: old/tiny\nsteps: 32\n")
    _, _, config = prepare(str(mine), [])
    assert config.steps == 32 and config.name == "from-the-shop"
    assert capsys.readouterr().err == ""  # once per process and name
    prepare("shop/tiny-run", [])
    assert capsys.readouterr().err == ""


def test_an_old_name_that_clashes_with_a_registered_name_names_both_distributions(intarsia_host, tmp_path):
    with pytest.raises(DuplicateComponentError, match="recipe 'builtin/tiny' is registered twice: by "
                                                      "'(intarsia-core|intarsia_shop.plugin)' and by "
                                                      "'(intarsia-core|intarsia_shop.plugin)'"):
        intarsia_host(_recipes_plugin(tmp_path, "shop/tiny", renamed_from=["builtin/tiny"]))


def test_renamed_components_of_any_kind_resolve_by_their_old_name(intarsia_host, capsys):
    class Renamer:
        __distribution__ = "intarsia-renamer"

        @hookimpl
        def register_rewards(self, register):
            register("nothing", factory="intarsia.builtin.rewards:ZeroReward", renamed_from="nil")

    host = intarsia_host(Renamer())
    assert host.registry.get("rewards", "nil").name == "nothing"
    assert "reward 'nil' is now 'nothing'" in capsys.readouterr().err
    assert "nil" not in host.registry.names("rewards") and host.registry.has("rewards", "nil")


@pytest.mark.parametrize("name", ["other/tiny", "tiny", "shop/"])
def test_a_recipe_not_named_after_its_plugin_is_an_error(intarsia_host, tmp_path, name):
    with pytest.raises(IntarsiaError, match=rf"recipe '{name}' must be named 'shop/<recipe>'"):
        intarsia_host(_recipes_plugin(tmp_path, name))
