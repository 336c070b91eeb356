"""The plugin author's kit: `intarsia show`, `extends:`, the fully resolved config, contract clauses that
catch broken components by name, `intarsia_host` by entry-point name, the `slow` marker."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from intarsia import hookimpl
from intarsia.builtin import plugin as builtin_plugin
from intarsia.builtin.gridworld import CaptionedGridEnv
from intarsia.builtin.qlearning import QLearningAgent, QLearningConfig
from intarsia.errors import ConfigError, PluginLoadError
from intarsia.runner.api import prepare, run_config
from intarsia.testing import ContractViolation, EnvContract, PluginContract, PolicyContract, RewardContract
from omegaconf import OmegaConf

# -- an inline plugin whose component has documented options and a nested section ---------------------


@dataclass
class InnerConfig:
    width: int = 8
    """hidden units of the tiny head"""


@dataclass
class GadgetConfig:
    gain: float = 0.5
    """how much the gadget amplifies"""
    mode: str = "soft"  # 'soft' or 'hard' (a trailing comment documents a field too)
    inner: InnerConfig = field(default_factory=InnerConfig)
    """the head's sizes"""


@dataclass
class UndocumentedConfig:
    gain: float = 0.5
    mystery: int = 3


class GadgetPlugin:
    @hookimpl
    def register_rewards(self, register):
        register("gadget", factory="intarsia.builtin.rewards:ConstantReward", config=GadgetConfig,
                 summary="a test reward with documented options")


def _show(*args):
    from intarsia.cli import cli

    return CliRunner().invoke(cli, ["show", *args], catch_exceptions=True)


def test_show_lists_every_option_of_a_builtin_component(core_host):
    out = _show("policies", "qlearning")
    assert out.exit_code == 0, out.output
    assert "policy 'qlearning' (from intarsia-core)" in out.output
    for f in dataclasses.fields(QLearningConfig):
        assert f"  {f.name}: {f.type} = " in out.output, f.name
    assert "lr: float = 0.001" in out.output
    assert "(undocumented)" not in out.output


def test_show_train_lists_the_top_level_keys_with_nested_sections(core_host):
    out = _show("train")
    assert out.exit_code == 0, out.output
    assert "steps: int = 10000" in out.output and "total env steps" in out.output
    assert "fabric.accelerator: str = \"auto\"" in out.output
    assert "env: env section = (required)" in out.output
    assert "(undocumented)" not in out.output


def test_show_a_plugin_component_with_docstrings_comments_and_sections(intarsia_host):
    intarsia_host(GadgetPlugin())
    out = _show("rewards", "gadget")
    assert out.exit_code == 0, out.output
    text = out.output
    assert "gain: float = 0.5" in text and "how much the gadget amplifies" in text
    assert 'mode: str = "soft"' in text and "'soft' or 'hard'" in text
    assert "inner:  (InnerConfig, a nested section)" in text and "the head's sizes" in text
    assert "inner.width: int = 8" in text and "hidden units of the tiny head" in text
    assert "rewards: [{name: gadget, coef: 1.0, ...}]" in text
    as_json = _show("rewards", "gadget", "--json")
    import json

    options = {o["path"]: o for o in json.loads(as_json.output)["options"]}
    assert options["inner.width"]["default"] == 8 and options["inner"]["section"]


def test_show_errors_name_the_problem(core_host):
    out = _show("qlearnin")
    assert "nothing is registered as 'qlearnin'" in str(out.exception) and "qlearning" in str(out.exception)
    out = _show("policies")
    assert "name one of them" in str(out.exception) and "qlearning" in str(out.exception)


# -- extends: and the fully resolved config ---------------------------------------------------------------


def _write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


def test_extends_deep_merges_with_the_file_winning_and_follows_chains(core_host, tmp_path):
    _write(tmp_path / "base.yaml", """
        name: base
        steps: 1000
        env: {name: CaptionedGrid-v0, size: 6, max_steps: 50}
        policy: {name: qlearning, lr: 0.01, batch_size: 16}
        rewards: [{name: constant, value: 0.5}]
    """)
    _write(tmp_path / "middle.yaml", """
        extends: base.yaml
        name: middle
        policy: {batch_size: 32}
    """)
    top = _write(tmp_path / "top.yaml", """
        extends: middle.yaml
        env: {size: 7}
        rewards: []
    """)
    raw, _, config = prepare(str(top), ["policy.lr=0.02"])
    assert config.name == "middle" and config.steps == 1000
    assert (config.env.config.size, config.env.config.max_steps) == (7, 50)  # deep merge, the file wins
    assert (config.policy.config.lr, config.policy.config.batch_size) == (0.02, 32)
    assert config.rewards == []  # lists are replaced whole
    assert "extends" not in raw


