"""Every recipe resolves against the registered config classes; the CPU recipe runs through the core's
runner end to end (tiny overrides)."""

import json

import intarsia_r2i.plugin as plugin
import pytest

RECIPES = sorted(plugin.RECIPE_SUMMARIES)
# both memory recipes shrunk to a few seconds: L=3, 2 envs, tiny networks
TINY = ["num_envs=2", "env.memory_length=3", "policy.batch_length=5", "policy.learning_starts=40",
        "policy.batch_size=2", "policy.world_model.deter=16", "policy.world_model.units=16", "policy.world_model.ssm_state=8"]


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_resolves(intarsia_host, name):
    from intarsia.runner.api import prepare

    intarsia_host(plugin)
    raw, job, config = prepare(name, [])
    assert job == "train" and config.policy.name in ("r2i", "dreamerv3")
    assert config.policy.config.world_model["stoch"] > 0


def test_the_old_dreamerv3_recipe_name_still_resolves_with_a_notice(intarsia_host, capsys):
    from intarsia.runner.api import prepare

    intarsia_host(plugin)
    raw, _, config = prepare("dreamerv3/memory-length", [])
    assert config.policy.name == "dreamerv3" and raw.recipe == "r2i/dreamerv3-memory-length"
    assert "recipe 'dreamerv3/memory-length' is now 'r2i/dreamerv3-memory-length'" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["r2i/memory-length", "r2i/dreamerv3-memory-length"])
def test_memory_recipe_runs_through_the_runner(intarsia_host, tmp_path, name):
    from intarsia.runner.api import run_recipe

    intarsia_host(plugin)
    overrides = [*TINY, "steps=240", "policy.train_ratio=2", "log.progress=false", "log.tensorboard=false",
                 "checkpoint.every=0", "eval.episodes=4"]
    report = run_recipe(name, overrides=overrides, run_dir=tmp_path)
    rate = report["metrics"]["success_rate"]
    assert 0.0 <= rate <= 1.0 and report["metrics"]["episodes"] >= 40
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["metrics"]["success_rate"] == rate


@pytest.mark.parametrize("name", ["r2i/memory-length", "r2i/dreamerv3-memory-length"])
def test_ddp_on_two_cpu_processes_keeps_ranks_identical(tmp_path, name):
    """Two gloo ranks sample different replay batches; averaged gradients must keep every network equal."""
    import torch
    from intarsia.testing import run_cli

    run_dir = tmp_path / "run"
    out = run_cli("run", name, "--run-dir", str(run_dir), *TINY, "steps=200", "policy.train_ratio=4",
                  "policy.world_model.head_units=16", "log.tensorboard=false", "checkpoint.every=200", "eval.final=false",
                  "policy.checkpoint_replay=true", "policy.replay_capacity=2000", "fabric.devices=2",
                  "fabric.strategy=ddp", "fabric.accelerator=cpu")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["world_size"] == 2
    ranks = [torch.load(run_dir / "checkpoints" / f"step-000000000200.rank{r}.pt", weights_only=True)["policy"]
             for r in (0, 1)]
    assert ranks[0]["updates"] == ranks[1]["updates"] > 0
    for net in ("world_model", "actor", "critic", "slow_critic"):
        for key, value in ranks[0][net].items():
            torch.testing.assert_close(value, ranks[1][net][key], msg=f"{net}.{key} differs between ranks")
    # the ranks really saw different data, so equal weights come from the averaged gradients
    assert not torch.equal(ranks[0]["replay"]["obs"], ranks[1]["replay"]["obs"])


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_memory_length_recipe_reaches_the_readme_target(intarsia_host, tmp_path):
    """`intarsia run r2i/memory-length` as shipped (L=25, 20k env steps, about 18 min on a 2-core CPU).
    Measured: training success 0.90 over the last 100 episodes (exploring policy) and greedy eval 1.0 over
    50 episodes; chance is 0.5. The exploring policy keeps some entropy on the final action, so training
    success hovers at 0.82-0.97 after it is solved: the test asks 0.8 of it and 0.9 of the greedy policy."""
    from intarsia.runner.api import run_recipe

    intarsia_host(plugin)
    report = run_recipe("r2i/memory-length", overrides=["log.progress=false", "log.tensorboard=false"],
                        run_dir=tmp_path)
    metrics = report["metrics"]
    assert metrics["success_rate"] >= 0.8, metrics
    assert metrics["eval_success"] >= 0.9, metrics
