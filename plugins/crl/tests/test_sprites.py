"""The renderer and pair sampler against the official data's properties: every perturbation is visible, the
ranges have distinct ends, objects never touch, offsets have the official fixed magnitudes."""

from __future__ import annotations

import numpy as np
import pytest
from intarsia_crl.config import PROPERTIES, SpritesConfig
from intarsia_crl.sprites import COL, PairSampler, SpriteRenderer, make_pairs, render_pairs

ALL = SpritesConfig(num_objects=3, properties=list(PROPERTIES), image_size=24, num_pairs=0)
CIRCLES = SpritesConfig(num_objects=3, properties=list(PROPERTIES), image_size=24, num_pairs=0, hues="continuous",
                        shapes=["circle", "square", "triangle", "heart"])


def _changed_pixels(cfg: SpritesConfig, raw: dict) -> np.ndarray:
    r = SpriteRenderer(cfg)
    return (r.render(raw["z1"]) != r.render(raw["z2"])).reshape(len(raw["obj"]), -1).sum(1)


@pytest.mark.parametrize("cfg", [ALL, CIRCLES], ids=["official", "continuous-hue-and-circles"])
def test_no_perturbation_leaves_the_image_unchanged(cfg):
    raw = PairSampler(cfg).pairs(3000, seed=0)  # the sampler's pairs, before render_pairs' safety net
    assert set(np.unique(raw["prop"])) == set(range(6))
    assert np.all(_changed_pixels(cfg, raw) > 0)


def test_circles_are_never_rotated_by_a_perturbation():
    raw = PairSampler(CIRCLES).pairs(2000, seed=1)
    names = SpriteRenderer(CIRCLES).shape_names(raw["z1"])[np.arange(2000), raw["obj"]]
    assert (names == "circle").any()
    assert not np.any((raw["prop"] == COL["rotation"]) & (names == "circle"))


def _one(cfg: SpritesConfig, **values) -> np.ndarray:
    z = np.zeros((1, 1, 6))
    z[..., COL["x"]] = z[..., COL["y"]] = 0.5
    z[..., COL["size"]] = 0.12
    for key, value in values.items():
        z[..., COL[key]] = value
    return SpriteRenderer(cfg).render(z)[0]


@pytest.mark.parametrize("shape", [0.0, 0.5, 1.0])
def test_hue_and_rotation_at_both_ends_of_their_range_render_differently(shape):
    cfg = SpritesConfig(num_objects=1, properties=list(PROPERTIES), image_size=32)
    assert not np.array_equal(_one(cfg, shape=shape, hue=0.0), _one(cfg, shape=shape, hue=1.0))
    assert not np.array_equal(_one(cfg, shape=shape, rotation=0.0), _one(cfg, shape=shape, rotation=cfg.max_rotation))
    cont = SpritesConfig(num_objects=1, properties=list(PROPERTIES), image_size=32, hues="continuous")
    lo, hi = PairSampler(cont)._hue_range(0)
    a, b = _one(cont, shape=shape, hue=lo), _one(cont, shape=shape, hue=hi)
    assert np.abs(a.astype(int) - b.astype(int)).max() > 60  # far apart colours, not a wrap-around


@pytest.mark.parametrize("k", [2, 4])
def test_objects_never_overlap_with_the_radius_aware_check(k):
    cfg = SpritesConfig(num_objects=k, properties=list(PROPERTIES), image_size=32, num_pairs=0)
    raw = PairSampler(cfg).pairs(800, seed=2)
    r = SpriteRenderer(cfg)
    for z in (raw["z1"], raw["z2"]):
        covered = (r.coverage(z) > 0).sum(axis=1)  # objects touching each pixel
        assert covered.max() <= 1


def test_offsets_have_the_official_fixed_magnitudes():
    raw = PairSampler(ALL).pairs(1000, seed=3)
    mag = np.abs(raw["offset"])
    for prop, value in (("x", 0.2), ("y", 0.2), ("size", 0.02), ("rotation", 0.2), ("hue", 0.5)):
        np.testing.assert_allclose(mag[raw["prop"] == COL[prop]], value)
    assert set(np.round(mag[raw["prop"] == COL["shape"]], 6)) <= {0.5, 1.0}
    uniform = PairSampler(SpritesConfig(num_objects=2, properties=["x", "y"], offsets="uniform")).pairs(300, seed=0)
    assert len(np.unique(np.round(np.abs(uniform["offset"]), 6))) > 100