def test_extends_a_recipe_by_name_and_switching_component_drops_its_options(core_host, tmp_path):
    cfg = _write(tmp_path / "mine.yaml", """
        extends: builtin/qlearning-grid
        policy: {name: random}
        steps: 100
    """)
    raw, _, config = prepare(str(cfg), [])
    assert config.policy.name == "random" and config.steps == 100
    assert config.env.config.size == 7  # from the recipe
    # a mapping given to the runner may extend too (how tests start from a tiny preset)
    _, _, config = prepare({"extends": "builtin/tiny", "steps": 64}, [])
    assert config.steps == 64 and config.policy.name == "qlearning"


def test_extends_cycle_is_an_error_naming_the_links(core_host, tmp_path):
    _write(tmp_path / "a.yaml", "extends: b.yaml\nsteps: 1\n")
    _write(tmp_path / "b.yaml", "extends: c.yaml\n")
    _write(tmp_path / "c.yaml", "extends: a.yaml\n")
    with pytest.raises(ConfigError, match=r"extends cycle: .*a\.yaml -> b\.yaml -> c\.yaml -> a\.yaml"):
        prepare(str(tmp_path / "a.yaml"), [])
    _write(tmp_path / "d.yaml", "extends: [a.yaml]\n")
    with pytest.raises(ConfigError, match="extends: expected one recipe name or YAML path"):
        prepare(str(tmp_path / "d.yaml"), [])
    _write(tmp_path / "e.yaml", "extends: no/such-recipe\n")
    with pytest.raises(ConfigError, match="neither a recipe nor a YAML file"):
        prepare(str(tmp_path / "e.yaml"), [])


def test_show_config_and_saved_config_hold_every_default(core_host, tmp_path):
    from intarsia.builtin.gridworld import CaptionedGridConfig
    from intarsia.builtin.random_policy import RandomPolicyConfig
    from intarsia.cli import cli

    overrides = ["steps=40", "log.tensorboard=false", "checkpoint.every=0"]
    out = CliRunner().invoke(cli, ["run", "builtin/random-grid", *overrides, "--show-config"])
    shown = yaml.safe_load(out.output)
    assert shown["steps"] == 40 and shown["extrinsic_coef"] == 1.0 and shown["fabric"]["precision"] == "32-true"
    assert shown["env"] == {"name": "CaptionedGrid-v0", **dataclasses.asdict(CaptionedGridConfig())}
    assert shown["policy"] == {"name": "random", **dataclasses.asdict(RandomPolicyConfig())}
    report = run_config("builtin/random-grid", overrides, run_dir=tmp_path)
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert saved == shown and report["steps"] == 40
    again, _, _ = prepare(str(tmp_path / "config.yaml"), [])  # what `intarsia resume` reads
    assert yaml.safe_load(OmegaConf.to_yaml(again)) == saved


# -- broken components, each caught by the clause it breaks ----------------------------------------------


class ForgetfulNovelty:
    """Caption novelty with per-env counts that are never reset at an episode's end."""

    requires = frozenset({"captions"})

    def __init__(self, num_envs):
        self.num_envs = num_envs
        self.reset()

    def __call__(self, batch):
        out = np.zeros(batch.num_envs, np.float32)
        for i, caption in enumerate(batch.captions):
            self.counts[i][caption] = self.counts[i].get(caption, 0) + 1
            out[i] = 1.0 / np.sqrt(self.counts[i][caption])
        return out  # bug: never looks at batch.done

    def reset(self):
        self.counts = [{} for _ in range(self.num_envs)]

    def state_dict(self):
        return {"counts": [dict(c) for c in self.counts]}

    def load_state_dict(self, state):
        self.counts = [dict(c) for c in state["counts"]]


class EpisodicNovelty(ForgetfulNovelty):
    def __call__(self, batch):
        out = super().__call__(batch)
        for i in np.flatnonzero(batch.done):
            self.counts[i] = {}
        return out


class ForgetfulNoveltyContract(RewardContract):
    def make_reward(self, env_spec):
        return ForgetfulNovelty(env_spec.num_envs)


