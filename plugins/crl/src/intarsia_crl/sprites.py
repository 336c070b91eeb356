"""A numpy sprites renderer and the sparse-perturbation pair data set (the official "inertia balls" in pygame).

A scene holds ``num_objects`` sprites on a black background. Every object has six properties, each a float
in ``[0, 1]``: ``x``, ``y`` (centre), ``hue`` (colour, full saturation and value), ``size`` (radius),
``shape`` (0 circle, 0.5 square, 1 triangle) and ``rotation`` (a fraction of the shape's symmetry period).
The properties listed in ``SpritesConfig.properties`` vary; the others stay at their fixed defaults.

A pair ``(x, x~)`` differs in exactly one property of exactly one object, by a known offset ``b``. With
``injective=False`` every object is drawn alike (same colour range), so the rendering of a scene is the
same whichever object is called "object 0": the generator is not injective in the object order, which is
what breaks a flat encoder. With ``injective=True`` object ``i`` always has a hue from its own band.
Edges are anti-aliased (coverage = clip(r - distance + 1/2, 0, 1)), so positions below a pixel show.
"""

from __future__ import annotations

import numpy as np

from .config import PROPERTIES, SpritesConfig

# the fixed value of a property that is not varied
DEFAULTS = {"x": 0.5, "y": 0.5, "hue": 0.6, "size": 0.5, "shape": 0.0, "rotation": 0.0}
SHAPES = (0.0, 0.5, 1.0)  # circle, square, triangle: shape is the one discrete property


def _hue_to_rgb(h: np.ndarray) -> np.ndarray:
    """HSV (h, 1, 1) to RGB, vectorised; ``h`` any shape, result ``h.shape + (3,)``."""
    k = (np.array([5.0, 3.0, 1.0]) + h[..., None] * 6.0) % 6.0
    return 1.0 - np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


