"""Every recipe resolves against the registered config classes; the CPU recipe runs through the core's
runner end to end (tiny overrides)."""

import json

import intarsia_r2i.plugin as plugin
import pytest

RECIPES = sorted(plugin.RECIPE_SUMMARIES)


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_resolves(intarsia_host, name):
    from intarsia.runner.api import prepare

    intarsia_host(plugin)
    raw, job, config = prepare(name, [])
    assert job == "train" and config.policy.name in ("r2i", "dreamerv3")
    assert config.policy.config.model.stoch > 0


@pytest.mark.parametrize("name", ["r2i/memory-length", "dreamerv3/memory-length"])
def test_memory_recipe_runs_through_the_runner(intarsia_host, tmp_path, name):
    from intarsia.runner.api import run_recipe

    intarsia_host(plugin)
    overrides = ["steps=240", "num_envs=2", "env.memory_length=3", "policy.batch_length=5",
                 "policy.learning_starts=40", "policy.batch_size=2", "policy.train_ratio=2", "policy.model.deter=16",
                 "policy.model.units=16", "policy.model.ssm_state=8", "log.progress=false",
                 "log.tensorboard=false", "checkpoint.every=0", "eval.episodes=4"]
    report = run_recipe(name, overrides=overrides, run_dir=tmp_path)
    rate = report["metrics"]["success_rate"]
    assert 0.0 <= rate <= 1.0 and report["metrics"]["episodes"] >= 40
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["metrics"]["success_rate"] == rate
