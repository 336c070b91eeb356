"""The HyperCombinator actor: straight-through selection, deterministic evaluation, tractable log-densities."""

import math

import numpy as np
import pytest
import torch
from intarsia_hc import actor as pi
from intarsia_hc.config import ActorConfig


def _hc(k=4, in_dim=3, action_dim=2, **kw):
    torch.manual_seed(0)
    return pi.HyperCombinatorActor(in_dim, action_dim, ActorConfig(num_subpolicies=k, hidden_sizes=[16], **kw))


def test_straight_through_forward_is_one_hot_and_gradient_reaches_the_logits():
    torch.manual_seed(0)
    logits = torch.randn(32, 5, requires_grad=True)
    gate, index = pi.straight_through_gumbel(logits, temperature=0.7)
    torch.testing.assert_close(gate.detach(), torch.nn.functional.one_hot(index, 5).float())
    assert torch.equal(gate.detach().sum(-1), torch.ones(32))
    (gate * torch.randn(32, 5)).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_the_combinators_parameters_get_gradients_through_the_hard_choice():
    actor = _hc()
    out = actor(torch.randn(64, 3), explore=True)
    assert set(out["choice"].tolist()) <= set(range(4))
    # the selected mean is exactly the chosen sub-policy's linear map (hard forward)
    picked = out["all_mean"][torch.arange(64), out["choice"]]
    torch.testing.assert_close(out["mean"], picked)
    action, u = pi.sample(out)
    (pi.log_prob(out, u) - action.sum(-1)).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in actor.combinator.parameters())


def test_each_subpolicy_is_linear_in_the_features():
    actor = _hc(k=3)
    x, y = torch.randn(8, 3), torch.randn(8, 3)
    m = lambda z: actor.subpolicy_params(z)[0]  # noqa: E731
    torch.testing.assert_close(m(2 * x - y) - m(torch.zeros_like(x)), 2 * (m(x) - m(torch.zeros_like(x))) - (m(y) - m(torch.zeros_like(x))))


def test_evaluation_is_deterministic_and_picks_the_argmax():
    actor = _hc()
    x = torch.randn(50, 3)
    a, b = actor(x, explore=False), actor(x, explore=False)
    torch.testing.assert_close(a["mean"], b["mean"])
    assert torch.equal(a["choice"], a["logits"].argmax(-1))
    act1, _ = pi.sample(a, deterministic=True)
    act2, _ = pi.sample(b, deterministic=True)
    torch.testing.assert_close(act1, act2)
    # exploring samples differ (Gumbel choice and Gaussian noise)
    c, d = actor(x, explore=True), actor(x, explore=True)
    assert not torch.equal(pi.sample(c)[0], pi.sample(d)[0])


@pytest.mark.parametrize("mode", ["selected", "mixture"])
def test_log_density_matches_a_hand_computation_for_k_1(mode):
    """K = 1 is a linear tanh-Gaussian policy: log N(u; W x + b, sigma) - sum log(1 - tanh(u)^2)."""
    actor = _hc(k=1, in_dim=3, action_dim=2)
    x = torch.randn(10, 3, dtype=torch.float64)
    actor = actor.double()
    out = actor(x, explore=True)
    _, u = pi.sample(out)
    w, b = actor.weight[0].detach(), actor.bias[0].detach()
    params = x @ w + b
    mean, raw = params[:, :2], params[:, 2:]
    log_std = -5.0 + 0.5 * 7.0 * (torch.tanh(raw) + 1.0)
    std = log_std.exp()
    hand = (-((u - mean) ** 2) / (2 * std**2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
    hand = hand - torch.log(1 - torch.tanh(u) ** 2).sum(-1)
    torch.testing.assert_close(pi.log_prob(out, u, mode), hand, rtol=1e-9, atol=1e-7)
    # and it is a density: integrates to 1 over the action box (1-D check on a fine grid)
    assert torch.distributions.Normal(0.0, 1.0).log_prob(torch.tensor(0.3)).item() == pytest.approx(
        pi.gaussian_log_prob(torch.tensor([0.3]), torch.tensor([0.0]), torch.tensor([0.0])).item())


def test_mixture_log_density_is_the_marginal_over_the_choice():
    actor = _hc(k=3, in_dim=2, action_dim=1).double()
    x = torch.randn(5, 2, dtype=torch.float64)
    out = actor(x, explore=True)
    u = torch.randn(5, 1, dtype=torch.float64)
    p = torch.softmax(out["logits"], -1)
    normal = torch.distributions.Normal(out["all_mean"][..., 0], out["all_log_std"][..., 0].exp())
    hand = torch.log((p * normal.log_prob(u).exp()).sum(-1)) - torch.log(1 - torch.tanh(u[:, 0]) ** 2)
    torch.testing.assert_close(pi.log_prob(out, u, "mixture"), hand)


def test_features_goal_delta_and_errors():
    fm = pi.FeatureMap("goal_delta", 4, goal_dim=2)
    x = torch.tensor([[1.0, 2.0, 4.0, 7.0]])
    torch.testing.assert_close(fm(x), torch.tensor([[1.0, 2.0, 3.0, 5.0]]))
    assert fm.names(["x", "y", "gx", "gy"]) == ["x", "y", "gx-x", "gy-y"]
    with pytest.raises(ValueError, match="goal-conditioned"):
        pi.FeatureMap("goal_delta", 4)
    with pytest.raises(ValueError, match="num_subpolicies"):
        _hc(k=0)
    with pytest.raises(ValueError, match="actor.kind"):
        pi.build_actor(ActorConfig(kind="tree"), 3, 1)


def test_temperature_anneals_linearly():
    cfg = ActorConfig(gumbel_temperature=1.0, gumbel_temperature_final=0.5, gumbel_anneal_steps=100)
    assert [pi.gumbel_temperature(cfg, n) for n in (0, 50, 100, 1000)] == [1.0, 0.75, 0.5, 0.5]
    assert pi.gumbel_temperature(ActorConfig(), 10**6) == 1.0
    assert np.isfinite(pi.tanh_log_det(torch.tensor([[30.0, -30.0]]))).all()
