"""Two-phase config resolution: names → dataclasses → merge; errors carry the key path and close matches."""

from __future__ import annotations

import pytest
from intarsia.config import Spec, apply_overrides, resolve
from intarsia.errors import ConfigError, UnknownComponentError
from omegaconf import OmegaConf

BASE = {"name": "t", "env": {"name": "CaptionedGrid-v0", "size": 5}, "policy": {"name": "qlearning", "lr": 0.01},
        "rewards": [{"name": "constant", "coef": 0.5, "value": 2.0}]}


def test_sections_resolve_into_registered_dataclasses(core_host):
    _, cfg = resolve(OmegaConf.create(BASE), core_host.registry)
    assert isinstance(cfg.policy, Spec) and cfg.policy.config.lr == 0.01
    assert cfg.env.config.size == 5
    assert cfg.rewards[0].extra == {"coef": 0.5, "label": None} and cfg.rewards[0].config.value == 2.0
    assert cfg.fabric.accelerator == "auto"


def test_misspelt_key_names_the_path_and_the_close_match(core_host):
    raw = apply_overrides(OmegaConf.create(BASE), ["policy.lrr=0.1"])
    with pytest.raises(ConfigError, match=r"policy\.lrr: unknown key\. Did you mean 'lr'"):
        resolve(raw, core_host.registry)
    with pytest.raises(ConfigError, match=r"stepz: unknown key\. Did you mean 'steps'"):
        resolve(OmegaConf.create({**BASE, "stepz": 3}), core_host.registry)
    with pytest.raises(ConfigError, match=r"fabric\.devics: unknown key\. Did you mean 'devices'"):
        resolve(OmegaConf.create({**BASE, "fabric": {"devics": 2}}), core_host.registry)


def test_wrong_type_names_the_key(core_host):
    raw = apply_overrides(OmegaConf.create(BASE), ["env.size=big"])
    with pytest.raises(ConfigError, match=r"env\.size"):
        resolve(raw, core_host.registry)


def test_unknown_component_lists_available_names(core_host):
    raw = apply_overrides(OmegaConf.create(BASE), ["policy.name=qlearnin"])
    with pytest.raises(UnknownComponentError, match=r"unknown policy 'qlearnin'.*Did you mean 'qlearning'.*Available: qlearning, random"):
        resolve(raw, core_host.registry)


def test_overrides_index_lists_and_switch_components(core_host):
    raw = apply_overrides(OmegaConf.create(BASE), ["rewards.0.coef=0.25", "policy={name: random}", "steps=7"])
    _, cfg = resolve(raw, core_host.registry)
    assert cfg.rewards[0].extra["coef"] == 0.25 and cfg.policy.name == "random" and cfg.steps == 7


def test_missing_policy_is_reported(core_host):
    with pytest.raises(ConfigError, match="policy: missing"):
        resolve(OmegaConf.create({"env": {"name": "CaptionedGrid-v0"}}), core_host.registry)


def test_bad_override_syntax(core_host):
    with pytest.raises(ConfigError, match="expected key.path=value"):
        apply_overrides(OmegaConf.create(BASE), ["policy.lr"])


def test_recipe_files_and_unreadable_files(core_host, tmp_path):
    from intarsia.config import load_raw

    raw = load_raw("builtin/qlearning-grid", core_host.registry)
    assert raw.policy.name == "qlearning" and raw.recipe == "builtin/qlearning-grid"
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_raw(str(tmp_path / "missing.yaml"), core_host.registry)
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_raw(str(bad), core_host.registry)
    with pytest.raises(ConfigError, match="neither a recipe nor a YAML file.*Did you mean 'builtin/qlearning-grid'"):
        load_raw("builtin/qlearning-grd", core_host.registry)
