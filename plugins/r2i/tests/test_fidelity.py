"""Behaviour that follows the official R2I code (chandar-lab/Recall2Imagine) where a choice is visible:
the S3M reset rule, the continuous-action gradient paths, imagination's continue flags, the world-model
optimiser groups, the per-channel image LayerNorm, conjugate symmetry's halved state and the Atari env."""

import importlib.util

import numpy as np
import pytest
import torch
from gymnasium import spaces
from intarsia.interfaces import EnvSpec
from intarsia_r2i.agent import make_r2i
from intarsia_r2i.config import WorldModelConfig
from intarsia_r2i.nets import ChannelLayerNorm
from intarsia_r2i.presets import tiny_config
from intarsia_r2i.world_model import make_s3m

torch.set_num_threads(1)

TINY = dict(stoch=4, classes=4, deter=16, units=16, ssm_state=8, ssm_layers=2, ssm_blocks=2, mlp_units=16,
            head_units=16, mlp_layers=1, head_layers=1, cnn_depth=4, bins=31)


def _observe(wm, embed, prev_action, is_first, state=None):
    with torch.no_grad():
        post, _ = wm.observe(embed, prev_action, is_first, state)
    return post


@pytest.mark.parametrize("mid_chunk", [False, True])
def test_s3m_reset_rule(mid_chunk):
    """Official: an episode start masks the action and resets the SSM state, but the previous posterior is
    still fed, inside a chunk and at its step 0 (there: the state passed in, the chunk-start rule's)."""
    torch.manual_seed(0)
    obs_space, act_space = spaces.Box(-1, 1, (5,), np.float32), spaces.Discrete(3)
    wm = make_s3m(WorldModelConfig(**TINY, reset_stoch_mid_chunk=mid_chunk), obs_space=obs_space,
                  action_space=act_space)
    wm.stochastic = False  # latent modes: the outputs are a deterministic function of the inputs
    B, T = 2, 8
    embed = wm.encode(torch.randn(B, T, 5))
    prev_action = torch.nn.functional.one_hot(torch.randint(0, 3, (B, T)), 3).float()
    is_first = torch.zeros(B, T)
    is_first[:, 0] = 1
    is_first[1, 4] = 1  # a new episode starts mid-chunk in sequence 1
    base = _observe(wm, embed, prev_action, is_first)

    def changed(post, t):
        return not torch.allclose(post["deter"][1, t], base["deter"][1, t])

    # the action at an episode start is masked
    a2 = prev_action.clone()
    a2[1, 4] = torch.tensor([0.0, 0.0, 5.0])
    assert not changed(_observe(wm, embed, a2, is_first), 4)
    # the SSM state is reset there: earlier steps of the old episode (before its last posterior) do not reach it
    e2 = embed.clone()
    e2[1, 1] = e2[1, 1] * -3 + 2
    assert changed(_observe(wm, e2, prev_action, is_first), 2)
    assert not changed(_observe(wm, e2, prev_action, is_first), 4)
    # the previous posterior (old episode's last step): fed officially, replaced with reset_stoch_mid_chunk
    e3 = embed.clone()
    e3[1, 3] = e3[1, 3] * -4 + 3
    assert not torch.equal(_observe(wm, e3, prev_action, is_first)["stoch"][1, 3], base["stoch"][1, 3])
    assert changed(_observe(wm, e3, prev_action, is_first), 4) is not mid_chunk
    # at step 0 (is_first) a carried state's posterior is read, its SSM state is not; reset_stoch_mid_chunk
    # replaces the posterior there too
    carried = {k: v[:, -1] for k, v in base.items()}
    carried["stoch"] = torch.flip(carried["stoch"], [-1])
    again = _observe(wm, embed, prev_action, is_first, carried)
    assert torch.allclose(again["deter"][:, 0], base["deter"][:, 0]) is mid_chunk
    carried_hidden = {**wm.initial(B), "hidden": carried["hidden"] * 3 + 1}
    torch.testing.assert_close(_observe(wm, embed, prev_action, is_first, carried_hidden)["deter"], base["deter"])


def _continuous_agent(cpu_fabric, **overrides):
    obs_space = spaces.Box(-1, 1, (3,), np.float32)
    act_space = spaces.Box(-2, 2, (2,), np.float32)
    return make_r2i(tiny_config(imag_horizon=3, **overrides), env_spec=EnvSpec(obs_space, act_space, 2),
                    fabric=cpu_fabric)


