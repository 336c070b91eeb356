"""Mixed precision acts in DQN and LMCDQN: under bf16-mixed the online and target Q-networks' matmuls run
in bf16, and LMCDQN still solves the short chain of test_agent.py."""

import numpy as np
import pytest
import torch
from intarsia.interfaces import EnvSpec, Transitions
from intarsia.testing.precision import linear_output_dtypes
from intarsia_lmcdqn.agent import DQNAgent, LMCDQNAgent
from intarsia_lmcdqn.config import DQNConfig, LMCDQNConfig
from intarsia_lmcdqn.envs.nchain import NChainEnv
from lightning.fabric import Fabric

SMALL = dict(learning_starts=8, batch_size=8, train_every=2, updates_per_round=2, target_update_every=5)


def _spec(env):
    return EnvSpec(env.observation_space, env.action_space, 1)


def train(agent, env, steps):
    """test_agent.py's single-env loop; returns the episode returns."""
    obs, _ = env.reset(seed=0)
    returns, ret = [], 0.0
    for t in range(steps):
        action, _ = agent.act(obs[None], None)
        nxt, r, term, trunc, _ = env.step(int(action[0]))
        ret += r
        agent.observe(Transitions(obs=obs[None], action=action, next_obs=nxt[None],
                                  env_reward=np.array([r], np.float32), terminated=np.array([term]),
                                  truncated=np.array([trunc]), reward=np.array([r], np.float32)))
        agent.update(t + 1)
        obs = nxt
        if term or trunc:
            returns.append(ret)
            ret = 0.0
            obs, _ = env.reset()
    return returns


def _fabric(precision):
    fabric = Fabric(accelerator="cpu", devices=1, precision=precision)
    fabric.seed_everything(0, verbose=False)
    return fabric


@pytest.mark.parametrize("agent_cls,config_cls", [(DQNAgent, DQNConfig), (LMCDQNAgent, LMCDQNConfig)])
def test_online_and_target_matmuls_run_in_bf16_under_bf16_mixed(agent_cls, config_cls):
    env = NChainEnv(6)
    agent = agent_cls(config_cls(seed=0, double_q=True, max_grad_norm=1.0, **SMALL), env_spec=_spec(env),
                      fabric=_fabric("bf16-mixed"))
    with linear_output_dtypes(agent.q) as online, linear_output_dtypes(agent.target) as target:
        train(agent, env, 40)
    assert agent.gradient_steps > 0
    assert online[torch.bfloat16] > 0 and online[torch.float32] == 0, online
    assert target[torch.bfloat16] > 0 and target[torch.float32] == 0, target
    assert all(p.dtype == torch.float32 for p in agent.q.parameters())  # mixed: the weights stay float32
    assert all(torch.isfinite(p).all() for p in agent.q.parameters())


@pytest.mark.slow
def test_lmcdqn_solves_a_short_chain_under_bf16_mixed():
    """test_agent.py's N = 10 chain, same settings, under bf16-mixed (about 40 s on a busy CPU)."""
    torch.manual_seed(0)
    env = NChainEnv(10)
    agent = LMCDQNAgent(LMCDQNConfig(seed=0, lr=1e-2, noise_scale=1e-2), env_spec=_spec(env),
                        fabric=_fabric("bf16-mixed"))
    with linear_output_dtypes(agent.q, agent.target) as seen:
        returns = train(agent, env, 2500)
    assert seen[torch.bfloat16] > 0 and seen[torch.float32] == 0, seen
    assert np.mean(returns[-20:]) >= 9.0
