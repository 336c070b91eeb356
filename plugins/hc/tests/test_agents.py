"""The agents and envs against the core's contracts; SAC learns Pendulum; RIS runs on point navigation."""

import numpy as np
import pytest
import torch
from intarsia.interfaces import EnvSpec
from intarsia.testing import EnvContract, PolicyContract
from intarsia_hc.config import ActorConfig, PointNavConfig, RISConfig, SACConfig, SACMLPConfig
from intarsia_hc.envs.pendulum import make_pendulum
from intarsia_hc.envs.point_nav import PointNavEnv
from intarsia_hc.ris import RISAgent
from intarsia_hc.sac import SACAgent

TINY = dict(critic_hidden_sizes=[16], batch_size=8, seed_steps=8, buffer_size=256, seed=0)
TINY_ACTOR = dict(hidden_sizes=[16], num_subpolicies=3)


class TestSACHCContract(PolicyContract):
    def make_env(self):
        return make_pendulum(max_episode_steps=20)

    def make_policy(self, env_spec, fabric):
        return SACAgent(SACConfig(actor=ActorConfig(**TINY_ACTOR, log_prob="mixture"), checkpoint_replay=True,
                                  **TINY), env_spec=env_spec, fabric=fabric)


class TestSACMLPContract(PolicyContract):
    def make_env(self):
        return make_pendulum(max_episode_steps=20)

    def make_policy(self, env_spec, fabric):
        return SACAgent(SACMLPConfig(actor=ActorConfig(kind="mlp", hidden_sizes=[16]), **TINY),
                        env_spec=env_spec, fabric=fabric)


class TestRISHCContract(PolicyContract):
    def make_env(self):
        return PointNavEnv(walls=True, max_episode_steps=10)

    def make_policy(self, env_spec, fabric):
        return RISAgent(RISConfig(actor=ActorConfig(**TINY_ACTOR, features="goal_delta"), critic_hidden_sizes=[16],
                                  subgoal_hidden_sizes=[16], batch_size=8, seed_steps=8, buffer_size=256,
                                  num_subgoals=3, checkpoint_replay=True, seed=0), env_spec=env_spec, fabric=fabric)


class TestPendulumContract(EnvContract):
    def make_env(self):
        return make_pendulum()


class TestPointNavContract(EnvContract):
    def make_env(self):
        return PointNavEnv(**vars(PointNavConfig(walls=True)))


def test_point_nav_wall_blocks_and_success_terminates():
    env = PointNavEnv(walls=True, step_size=0.2, goal_threshold=0.1)
    env.reset(seed=0)
    env.pos, env.goal = np.array([0.0, 0.1], np.float32), np.array([0.0, -0.5], np.float32)
    obs, r, term, trunc, _ = env.step(np.array([0.0, -1.0]))
    assert np.allclose(obs["observation"], [0.0, 0.1]) and r == -1.0 and not term  # the wall is at y = 0, x < 0.5
    env.pos = np.array([0.8, 0.1], np.float32)  # past the wall's end: free to cross
    obs, *_ = env.step(np.array([0.0, -1.0]))
    assert np.allclose(obs["observation"], [0.8, -0.1])
    env.pos, env.goal = np.array([0.5, 0.5], np.float32), np.array([0.55, 0.5], np.float32)
    _, r, term, trunc, info = env.step(np.zeros(2))
    assert term and not trunc and info["success"] and r == 0.0


def test_agents_reject_spaces_they_cannot_handle(cpu_fabric):
    from gymnasium import spaces

    discrete = EnvSpec(spaces.Box(-1, 1, (3,)), spaces.Discrete(3), 1)
    with pytest.raises(ValueError, match="continuous"):
        SACAgent(SACConfig(**TINY), env_spec=discrete, fabric=cpu_fabric)
    with pytest.raises(ValueError, match="dict observations"):
        RISAgent(RISConfig(), env_spec=EnvSpec(spaces.Box(-1, 1, (3,)), spaces.Box(-1, 1, (2,)), 1), fabric=cpu_fabric)


def _eval_returns(agent, episodes=5, seed=1000):
    env = make_pendulum()
    out = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        done, ret = False, 0.0
        while not done:
            a, _ = agent.act(obs[None], None, explore=False)
            obs, r, term, trunc, _ = env.step(a[0])
            ret += r
            done = term or trunc
        out.append(ret)
    return float(np.mean(out))


def _random_return(episodes=5, seed=1000):
    env = make_pendulum()
    env.action_space.seed(0)
    out = []
    for ep in range(episodes):
        env.reset(seed=seed + ep)
        done, ret = False, 0.0
        while not done:
            _, r, term, trunc, _ = env.step(env.action_space.sample())
            ret += r
            done = term or trunc
        out.append(ret)
    return float(np.mean(out))


def test_sac_hc_on_pendulum_beats_a_random_policy(cpu_fabric):
    """A tiny budget (4,000 steps, 64-unit networks, about 20 s of CPU): the greedy HC policy must beat random
    actions by a wide margin on the same start states (random: about -1,240 here; this run: about -810)."""
    from intarsia.testing import rollout

    torch.manual_seed(0)
    env = make_pendulum()
    spec = EnvSpec(env.observation_space, env.action_space, 1)
    cfg = SACConfig(actor=ActorConfig(num_subpolicies=4, hidden_sizes=[64, 64]), critic_hidden_sizes=[64, 64],
                    actor_lr=2e-3, critic_lr=2e-3, alpha_lr=2e-3, batch_size=64, seed_steps=300, seed=0)
    agent = SACAgent(cfg, env_spec=spec, fabric=cpu_fabric)
    reset = np.ones(1, bool)

    def act(obs):
        return agent.act(obs, None, explore=True, reset=reset)[0]

    for i, batch in enumerate(rollout(make_pendulum, act, num_envs=1, steps=4000, seed=0)):
        agent.observe(batch)
        agent.update(i + 1)
    trained, random = _eval_returns(agent), _random_return()
    assert random < -900
    assert trained > random + 300, (trained, random)


class TestDMCStateContract(EnvContract):
    steps = 50

    def make_env(self):
        pytest.importorskip("dm_control")
        from intarsia_hc.envs.dmc import DMCStateEnv

        return DMCStateEnv("cartpole", "swingup")


def test_dmc_state_env_names_its_features_and_rejects_unknown_tasks():
    pytest.importorskip("dm_control")
    from intarsia.errors import IntarsiaError
    from intarsia_hc.envs.dmc import DMCStateEnv

    env = DMCStateEnv("cartpole", "swingup", action_repeat=2)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (5,) and env.observation_names == ["position[0]", "position[1]", "position[2]", "velocity[0]", "velocity[1]"]
    with pytest.raises(IntarsiaError, match="no DeepMind Control task"):
        DMCStateEnv("cartpole", "fly")


def test_greedy_actions_are_deterministic_and_exploring_ones_are_not(cpu_fabric):
    env = make_pendulum()
    agent = SACAgent(SACConfig(actor=ActorConfig(**TINY_ACTOR), **{**TINY, "seed_steps": 0}),
                     env_spec=EnvSpec(env.observation_space, env.action_space, 4), fabric=cpu_fabric)
    obs = np.stack([env.reset(seed=i)[0] for i in range(4)])
    a, _ = agent.act(obs, None, explore=False)
    b, _ = agent.act(obs, None, explore=False)
    np.testing.assert_array_equal(a, b)
    c, _ = agent.act(obs, None, explore=True)
    assert not np.array_equal(a, c) and np.all(np.abs(c) <= 2.0)