class TestEpisodicNovelty(RewardContract):
    """The fixed reward passes every clause (so the broken one fails for the reason given)."""

    def make_reward(self, env_spec):
        return EpisodicNovelty(env_spec.num_envs)


def test_a_reward_that_ignores_episode_ends_is_caught():
    with pytest.raises(ContractViolation, match="resets it for every env whose batch.done is true") as info:
        ForgetfulNoveltyContract().test_episode_state_is_reset_where_done()
    assert "ForgetfulNoveltyContract breaks a clause of RewardContract (intarsia.interfaces.Reward)" in str(info.value)


class NumberCaptionGrid(CaptionedGridEnv):
    def step(self, action):
        obs, reward, term, trunc, info = super().step(action)
        info["caption"] = len(info["caption"])  # bug: an int, not the text
        return obs, reward, term, trunc, info


class SilentGrid(CaptionedGridEnv):
    def step(self, action):
        obs, reward, term, trunc, info = super().step(action)
        info["caption"] = ""
        info.pop("success", None)
        return obs, reward, term, trunc, info


class NumberCaptionContract(EnvContract):
    def make_env(self):
        return NumberCaptionGrid(size=5, max_steps=20)


class SilentGridContract(EnvContract):
    captions = True
    success = True

    def make_env(self):
        return SilentGrid(size=5, max_steps=20)


def test_an_env_with_a_non_str_caption_is_caught():
    with pytest.raises(ContractViolation, match=r'put a str in info\["caption"\] on every step') as info:
        NumberCaptionContract().test_captions_are_strings_on_every_step()
    assert "is not a str on step" in str(info.value)


def test_an_env_that_declares_captions_and_success_but_emits_none_is_caught():
    with pytest.raises(ContractViolation, match="declares captions = True, but 200 random steps gave only empty"):
        SilentGridContract().test_captions_are_strings_on_every_step()
    with pytest.raises(ContractViolation, match=r"ends an episode without info\['success'\]"):
        SilentGridContract().test_success_is_a_bool_on_every_last_step()


class PickledStateAgent(QLearningAgent):
    def state_dict(self):
        return {**super().state_dict(), "config": self.cfg}  # bug: a dataclass object in a checkpoint


class AmnesicAgent(QLearningAgent):
    def load_state_dict(self, state):
        pass  # bug: restores nothing


class PickledStateContract(PolicyContract):
    def make_policy(self, env_spec, fabric):
        return PickledStateAgent(QLearningConfig(learning_starts=16, batch_size=8), env_spec=env_spec, fabric=fabric)


class AmnesicContract(PolicyContract):
    def make_policy(self, env_spec, fabric):
        return AmnesicAgent(QLearningConfig(learning_starts=16, batch_size=8), env_spec=env_spec, fabric=fabric)


def test_a_policy_whose_state_dict_does_not_round_trip_is_caught(cpu_fabric):
    with pytest.raises(ContractViolation, match="torch.load\\(weights_only=True\\)") as info:
        PickledStateContract().test_state_dict_holds_only_checkpoint_safe_values(cpu_fabric)
    assert "state['config'] (intarsia.builtin.qlearning.QLearningConfig)" in str(info.value)
    with pytest.raises(ContractViolation, match="everything needed to continue training") as info:
        AmnesicContract().test_state_dict_survives_a_weights_only_checkpoint(cpu_fabric)
    assert "weights differ at state['q']" in str(info.value)


def _plugin_module(name, source):
    import types

    mod = types.ModuleType(name)
    exec(textwrap.dedent(source), mod.__dict__)
    sys.modules[name] = mod
    return mod


BROKEN_REGISTRATION = """
from intarsia import hookimpl

@hookimpl
def register_rewards(register):
    register("typo", factory="intarsia.builtin.rewards:ZeroRewrd", summary="attr misspelt")
    register("nomod", factory="intarsia.builtin.no_such_module:X", config="intarsia.builtin.rewards:Nope")
"""


class BrokenRegistrationContract(PluginContract):
    plugin = _plugin_module("_broken_registration_plugin", BROKEN_REGISTRATION)


class UndocumentedContract(PluginContract):
    plugin = _plugin_module("_undocumented_plugin", f"""
        from intarsia import hookimpl

        @hookimpl
        def register_rewards(register):
            register("undoc", factory="intarsia.builtin.rewards:ZeroReward", config="{__name__}:UndocumentedConfig")
    """)


