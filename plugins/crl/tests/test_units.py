"""Unit tests: the matching, the metrics and SA-MESH's transport plan (the renderer: test_sprites.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from intarsia_crl.matching import assign, assign_on_device, match, object_candidates
from intarsia_crl.metrics import adjusted_rand_index, matched_correlations, mcc, property_scores
from intarsia_crl.slot_attention import SlotAttention, minimize_entropy_of_sinkhorn, sinkhorn


def test_hungarian_assignment_recovers_a_known_permutation():
    rng = np.random.default_rng(0)
    for _ in range(20):
        s = int(rng.integers(2, 6))
        perm = rng.permutation(s)
        pts = rng.normal(size=(s, 3))
        cost = ((pts[:, None] - pts[perm][None]) ** 2).sum(-1)  # row i matches column where perm[col] == i
        got = assign(cost[None])[0]
        np.testing.assert_array_equal(perm[got], np.arange(s))


@pytest.mark.parametrize("method", ["hungarian", "argmin"])
def test_matching_finds_the_perturbed_slot_and_the_slot_order(method):
    g = torch.Generator().manual_seed(0)
    bsz, s, p = 16, 4, 2
    z1 = torch.rand(bsz, s, p, generator=g)
    k_true = torch.randint(0, s, (bsz,), generator=g)
    b = torch.zeros(bsz, p)
    b[torch.arange(bsz), torch.randint(0, p, (bsz,), generator=g)] = 0.3
    z2 = z1.clone()
    z2[torch.arange(bsz), k_true] += b
    perm = torch.stack([torch.randperm(s, generator=g) for _ in range(bsz)]) if method == "hungarian" \
        else torch.arange(s).expand(bsz, -1)
    z2_shuffled = torch.empty_like(z2)
    z2_shuffled.scatter_(1, perm.unsqueeze(-1).expand_as(z2), z2)  # slot i of x goes to slot perm[i] of x~
    k, got = match(z1, z2_shuffled, b, torch.ones(bsz, s, dtype=torch.bool), method)
    torch.testing.assert_close(k, k_true)
    torch.testing.assert_close(got, perm)


def test_the_on_device_assignment_agrees_with_scipy():
    g = torch.Generator().manual_seed(0)
    for s in (2, 3, 5):
        cost = torch.rand(40, s, s, generator=g, dtype=torch.float64)
        perm, total = assign_on_device(cost)
        ref = assign(cost.numpy())
        np.testing.assert_array_equal(perm.numpy(), ref)
        np.testing.assert_allclose(total.numpy(), np.take_along_axis(cost.numpy(), ref[..., None], 2).sum((1, 2)))


def test_hungarian_matching_with_many_slots_falls_back_to_scipy_with_the_same_answer():
    g = torch.Generator().manual_seed(1)
    bsz, s, p = 6, 8, 2
    z1 = torch.rand(bsz, s, p, generator=g)
    b = torch.zeros(bsz, p)
    b[:, 0] = 0.3
    z2 = z1.clone()
    z2[:, 2] += b
    perm = torch.stack([torch.randperm(s, generator=g) for _ in range(bsz)])
    shuffled = torch.empty_like(z2).scatter_(1, perm.unsqueeze(-1).expand_as(z2), z2)
    k, got = match(z1, shuffled, b, torch.ones(bsz, s, dtype=torch.bool), "hungarian")
    assert k.tolist() == [2] * bsz
    torch.testing.assert_close(got, perm)


def test_the_changed_property_cost_ignores_the_other_properties():
    z1 = torch.tensor([[[0.0, 0.0], [1.0, 1.0]]])
    z2 = torch.tensor([[[0.1, 5.0], [1.0, 1.0]]])  # slot 0 moved by b in x, and far in y
    b = torch.tensor([[0.1, 0.0]])
    cand = torch.ones(1, 2, dtype=torch.bool)
    assert match(z1, z2, b, cand, "argmin", "changed")[0].item() == 0
    assert match(z1, z2, b, cand, "argmin", "all")[0].item() == 1


def test_ari_is_one_for_a_relabelled_segmentation_and_near_zero_for_noise():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, (5, 16, 16))
    assert adjusted_rand_index(truth, (truth + 1) % 3 + 4) == pytest.approx(1.0)
    assert abs(adjusted_rand_index(truth, rng.integers(0, 3, (5, 16, 16)))) < 0.05
    merged = np.where(truth == 2, 1, truth)  # two objects in one segment: foreground ARI 0
    assert adjusted_rand_index(truth, merged, foreground=True) == pytest.approx(0.0, abs=1e-9)


def test_background_slots_are_not_candidates():
    attn = torch.zeros(2, 3, 4, 4)
    attn[:, 0] = 1.0 / 16  # flat: the background
    attn[:, 1, 0, 0] = attn[:, 2, 3, 3] = 1.0
    cand = object_candidates(attn, num_objects=2, exclude_background=True)
    assert cand.tolist() == [[False, True, True]] * 2


def test_mcc_is_one_for_a_permuted_rescaled_copy_and_near_zero_for_noise():
    rng = np.random.default_rng(0)
    z = rng.uniform(size=(2000, 4))
    copy = z[:, [2, 0, 3, 1]] * np.array([3.0, -0.5, 2.0, 10.0]) + 7.0
    assert mcc(z, copy) == pytest.approx(1.0, abs=1e-9)
    assert mcc(z, np.exp(copy / 10), "spearman") == pytest.approx(1.0, abs=1e-9)  # monotone: Spearman 1
    assert mcc(z, rng.normal(size=(2000, 4))) < 0.1
    assert np.all(matched_correlations(z, copy) > 0.999)


def test_property_scores_have_the_issue_keys():
    rng = np.random.default_rng(0)
    z = rng.uniform(size=(500, 4))
    scores = property_scores(z, z + 0.01 * rng.normal(size=z.shape), ["x", "y", "x", "y"])
    assert set(scores) == {"mcc", "mcc_spearman", "r2", "mcc_x", "mcc_y", "r2_x", "r2_y"}
    assert scores["mcc"] > 0.99 and scores["r2"] > 0.99


def test_sinkhorn_plan_has_the_stated_marginals():
    g = torch.Generator().manual_seed(0)
    n, s = 50, 4
    cost = torch.rand(3, n, s, generator=g) * 3
    a = torch.softmax(torch.randn(3, n, generator=g), -1) * s
    b = torch.softmax(torch.randn(3, s, generator=g), -1) * s
    plan, _, _ = sinkhorn(cost, a, b, iters=200)
    torch.testing.assert_close(plan.sum(2), a, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(plan.sum(1), b, atol=1e-5, rtol=1e-5)
    # MESH: lower entropy, same marginals
    cost_t, u, v = minimize_entropy_of_sinkhorn(cost, a, b, steps=4, lr=5.0, sinkhorn_iters=200)
    sharp, _, _ = sinkhorn(cost_t, a, b, iters=200, u=u, v=v)
    torch.testing.assert_close(sharp.sum(2), a, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(sharp.sum(1), b, atol=1e-5, rtol=1e-5)
    assert torch.special.entr(sharp).sum() < torch.special.entr(plan).sum()


@pytest.mark.parametrize("variant", ["mesh", "softmax"])
def test_slot_attention_shapes_and_gradients(variant):
    sa = SlotAttention(8, 16, 3, iterations=2, mlp_dim=16, variant=variant)
    x = torch.randn(2, 20, 8, requires_grad=True)
    slots, attn = sa(x)
    assert slots.shape == (2, 3, 16) and attn.shape == (2, 3, 20)
    slots.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert sa.to_q.weight.grad is not None