class SpriteRenderer:
    """Renders property arrays ``(n, num_objects, 6)`` (columns in ``PROPERTIES`` order) to uint8 images."""

    def __init__(self, config: SpritesConfig):
        self.config = config
        size = config.image_size
        self.r_min, self.r_max = config.radius_range
        self.r_min, self.r_max = self.r_min * size, self.r_max * size
        self.margin = self.r_max + 1.0
        coords = np.arange(size, dtype=np.float32) + 0.5
        self.px, self.py = np.meshgrid(coords, coords, indexing="xy")  # (H, W): x right, y down

    def centres(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        span = self.config.image_size - 2 * self.margin
        return self.margin + z[..., 0] * span, self.margin + (1.0 - z[..., 1]) * span

    def coverage(self, z: np.ndarray) -> np.ndarray:
        """Per-object coverage in [0, 1], ``(n, num_objects, H, W)``."""
        cx, cy = self.centres(z)
        radius = self.r_min + z[..., 3] * (self.r_max - self.r_min)
        shape = np.rint(z[..., 4] * 2).astype(int)  # 0, 1, 2
        period = np.where(shape == 2, 2 * np.pi / 3, np.pi / 2)
        angle = z[..., 5] * period
        dx = self.px[None, None] - cx[..., None, None]
        dy = self.py[None, None] - cy[..., None, None]
        cos, sin = np.cos(angle)[..., None, None], np.sin(angle)[..., None, None]
        u, v = cos * dx + sin * dy, -sin * dx + cos * dy
        r = radius[..., None, None]
        circle = np.sqrt(dx**2 + dy**2) - r
        square = np.maximum(np.abs(u), np.abs(v)) - r * 0.85
        # equilateral triangle as the max of three half-planes at 120 degrees
        tri = np.max([u * np.cos(t) + v * np.sin(t) for t in (np.pi / 2, np.pi / 2 + 2 * np.pi / 3,
                                                               np.pi / 2 + 4 * np.pi / 3)], axis=0) - r * 0.6
        sd = np.where(shape[..., None, None] == 0, circle, np.where(shape[..., None, None] == 1, square, tri))
        return np.clip(0.5 - sd, 0.0, 1.0)

    def render(self, z: np.ndarray) -> np.ndarray:
        """``z``: ``(n, num_objects, 6)`` -> uint8 ``(n, H, W, 3)``; later objects are drawn on top."""
        cov = self.coverage(z)
        rgb = _hue_to_rgb(z[..., 2])  # (n, k, 3)
        img = np.zeros((z.shape[0], *self.px.shape, 3), dtype=np.float32)
        for i in range(z.shape[1]):
            c = cov[:, i, ..., None]
            img = img * (1 - c) + c * rgb[:, i, None, None, :]
        return np.round(img * 255).astype(np.uint8)


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

    def _hue_range(self, obj: int) -> tuple[float, float]:
        k = self.config.num_objects
        if self.config.injective:  # each object its own band of hues (a gap keeps the bands apart)
            return obj / k, (obj + 0.8) / k
        return 0.0, 1.0

    def scenes(self, rng: np.random.Generator, n: int) -> np.ndarray:
        cfg = self.config
        k = cfg.num_objects
        z = np.tile(np.array([DEFAULTS[p] for p in PROPERTIES], dtype=np.float64), (n, k, 1))
        for j in self.varied:
            if PROPERTIES[j] == "shape":
                z[..., j] = rng.choice(SHAPES, size=(n, k))
            elif PROPERTIES[j] == "hue":
                for i in range(k):
                    lo, hi = self._hue_range(i)
                    z[:, i, j] = rng.uniform(lo, hi, size=n)
            else:
                z[..., j] = rng.uniform(0.0, 1.0, size=(n, k))
        if cfg.injective and "hue" not in cfg.properties:
            for i in range(k):
                z[:, i, 2] = sum(self._hue_range(i)) / 2
        return z

    def _apart(self, z: np.ndarray) -> np.ndarray:
        """Rows whose objects keep at least ``min_distance`` between centres (no occlusion)."""
        k = z.shape[1]
        ok = np.ones(len(z), dtype=bool)
        for i in range(k):
            for j in range(i + 1, k):
                ok &= np.hypot(z[:, i, 0] - z[:, j, 0], z[:, i, 1] - z[:, j, 1]) >= self.config.min_distance
        return ok

    def _offsets(self, rng: np.random.Generator, z: np.ndarray, obj: np.ndarray, prop: np.ndarray) -> np.ndarray:
        """Signed offsets that keep the perturbed property inside its range."""
        cfg = self.config
        n = len(z)
        cur = z[np.arange(n), obj, prop]
        mag = rng.uniform(cfg.offset_range[0], cfg.offset_range[1], size=n)
        is_shape = prop == PROPERTIES.index("shape")
        mag = np.where(is_shape, 0.5, mag)
        sign = rng.choice([-1.0, 1.0], size=n)
        lo = np.zeros(n)
        hi = np.ones(n)
        is_hue = prop == PROPERTIES.index("hue")
        for i in range(cfg.num_objects):
            a, b = self._hue_range(i)
            lo = np.where(is_hue & (obj == i), a, lo)
            hi = np.where(is_hue & (obj == i), b, hi)
        out = (cur + sign * mag < lo) | (cur + sign * mag > hi)
        sign = np.where(out, -sign, sign)
        return np.clip(cur + sign * mag, lo, hi) - cur

    def pairs(self, n: int, seed: int) -> dict[str, np.ndarray]:
        """``n`` pairs: ``z1``, ``z2`` ``(n, k, 6)``, ``obj`` ``(n,)``, ``prop`` (column in ``PROPERTIES``),
        ``offset`` ``(n,)``; rejection-sampled so that no two objects overlap in either scene."""
        rng = np.random.default_rng(seed)
        chunks: list[dict[str, np.ndarray]] = []
        have = 0
        while have < n:
            m = max(64, int((n - have) * 1.5))
            z1 = self.scenes(rng, m)
            obj = rng.integers(0, self.config.num_objects, size=m)
            prop = np.asarray(self.varied)[rng.integers(0, len(self.varied), size=m)]
            offset = self._offsets(rng, z1, obj, prop)
            z2 = z1.copy()
            z2[np.arange(m), obj, prop] += offset
            keep = self._apart(z1) & self._apart(z2) & (np.abs(offset) > 1e-6)
            chunks.append({"z1": z1[keep], "z2": z2[keep], "obj": obj[keep], "prop": prop[keep], "offset": offset[keep]})
            have += int(keep.sum())
        return {key: np.concatenate([c[key] for c in chunks])[:n] for key in chunks[0]}


def make_pairs(config: SpritesConfig, n: int, seed: int):
    """The pair data set as an HF ``datasets.Dataset``.

    Columns: ``x1``, ``x2`` (uint8 ``H x W x 3``), ``z1``, ``z2`` (float32 ``num_objects x P``: the varied
    properties, in ``config.properties`` order), ``b`` (float32 ``P``: the offset of the perturbed object,
    zero but for one entry), ``obj`` (which object moved) and ``prop`` (which of the P properties).
    """
    import datasets

    sampler = PairSampler(config)
    raw = sampler.pairs(n, seed)
    renderer = SpriteRenderer(config)
    cols = np.asarray(sampler.varied)
    p = len(cols)
    prop_idx = np.searchsorted(cols, raw["prop"]) if np.all(np.diff(cols) > 0) else \
        np.array([list(cols).index(v) for v in raw["prop"]])
    b = np.zeros((len(raw["obj"]), p), dtype=np.float32)
    b[np.arange(len(b)), prop_idx] = raw["offset"]
    size = config.image_size
    k = config.num_objects
    features = datasets.Features({
        "x1": datasets.Array3D((size, size, 3), "uint8"), "x2": datasets.Array3D((size, size, 3), "uint8"),
        "z1": datasets.Array2D((k, p), "float32"), "z2": datasets.Array2D((k, p), "float32"),
        "b": datasets.Sequence(datasets.Value("float32"), length=p),
        "obj": datasets.Value("int64"), "prop": datasets.Value("int64"),
    })
    data = {
        "x1": renderer.render(raw["z1"]), "x2": renderer.render(raw["z2"]),
        "z1": raw["z1"][..., cols].astype(np.float32), "z2": raw["z2"][..., cols].astype(np.float32),
        "b": b, "obj": raw["obj"].astype(np.int64), "prop": prop_idx.astype(np.int64),
    }
    return datasets.Dataset.from_dict(data, features=features)


def to_tensors(dataset) -> dict:
    """The whole data set as torch tensors (images float32 ``N x 3 x H x W`` in [0, 1])."""
    import torch

    cols = dataset.with_format("numpy")[:]
    out = {k: torch.as_tensor(np.asarray(v)) for k, v in cols.items()}
    for key in ("x1", "x2"):
        out[key] = out[key].permute(0, 3, 1, 2).float().div_(255.0)
    return out
