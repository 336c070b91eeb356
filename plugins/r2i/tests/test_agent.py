"""The agent under the core's policy contract, checkpoints, continuous actions, composed rewards."""

import io

import numpy as np
import pytest
import torch
from intarsia.testing import PolicyContract
from intarsia_r2i.agent import R2IAgent, make_dreamerv3, make_r2i
from intarsia_r2i.envs.bsuite import MemoryLengthEnv
from intarsia_r2i.loop import drive
from intarsia_r2i.presets import tiny_config


class TestR2IPolicyContract(PolicyContract):
    steps = 40

    def make_env(self):
        return MemoryLengthEnv(4)

    def make_policy(self, env_spec, fabric):
        return make_r2i(tiny_config(), env_spec=env_spec, fabric=fabric)


class TestDreamerV3PolicyContractOnGrid(PolicyContract):
    steps = 40

    def make_policy(self, env_spec, fabric):  # the core's captioned gridworld (default env)
        return make_dreamerv3(tiny_config(), env_spec=env_spec, fabric=fabric)



def test_continuous_actions_train_with_backprop(cpu_fabric):
    import gymnasium as gym
    from intarsia.interfaces import EnvSpec

    make = lambda: gym.make("Pendulum-v1", max_episode_steps=20)  # noqa: E731
    env = make()
    spec = EnvSpec(env.observation_space, env.action_space, 2)
    agent = make_r2i(tiny_config(), env_spec=spec, fabric=cpu_fabric)
    before = [p.detach().clone() for p in agent.actor.parameters()]
    drive(make, agent, 60, num_envs=2)
    assert agent.updates > 0
    assert any(not torch.equal(a, p) for a, p in zip(before, agent.actor.parameters(), strict=True))
    actions, _ = agent.act(np.stack([env.reset(seed=i)[0] for i in range(2)]), None)
    assert env.action_space.contains(actions[0].astype(np.float32))


def test_checkpoint_with_replay_resumes_identically(cpu_fabric):
    from intarsia.interfaces import EnvSpec

    env = MemoryLengthEnv(3)
    spec = EnvSpec(env.observation_space, env.action_space, 2)
    a = make_r2i(tiny_config(checkpoint_replay=True), env_spec=spec, fabric=cpu_fabric)
    drive(lambda: MemoryLengthEnv(3), a, 40, num_envs=2)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    b = make_r2i(tiny_config(checkpoint_replay=True), env_spec=spec, fabric=cpu_fabric)
    b.load_state_dict(state)
    assert b.updates == a.updates and b.env_steps == a.env_steps and len(b.replay) == len(a.replay)
    np.testing.assert_array_equal(a.replay.obs, b.replay.obs)
    # same weights + same replay + same RNG -> the same next update
    metrics = []
    for agent in (a, b):
        agent.replay.rng = np.random.default_rng(7)
        torch.manual_seed(7)
        metrics.append(agent.train_step())
    ma, mb = metrics
    assert float(ma["wm/vector"]) == pytest.approx(float(mb["wm/vector"]), rel=1e-5)


def test_a_checkpoint_with_the_old_two_optimiser_groups_is_one_line(cpu_fabric):
    from intarsia.errors import IntarsiaError
    from intarsia.interfaces import EnvSpec

    env = MemoryLengthEnv(3)
    spec = EnvSpec(env.observation_space, env.action_space, 2)
    agent = make_r2i(tiny_config(), env_spec=spec, fabric=cpu_fabric)
    state = agent.state_dict()
    groups_now = len(state["wm_opt"]["param_groups"])
    assert groups_now >= 3  # one per clipping group that has parameters (7 at full size)
    # what an older version saved: the SSM's parameters in one group, the rest in the other
    groups = state["wm_opt"]["param_groups"]
    old = {**state["wm_opt"], "param_groups": [{**groups[0], "params": sum((g["params"] for g in groups[:-1]), [])},
                                               groups[-1]]}
    with pytest.raises(IntarsiaError, match=f"has {groups_now} .*one per clipping group") as err:
        make_r2i(tiny_config(), env_spec=spec, fabric=cpu_fabric).load_state_dict({**state, "wm_opt": old})
    assert "\n" not in str(err.value)


def test_policy_inputs_variants(cpu_fabric):
    from intarsia.interfaces import EnvSpec

    env = MemoryLengthEnv(3)
    spec = EnvSpec(env.observation_space, env.action_space, 2)
    for kind in ("output", "hidden", "full"):
        agent = make_r2i(tiny_config(policy_inputs=kind), env_spec=spec, fabric=cpu_fabric)
        assert agent.actor.hidden[0][0].in_features == agent.wm.feature_dim(kind)
        drive(lambda: MemoryLengthEnv(3), agent, 24, num_envs=2)
        assert agent.updates > 0


