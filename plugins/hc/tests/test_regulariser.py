"""The combinator's diversity regulariser: its values by hand, that minimising it spreads the choices, and
that the agents add it to the actor loss when (and only when) ``actor.diversity_coef`` > 0."""

import math

import numpy as np
import pytest
import torch
from intarsia_hc import actor as pi
from intarsia_hc.config import ActorConfig, SACConfig
from intarsia_hc.envs.pendulum import make_pendulum
from intarsia_hc.sac import SACAgent


def test_diversity_values_by_hand():
    k = 4
    uniform = torch.zeros(8, k)
    assert float(pi.diversity_loss(uniform, "usage")) == pytest.approx(-math.log(k))
    assert float(pi.diversity_loss(uniform, "mutual_information")) == pytest.approx(0.0, abs=1e-6)
    confident = 50.0 * torch.eye(k).repeat(2, 1)  # each state sure of its own sub-policy, all K equally often
    assert float(pi.diversity_loss(confident, "mutual_information")) == pytest.approx(-math.log(k), abs=1e-4)
    collapsed = torch.tensor([[3.0, 0.0, 0.0, 0.0]]).repeat(8, 1)
    p = torch.softmax(collapsed[0], -1)
    assert float(pi.diversity_loss(collapsed, "usage")) == pytest.approx(float((p * p.log()).sum()), abs=1e-6)
    with pytest.raises(Exception, match="diversity"):
        pi.diversity_loss(uniform, "balance")
    with pytest.raises(ValueError, match="diversity"):
        ActorConfig(diversity="balance")
    with pytest.raises(ValueError, match="diversity_coef"):
        ActorConfig(diversity_coef=-1.0)


def _usage_entropy_after(coef: float, kind: str, steps: int = 150) -> float:
    torch.manual_seed(0)
    actor = pi.HyperCombinatorActor(3, 1, ActorConfig(num_subpolicies=8, hidden_sizes=[16]))
    with torch.no_grad():  # a combinator that picks sub-policy 0 everywhere
        actor.combinator[-1].bias.copy_(torch.tensor([4.0] + [0.0] * 7))
    opt = torch.optim.Adam(actor.parameters(), lr=1e-2)
    x = torch.randn(256, 3)
    for _ in range(steps):
        out = actor(x, explore=True)
        loss = out["mean"].pow(2).mean() + coef * pi.diversity_loss(out["logits"], kind)
        opt.zero_grad()
        loss.backward()
        opt.step()
    choice = actor(x, explore=False)["choice"].numpy()
    share = np.bincount(choice, minlength=8) / len(choice)
    nz = share[share > 0]
    return float(-(nz * np.log(nz)).sum())


@pytest.mark.parametrize("kind", ["usage", "mutual_information"])
def test_minimising_it_spreads_the_greedy_choices(kind):
    without = _usage_entropy_after(0.0, kind)
    with_reg = _usage_entropy_after(1.0, kind)
    assert without < 0.3  # the collapse stays
    assert with_reg > 1.0 > without  # ln 8 = 2.08: several sub-policies act


def test_sac_adds_the_regulariser_to_the_actor_loss_only_when_asked():
    env = make_pendulum(max_episode_steps=20)
    from intarsia.interfaces import EnvSpec
    from lightning.fabric import Fabric

    spec = EnvSpec(env.observation_space, env.action_space, 1, ("extrinsic",), 20)
    fabric = Fabric(accelerator="cpu", devices=1, precision="32-true")
    got = {}
    for coef in (0.0, 0.5):
        cfg = SACConfig(actor=ActorConfig(hidden_sizes=[16], num_subpolicies=3, diversity_coef=coef),
                        critic_hidden_sizes=[16], batch_size=8, seed_steps=0, buffer_size=64, seed=0, metrics_every=1)
        agent = SACAgent(cfg, env_spec=spec, fabric=fabric)
        rng = np.random.default_rng(0)
        for _ in range(16):
            agent.replay.add(obs=rng.normal(size=(1, 3)).astype(np.float32),
                             action=rng.uniform(-1, 1, (1, 1)).astype(np.float32), reward=np.zeros(1, np.float32),
                             next_obs=rng.normal(size=(1, 3)).astype(np.float32), terminated=np.zeros(1, np.float32),
                             done=np.zeros(1, bool))
        got[coef] = agent._update_once()
    assert "loss/diversity" not in got[0.0]
    d = float(got[0.5]["loss/diversity"])
    assert -math.log(3) - 1e-6 <= d <= 0.0