def test_a_perturbation_changes_exactly_one_property_of_one_object():
    raw = PairSampler(ALL).pairs(300, seed=0)
    changed = raw["z2"] != raw["z1"]
    assert np.all(changed.reshape(300, -1).sum(1) == 1)
    rows = np.arange(300)
    assert np.all(changed[rows, raw["obj"], raw["prop"]])
    np.testing.assert_allclose(raw["z2"][rows, raw["obj"], raw["prop"]] - raw["z1"][rows, raw["obj"], raw["prop"]],
                               raw["offset"], atol=1e-12)
    assert raw["z2"][..., COL["rotation"]].max() <= ALL.max_rotation + 1e-9


def test_renderer_is_deterministic_given_the_seed_and_masks_mark_the_objects():
    a = render_pairs(ALL, 40, seed=3)
    b = render_pairs(ALL, 40, seed=3)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["x1"], render_pairs(ALL, 40, seed=4)["x1"])
    labels = set(np.unique(a["m1"]))
    assert labels == {0, 1, 2, 3}
    assert np.all((a["m1"] > 0) <= (a["x1"].max(-1) > 0))  # an object's mask lies on its drawn pixels


def test_dataset_columns_hold_the_varied_properties_the_offset_and_the_masks():
    cfg = SpritesConfig(num_objects=2, properties=["y", "x"], image_size=16, radius_range=[0.08, 0.12])
    d = make_pairs(cfg, 50, seed=0).with_format("numpy")[:]
    assert d["x1"].shape == (50, 16, 16, 3) and d["x1"].max() > 0 and d["m1"].shape == (50, 16, 16)
    assert d["z1"].shape == (50, 2, 2)
    rows = np.arange(50)
    np.testing.assert_allclose(d["z2"][rows, d["obj"]] - d["z1"][rows, d["obj"]], d["b"], atol=1e-6)
    assert np.all((d["b"] != 0).sum(1) == 1) and np.all(d["b"][rows, d["prop"]] != 0)


def test_non_injective_objects_look_alike_and_injective_ones_do_not():
    same = PairSampler(SpritesConfig(num_objects=3, properties=["x", "y"])).scenes(np.random.default_rng(0), 10)
    diff = PairSampler(SpritesConfig(num_objects=3, properties=["x", "y"], injective=True)).scenes(np.random.default_rng(0), 10)
    assert np.all(same[:, :, 2:] == same[:, :1, 2:])  # every non-positional property alike
    assert len(np.unique(diff[0, :, COL["hue"]])) == 3


def test_injective_by_size_or_shape_as_the_official_l_and_s():
    """Official injective_property l: ball i has radius min + i (max - min) / k; s: ball i has shape i. The other
    properties stay free to vary (the data-efficiency runs vary x, y, colour and shape with injective size)."""
    cfg = SpritesConfig(num_objects=4, properties=["x", "y", "hue", "shape"], injective=True, injective_property="size",
                        image_size=64, num_pairs=0)
    z = PairSampler(cfg).scenes(np.random.default_rng(0), 20)
    lo, hi = cfg.radius_range
    np.testing.assert_allclose(z[:, :, COL["size"]], np.broadcast_to(lo + np.arange(4) * (hi - lo) / 4, (20, 4)))
    assert len(np.unique(z[:, :, COL["hue"]])) > 1 and len(np.unique(z[:, :, COL["shape"]])) > 1
    raw = PairSampler(cfg).pairs(200, seed=1)
    np.testing.assert_allclose(raw["z2"][:, :, COL["size"]], raw["z1"][:, :, COL["size"]])  # never perturbed
    by_shape = SpritesConfig(num_objects=3, properties=["x", "y"], injective=True, injective_property="shape")
    names = SpriteRenderer(by_shape).shape_names(PairSampler(by_shape).scenes(np.random.default_rng(0), 5))
    assert names.tolist() == [list(by_shape.shapes)] * 5
    hue_free = SpritesConfig(num_objects=2, properties=["x", "hue"], injective=True, injective_property="size")
    assert len(np.unique(PairSampler(hue_free).scenes(np.random.default_rng(0), 30)[:, :, COL["hue"]])) > 1


def test_bad_sprite_settings_are_clear_errors():
    with pytest.raises(ValueError, match="unknown sprite properties"):
        PairSampler(SpritesConfig(properties=["x", "colour"]))
    with pytest.raises(ValueError, match="shapes"):
        SpritesConfig(shapes=["square", "star"])
    with pytest.raises(ValueError, match="injective"):
        SpritesConfig(properties=["x", "hue"], injective=True)
    with pytest.raises(ValueError, match="injective_property: size"):
        SpritesConfig(properties=["x", "size"], injective=True, injective_property="size")
    with pytest.raises(ValueError, match="injective_property: must be one of"):
        SpritesConfig(injective=True, injective_property="l")
    with pytest.raises(ValueError, match="as many shapes"):
        SpritesConfig(num_objects=4, injective=True, injective_property="shape")