def _starts(agent, n=6):
    torch.manual_seed(1)
    wm = agent.wm
    with torch.no_grad():
        embed = wm.encode(torch.randn(n, 1, 3))
        post, _ = wm.observe(embed, torch.zeros(n, 1, wm.action_dim), torch.ones(n, 1))
    return {k: v[:, 0] for k, v in post.items()}, torch.ones(n)


def test_continuous_actor_reads_stop_gradient_features(cpu_fabric):
    """Official: policy = actor(sg(s)); gradients reach actions through the dynamics, never the actor input."""
    agent = _continuous_agent(cpu_fabric)
    seen = []
    handle = agent.actor.register_forward_pre_hook(lambda _m, args: seen.append(args[0].requires_grad))
    try:
        start, cont = _starts(agent)
        before = [p.detach().clone() for p in agent.actor.parameters()]
        agent._train_actor_critic(start, cont)
    finally:
        handle.remove()
    assert seen and not any(seen)
    # ... and the actor still learns by backprop through the imagined dynamics
    assert any(not torch.equal(a, p) for a, p in zip(before, agent.actor.parameters(), strict=True))


@pytest.mark.parametrize("discrete", [False, True])
def test_actor_loss_baseline_gradient(cpu_fabric, discrete):
    """Official: adv = normed return - normed value, the value baseline *not* stop-gradient. Continuous
    actions (backprop) get its gradient; REINFORCE detaches the whole advantage."""
    if discrete:
        agent = make_r2i(tiny_config(imag_horizon=3), fabric=cpu_fabric,
                         env_spec=EnvSpec(spaces.Box(-1, 1, (3,), np.float32), spaces.Discrete(2), 2))
    else:
        agent = _continuous_agent(cpu_fabric)
    H, N = 3, 4
    feats = torch.randn(H + 1, N, agent.wm.feature_dim(agent.cfg.policy_inputs))
    actions = torch.nn.functional.one_hot(torch.randint(0, 2, (H, N)), 2).float() if discrete else torch.randn(H, N, 2)
    value = torch.randn(H + 1, N, requires_grad=True)
    ret = torch.randn(H, N, requires_grad=True)
    loss = agent._actor_loss(feats, actions, ret, value, torch.ones(H + 1, N), torch.tensor(0.0), torch.tensor(2.0))
    g_value, g_ret = torch.autograd.grad(loss, [value, ret], allow_unused=True)
    if discrete:
        assert g_value is None and g_ret is None
    else:
        # d(-mean(ret/2 - value/2))/d value = +1/(2 H N) on the baseline steps, nothing on the bootstrap step
        expected = torch.zeros(H + 1, N)
        expected[:-1] = 1.0 / (2 * H * N)
        torch.testing.assert_close(g_value, expected)
        torch.testing.assert_close(g_ret, torch.full((H, N), -1.0 / (2 * H * N)))


def test_imagined_continue_flags_use_the_mode(cpu_fabric):
    p = torch.tensor([0.2, 0.5, 0.51, 0.9])
    assert _continuous_agent(cpu_fabric)._continue_flags(p).tolist() == [0.0, 0.0, 1.0, 1.0]
    assert _continuous_agent(cpu_fabric, imag_cont="mean")._continue_flags(p).tolist() == pytest.approx(p.tolist())


