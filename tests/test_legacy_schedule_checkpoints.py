"""Checkpoints saved before agents stored their :class:`intarsia.schedule.TrainSchedule` (no "schedule"
key; hc's and lmcdqn's last counter meant something else) still resume: the schedule is rebuilt from the
config at the restored step, and the next training round falls where the uninterrupted agent's does."""

from __future__ import annotations

import io

import pytest
import torch
from intarsia.interfaces import EnvSpec
from intarsia_r2i.loop import drive


def _lmcdqn(fabric):
    from intarsia_lmcdqn.agent import LMCDQNAgent
    from intarsia_lmcdqn.config import LMCDQNConfig
    from intarsia_lmcdqn.envs.nchain import NChainEnv

    def make():
        return LMCDQNAgent(LMCDQNConfig(seed=0, learning_starts=8, batch_size=8, train_every=3, updates_per_round=2,
                                        checkpoint_replay=True), env_spec=spec, fabric=fabric)

    env = lambda: NChainEnv(6)  # noqa: E731
    spec = EnvSpec(env().observation_space, env().action_space, 2)

    def legacy(agent, state):  # counters were [env_steps, gradient_steps, next_round_at]
        next_round = agent.cfg.learning_starts + agent.schedule.rounds * agent.cfg.train_every
        state["counters"] = torch.tensor([agent.env_steps, agent.gradient_steps, next_round])

    return make, env, legacy


def _sac(fabric):
    from intarsia_hc.config import ActorConfig, SACConfig
    from intarsia_hc.envs.pendulum import make_pendulum
    from intarsia_hc.sac import SACAgent

    def make():
        return SACAgent(SACConfig(actor=ActorConfig(hidden_sizes=[16], num_subpolicies=3), critic_hidden_sizes=[16],
                                  batch_size=8, seed_steps=8, buffer_size=256, seed=0, updates_per_step=0.5),
                        env_spec=spec, fabric=fabric)

    env = lambda: make_pendulum(max_episode_steps=20)  # noqa: E731
    spec = EnvSpec(env().observation_space, env().action_space, 2)

    def legacy(agent, state):  # counters were [env_steps, updates, pending_updates]
        state["counters"] = torch.tensor([agent.env_steps, agent.updates, 0])

    return make, env, legacy


def _r2i(fabric):
    from intarsia_r2i.agent import make_r2i
    from intarsia_r2i.envs.bsuite import MemoryLengthEnv
    from intarsia_r2i.presets import tiny_config

    def make():
        return make_r2i(tiny_config(), env_spec=spec, fabric=fabric)

    env = lambda: MemoryLengthEnv(3)  # noqa: E731
    spec = EnvSpec(env().observation_space, env().action_space, 2)
    return make, env, lambda agent, state: None


@pytest.mark.parametrize("agent_kind", [_lmcdqn, _sac, _r2i], ids=["lmcdqn", "hc-sac", "r2i"])
def test_a_checkpoint_without_a_schedule_resumes_on_the_same_clock(agent_kind, cpu_fabric):
    torch.set_num_threads(1)
    make, env, legacy = agent_kind(cpu_fabric)
    a = make()
    steps = 40
    drive(env, a, steps, num_envs=2)
    assert a.schedule.rounds > 0, "the agent did not train: the test would not check the resumed clock"
    state = a.state_dict()
    del state["schedule"]
    legacy(a, state)
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    b = make()
    b.load_state_dict(torch.load(buf, weights_only=True))
    assert b.schedule.rounds == a.schedule.rounds
    assert getattr(b, "step", steps) == getattr(a, "step", steps) == steps
    assert [b.schedule.due(s) for s in range(steps + 1, steps + 30)] == \
        [a.schedule.due(s) for s in range(steps + 1, steps + 30)]
