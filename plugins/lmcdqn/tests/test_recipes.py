"""Registration, recipes resolve against the config dataclasses, and the runner end to end."""

import json

import pytest
from intarsia_lmcdqn import plugin

ALL_RECIPES = ["lmcdqn/nchain", "lmcdqn/dqn-nchain", "lmcdqn/deep-sea"] + [f"lmcdqn/atari-{g.lower()}" for g in plugin.ATARI_GAMES]


@pytest.fixture
def host(intarsia_host):
    return intarsia_host(plugin)


def test_components_and_recipes_are_registered(host):
    reg = host.registry
    assert {"lmcdqn", "dqn"} <= set(reg.names("policies"))
    assert {"NChain-v0", "DeepSea-v0", "Atari-v0"} <= set(reg.names("envs"))
    assert set(ALL_RECIPES) <= set(reg.names("recipes"))
    assert reg.get("recipes", "dqn/nchain").name == "lmcdqn/dqn-nchain"  # the old name, with a notice


@pytest.mark.parametrize("recipe", ALL_RECIPES)
def test_every_recipe_resolves(host, recipe):
    from intarsia.runner.api import prepare

    _, job, cfg = prepare(recipe, registry=host.registry)
    assert job == "train"
    assert cfg.policy.name in {"lmcdqn", "dqn"}
    if recipe.startswith("lmcdqn/atari"):
        assert cfg.policy.config.network == "nature_cnn" and cfg.policy.config.langevin_steps == 1
        assert cfg.steps == 12_500_000  # 50M frames at frame skip 4


def test_nchain_n_is_selectable(host):
    from intarsia.runner.api import prepare

    _, _, cfg = prepare("lmcdqn/nchain", overrides=["env.n=75"], registry=host.registry)
    assert cfg.env.config.n == 75


def test_run_recipe_writes_report_with_final_return(host, tmp_path):
    from intarsia.runner.api import run_recipe

    report = run_recipe("lmcdqn/nchain", overrides=["steps=2000", "env.n=10", "log.progress=false",
                                                    "log.tensorboard=false"], run_dir=tmp_path, registry=host.registry)
    on_disk = json.loads((tmp_path / "report.json").read_text())
    final = on_disk["metrics"]["return_mean"]  # extrinsic return, mean of the last episodes
    assert final == pytest.approx(report["metrics"]["return_mean"])
    assert 0.0 <= final <= 10.0 and on_disk["steps"] == 2000