def test_a_registration_that_does_not_import_is_caught(intarsia_host):
    with pytest.raises(ContractViolation, match='factory and config are "module:attr" strings') as info:
        BrokenRegistrationContract().test_every_registration_imports(intarsia_host)
    text = str(info.value)
    assert "rewards 'typo': factory 'intarsia.builtin.rewards:ZeroRewrd' does not import (AttributeError" in text
    assert "rewards 'nomod': factory 'intarsia.builtin.no_such_module:X' does not import (ModuleNotFoundError" in text
    assert "rewards 'nomod': config 'intarsia.builtin.rewards:Nope' does not import" in text


def test_an_undocumented_config_field_is_caught(intarsia_host):
    with pytest.raises(ContractViolation, match="Configs are dataclasses with a docstring per field") as info:
        UndocumentedContract().test_every_config_field_is_documented(intarsia_host)
    assert "UndocumentedConfig.gain" in str(info.value) and "UndocumentedConfig.mystery" in str(info.value)


class TestCorePlugin(PluginContract):
    """The core's own built-in plugin passes the whole-plugin contract."""

    plugin = builtin_plugin

    def _host(self, intarsia_host):
        host = intarsia_host()  # the builtin plugin is always in a host
        return host, host.registry.by_distribution()["intarsia-core"]


# -- intarsia_host by entry-point name -------------------------------------------------------------------


def test_intarsia_host_takes_installed_plugins_by_entry_point_name(intarsia_host, monkeypatch):
    _plugin_module("_fake_named_plugin", """
        from intarsia import hookimpl

        @hookimpl
        def register_rewards(register):
            register("named-reward", factory="intarsia.builtin.rewards:ZeroReward")
    """)
    eps = [metadata.EntryPoint("namedplug", "_fake_named_plugin", "intarsia")]
    monkeypatch.setattr(metadata, "entry_points", lambda group=None: [e for e in eps if e.group == group])
    host = intarsia_host("namedplug")
    assert "named-reward" in host.registry.names("rewards")
    with pytest.raises(PluginLoadError, match="no installed intarsia plugin is named 'namedplg'. Did you mean 'namedplug'"):
        intarsia_host("namedplg")
    with pytest.raises(PluginLoadError, match="42 is not an intarsia plugin"):
        intarsia_host(GadgetPlugin(), 42)


# -- the slow marker -------------------------------------------------------------------------------------


def test_slow_tests_are_skipped_unless_asked_for(tmp_path):
    (tmp_path / "test_x.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.mark.slow
        def test_long():
            pass

        def test_short():
            pass
    """))

    def run(*args, **env):
        out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *args],
                             cwd=tmp_path, capture_output=True, text=True, env={**os.environ, **env})
        return out.stdout

    default = run()
    assert "1 passed, 1 skipped" in default and "run with --intarsia-slow" in default
    assert "2 passed" in run("--intarsia-slow")
    assert "2 passed" in run(INTARSIA_SLOW="1")
    assert "1 passed, 1 deselected" in run("-m", "not slow")  # an explicit selection is taken as written
    help_text = subprocess.run([sys.executable, "-m", "pytest", "--markers"], cwd=tmp_path, capture_output=True,
                               text=True).stdout
    assert "@pytest.mark.slow: a long-running test, skipped unless run with --intarsia-slow" in help_text
    assert "make test-all" not in help_text


def test_new_plugin_refuses_a_name_an_installed_plugin_uses(tmp_path, monkeypatch):
    from intarsia.errors import IntarsiaError
    from intarsia.scaffold import create_plugin

    eps = [metadata.EntryPoint("taken", "_fake_named_plugin", "intarsia")]
    monkeypatch.setattr(metadata, "entry_points", lambda group=None: [e for e in eps if e.group == group])
    with pytest.raises(IntarsiaError, match="'taken' clashes with the installed plugin"):
        create_plugin("taken", tmp_path)
    with pytest.raises(IntarsiaError, match="clashes with the importable package intarsia_builtin_x"):
        sys.modules.setdefault("intarsia_builtin_x", sys)  # an importable package of that name
        try:
            create_plugin("builtin-x", tmp_path)
        finally:
            sys.modules.pop("intarsia_builtin_x", None)
    assert not list(tmp_path.iterdir())
    path = create_plugin("fresh-name", tmp_path)
    assert (path / "src/intarsia_fresh_name/recipes/example.yaml").exists()
    assert (path / ".github/workflows/tests.yml").exists()
