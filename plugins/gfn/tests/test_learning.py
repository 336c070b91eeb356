"""Short seeded learning runs with thresholds an untrained or uniform sampler cannot reach, and the
recipes as shipped (slow)."""

import pytest
import torch
from intarsia.runner.api import run_config
from intarsia_gfn import plugin
from intarsia_gfn.config import EnvConfig, GFlowNetConfig, NetworkConfig, OCGFNConfig
from intarsia_gfn.evaluation import distribution_metrics, target_distribution, terminal_distribution
from intarsia_gfn.gflownet import GFlowNet
from intarsia_gfn.networks import masked_log_softmax
from intarsia_gfn.ocgfn import OutcomeConditionedGFlowNet


def uniform_l1(env):
    """sum-L1 of the two uniform samplers: uniform over terminal objects, and uniform actions."""
    target, terminal = target_distribution(env)
    over_objects = terminal.double() / terminal.sum()
    states = env.all_states()
    over_actions = terminal_distribution(env, masked_log_softmax(torch.zeros(len(states), env.n_actions),
                                                                 env.forward_mask(states)))
    return [distribution_metrics(p, target, terminal)["l1_sum"] for p in (over_objects, over_actions)]


def test_tb_on_2d_hypergrid_h8_beats_any_uniform_sampler(cpu_fabric):
    gfn = GFlowNet(GFlowNetConfig(env=EnvConfig(ndim=2, height=8), batch_size=64), fabric=cpu_fabric)
    bound = 0.1
    assert min(uniform_l1(gfn.env)) > 5 * bound  # 1.07 (uniform over cells) and 1.40 (uniform actions)
    for step in range(200):
        gfn.update(step)
    result = gfn.evaluate()
    assert result["l1_sum"] < bound, result
    assert result["modes_found"] == 4


def test_tb_on_bit_sequences_beats_any_uniform_sampler(cpu_fabric):
    torch.manual_seed(0)
    env = EnvConfig(name="bitseq", length=8, word=2, modes=4)
    gfn = GFlowNet(GFlowNetConfig(env=env, batch_size=64), fabric=cpu_fabric)
    bound = 0.08  # measured: 0.040 (seed 0), 0.041 (seed 1) after 200 iterations
    assert min(uniform_l1(gfn.env)) > 4 * bound  # 0.325 for both uniform samplers
    for step in range(200):
        gfn.update(step)
    result = gfn.evaluate()
    assert result["l1_sum"] < bound, result
    assert result["modes_found"] == 4


def test_ocgfn_pretraining_reaches_its_outcomes(cpu_fabric):
    oc = OutcomeConditionedGFlowNet(OCGFNConfig(env=EnvConfig(ndim=2, height=4), batch_size=32, lr=3e-3,
                                                network=NetworkConfig(hidden=128)), fabric=cpu_fabric)
    assert oc.success_rate() < 0.5  # untrained
    for step in range(150):
        oc.update(step)
    assert oc.success_rate() >= 0.9


@pytest.mark.slow
def test_hypergrid_tb_recipe_as_shipped(intarsia_host, tmp_path):
    intarsia_host(plugin)
    report = run_config("gfn/hypergrid-tb", ["log.progress=false"], run_dir=tmp_path)
    assert report["metrics"]["l1_sum"] <= 0.05
    assert report["metrics"]["modes_found"] == 4


@pytest.mark.slow
def test_bitseq_tb_recipe_as_shipped(intarsia_host, tmp_path):
    intarsia_host(plugin)
    report = run_config("gfn/bitseq-tb", ["log.progress=false"], run_dir=tmp_path)
    assert report["metrics"]["l1_sum"] <= 0.08  # as shipped (seed 0): 0.051; a uniform sampler: 0.218
    assert report["metrics"]["modes_found"] == 8


@pytest.mark.slow
def test_ocgfn_pretrain_recipe_as_shipped(intarsia_host, tmp_path):
    intarsia_host(plugin)
    report = run_config("gfn/ocgfn-pretrain", ["log.progress=false"], run_dir=tmp_path)
    assert report["metrics"]["success_rate"] >= 0.9


@pytest.mark.slow
def test_ocgfn_finetune_recipe_as_shipped(intarsia_host, tmp_path):
    intarsia_host(plugin)
    report = run_config("gfn/ocgfn-finetune", ["log.progress=false"], run_dir=tmp_path)
    assert report["metrics"]["modes_found"] == 4
    # as shipped (seed 0): 0.080 amortized against 0.085 for the exact conversion of the same model
    assert report["metrics"]["l1_sum"] <= 0.15
    assert report["metrics"]["l1_sum"] <= report["evaluation"]["conversion_l1_sum"] + 0.05


def test_mcmc_chains_climb_to_high_reward(cpu_fabric):
    from intarsia_gfn.config import MCMCConfig
    from intarsia_gfn.mcmc import MetropolisHastings

    torch.manual_seed(0)
    env = EnvConfig(name="bitseq", length=8, word=2, modes=2, beta=8.0)
    mh = MetropolisHastings(MCMCConfig(env=env, batch_size=16, temperature=0.25), fabric=cpu_fabric)
    uniform = float(mh.env.log_reward(mh.sample(4096)).mean())  # not started yet: uniform objects
    for step in range(150):
        metrics = mh.update(step)
    assert metrics["train/log_reward"] > uniform / 3, (metrics, uniform)
    assert metrics["train/modes_found"] >= 1
    assert metrics["train/reward_queries"] <= 16 * 151
