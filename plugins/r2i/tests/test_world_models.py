"""World models: interface, per-term reward heads, training/acting consistency, scan-mode parity."""

import numpy as np
import pytest
import torch
from gymnasium import spaces
from intarsia.interfaces import WorldModel
from intarsia_r2i.config import WorldModelConfig
from intarsia_r2i.world_model import GRURSSM, S3M, make_rssm, make_s3m

torch.set_num_threads(1)

TINY = dict(stoch=4, classes=4, deter=16, units=16, ssm_state=8, ssm_layers=2, ssm_blocks=2, mlp_units=16,
            head_units=16, mlp_layers=1, head_layers=1, cnn_depth=4, bins=31)


def _batch(obs_space, A=3, B=2, T=9, terms=("extrinsic",), seed=0):
    g = torch.Generator().manual_seed(seed)
    if len(obs_space.shape) == 3:
        obs = torch.randint(0, 255, (B, T, *obs_space.shape), generator=g, dtype=torch.uint8)
    else:
        obs = torch.randn(B, T, *obs_space.shape, generator=g)
    action = torch.nn.functional.one_hot(torch.randint(0, A, (B, T), generator=g), A).float()
    is_first = torch.zeros(B, T)
    is_first[:, 0] = 1
    if T > 4:
        is_first[1, 4] = 1
    is_terminal = torch.zeros(B, T)
    is_terminal[1, 3] = 1
    rewards = {t: torch.randn(B, T, generator=g) for t in terms}
    return {"obs": obs, "action": action, "is_first": is_first, "is_terminal": is_terminal, "rewards": rewards}


@pytest.mark.parametrize("factory", [make_s3m, make_rssm])
def test_interface_and_loss_terms(factory):
    obs_space, act_space = spaces.Box(-1, 1, (5,), np.float32), spaces.Discrete(3)
    wm = factory(WorldModelConfig(**TINY), obs_space=obs_space, action_space=act_space,
                 reward_terms=("extrinsic", "motif.score"))
    assert isinstance(wm, WorldModel)
    losses, post = wm.loss(_batch(obs_space, terms=("extrinsic", "motif.score")))
    assert set(losses) == {"vector", "reward/extrinsic", "reward/motif.score", "cont", "dyn", "rep"}
    assert post["deter"].shape == (2, 9, 16) and post["stoch"].shape == (2, 9, 4, 4)
    total = sum(losses.values())
    total.backward()
    # every reward head (its zero-initialised output layer, DreamerV3's outscale 0) and the dynamics
    # receive gradients
    for name, p in wm.named_parameters():
        if name.startswith(("img_in", "obs_out")) or (name.startswith("reward_heads") and ".head." in name):
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    feat = wm.features(post, "full")
    assert feat.shape[-1] == wm.feature_dim("full")
    state = wm.imagine_step({k: v[:, -1] for k, v in post.items()}, torch.eye(3)[[0, 1]])
    assert state["stoch"].shape == (2, 4, 4)


def test_reward_heads_learn_each_term_separately():
    torch.manual_seed(0)
    obs_space, act_space = spaces.Box(-1, 1, (2,), np.float32), spaces.Discrete(2)
    wm = make_s3m(WorldModelConfig(**TINY), obs_space=obs_space, action_space=act_space,
                  reward_terms=("extrinsic", "bonus"))
    opt = torch.optim.Adam(wm.parameters(), lr=3e-3)
    for _ in range(150):
        b = _batch(obs_space, A=2, B=8, T=6, terms=("extrinsic", "bonus"), seed=_)
        # extrinsic = first obs coordinate's sign, bonus = constant 2: learnable, different targets
        b["rewards"] = {"extrinsic": torch.sign(b["obs"][..., 0]), "bonus": torch.full((8, 6), 2.0)}
        losses, _ = wm.loss(b)
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
    b = _batch(obs_space, A=2, B=8, T=6, seed=999)
    with torch.no_grad():
        _, post = wm.loss({**b, "rewards": {"extrinsic": torch.zeros(8, 6), "bonus": torch.zeros(8, 6)}})
        pred = wm.predict_rewards(post)
    assert pred["bonus"].mean() == pytest.approx(2.0, abs=0.3)
    agree = (torch.sign(pred["extrinsic"]) == torch.sign(b["obs"][..., 0])).float().mean()
    assert agree > 0.8


