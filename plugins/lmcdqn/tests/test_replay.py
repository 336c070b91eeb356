"""n-step transitions: returns, discounts at termination vs truncation, and per-env windows."""

import numpy as np
import pytest
import torch
from intarsia_lmcdqn.replay import NStepReplay


def _add(buf, obs, act, rew, nxt, term=False, trunc=False, envs=1):
    buf.add(np.full((envs, 1), obs, np.float32), np.full(envs, act), np.full(envs, rew, np.float32),
            np.full((envs, 1), nxt, np.float32), np.full(envs, term), np.full(envs, trunc))


def _items(buf):
    d = buf.data
    return [(d["obs"][i, 0], d["action"][i], d["ret"][i], d["next_obs"][i, 0], d["discount"][i]) for i in range(len(buf))]


def test_three_step_returns_and_termination_flush():
    g = 0.5
    buf = NStepReplay(100, (1,), np.float32, num_envs=1, n_step=3, gamma=g)
    _add(buf, 0, 0, 1.0, 1)
    _add(buf, 1, 1, 2.0, 2)
    assert len(buf) == 0  # the window is not full yet
    _add(buf, 2, 0, 4.0, 3)
    assert _items(buf)[0] == pytest.approx((0, 0, 1 + g * 2 + g * g * 4, 3, g ** 3))
    _add(buf, 3, 1, 8.0, 4, term=True)  # flush: 3 items, no bootstrap after a termination
    items = _items(buf)
    assert len(items) == 4
    assert items[1] == pytest.approx((1, 1, 2 + g * 4 + g * g * 8, 4, 0.0))
    assert items[2] == pytest.approx((2, 0, 4 + g * 8, 4, 0.0))
    assert items[3] == pytest.approx((3, 1, 8, 4, 0.0))


def test_truncation_bootstraps_with_the_partial_discount():
    g = 0.9
    buf = NStepReplay(100, (1,), np.float32, num_envs=1, n_step=3, gamma=g)
    _add(buf, 0, 0, 1.0, 1)
    _add(buf, 1, 0, 1.0, 2, trunc=True)
    items = _items(buf)
    assert items[0] == pytest.approx((0, 0, 1 + g, 2, g ** 2))
    assert items[1] == pytest.approx((1, 0, 1, 2, g))


def test_ring_buffer_and_sampling_is_seeded():
    buf = NStepReplay(5, (1,), np.float32, num_envs=2, n_step=1, gamma=0.9)
    for t in range(4):
        _add(buf, t, 0, t, t + 1, envs=2)
    assert len(buf) == 5 and buf.ptr == 3
    a = buf.sample(16, torch.Generator().manual_seed(0), "cpu")
    b = buf.sample(16, torch.Generator().manual_seed(0), "cpu")
    assert set(a) == {"obs", "next_obs", "action", "ret", "discount"}
    torch.testing.assert_close(a["ret"], b["ret"])
    assert a["obs"].shape == (16, 1)
