"""A numpy sprites renderer and the sparse-perturbation pair data set (the official "inertia balls", drawn there
with pygame).

A scene holds ``num_objects`` sprites on a black background. Every object has six properties, in the units of
the official data: ``x``, ``y`` (centre, fraction of the image side, y up), ``hue`` (a palette index scaled to
[0, 1], or a hue in [0, 0.8]), ``size`` (radius, fraction of the image side), ``shape`` (an index into
``SpritesConfig.shapes`` scaled to [0, 1]) and ``rotation`` (radians in [0, max_rotation]). The properties
listed in ``SpritesConfig.properties`` vary; the others stay at their fixed values.

A pair ``(x, x~)`` differs in exactly one property of exactly one object, by a known offset ``b``: by default
the official fixed magnitudes with a random sign (flipped when it would leave the range). With
``injective=False`` every object is drawn alike, so the rendering of a scene is the same whichever object is
called "object 0": the generator is not injective in the object order, which is what breaks a flat encoder.
With ``injective=True`` object i has its own hue, size or shape (``injective_property``), as the official data.
Objects keep ``min_gap`` pixels between their bounding circles, so they never touch; edges are anti-aliased
(coverage = clip(1/2 - signed distance, 0, 1)), so sub-pixel changes show. A perturbation that would leave the
image unchanged is never drawn (the rotation of a circle) and any pair whose images are equal is dropped.
"""

from __future__ import annotations

import numpy as np

from .config import PROPERTIES, SpritesConfig

COL = {p: i for i, p in enumerate(PROPERTIES)}
SATURATION = VALUE = 0.6  # the official HSV colours
BOUND = {"circle": 1.0, "square": np.sqrt(2.0), "triangle": np.sqrt(2.0), "heart": np.sqrt(2.0)}
"""bounding-circle radius of each shape, in units of its radius (any rotation)"""
CHUNK = 512  # scenes rendered at once: bounds the (n, k, H, W) temporaries


def _hsv_to_rgb(h: np.ndarray) -> np.ndarray:
    """HSV (h, SATURATION, VALUE) to RGB, vectorised; ``h`` any shape, result ``h.shape + (3,)``."""
    k = (np.array([5.0, 3.0, 1.0]) + h[..., None] * 6.0) % 6.0
    return VALUE - VALUE * SATURATION * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def _half_planes(u, v, planes) -> np.ndarray:
    """Signed distance (max over half-planes ``n . (p - q)``) of a convex polygon; ``planes``: ((nx, ny), (qx, qy))."""
    out = None
    for (nx, ny), (qx, qy) in planes:
        norm = np.hypot(nx, ny)
        d = (nx * (u - qx) + ny * (v - qy)) / norm
        out = d if out is None else np.maximum(out, d)
    return out


