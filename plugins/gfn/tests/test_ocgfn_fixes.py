"""The success rate and the reward floor of OC-GFN: an exact OC-GFN (the flows DB converges to) must reach
its outcomes and convert to the target reward with the default floor, and the sampled success rate must not
be measured on the model's own samples."""

import pytest
import torch
from intarsia_gfn.config import EnvConfig, NetworkConfig, OCGFNConfig
from intarsia_gfn.finetune import exact_conversion_metrics
from intarsia_gfn.ocgfn import OutcomeConditionedGFlowNet, exact_outcome_tables


@pytest.mark.parametrize("height", [8, 16])
def test_an_exact_ocgfn_reaches_its_outcomes_and_converts_with_the_default_floor(cpu_fabric, height):
    oc = OutcomeConditionedGFlowNet(OCGFNConfig(env=EnvConfig(ndim=2, height=height), network=NetworkConfig(hidden=8)),
                                    fabric=cpu_fabric)
    tables = exact_outcome_tables(oc.env, oc.reward_floor)
    success = oc.success_rate(tables)
    # DB's fixed point with a floor: 1 / (1 + floor (|X| - 1)); a floor of 1e-4 gives 0.9937 (H=8), 0.9751 (H=16)
    assert success == pytest.approx(1 / (1 + oc.reward_floor * (height**2 - 1)), abs=1e-5)
    assert success >= 0.999
    assert exact_conversion_metrics(oc.env, None, tables=tables)["conversion_l1_sum"] <= 1e-3


def test_the_exact_tables_are_a_flow_with_the_old_floors_bias(cpu_fabric):
    """The reference itself: with the old floor 1e-4 on H=8 it shows the bias: success 0.9937, and the
    conversion targets (1 - eps) R + eps Z, whose sum-L1 to R/Z is eps sum|1 - |X| R/Z| / (1 + eps (|X| - 1))."""
    eps = 1e-4
    oc = OutcomeConditionedGFlowNet(OCGFNConfig(env=EnvConfig(ndim=2, height=8), reward_floor=eps,
                                                network=NetworkConfig(hidden=8)), fabric=cpu_fabric)
    tables = exact_outcome_tables(oc.env, eps)
    assert oc.success_rate(tables) == pytest.approx(0.9937, abs=1e-4)
    r = oc.env.log_reward(oc.env.all_states()).double().exp()
    r = r / r.sum()
    biased = float(eps * (1 - 64 * r).abs().sum() / (1 + eps * 63))
    got = exact_conversion_metrics(oc.env, None, tables=tables)["conversion_l1_sum"]
    assert got == pytest.approx(biased, rel=1e-3) and got > 5e-3
    logp, logf, _ = tables
    assert torch.allclose(logp.exp().sum(1), torch.ones(()), atol=1e-5)  # each P_F(.|s,y) sums to one


def test_the_teleportation_penalty_is_its_own_setting(cpu_fabric):
    oc = OutcomeConditionedGFlowNet(OCGFNConfig(env=EnvConfig(ndim=2, height=4), teleport_log_penalty=-3.0,
                                                network=NetworkConfig(hidden=8)), fabric=cpu_fabric)
    reached, goals = torch.tensor([[1, 2], [0, 3]]), torch.tensor([[1, 2], [1, 3]])
    assert oc.teleport_penalty(reached, goals).tolist() == [0.0, -3.0]
    assert oc.log_outcome_reward(reached, goals)[1] == pytest.approx(torch.tensor(1e-4 / 16).log())


def collapse_onto_one_outcome(oc):
    """Make the conditioned policy ignore its outcome and always write word 0 into the first empty slot."""
    head = oc.net.module.forward_head
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(-10.0 * torch.arange(head.bias.numel(), dtype=torch.float32))


def test_the_sampled_success_rate_is_not_inflated_by_a_collapsed_model(cpu_fabric):
    env = EnvConfig(name="bitseq", length=24, word=2)  # 4^12 sequences: not enumerable, so success is sampled
    oc = OutcomeConditionedGFlowNet(OCGFNConfig(env=env, network=NetworkConfig(hidden=8)), fabric=cpu_fabric)
    assert not oc.env.enumerable
    collapse_onto_one_outcome(oc)
    x = oc.sample(8)
    assert (x == 0).all(), "the collapsed model reaches one sequence whatever it aims at"
    # its own samples as goals would score 1.0 (the old estimate); uniform goals are almost never hit
    assert oc.hits(oc.attempt(x).terminals, x).all()
    assert oc.evaluate()["success_rate"] < 0.01