def test_world_model_optimiser_groups_and_per_group_clipping(cpu_fabric):
    agent = _continuous_agent(cpu_fabric, model_wd=0.01)
    groups = agent.wm_opt.param_groups
    decayed = {id(p) for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    ssm = {id(p) for p in agent.wm.ssm_parameters()}
    for name, p in agent.wm.named_parameters():
        module = agent.wm.get_submodule(name.rsplit(".", 1)[0]) if "." in name else agent.wm
        is_kernel = name.endswith(".weight") and isinstance(module, (torch.nn.Linear, torch.nn.Conv2d))
        assert (id(p) in decayed) == (is_kernel and id(p) not in ssm), name
    # each group (SSM / the rest) is clipped to the norm on its own
    loss = sum(p.sum() * 100 for p in agent.wm.parameters())
    agent._step_opt(loss, agent.wm_opt, agent._wm_clip_groups, 1.0)
    for group in agent._wm_clip_groups:
        norm = torch.stack([p.grad.norm() for p in group if p.grad is not None]).norm()
        assert norm == pytest.approx(1.0, rel=1e-4)


def test_image_norm_is_per_channel_layer_norm():
    norm = ChannelLayerNorm(6)
    x = torch.randn(2, 6, 5, 5) * 3 + 1
    y = norm(x)
    torch.testing.assert_close(y.mean(1), torch.zeros(2, 5, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(y, torch.nn.functional.layer_norm(x.permute(0, 2, 3, 1), (6,)).permute(0, 3, 1, 2))


def test_conjugate_symmetry_halves_the_states_and_out_proj_is_official():
    obs_space, act_space = spaces.Box(-1, 1, (5,), np.float32), spaces.Discrete(3)
    wm = make_s3m(WorldModelConfig(**{**TINY, "conj_sym": True}), obs_space=obs_space, action_space=act_space)
    assert wm.initial(2)["hidden"].shape == (2, TINY["ssm_layers"], TINY["ssm_state"] // 2)
    linear, act = wm.out_proj
    assert isinstance(linear, torch.nn.Linear) and linear.bias is not None and isinstance(act, torch.nn.SiLU)


@pytest.mark.skipif(importlib.util.find_spec("ale_py") is None, reason="needs intarsia-r2i[atari]")
def test_atari_noops_and_max_over_the_last_two_frames():
    from intarsia_r2i.envs.pixels import make_atari

    env = make_atari("Pong", size=16, repeat=4, noops=5)

    class Fake:
        """Frames whose value is the frame counter; reward 1 per frame; records the actions."""

        def __init__(self):
            self.t, self.actions = 0, []

        def reset(self, **_):
            self.t = 0
            return np.zeros((16, 16, 3), np.uint8), {}

        def step(self, a):
            self.t += 1
            self.actions.append(a)
            frame = np.full((16, 16, 3), 10 * self.t, np.uint8)
            frame[0, 0] = 200 if self.t % 4 == 3 else 0  # a flickering pixel only on the second-to-last frame
            return frame, 1.0, False, False, {}

        def close(self):
            pass

    env.env = Fake()
    counts = set()
    for seed in range(20):
        env.reset(seed=seed)
        counts.add(len(env.env.actions))
        assert all(a == 0 for a in env.env.actions)
        env.env.actions.clear()
    assert counts <= set(range(5)) and len(counts) > 1
    env.env.t = 0
    obs, reward, *_ = env.step(1)
    assert reward == 4.0 and env.env.actions == [1, 1, 1, 1]
    assert obs[0, 0, 0] == 200  # the max over frames 3 and 4 keeps the flickering pixel
    assert obs[4, 4, 0] == 40


@pytest.mark.skipif(importlib.util.find_spec("ale_py") is None, reason="needs intarsia-r2i[atari]")
@pytest.mark.parametrize("terminal", [True, False])
def test_atari_time_limit_is_a_terminal_as_officially(terminal):
    from intarsia_r2i.envs.pixels import make_atari

    env = make_atari("Pong", size=16, repeat=4, noops=0, time_limit_terminal=terminal)

    class Limit:
        def step(self, a):
            return np.zeros((16, 16, 3), np.uint8), 0.0, False, True, {}  # the TimeLimit wrapper's truncation

    env.env = Limit()
    _, _, terminated, truncated, _ = env.step(0)
    assert (terminated, truncated) == ((True, False) if terminal else (False, True))


def _hand_built_agent(cpu_fabric, rule, T):
    """One stream of 2T steps (a single episode from step 0), chunks of T, one row per batch, consecutive
    chunks (replay_online), latent modes."""
    agent = make_r2i(tiny_config(batch_size=1, batch_length=T, replay_online=True, chunk_start=rule),
                     env_spec=EnvSpec(spaces.Box(-1, 1, (3,), np.float32), spaces.Discrete(2), 1), fabric=cpu_fabric)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(2 * T, 3)).astype(np.float32)
    actions = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 2 * T)]
    for t in range(2 * T):
        slot = agent.replay.add(0, obs[t], np.zeros(1, np.float32), t == 0, False)
        agent.replay.set_action(0, slot, actions[t])
    agent.replay._rows = (np.array([0]), np.array([0]))  # the first chunk starts at step 0
    agent.wm.stochastic = False
    return agent, torch.from_numpy(obs)[None], torch.from_numpy(actions)[None]


@pytest.mark.parametrize("rule", ["carry", "initial"])
def test_chunk_start_rules_on_a_hand_built_sequence(cpu_fabric, rule):
    """Official ('carry'): chunk k+1 starts from chunk k's last posterior, with the SSM state and the action
    reset at its step 0, which is marked is_first as the official replays mark it. On consecutive chunks this
    equals one long chunk with is_first at the boundary; 'initial' starts every chunk from the initial latent."""
    T = 6
    agent, obs, actions = _hand_built_agent(cpu_fabric, rule, T)
    wm = agent.wm
    with torch.no_grad():
        batch1 = agent._sample_batch()
        _, post1 = wm.loss(batch1)
        agent._keep_carry(post1)
        batch2 = agent._sample_batch()
        assert batch2["is_first"][0, 0] == 1 and batch2["is_first"][0, 1:].sum() == 0  # marked at step 0
        assert ("state" in batch2) is (rule == "carry")
        torch.testing.assert_close(batch2["obs"], obs[:, T:])  # the next chunk of the stream
        _, post2 = wm.loss(batch2)
        prev = torch.cat([torch.zeros_like(actions[:, :1]), actions[:, :-1]], 1)
        first = torch.zeros(1, 2 * T)
        first[0, 0] = first[0, T] = 1
        whole, _ = wm.observe(wm.encode(obs), prev, first)
        alone, _ = wm.observe(wm.encode(obs[:, T:]), prev[:, T:], first[:, T:])
    torch.testing.assert_close(post1["deter"], whole["deter"][:, :T])
    expected = whole if rule == "carry" else alone
    torch.testing.assert_close(post2["deter"], expected["deter"][:, -T:])
    torch.testing.assert_close(post2["hidden"], expected["hidden"][:, -T:])
    # the two rules differ at the chunk's first step (its previous posterior), and only through it
    assert not torch.allclose(whole["deter"][:, T], alone["deter"][:, 0])


def test_world_model_clip_groups_are_the_official_seven(cpu_fabric):
    agent = _continuous_agent(cpu_fabric)
    assert list(agent.wm.ssm_parameter_groups()) == ["Lambda_re", "Lambda_im", "B", "C", "D", "log_step"]
    assert len(agent._wm_clip_groups) == 7
    every = [id(p) for group in agent._wm_clip_groups for p in group]
    assert sorted(every) == sorted(id(p) for p in agent.wm.parameters())  # each parameter in one group
    rssm = make_r2i(tiny_config(world_model={"name": "rssm", "deter": 8}), fabric=cpu_fabric,
                    env_spec=EnvSpec(spaces.Box(-1, 1, (3,), np.float32), spaces.Discrete(2), 1))
    assert len(rssm._wm_clip_groups) == 1


def test_initialisers_follow_the_official_formulas():
    from intarsia_r2i.nets import MLP, Dense
    from intarsia_r2i.s5 import S5Block, S5Layer

    torch.manual_seed(0)
    # hidden layers: truncated normal, std sqrt(1 / mean(fan_in, fan_out)), cut at 2 / 0.8796 of it
    w = Dense(512, 256)[0].weight
    std = (1 / 384) ** 0.5
    assert w.std().item() == pytest.approx(std, rel=0.03)
    assert w.abs().max().item() <= 2 * std / 0.87962566103423978 + 1e-6
    # output layers (the official Dist's Linear, default init): uniform with the same std
    head = MLP(64, 1, 256, 128).head
    assert head.weight.std().item() == pytest.approx((1 / 192) ** 0.5, rel=0.03)
    assert head.weight.abs().max().item() <= (3 / 192) ** 0.5 + 1e-6
    assert head.bias.abs().max().item() == 0
    assert Dense(8, 8)[1].eps == 1e-3 and S5Block(8, 8, blocks=1).norm.eps == 1e-6
    # S5: C truncated lecun normal over fan-in P*H (jax's 0.8796 correction: 12% larger than without it),
    # B lecun normal over P, kept by the unitary V
    layer = S5Layer(64, 64, blocks=1)
    assert torch.cat([layer.c_re, layer.c_im]).std().item() == pytest.approx(1 / 64, rel=0.04)
    assert (layer.b_re.square() + layer.b_im.square()).mean().item() == pytest.approx(1 / 64, rel=0.04)


def test_imagined_continuous_actions_are_clipped(cpu_fabric):
    agent = _continuous_agent(cpu_fabric)
    wm = agent.wm
    a = torch.tensor([[2.0, -0.5], [-4.0, 1.0]], requires_grad=True)
    clipped = wm.clip_action(a)
    assert clipped.tolist() == [[1.0, -0.5], [-1.0, 1.0]]
    clipped.sum().backward()  # sg(clip / max(clip, |a|)): the gradient is scaled, not cut
    assert a.grad.tolist() == [[0.5, 1.0], [0.25, 1.0]]
    start, _ = _starts(agent, 2)
    with torch.no_grad():
        wm.stochastic = False
        big = wm.imagine_step(start, torch.tensor([[3.0, -0.2], [0.3, -7.0]]))
        unit = wm.imagine_step(start, torch.tensor([[1.0, -0.2], [0.3, -1.0]]))
        wm.stochastic = True
    torch.testing.assert_close(big["deter"], unit["deter"])