def signed_distance(shape: str, u: np.ndarray, v: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Signed distance in pixels (negative inside) of a shape of radius ``r`` at the origin; ``v`` points up."""
    if shape == "circle":
        return np.hypot(u, v) - r
    if shape == "square":  # side 2r, as the official square
        return np.maximum(np.abs(u), np.abs(v)) - r
    if shape == "triangle":  # base 2r, height 2r (the official isosceles triangle), apex up
        return _half_planes(u, v, [((0, -1), (0, -r)), ((-2, 1), (-r, -r)), ((2, 1), (r, -r))])
    if shape == "heart":  # two lobes over a downward triangle (no symmetry but the mirror one)
        lobes = np.minimum(np.hypot(u + 0.45 * r, v - 0.35 * r), np.hypot(u - 0.45 * r, v - 0.35 * r)) - 0.55 * r
        tip = _half_planes(u, v, [((0, 1), (0, 0.25 * r)), ((-1.25, -1), (-r, 0.25 * r)), ((1.25, -1), (r, 0.25 * r))])
        return np.minimum(lobes, tip)
    raise ValueError(f"unknown shape {shape!r}")


class SpriteRenderer:
    """Renders property arrays ``(n, num_objects, 6)`` (columns in ``PROPERTIES`` order) to uint8 images and to
    ground-truth segmentation masks."""

    def __init__(self, config: SpritesConfig):
        self.config = config
        size = config.image_size
        coords = np.arange(size, dtype=np.float32) + 0.5
        self.px, self.py = np.meshgrid(coords, coords, indexing="xy")  # (H, W): x right, y down

    def shape_names(self, z: np.ndarray) -> np.ndarray:
        shapes = self.config.shapes
        idx = np.rint(z[..., COL["shape"]] * max(len(shapes) - 1, 1)).astype(int)
        return np.asarray(shapes)[np.clip(idx, 0, len(shapes) - 1)]

    def hues(self, z: np.ndarray) -> np.ndarray:
        if self.config.hues == "continuous":
            return z[..., COL["hue"]]
        pal = np.asarray(self.config.palette, dtype=np.float64)
        idx = np.rint(z[..., COL["hue"]] * max(len(pal) - 1, 1)).astype(int)
        return pal[np.clip(idx, 0, len(pal) - 1)]

    def coverage(self, z: np.ndarray) -> np.ndarray:
        """Per-object coverage in [0, 1], ``(n, num_objects, H, W)``."""
        size = self.config.image_size
        cx = z[..., COL["x"]] * size
        cy = (1.0 - z[..., COL["y"]]) * size
        r = (z[..., COL["size"]] * size)[..., None, None]
        angle = z[..., COL["rotation"]]
        dx = self.px[None, None] - cx[..., None, None]
        dy = cy[..., None, None] - self.py[None, None]  # up
        cos, sin = np.cos(angle)[..., None, None], np.sin(angle)[..., None, None]
        u, v = cos * dx + sin * dy, -sin * dx + cos * dy
        names = self.shape_names(z)
        sd = np.full(u.shape, np.inf, dtype=np.float64)
        for name in np.unique(names):
            where = names == name
            sd[where] = signed_distance(str(name), u[where], v[where], r[where])
        return np.clip(0.5 - sd, 0.0, 1.0).astype(np.float32)

    def render(self, z: np.ndarray, *, masks: bool = False):
        """``z``: ``(n, num_objects, 6)`` -> uint8 ``(n, H, W, 3)``; later objects are drawn on top. With ``masks``
        also the ground-truth segmentation, uint8 ``(n, H, W)``: 0 background, ``i + 1`` where object ``i``
        covers at least half of the pixel."""
        n, size = z.shape[0], self.config.image_size
        img = np.zeros((n, size, size, 3), dtype=np.uint8)
        seg = np.zeros((n, size, size), dtype=np.uint8)
        for start in range(0, n, CHUNK):
            zc = z[start:start + CHUNK]
            cov = self.coverage(zc)
            rgb = _hsv_to_rgb(self.hues(zc)).astype(np.float32)  # (n, k, 3)
            out = np.zeros((len(zc), size, size, 3), dtype=np.float32)
            for i in range(zc.shape[1]):
                c = cov[:, i, ..., None]
                out = out * (1 - c) + c * rgb[:, i, None, None, :]
                seg[start:start + CHUNK][cov[:, i] >= 0.5] = i + 1
            img[start:start + CHUNK] = np.round(out * 255).astype(np.uint8)
        return (img, seg) if masks else img


class PairSampler:
    """Samples scenes and sparse perturbations, deterministically from a seed."""

    def __init__(self, config: SpritesConfig):
        unknown = sorted(set(config.properties) - set(PROPERTIES))
        if unknown:
            raise ValueError(f"unknown sprite properties {unknown}; choose from {list(PROPERTIES)}")
        if not config.properties:
            raise ValueError("sprites.properties is empty: at least one property must vary")
        if config.num_objects < 1:
            raise ValueError(f"sprites.num_objects must be >= 1, got {config.num_objects}")
        self.config = config
        self.varied = [PROPERTIES.index(p) for p in config.properties]
        lo, hi = config.radius_range
        bound = max(BOUND[s] for s in config.shapes)
        # centres stay a bounding radius (plus half the gap) from the border whatever the size
        self.margin = hi * bound + 0.5 * config.min_gap / config.image_size
        if 1 - 2 * self.margin < 2 * config.offset_xy and ("x" in config.properties or "y" in config.properties):
            raise ValueError(f"sprites: image_size {config.image_size} with radius_range {list(config.radius_range)} "
                             f"leaves too little room for x/y offsets of {config.offset_xy}")

    def _steps(self, n: int) -> int:
        return max(n - 1, 1)

    def _hue_range(self, obj: int) -> tuple[float, float]:
        """Continuous hues: each object its own band when injective (a gap keeps the bands apart); [0, 0.8]
        otherwise, so that no two ends of the range look alike (hue 0 and 1 are the same colour)."""
        if self.config.injective and self.config.injective_property == "hue":
            k = self.config.num_objects
            return 0.8 * obj / k, 0.8 * (obj + 0.8) / k
        return 0.0, 0.8

    def _range(self, prop: int, obj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.config
        name = PROPERTIES[prop]
        one = np.ones(obj.shape)
        if name in ("x", "y"):
            return self.margin * one, (1 - self.margin) * one
        if name == "size":
            return cfg.radius_range[0] * one, cfg.radius_range[1] * one
        if name == "rotation":
            return 0 * one, cfg.max_rotation * one
        if name == "hue" and cfg.hues == "continuous":
            bands = np.array([self._hue_range(i) for i in range(cfg.num_objects)])
            return bands[obj, 0], bands[obj, 1]
        return 0 * one, one  # palette index and shape index, scaled

    def scenes(self, rng: np.random.Generator, n: int) -> np.ndarray:
        cfg = self.config
        k = cfg.num_objects
        z = np.zeros((n, k, len(PROPERTIES)))
        z[..., COL["x"]] = z[..., COL["y"]] = 0.5
        z[..., COL["size"]] = sum(cfg.radius_range) / 2
        pal_steps = self._steps(len(cfg.palette))
        by_hue = cfg.injective and cfg.injective_property == "hue"
        if cfg.hues == "continuous":
            z[..., COL["hue"]] = np.array([sum(self._hue_range(i)) / 2 for i in range(k)]) if by_hue else 0.6
        elif by_hue:  # official: a fixed colour per object
            z[..., COL["hue"]] = np.arange(k) / pal_steps
        if cfg.injective and cfg.injective_property == "size":  # official injective_property l
            lo, hi = cfg.radius_range
            z[..., COL["size"]] = lo + np.arange(k) * (hi - lo) / k
        if cfg.injective and cfg.injective_property == "shape":  # official s: object i has shape i
            z[..., COL["shape"]] = np.arange(k) / self._steps(len(cfg.shapes))
        objs = np.broadcast_to(np.arange(k), (n, k))
        for j in self.varied:
            name = PROPERTIES[j]
            if name == "shape":
                z[..., j] = rng.integers(0, len(cfg.shapes), size=(n, k)) / self._steps(len(cfg.shapes))
            elif name == "hue" and cfg.hues == "palette":
                z[..., j] = rng.integers(0, len(cfg.palette), size=(n, k)) / pal_steps
            else:
                lo, hi = self._range(j, objs)
                z[..., j] = rng.uniform(lo, hi)
        return z

    def _apart(self, z: np.ndarray) -> np.ndarray:
        """Rows whose objects' bounding circles keep ``min_gap`` pixels apart (and centres ``min_distance``)."""
        cfg = self.config
        k = z.shape[1]
        bound = np.vectorize(BOUND.get)(SpriteRenderer(cfg).shape_names(z)) * z[..., COL["size"]] * cfg.image_size
        ok = np.ones(len(z), dtype=bool)
        for i in range(k):
            for j in range(i + 1, k):
                dist = np.hypot(z[:, i, 0] - z[:, j, 0], z[:, i, 1] - z[:, j, 1])
                ok &= dist * cfg.image_size >= bound[:, i] + bound[:, j] + cfg.min_gap
                ok &= dist >= cfg.min_distance
        return ok

    def _offsets(self, rng: np.random.Generator, z: np.ndarray, obj: np.ndarray, prop: np.ndarray) -> np.ndarray:
        """Signed offsets (sign flipped where the first one would leave the range; NaN where neither fits)."""
        cfg = self.config
        n = len(z)
        cur = z[np.arange(n), obj, prop]
        fixed = {"x": cfg.offset_xy, "y": cfg.offset_xy, "size": cfg.offset_size, "rotation": cfg.offset_rotation,
                 "hue": cfg.offset_hue if cfg.hues == "continuous" else 1 / self._steps(len(cfg.palette))}
        mag = np.zeros(n)
        for name, value in fixed.items():
            mag = np.where(prop == COL[name], value, mag)
        if cfg.offsets == "uniform":
            factor = rng.uniform(cfg.offset_range[0], cfg.offset_range[1], size=n)
            mag = np.where(np.isin(prop, [COL["shape"]]) | ((prop == COL["hue"]) & (cfg.hues == "palette")), mag,
                           mag * factor)
        sign = rng.choice([-1.0, 1.0], size=n)
        lo, hi = np.zeros(n), np.ones(n)
        for j in set(prop.tolist()):
            a, b = self._range(j, obj)
            lo, hi = np.where(prop == j, a, lo), np.where(prop == j, b, hi)
        eps = 1e-9
        out = (cur + sign * mag < lo - eps) | (cur + sign * mag > hi + eps)
        sign = np.where(out, -sign, sign)
        offset = sign * mag
        # a shape changes to any other shape (the official +-1, +-2 steps)
        is_shape = prop == COL["shape"]
        if is_shape.any():
            m = len(cfg.shapes)
            old = np.rint(cur * self._steps(m)).astype(int)
            new = (old + rng.integers(1, m, size=n)) % m
            offset = np.where(is_shape, (new - old) / self._steps(m), offset)
        new_value = cur + offset
        bad = (new_value < lo - eps) | (new_value > hi + eps)
        return np.where(bad, np.nan, offset)

    def pairs(self, n: int, seed: int) -> dict[str, np.ndarray]:
        """``n`` pairs: ``z1``, ``z2`` ``(n, k, 6)``, ``obj`` ``(n,)``, ``prop`` (column in ``PROPERTIES``),
        ``offset`` ``(n,)``; rejection-sampled so that no two objects touch in either scene and every
        perturbation is visible (no rotation of a circle)."""
        rng = np.random.default_rng(seed)
        chunks: list[dict[str, np.ndarray]] = []
        have, tries = 0, 0
        renderer = SpriteRenderer(self.config)
        while have < n:
            tries += 1
            if tries > 1000:
                raise ValueError(f"sprites: could not place {self.config.num_objects} objects apart in a "
                                 f"{self.config.image_size}-pixel image; use a larger image or a smaller radius_range")
            m = max(64, int((n - have) * 1.5))
            z1 = self.scenes(rng, m)
            obj = rng.integers(0, self.config.num_objects, size=m)
            prop = np.asarray(self.varied)[rng.integers(0, len(self.varied), size=m)]
            offset = self._offsets(rng, z1, obj, prop)
            z2 = z1.copy()
            rows = np.arange(m)
            z2[rows, obj, prop] += np.nan_to_num(offset)
            invisible = (prop == COL["rotation"]) & (renderer.shape_names(z1)[rows, obj] == "circle")
            keep = (self._apart(z1) & self._apart(z2) & np.isfinite(offset) & (np.abs(np.nan_to_num(offset)) > 1e-9)
                    & ~invisible)
            chunks.append({"z1": z1[keep], "z2": z2[keep], "obj": obj[keep], "prop": prop[keep], "offset": offset[keep]})
            have += int(keep.sum())
        return {key: np.concatenate([c[key] for c in chunks])[:n] for key in chunks[0]}


def render_pairs(config: SpritesConfig, n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` pairs with their images and ground-truth masks: the sampler's arrays plus ``x1``, ``x2`` (uint8
    ``(n, H, W, 3)``) and ``m1``, ``m2`` (uint8 ``(n, H, W)`` labels). Pairs whose two images are equal
    (a change below what 8-bit colour shows) are dropped and replaced."""
    sampler, renderer = PairSampler(config), SpriteRenderer(config)
    extra = max(16, n // 20)
    while True:
        raw = sampler.pairs(n + extra, seed)
        x1, m1 = renderer.render(raw["z1"], masks=True)
        x2, m2 = renderer.render(raw["z2"], masks=True)
        keep = np.flatnonzero((x1 != x2).reshape(len(x1), -1).any(1))
        if len(keep) >= n:
            keep = keep[:n]
            out = {k: v[keep] for k, v in raw.items()}
            out.update(x1=x1[keep], x2=x2[keep], m1=m1[keep], m2=m2[keep])
            return out
        extra *= 4


def make_pairs(config: SpritesConfig, n: int, seed: int):
    """The pair data set as an HF ``datasets.Dataset``.

    Columns: ``x1``, ``x2`` (uint8 ``H x W x 3``), ``m1``, ``m2`` (uint8 ``H x W`` ground-truth masks: 0
    background, ``i + 1`` object ``i``), ``z1``, ``z2`` (float32 ``num_objects x P``: the varied properties, in
    ``config.properties`` order), ``b`` (float32 ``P``: the offset of the perturbed object, zero but for one
    entry), ``obj`` (which object moved) and ``prop`` (which of the P properties).
    """
    import datasets

    sampler = PairSampler(config)
    raw = render_pairs(config, n, seed)
    cols = np.asarray(sampler.varied)
    p = len(cols)
    prop_idx = np.array([list(cols).index(v) for v in raw["prop"]], dtype=np.int64).reshape(-1)
    b = np.zeros((len(raw["obj"]), p), dtype=np.float32)
    b[np.arange(len(b)), prop_idx] = raw["offset"]
    size = config.image_size
    k = config.num_objects
    features = datasets.Features({
        "x1": datasets.Array3D((size, size, 3), "uint8"), "x2": datasets.Array3D((size, size, 3), "uint8"),
        "m1": datasets.Array2D((size, size), "uint8"), "m2": datasets.Array2D((size, size), "uint8"),
        "z1": datasets.Array2D((k, p), "float32"), "z2": datasets.Array2D((k, p), "float32"),
        "b": datasets.Sequence(datasets.Value("float32"), length=p),
        "obj": datasets.Value("int64"), "prop": datasets.Value("int64"),
    })
    data = {
        "x1": raw["x1"], "x2": raw["x2"], "m1": raw["m1"], "m2": raw["m2"],
        "z1": raw["z1"][..., cols].astype(np.float32), "z2": raw["z2"][..., cols].astype(np.float32),
        "b": b, "obj": raw["obj"].astype(np.int64), "prop": prop_idx,
    }
    return datasets.Dataset.from_dict(data, features=features)


def to_tensors(dataset) -> dict:
    """The whole data set as torch tensors (images float32 ``N x 3 x H x W`` in [0, 1])."""
    import torch

    cols = dataset.with_format("numpy")[:]
    out = {k: torch.as_tensor(np.asarray(v)) for k, v in cols.items()}
    for key in ("x1", "x2"):
        out[key] = out[key].permute(0, 3, 1, 2).float().div_(255.0)
    for key in ("m1", "m2"):
        if key in out:
            out[key] = out[key].long()
    return out
