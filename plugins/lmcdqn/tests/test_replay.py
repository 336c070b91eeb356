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


def _stacked_stream(rng, num_envs: int, steps: int, stack: int = 4, shape=(6, 5), short: bool = False,
                    distinct_reset: bool = False):
    """Frame-stacked uint8 observations as gymnasium's FrameStackObservation makes them (a reset stack
    repeats the first frame), with terminations and truncations; yields add() arguments."""
    frames = [[rng.integers(0, 255, shape, dtype=np.uint8)] * stack for _ in range(num_envs)]
    for _ in range(steps):
        obs = np.stack([np.stack(f) for f in frames])
        nxt = []
        for e in range(num_envs):
            frames[e] = frames[e][1:] + [rng.integers(0, 255, shape, dtype=np.uint8)]
            nxt.append(np.stack(frames[e]))
        next_obs = np.stack(nxt)
        end_p = 0.4 if short else 0.05
        term = rng.random(num_envs) < end_p / 2
        trunc = ~term & (rng.random(num_envs) < end_p / 2)
        yield obs, rng.integers(0, 3, num_envs), rng.random(num_envs).astype(np.float32), next_obs, term, trunc
        for e in np.flatnonzero(term | trunc):  # autoreset: a fresh stack
            frames[e] = ([rng.integers(0, 255, shape, dtype=np.uint8) for _ in range(stack)] if distinct_reset
                         else [rng.integers(0, 255, shape, dtype=np.uint8)] * stack)


def test_stacked_frames_are_stored_once_and_samples_are_bit_identical(monkeypatch):
    import torch
    from intarsia_lmcdqn import replay as replay_mod

    shape = (4, 21, 21)
    stored = NStepReplay(500, shape, np.uint8, num_envs=2, n_step=3, gamma=0.99)
    assert stored.frames is not None
    monkeypatch.setattr(replay_mod.FrameStore, "for_observations", classmethod(lambda *a, **k: None))
    plain = NStepReplay(500, shape, np.uint8, num_envs=2, n_step=3, gamma=0.99)
    for args in _stacked_stream(np.random.default_rng(0), 2, 700, shape=shape[1:]):  # wraps the 500-transition ring
        stored.add(*args)
        plain.add(*args)
    assert stored.size == plain.size == 500
    for seed in range(3):
        a = stored.sample(64, torch.Generator().manual_seed(seed), "cpu")
        b = plain.sample(64, torch.Generator().manual_seed(seed), "cpu")
        for key in b:
            assert torch.equal(a[key], b[key]), key
    frame_bytes = stored.frames.frames.nbytes + stored.data["obs"].nbytes + stored.data["next_obs"].nbytes
    assert frame_bytes < 0.3 * (plain.data["obs"].nbytes + plain.data["next_obs"].nbytes)


def test_very_short_episodes_never_return_an_overwritten_frame():
    import torch

    buf = NStepReplay(40, (4, 3, 3), np.uint8, num_envs=2, n_step=2, gamma=0.9)
    seen, sizes = set(), []
    for args in _stacked_stream(np.random.default_rng(1), 2, 400, shape=(3, 3), short=True, distinct_reset=True):
        buf.add(*args)
        seen.update(o.tobytes() for o in (*args[0], *args[3]))
        sizes.append(buf.size)
    assert min(sizes[200:]) < 40  # the frame ring ran out first: the oldest transitions were forgotten
    batch = buf.sample(256, torch.Generator().manual_seed(0), "cpu")
    sampled = {o.numpy().tobytes() for key in ("obs", "next_obs") for o in batch[key]}
    assert sampled <= seen  # every sampled observation is one an env produced: no frame was overwritten
    assert 0 < buf.size <= 40