def test_s3m_training_path_equals_acting_path():
    """The parallel chunk computation equals step-by-step observation (with an episode reset inside). Acting
    replaces the previous posterior at every episode start, so the chunk must too (``reset_stoch_mid_chunk``;
    the official default feeds it mid-chunk: ``test_fidelity.py::test_s3m_reset_rule``)."""
    torch.manual_seed(1)
    obs_space, act_space = spaces.Box(-1, 1, (5,), np.float32), spaces.Discrete(3)
    wm = make_s3m(WorldModelConfig(**TINY, reset_stoch_mid_chunk=True), obs_space=obs_space, action_space=act_space)
    wm.stochastic = False
    b = _batch(obs_space)
    prev_action = torch.cat([torch.zeros_like(b["action"][:, :1]), b["action"][:, :-1]], 1)
    embed = wm.encode(b["obs"])
    with torch.no_grad():
        post, _ = wm.observe(embed, prev_action, b["is_first"])
        state = wm.initial(2)
        steps = []
        for t in range(9):
            s, _ = wm.observe(embed[:, t:t + 1], prev_action[:, t:t + 1], b["is_first"][:, t:t + 1], state)
            state = {k: v[:, 0] for k, v in s.items()}
            steps.append(state)
    for k in ("deter", "hidden", "stoch"):
        torch.testing.assert_close(post[k], torch.stack([s[k] for s in steps], 1), rtol=1e-4, atol=1e-4)


def test_s3m_scan_modes_give_same_losses_and_grads():
    obs_space, act_space = spaces.Box(-1, 1, (5,), np.float32), spaces.Discrete(3)
    results = []
    for mode in ("parallel", "sequential", "chunked", "blelloch", "associative", "auto"):
        torch.manual_seed(3)
        wm = make_s3m(WorldModelConfig(**{**TINY, "scan": mode}), obs_space=obs_space, action_space=act_space)
        torch.manual_seed(4)
        losses, _ = wm.loss(_batch(obs_space))
        sum(losses.values()).backward()
        results.append(({k: float(v) for k, v in losses.items()}, wm.ssm.blocks[0].ssm.log_step.grad.clone()))
    for losses, grad in results[1:]:
        assert results[0][0] == pytest.approx(losses, rel=1e-4, abs=1e-5)
        torch.testing.assert_close(results[0][1], grad, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("cls", [S3M, GRURSSM])
def test_image_observations(cls):
    obs_space, act_space = spaces.Box(0, 255, (16, 16, 3), np.uint8), spaces.Box(-1, 1, (2,), np.float32)
    wm = cls(WorldModelConfig(**TINY), obs_space=obs_space, action_space=act_space)
    b = _batch(obs_space, A=2, T=4)
    b["action"] = torch.rand(2, 4, 2) * 2 - 1
    losses, _ = wm.loss(b)
    assert "image" in losses and torch.isfinite(losses["image"])
    sum(losses.values()).backward()


def test_registered_world_models_build_by_name(intarsia_host):
    import intarsia_r2i.plugin as plugin
    from intarsia.build import build

    intarsia_host(plugin)
    wm = build("world_models", "s3m", dict(TINY), obs_space=spaces.Box(-1, 1, (3,), np.float32),
               action_space=spaces.Discrete(2), reward_terms=("extrinsic",))
    assert isinstance(wm, S3M)
    wm = build("world_models", "rssm", dict(TINY), obs_space=spaces.Box(-1, 1, (3,), np.float32),
               action_space=spaces.Discrete(2), reward_terms=("extrinsic",))
    assert isinstance(wm, GRURSSM)
