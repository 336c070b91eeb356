"""The DP terminal distribution against brute-force enumeration of every trajectory."""

import itertools

import pytest
import torch
from intarsia_gfn.config import EnvConfig
from intarsia_gfn.envs import make_env
from intarsia_gfn.evaluation import (
    ModeTracker,
    distribution_metrics,
    target_distribution,
    terminal_distribution,
    transition_table,
)
from intarsia_gfn.networks import masked_log_softmax


def enumerate_pt(env, logp):
    """Sum the probability of every complete trajectory, recursively."""
    states = env.all_states()
    pt = torch.zeros(len(states), dtype=torch.float64)

    def walk(state, prob):
        i = int(env.index(state[None])[0])
        for a in range(env.n_actions):
            p = float(logp[i, a].exp())
            if p == 0:
                continue
            if a == env.exit_action:
                pt[i] += prob * p
            else:
                walk(env.step(state[None], torch.tensor([a]))[0], prob * p)

    walk(env.initial_states(1)[0], 1.0)
    return pt


@pytest.mark.parametrize("cfg", [EnvConfig(ndim=2, height=4), EnvConfig(ndim=3, height=3),
                                 EnvConfig(name="bitseq", length=4, word=2)], ids=lambda c: f"{c.name}")
def test_dp_matches_enumeration(cfg):
    env = make_env(cfg)
    states = env.all_states()
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(len(states), env.n_actions, generator=g) * 2
    logp = masked_log_softmax(logits, env.forward_mask(states))
    dp = terminal_distribution(env, logp, transition_table(env))
    brute = enumerate_pt(env, logp)
    torch.testing.assert_close(dp.double(), brute, rtol=1e-5, atol=1e-7)
    assert abs(float(dp.sum()) - 1) < 1e-5


def test_dp_batched_over_policies_equals_one_at_a_time():
    env = make_env(EnvConfig(ndim=2, height=4))
    states = env.all_states()
    logps = [masked_log_softmax(torch.randn(len(states), env.n_actions), env.forward_mask(states)) for _ in range(3)]
    batched = terminal_distribution(env, torch.stack(logps, -1))
    for k, logp in enumerate(logps):
        torch.testing.assert_close(batched[:, k], terminal_distribution(env, logp))


def test_metrics_sum_mean_and_jsd():
    env = make_env(EnvConfig(ndim=2, height=4))
    target, terminal = target_distribution(env)
    assert distribution_metrics(target, target, terminal) == {"l1_sum": 0.0, "l1_mean": 0.0, "jsd": 0.0}
    uniform = terminal.double() / terminal.sum()
    m = distribution_metrics(uniform, target, terminal)
    assert m["l1_sum"] == pytest.approx(float((uniform - target).abs().sum()))
    assert m["l1_mean"] == pytest.approx(m["l1_sum"] / 16)
    assert 0 < m["jsd"] < torch.log(torch.tensor(2.0))


def test_mode_tracker_counts_distinct_modes():
    env = make_env(EnvConfig(ndim=2, height=8))
    tracker = ModeTracker(env)
    tracker.add(torch.tensor([[1, 1], [1, 1], [0, 0], [6, 1]]))
    tracker.add(torch.tensor([[1, 1], [6, 6]]))
    assert len(tracker) == 3


def test_all_pairs_of_small_grid_states_reachable_by_dp_support():
    env = make_env(EnvConfig(ndim=2, height=3))
    states = env.all_states()
    logp = masked_log_softmax(torch.zeros(len(states), env.n_actions), env.forward_mask(states))
    pt = terminal_distribution(env, logp)
    assert (pt > 0).all()
    for s in itertools.product(range(3), repeat=2):
        assert pt[env.index(torch.tensor([s]))[0]] > 0


def test_modes_within_delta_and_top_k_reward():
    env = make_env(EnvConfig(ndim=2, height=8, reward="random", modes=2, modes_seed=0, R0=0.01, R2=1.0,
                             mode_delta=1, top_k=2))
    a, b = env.mode_objects().tolist()
    tracker = ModeTracker(env)
    near_a = [a[0] + 1 if a[0] < 7 else a[0] - 1, a[1]]  # L1 distance 1 from mode a, not a mode itself
    far = [x for x in ([0, 0], [7, 7], [0, 7], [7, 0]) if min(abs(x[0] - m[0]) + abs(x[1] - m[1]) for m in (a, b)) > 1][0]
    tracker.add(torch.tensor([near_a, far]))
    assert (len(tracker), tracker.within_delta) == (0, 1)
    assert tracker.top_k_reward == pytest.approx(0.01)
    tracker.add(torch.tensor([b, b, far]))
    assert (len(tracker), tracker.within_delta) == (1, 2)
    assert tracker.top_k_reward == pytest.approx((1.01 + 0.01) / 2)  # distinct objects: b counted once


def test_bitseq_modes_within_hamming_distance():
    env = make_env(EnvConfig(name="bitseq", length=16, word=4, modes=3, mode_delta=2))
    m = env.mode_objects()[0]
    two_bits = m.clone()
    two_bits[0] = two_bits[0] ^ 0b0011  # two bits flipped in the first word
    three_bits = m.clone()
    three_bits[1] = three_bits[1] ^ 0b0111
    assert env.mode_distance(torch.stack([two_bits, three_bits]), m[None]).squeeze(1).tolist() == [2, 3]
    tracker = ModeTracker(env)
    tracker.add(three_bits[None])
    assert tracker.within_delta == int((env.mode_distance(three_bits[None], env.mode_objects()) <= 2).sum())
    tracker.add(two_bits[None])
    assert tracker.within_delta >= 1 and len(tracker) == 0
