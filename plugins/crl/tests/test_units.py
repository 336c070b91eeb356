"""Unit tests: the renderer, the matching, the metrics and SA-MESH's transport plan."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from intarsia_crl.config import PROPERTIES, SpritesConfig
from intarsia_crl.matching import assign, match, object_candidates
from intarsia_crl.metrics import matched_correlations, mcc, property_scores
from intarsia_crl.slot_attention import SlotAttention, minimize_entropy_of_sinkhorn, sinkhorn
from intarsia_crl.sprites import PairSampler, SpriteRenderer, make_pairs

ALL = SpritesConfig(num_objects=3, properties=list(PROPERTIES), image_size=24, num_pairs=0)


def test_renderer_is_deterministic_given_the_seed():
    a = make_pairs(ALL, 40, seed=3).with_format("numpy")[:]
    b = make_pairs(ALL, 40, seed=3).with_format("numpy")[:]
    c = make_pairs(ALL, 40, seed=4).with_format("numpy")[:]
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["x1"], c["x1"])


def test_a_perturbation_changes_exactly_one_property_of_one_object():
    raw = PairSampler(ALL).pairs(300, seed=0)
    changed = raw["z2"] != raw["z1"]
    assert np.all(changed.reshape(300, -1).sum(1) == 1)
    rows = np.arange(300)
    assert np.all(changed[rows, raw["obj"], raw["prop"]])
    np.testing.assert_allclose(raw["z2"][rows, raw["obj"], raw["prop"]] - raw["z1"][rows, raw["obj"], raw["prop"]],
                               raw["offset"], atol=1e-12)
    assert set(np.unique(raw["prop"])) == set(range(6))  # every property gets perturbed
    assert np.all((raw["z2"] >= 0) & (raw["z2"] <= 1))
    # and the pictures differ (every property is visible, up to the circle's rotation)
    visible = ~((raw["prop"] == PROPERTIES.index("rotation")) & (raw["z1"][rows, raw["obj"], 4] == 0.0))
    r = SpriteRenderer(ALL)
    diff = np.abs(r.render(raw["z1"]).astype(int) - r.render(raw["z2"]).astype(int)).reshape(300, -1).max(1)
    assert np.mean(diff[visible] > 0) > 0.95


def test_dataset_columns_hold_the_varied_properties_and_the_offset():
    cfg = SpritesConfig(num_objects=2, properties=["y", "x"], image_size=16)
    ds = make_pairs(cfg, 50, seed=0)
    assert ds.features["x1"].dtype == "uint8"
    d = ds.with_format("numpy")[:]
    assert d["x1"].shape == (50, 16, 16, 3) and d["x1"].max() > 0
    assert d["z1"].shape == (50, 2, 2)
    rows = np.arange(50)
    np.testing.assert_allclose(d["z2"][rows, d["obj"]] - d["z1"][rows, d["obj"]], d["b"], atol=1e-6)
    assert np.all((d["b"] != 0).sum(1) == 1) and np.all(d["b"][rows, d["prop"]] != 0)


def test_non_injective_objects_look_alike_and_injective_ones_do_not():
    same = PairSampler(SpritesConfig(num_objects=3, properties=["x", "y"])).scenes(np.random.default_rng(0), 10)
    diff = PairSampler(SpritesConfig(num_objects=3, properties=["x", "y"], injective=True)).scenes(np.random.default_rng(0), 10)
    assert np.all(same[:, :, 2:] == same[:, :1, 2:])  # every non-positional property alike
    assert len(np.unique(diff[0, :, 2])) == 3


def test_bad_property_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown sprite properties"):
        PairSampler(SpritesConfig(properties=["x", "colour"]))


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