def test_composed_rewards_train_one_head_per_term(cpu_fabric):
    """Extrinsic + a caption penalty + a constant on the core's gridworld: the world model learns one
    reward head per term, each predicting its own (coefficient-weighted) term."""
    from intarsia.builtin.gridworld import BUMP, CaptionedGridEnv
    from intarsia.interfaces import EnvSpec

    torch.manual_seed(0)
    make = lambda: CaptionedGridEnv(size=5, max_steps=12, torch_prob=0.0)  # noqa: E731
    env = make()
    terms = ("extrinsic", "caption", "constant")
    spec = EnvSpec(env.observation_space, env.action_space, 2, reward_terms=terms)
    agent = make_r2i(tiny_config(learning_starts=64, train_ratio=64, batch_size=8, model_lr=3e-3),
                     env_spec=spec, fabric=cpu_fabric)
    assert set(agent.wm.reward_terms) == set(terms)
    extra = {"caption": lambda o, a, no, info: -0.5 * float(info.get("caption") == BUMP),  # coef -0.5
             "constant": lambda o, a, no, info: 0.2}
    drive(make, agent, 700, num_envs=2, reward_terms=extra)
    assert agent.updates > 50
    batch = agent._sample_batch()
    with torch.no_grad():
        _, post = agent.wm.loss(batch)
        pred = agent.wm.predict_rewards(post)
    bump = batch["rewards"]["caption"] < 0
    assert bump.any() and (~bump).any()
    assert pred["constant"].mean() == pytest.approx(0.2, abs=0.05)
    # the caption head tells bump steps from the rest; the other heads do not carry the penalty
    assert pred["caption"][bump].mean() < pred["caption"][~bump].mean() - 0.1
    assert abs(pred["extrinsic"][bump].mean()) < 0.1


def test_registered_policies_build_through_the_registry(intarsia_host, cpu_fabric):
    import intarsia_r2i.plugin as plugin
    from intarsia.build import build
    from intarsia.interfaces import EnvSpec

    intarsia_host(plugin)
    env = build("envs", "MemoryLength-v0", {"memory_length": 3})
    spec = EnvSpec(env.observation_space, env.action_space, 1)
    from intarsia_r2i.world_model import GRURSSM, S3M

    agent = build("policies", "dreamerv3", {"batch_size": 2}, env_spec=spec, fabric=cpu_fabric)
    assert isinstance(agent, R2IAgent) and isinstance(agent.wm, GRURSSM)  # dreamerv3's default world model
    assert isinstance(build("policies", "r2i", {}, env_spec=spec, fabric=cpu_fabric).wm, S3M)  # r2i's
    # the two names differ in their default only: either takes any registered world model by name
    agent = build("policies", "r2i", {"world_model": {"name": "rssm", "deter": 8}}, env_spec=spec, fabric=cpu_fabric)
    assert isinstance(agent.wm, GRURSSM) and agent.wm.cfg.deter == 8
    agent = build("policies", "r2i", {"world_model": "rssm"}, env_spec=spec, fabric=cpu_fabric)  # name alone
    assert isinstance(agent.wm, GRURSSM)


def test_the_old_model_key_is_mapped_with_a_notice(intarsia_host, cpu_fabric, capsys):
    import intarsia_r2i.config as config
    import intarsia_r2i.plugin as plugin
    from intarsia.build import build
    from intarsia.interfaces import EnvSpec

    intarsia_host(plugin)
    env = MemoryLengthEnv(3)
    spec = EnvSpec(env.observation_space, env.action_space, 1)
    config._NOTICED.discard("policy.model")
    capsys.readouterr()
    for _ in range(2):  # the notice comes once per process
        agent = build("policies", "dreamerv3", {"model": {"deter": 8}}, env_spec=spec, fabric=cpu_fabric)
        assert agent.wm.cfg.deter == 8
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "policy.model is now policy.world_model" in err[0] and "removed" in err[0]


def test_an_unknown_world_model_is_one_line_naming_the_kind(intarsia_host, cpu_fabric):
    import intarsia_r2i.plugin as plugin
    from intarsia.build import build
    from intarsia.errors import IntarsiaError
    from intarsia.interfaces import EnvSpec

    intarsia_host(plugin)
    env = MemoryLengthEnv(3)
    spec = EnvSpec(env.observation_space, env.action_space, 1)
    with pytest.raises(IntarsiaError, match="s3m"):
        build("policies", "r2i", {"world_model": {"name": "s3n"}}, env_spec=spec, fabric=cpu_fabric)
