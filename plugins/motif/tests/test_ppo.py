"""The recurrent PPO agent learns, driven by a plain loop that follows the core runner's protocol."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from intarsia.interfaces import EnvSpec, Transitions
from intarsia_motif.config import PPOConfig
from intarsia_motif.ppo import PPOAgent, gae


class CueRecall(gym.Env):
    """A memory task: a cue (0/1) is shown at t=0 only; after ``delay`` blank steps the agent must press the
    cued action. Reward 1 if right. A memoryless policy gets 0.5 at best; a recurrent one can get 1."""

    def __init__(self, delay=3):
        self.delay = delay
        self.observation_space = spaces.Box(0.0, 1.0, shape=(3,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)

    def _obs(self):
        o = np.zeros(3, dtype=np.float32)
        if self.t == 0:
            o[self.cue] = 1.0
        elif self.t == self.delay:
            o[2] = 1.0  # "answer now"
        return o

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.cue = 0, int(self.np_random.integers(2))
        return self._obs(), {"caption": ""}

    def step(self, action):
        if self.t < self.delay:
            self.t += 1
            return self._obs(), 0.0, False, False, {"caption": ""}
        r = float(int(action) == self.cue)
        return self._obs(), r, True, False, {"caption": "right" if r else "wrong"}


def drive(agent, env_fn, num_envs, steps, seed=0):
    """The core runner's loop: act -> step -> observe -> update; returns the mean of episode returns."""
    envs = gym.vector.SyncVectorEnv([env_fn for _ in range(num_envs)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    obs, _ = envs.reset(seed=seed)
    state, reset = None, np.ones(num_envs, dtype=bool)
    returns, ep = [], np.zeros(num_envs)
    for step in range(steps // num_envs):
        actions, state = agent.act(obs, state, explore=True, reset=reset)
        nobs, r, term, trunc, info = envs.step(actions)
        done = term | trunc
        final = np.stack([info["final_obs"][i] if done[i] else nobs[i] for i in range(num_envs)]) if done.any() else nobs
        agent.observe(Transitions(obs=obs, action=actions, next_obs=final, env_reward=r, terminated=term,
                                  truncated=trunc, reward=r.astype(np.float32), reward_terms={"extrinsic": r}))
        agent.update(step * num_envs)
        ep += r
        for i in np.flatnonzero(done):
            returns.append(ep[i])
            ep[i] = 0
        obs, reset = nobs, done
    return returns


def test_gae_hand_computation():
    import torch

    r = torch.tensor([[1.0], [0.0], [2.0]])
    v = torch.tensor([[0.5], [0.2], [1.0]])
    d = torch.tensor([[0.0], [1.0], [0.0]])
    adv, ret = gae(r, v, d, torch.tensor([3.0]), gamma=0.9, lam=0.5)
    d2 = 2.0 + 0.9 * 3.0 - 1.0
    d1 = 0.0 - 0.2  # episode ends after t=1
    d0 = 1.0 + 0.9 * 0.2 - 0.5
    assert adv[:, 0].tolist() == pytest.approx([d0 + 0.45 * d1, d1, d2])
    assert (ret - adv)[:, 0].tolist() == pytest.approx(v[:, 0].tolist())


def test_reward_scale_acts_on_the_env_reward_only(cpu_fabric):
    """sample-factory + Motif: coef_ext * clip(scale * r_env, +-10) + coef_int * r_int, by hand."""
    from intarsia.builtin.rewards import ConstantRewardConfig
    from intarsia.compose import ComposedReward
    from intarsia.config import Spec
    from intarsia_motif.ppo import training_reward

    spec = EnvSpec(CueRecall().observation_space, CueRecall().action_space, num_envs=4)
    agent = PPOAgent(PPOConfig(hidden=8, reward_scale=0.1, reward_clip=10.0), env_spec=spec, fabric=cpu_fabric)

    composed = ComposedReward([Spec("constant", ConstantRewardConfig(value=2.0), {"coef": 0.1})], env_spec=spec,
                              extrinsic_coef=0.1)
    obs = np.zeros((4, 3), dtype=np.float32)
    actions, _ = agent.act(obs, None)
    z = np.zeros(4, dtype=bool)
    b = Transitions(obs=obs, action=actions, next_obs=obs, env_reward=np.array([50.0, 200.0, -300.0, 0.0], np.float32),
                    terminated=z, truncated=z)
    composed(b)
    agent.observe(b)
    # 0.1 * clip(0.1 * r, +-10) + 0.1 * 2: the intrinsic term is not scaled, the env reward is clipped at 20 -> 10
    expected = [0.1 * 5.0 + 0.2, 0.1 * 10.0 + 0.2, 0.1 * -10.0 + 0.2, 0.2]
    assert agent.buf["reward"][-1].tolist() == pytest.approx(expected)
    assert training_reward(b, 1.0, 0.0) == pytest.approx(b.reward)
    # without composition (a plain loop) the env reward is scaled and clipped alone
    plain = Transitions(obs=obs, action=actions, next_obs=obs, env_reward=np.array([50.0, 200.0, -300.0, 0.0]),
                        terminated=z, truncated=z)
    assert training_reward(plain, 0.1, 10.0) == pytest.approx([5.0, 10.0, -10.0, 0.0])


@pytest.mark.slow  # a learning run of 12,000 steps (the GRU's recall); update, state and reward plumbing are in make test
def test_recurrent_ppo_solves_a_memory_task(cpu_fabric):
    def env_fn():
        return CueRecall(delay=3)

    spec = EnvSpec(CueRecall().observation_space, CueRecall().action_space, num_envs=8)
    agent = PPOAgent(PPOConfig(rollout=32, epochs=4, minibatches=4, lr=3e-3, hidden=32, entropy_coef=0.01, seed=0),
                     env_spec=spec, fabric=cpu_fabric)
    returns = drive(agent, env_fn, 8, 12_000)
    late = np.mean(returns[-200:])
    assert late > 0.75, late  # a memoryless policy cannot beat 0.5


def test_state_dict_round_trip(cpu_fabric, tmp_path):
    import torch

    spec = EnvSpec(CueRecall().observation_space, CueRecall().action_space, num_envs=2)
    a = PPOAgent(PPOConfig(hidden=16), env_spec=spec, fabric=cpu_fabric)
    b = PPOAgent(PPOConfig(hidden=16, seed=1), env_spec=spec, fabric=cpu_fabric)
    torch.save(a.state_dict(), tmp_path / "ppo.pt")
    b.load_state_dict(torch.load(tmp_path / "ppo.pt", weights_only=True))
    obs = np.zeros((2, 3), dtype=np.float32)
    obs[:, 0] = 1
    la, _ = a.act(obs, None, explore=False)
    lb, _ = b.act(obs, None, explore=False)
    assert (la == lb).all()
