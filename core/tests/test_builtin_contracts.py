"""The core's own components pass the conformance classes it ships to plugin authors."""

from intarsia.builtin.gridworld import CaptionedGridEnv
from intarsia.builtin.qlearning import QLearningAgent, QLearningConfig
from intarsia.builtin.random_policy import RandomPolicy, RandomPolicyConfig
from intarsia.builtin.rewards import (
    CaptionReward,
    CaptionRewardConfig,
    ConstantReward,
    ConstantRewardConfig,
    ZeroReward,
)
from intarsia.testing import EnvContract, PolicyContract, RewardContract


class TestCaptionedGrid(EnvContract):
    captions = True
    success = True

    def make_env(self):
        return CaptionedGridEnv(size=5, max_steps=30, randomize=True)


class TestZeroReward(RewardContract):
    def make_reward(self, env_spec):
        return ZeroReward(env_spec=env_spec)


class TestConstantReward(RewardContract):
    def make_reward(self, env_spec):
        return ConstantReward(ConstantRewardConfig(value=0.5), env_spec=env_spec)


class TestCaptionReward(RewardContract):
    def make_reward(self, env_spec):
        return CaptionReward(CaptionRewardConfig(phrase="wall"), env_spec=env_spec)


class TestRandomPolicy(PolicyContract):
    def make_policy(self, env_spec, fabric):
        return RandomPolicy(RandomPolicyConfig(seed=0), env_spec=env_spec, fabric=fabric)


class TestQLearning(PolicyContract):
    def make_policy(self, env_spec, fabric):
        return QLearningAgent(QLearningConfig(learning_starts=16, batch_size=8), env_spec=env_spec, fabric=fabric)


def test_a_contract_subclass_must_implement_its_factories():
    import pytest

    class Incomplete(RewardContract):
        pass

    with pytest.raises(TypeError, match="make_reward"):
        Incomplete()
