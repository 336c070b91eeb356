"""Every recipe resolves; the GPU-sized DMC recipes build and run a few updates on the CPU."""

import pytest
from intarsia.runner.api import prepare, run_config
from intarsia_hc import plugin
from intarsia_hc.plugin import RECIPE_SUMMARIES

DMC = ["hc/cartpole-swingup", "hc/reacher-easy", "hc/cheetah-run", "hc/walker-walk"]


@pytest.mark.parametrize("name", sorted(RECIPE_SUMMARIES))
def test_recipe_resolves(intarsia_host, name):
    intarsia_host(plugin)
    _, job, cfg = prepare(name)
    assert job == "hc-train" and cfg.eval.final and cfg.eval.episodes > 0


def test_pendulum_recipes_differ_only_in_the_actor(intarsia_host):
    intarsia_host(plugin)
    hc, mlp = prepare("hc/pendulum")[2], prepare("hc/pendulum-mlp")[2]
    assert hc.policy.config.actor.kind == "hc" and hc.policy.config.actor.num_subpolicies == 4
    assert mlp.policy.config.actor.kind == "mlp"
    for field in ("critic_hidden_sizes", "actor_lr", "critic_lr", "batch_size", "seed_steps", "gamma", "tau", "target_update_every", "init_temperature"):
        assert getattr(hc.policy.config, field) == getattr(mlp.policy.config, field), field
    assert hc.steps == mlp.steps and hc.seed == mlp.seed


def test_k_recipes_change_only_k(intarsia_host):
    intarsia_host(plugin)
    base = prepare("hc/pendulum")[2]
    for k in (1, 8, 64):
        cfg = prepare(f"hc/pendulum-k{k}")[2]
        assert cfg.policy.config.actor.num_subpolicies == k
        assert cfg.policy.config.actor.hidden_sizes == base.policy.config.actor.hidden_sizes and cfg.steps == base.steps
    for task in ("cartpole-swingup", "reacher-easy", "cheetah-run", "walker-walk"):
        hc8, hc64 = prepare(f"hc/{task}")[2], prepare(f"hc/{task}-hc64")[2]
        assert (hc8.policy.config.actor.num_subpolicies, hc64.policy.config.actor.num_subpolicies) == (8, 64)
        assert hc8.policy.config.batch_size == hc64.policy.config.batch_size == 1024 and hc8.steps == hc64.steps


@pytest.mark.parametrize("name", [pytest.param(n, marks=[] if n == DMC[0] else pytest.mark.slow) for n in DMC])
def test_dmc_recipe_builds_and_updates(intarsia_host, tmp_path, name):
    """The paper-size networks (2 x 1024) and settings, with the budget cut to a few updates (and, in the fast
    test, the evaluation episode shortened by a larger action repeat)."""
    pytest.importorskip("dm_control")
    intarsia_host(plugin)
    fast = ["env.action_repeat=10"] if name == DMC[0] else []
    report = run_config(name, [*fast, "steps=24", "policy.seed_steps=16", "policy.batch_size=8", "policy.metrics_every=1", "eval.episodes=1",
                               "log.every=8", "log.progress=false", "checkpoint.every=0", "eval.every=0",
                               "fabric.accelerator=cpu"], run_dir=tmp_path / "run")
    assert report["training"]["policy_train_updates"] >= 8
    assert set(report["metrics"]) == {"eval_return", "subpolicies_used", "switch_rate", "usage_entropy"}
