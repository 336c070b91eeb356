"""N-chain and Deep Sea dynamics, rewards and horizons; the Atari wrapper stack when ale-py is present."""

import numpy as np
import pytest
from intarsia_lmcdqn.envs.deep_sea import DeepSeaEnv
from intarsia_lmcdqn.envs.nchain import NChainEnv


def _rollout(env, actions):
    obs, _ = env.reset(seed=0)
    total, steps, end = 0.0, 0, None
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        total += r
        steps += 1
        if term or trunc:
            end = (term, trunc, info)
            break
    return obs, total, steps, end


@pytest.mark.parametrize("n", [3, 10, 25])
def test_nchain_always_right_gets_the_optimal_return_10(n):
    env = NChainEnv(n)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs, (np.arange(n) <= 1).astype(np.float32))  # thermometer, start s2
    obs, total, steps, (term, trunc, info) = _rollout(env, [1] * 1000)
    assert steps == n + 8 and term and not trunc
    assert total == pytest.approx(10.0) == pytest.approx(env.optimal_return)
    assert info["success"] and obs.sum() == n


def test_nchain_always_left_gets_the_small_trap_reward():
    env = NChainEnv(10)
    _, total, steps, (_, _, info) = _rollout(env, [0] * 1000)
    # one step to reach s1, then 17 steps of 0.001 going left in s1
    assert steps == 18 and total == pytest.approx(17 * 0.001) and not info["success"]


def test_nchain_reward_is_for_the_action_taken_in_sn_and_truncation_option():
    env = NChainEnv(4, terminate_at_horizon=False)
    env.reset(seed=0)
    assert env.step(1)[1] == 0.0  # s2 -> s3
    assert env.step(1)[1] == 0.0  # s3 -> s4: arriving is not rewarded
    assert env.step(1)[1] == 1.0  # right in s4
    assert env.step(0)[1] == 0.0  # leaving
    *_, (term, trunc, _) = _rollout(env, [1] * 100)
    assert trunc and not term
    with pytest.raises(ValueError):
        NChainEnv(2)


def _deep_sea_optimal_actions(env):
    """Follow the diagonal: in cell (r, r) press whichever action means right."""
    return [int(env.action_right[r, r]) for r in range(env.size)]


def test_deep_sea_optimal_path_and_left_path():
    env = DeepSeaEnv(size=8, mapping_seed=3)
    env.reset(seed=0)
    total = 0.0
    for r, a in enumerate(_deep_sea_optimal_actions(env)):
        obs, rew, term, trunc, info = env.step(a)
        total += rew
        assert term == (r == env.size - 1) and not trunc
    assert total == pytest.approx(0.99) and info["success"] and obs.sum() == 0  # null obs after the end
    env.reset(seed=0)
    total = 0.0
    for r in range(env.size):
        left = 1 - int(env.action_right[r, env.column])
        _, rew, term, _, info = env.step(left)
        total += rew
    assert total == 0.0 and term and not info["success"]


def test_deep_sea_action_mapping_is_fixed_by_seed_and_randomised():
    a, b = DeepSeaEnv(10, mapping_seed=0), DeepSeaEnv(10, mapping_seed=0)
    np.testing.assert_array_equal(a.action_right, b.action_right)
    assert 0 < a.action_right.mean() < 1
    assert DeepSeaEnv(10, randomize_actions=False).action_right.min() == 1
    obs, _ = a.reset(seed=1)
    assert obs.shape == (10, 10) and obs[0, 0] == 1 and obs.sum() == 1


def test_deep_sea_stochastic_variant_noise():
    env = DeepSeaEnv(size=4, deterministic=False, mapping_seed=0)
    returns = []
    for ep in range(200):
        env.reset(seed=ep)
        total = 0.0
        for _ in range(4):
            total += env.step(1 - int(env.action_right[env.row, env.column]))[1]  # always left
        returns.append(total)
    # all-left ends in the bottom-left corner, where N(0, 1) noise is added
    assert 0.5 < np.std(returns) < 1.5


def test_atari_stack_builds_and_steps():
    pytest.importorskip("ale_py")
    from intarsia_lmcdqn.envs.atari import make_atari

    env = make_atari("Pong", noop_max=0)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    for _ in range(5):
        obs, r, term, trunc, _ = env.step(env.action_space.sample())
    assert obs.shape == (4, 84, 84)
    env.close()


def test_atari_lmcdqn_runs_steps_and_updates_on_cpu(cpu_fabric):
    """A paper game at tiny size (42x42 frames) through the Nature CNN agent: a few steps and updates."""
    pytest.importorskip("ale_py")
    from intarsia.interfaces import EnvSpec, Transitions
    from intarsia_lmcdqn.agent import LMCDQNAgent
    from intarsia_lmcdqn.config import LMCDQNConfig
    from intarsia_lmcdqn.envs.atari import make_atari
    from intarsia_lmcdqn.networks import NatureCNN

    env = make_atari("Freeway", screen_size=42, noop_max=0)
    cfg = LMCDQNConfig(seed=0, lr=1e-4, noise_scale=1e-7, bias_factor=0.1, langevin_steps=1, n_step=3,
                       double_q=True, clip_rewards=True, buffer_size=64, batch_size=4, learning_starts=8,
                       train_every=4, updates_per_round=1, target_update_every=2)
    agent = LMCDQNAgent(cfg, env_spec=EnvSpec(env.observation_space, env.action_space, 1), fabric=cpu_fabric)
    assert isinstance(agent.q.module if hasattr(agent.q, "module") else agent.q, NatureCNN)
    obs, _ = env.reset(seed=0)
    metrics = {}
    for t in range(20):
        action, _ = agent.act(obs[None], None)
        nxt, r, term, trunc, _ = env.step(int(action[0]))
        agent.observe(Transitions(obs=obs[None], action=action, next_obs=nxt[None],
                                  env_reward=np.array([r], np.float32), terminated=np.array([term]),
                                  truncated=np.array([trunc]), reward=np.array([r], np.float32)))
        metrics = agent.update(t + 1) or metrics
        obs = nxt
    assert agent.replay.frames.frames.dtype == np.uint8 and len(agent.replay) == 18  # 3-step windows
    # frames stored once: 20 steps of a 4-frame stack need about 23 frames, not 2 x 18 x 4
    assert agent.replay.frames.next_id <= 20 + 4 + 1
    assert agent.gradient_steps == 4 and np.isfinite(metrics["loss/td"])
    env.close()
