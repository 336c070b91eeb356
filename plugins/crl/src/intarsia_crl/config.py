"""Configuration dataclasses of the CRL plugin (cheap to import: no torch).

Defaults follow the official code (``amansouri3476/OC-CRL``, configs under ``configs/model``) where it
states a value, and say so; CPU-sized choices are made in the recipes, not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from intarsia.runner.run_config import CheckpointConfig, RunConfig, at_most, check_values

PROPERTIES = ("x", "y", "hue", "size", "shape", "rotation")


def _check_range(obj: Any, name: str, bound: float) -> None:
    """``[low, high]`` with ``0 < low <= high`` and ``high`` at most the bound, or a ``ValueError`` naming the key."""
    value = list(getattr(obj, name))
    if len(value) != 2 or not 0 < value[0] <= value[1] <= bound:
        raise ValueError(f"{name}: must be [low, high] with 0 < low <= high <= {bound:g}, got {value}")


SHAPE_NAMES = ("circle", "square", "triangle", "heart")
INJECTIVE_PROPERTIES = ("hue", "size", "shape")


@dataclass
class SpritesConfig:
    """The sprites scenes and their sparse perturbations (see :mod:`intarsia_crl.sprites`); the defaults are the
    official data (``inertia_balls_dataset_all_p_sparse.py`` with ``all_p_sparse_offset.yaml``)."""

    num_objects: int = 2
    """sprites per scene (the paper: 2-4)"""
    properties: list[str] = field(default_factory=lambda: ["x", "y"])
    """which properties vary (and are learned)"""
    image_size: int = 64
    """pixels per side (officially 128; 32 or 64 for the CPU recipes)"""
    injective: bool = False
    """True: object i always differs from the others in ``injective_property``, so a flat encoder can tell the
    objects apart (the official ``injective: True``); that property cannot then be a varied one"""
    injective_property: str = "hue"
    """what makes the objects distinct when ``injective``: "hue" (object i has palette entry i, or hue band i with
    continuous hues; official ``injective_property: c``), "size" (radius_low + i (radius_high - radius_low) / k,
    official ``l``, the data-efficiency runs) or "shape" (object i has shape i, official ``s``)"""
    num_pairs: int = 10_000
    """training pairs"""
    val_pairs: int = 1_000
    """held-out pairs the metrics are computed on"""
    hues: str = "palette"
    """"palette" (official: 3 hues, a perturbation moves one step) or "continuous" (hue in [0, 0.8], no wrap-around)"""
    palette: list[float] = field(default_factory=lambda: [0.15, 0.45, 0.75])
    """the palette's hues (official COLOURS_, drawn at saturation and value 0.6)"""
    shapes: list[str] = field(default_factory=lambda: ["square", "triangle", "heart"])
    """the shapes an object can take (official: square, triangle, heart; "circle" is an option: its rotation is
    invisible, so a rotation perturbation is never applied to a circle); the first is the fixed shape"""
    max_rotation: float = 0.7
    """rotation angle range [0, max_rotation] radians (official max_phi 0.7: no shape's symmetry is reached)"""
    offsets: str = "fixed"
    """"fixed": the official magnitudes (offset_xy, offset_size, offset_rotation, one palette/shape step), random
    sign; "uniform": each magnitude scaled by a factor drawn from offset_range"""
    offset_xy: float = 0.2
    """|offset| of x and y, fraction of the image side (official offset_x, offset_y)"""
    offset_size: float = 0.02
    """|offset| of the size (radius, fraction of the image side; official offset_l)"""
    offset_rotation: float = 0.2
    """|offset| of the rotation in radians (official offset_p)"""
    offset_hue: float = 0.2
    """|offset| of the hue with hues: continuous"""
    offset_range: list[float] = field(default_factory=lambda: [0.25, 1.0])
    """offsets: uniform: the factor on the fixed magnitudes is drawn uniformly from this range"""
    radius_range: list[float] = field(default_factory=lambda: [0.06, 0.12])
    """sprite radius (half the side of a square), fraction of the image side (official min_size, max_size); the
    fixed size is the middle"""
    min_gap: float = 1.0
    """pixels kept between the objects' bounding circles (radius-aware: shapes never touch or occlude)"""
    min_distance: float = 0.0
    """an extra minimum distance between object centres (fraction of the image side)"""

    def __post_init__(self) -> None:
        # a ValueError here becomes a one-line config error naming the key (intarsia.config.merge_into)
        check_values(self, positive=("num_objects", "image_size", "offset_xy", "offset_size", "offset_rotation",
                                     "offset_hue", "max_rotation"),
                     non_negative=("num_pairs", "val_pairs", "min_distance", "min_gap"))  # 0 pairs: scenes only
        at_most(self, "image_size", 4096)
        at_most(self, "num_objects", 64)
        _check_range(self, "offset_range", 1.0)
        _check_range(self, "radius_range", 0.25)
        unknown = [p for p in self.properties if p not in PROPERTIES]
        if unknown:
            raise ValueError(f"properties: unknown sprite properties {unknown} (choose from {', '.join(PROPERTIES)})")
        if not self.properties:
            raise ValueError(f"properties: expected at least one of {', '.join(PROPERTIES)}")
        if self.hues not in ("palette", "continuous"):
            raise ValueError(f"hues: must be palette or continuous, got {self.hues!r}")
        if self.offsets not in ("fixed", "uniform"):
            raise ValueError(f"offsets: must be fixed or uniform, got {self.offsets!r}")
        bad = [s for s in self.shapes if s not in SHAPE_NAMES]
        if bad or not self.shapes or len(set(self.shapes)) != len(self.shapes):
            raise ValueError(f"shapes: expected distinct names from {', '.join(SHAPE_NAMES)}, got {list(self.shapes)}")
        if not self.palette or not all(0 <= h < 1 for h in self.palette):
            raise ValueError(f"palette: expected hues in [0, 1), got {list(self.palette)}")
        if "shape" in self.properties and len(self.shapes) < 2:
            raise ValueError("shapes: shape varies, so at least two shapes are needed")
        if self.hues == "palette" and "hue" in self.properties and len(self.palette) < 2:
            raise ValueError("palette: hue varies, so at least two hues are needed")
        if self.injective_property not in INJECTIVE_PROPERTIES:
            raise ValueError(f"injective_property: must be one of {', '.join(INJECTIVE_PROPERTIES)}, "
                             f"got {self.injective_property!r}")
        if self.injective and self.injective_property == "hue" and self.hues == "palette":
            if "hue" in self.properties:
                raise ValueError("injective: the palette colour makes the objects distinct, so hue cannot vary "
                                 "(officially the injectivity property is not a target); use hues: continuous")
            if self.num_objects > len(self.palette):
                raise ValueError(f"injective: {self.num_objects} objects need as many palette hues, got {len(self.palette)}")
        if self.injective and self.injective_property in ("size", "shape"):
            if self.injective_property in self.properties:
                raise ValueError(f"injective_property: {self.injective_property} makes the objects distinct, so it "
                                 "cannot also vary (officially the injectivity property is not a target)")
            if self.injective_property == "shape" and self.num_objects > len(self.shapes):
                raise ValueError(f"injective: {self.num_objects} objects need as many shapes, got {len(self.shapes)}")
        if self.max_rotation > 1.5:
            raise ValueError(f"max_rotation: at most 1.5 rad (a square's rotation wraps at pi/2), got {self.max_rotation}")


@dataclass
class ModelConfig:
    """The encoder trained on the pairs: slots (Slot Attention / SA-MESH + projection heads) or flat."""

    encoder: str = "slots"
    """"slots" (object-centric) or "flat" (one vector; Ahuja et al.'s baseline)"""
    slot_attention: str = "mesh"
    """"mesh" (Sinkhorn + entropy minimisation, the paper's default) or "softmax" (plain Slot Attention)"""
    num_slots: int = 0
    """0: num_objects + 1 (one slot for the background), as officially"""
    slot_dim: int = 64
    """slot size (official 128)"""
    hidden_dim: int = 64
    """CNN channels and slot MLP width (official = slot size)"""
    cnn_layers: int = 4
    """convolutions of the slot encoder's CNN (official 4, 5x5)"""
    cnn_stride: int = 1
    """stride of the first convolution (1 officially; 2 halves the token grid on CPU)"""
    iterations: int = 3
    """slot-attention iterations (official MESH config: 3)"""
    mesh_iters: int = 4
    """SA-MESH: entropy-minimisation steps on the cost (official 4)"""
    mesh_lr: float = 5.0
    """SA-MESH: step size of those steps (official 5)"""
    sinkhorn_iters: int = 5
    """SA-MESH: Sinkhorn iterations per step (official 5)"""
    decoder: bool = True
    """train the spatial-broadcast decoder too (the slot auto-encoder)"""
    decoder_channels: int = 64
    """decoder width"""
    decoder_init_size: int = 8
    """broadcast resolution; upsampled by stride-2 transposed convolutions to the target"""
    recon_downsample: int = 1
    """reconstruct the image average-pooled by this factor (1 officially; 2 on CPU)"""
    kernel_size: int = 5
    """the slot CNN's kernel size after the first 5x5 layer (official 5)"""
    flat_arch: str = "cnn"
    """flat encoder backbone: "cnn" (small, CPU) or "resnet18" (the paper; needs torchvision)"""
    flat_width: int = 128
    """flat encoder's feature width before the per-latent heads (official 128)"""
    eval_seed: int = 0
    """seed of the slot initialisation noise in eval mode (deterministic encodings)"""

    def __post_init__(self) -> None:
        check_values(self, positive=("slot_dim", "hidden_dim", "cnn_layers", "cnn_stride", "iterations", "mesh_iters", "mesh_lr",
                                     "sinkhorn_iters", "decoder_channels", "decoder_init_size", "recon_downsample",
                                     "kernel_size", "flat_width"), non_negative=("num_slots",))


@dataclass
class LossConfig:
    """The sparse-perturbation objective and its weights (official: latent 100, reconstruction 10, similarity 1)."""

    matching: str = "hungarian"
    """"hungarian": match all slots of x to all slots of x~ (scipy linear_sum_assignment) for each candidate perturbed
    slot and keep the cheapest; "argmin": slots keep their index across the pair (x~'s slots start from x's final
    slots, as officially) and the perturbed slot is the argmin of the latent cost"""
    mechanism: str = "known"
    """"known" (the offset b is given) or "unknown" (only which property and its sign)"""
    unknown_step: float = 0.1
    """the stand-in offset magnitude for an unknown mechanism (official C = 0.1)"""
    exclude_background: bool = True
    """the least-attended slots (std of attention) cannot be the perturbed one"""
    share_slot_init: bool = True
    """x~'s slots are initialised with x's final slots (official)"""
    w_latent: float = 100.0
    """weight of the perturbed object's latent term (official 100)"""
    w_recon: float = 10.0
    """weight of the reconstruction of x (official 10); 0 without a decoder"""
    w_similarity: float = 1.0
    """weight of the unperturbed objects' slots staying put (official 1)"""
    latent_warmup_steps: int = 0
    """the latent weight ramps linearly from 0 over these steps (official: 0/1)"""
    pair_recon: bool = False
    """reconstruct x~ too (official ``pair_recons``; the run scripts set it, with the reconstruction weight 100)"""
    matching_cost: str = "all"
    """"all": the perturbed slot's cost over every property; "changed": over the changed property only (the
    official ``known_action`` cost of the run scripts)"""

    def __post_init__(self) -> None:
        if self.matching_cost not in ("all", "changed"):
            raise ValueError(f"matching_cost: must be all or changed, got {self.matching_cost!r}")
        check_values(self, positive=("unknown_step",),
                     non_negative=("w_latent", "w_recon", "w_similarity", "latent_warmup_steps"))


@dataclass
class TrainerConfig:
    """The Lightning Trainer."""

    epochs: int = 200
    """passes over the training pairs (official 200)"""
    batch_size: int = 64
    """pairs per step"""
    lr: float = 1e-3
    """AdamW learning rate (official 1e-3)"""
    weight_decay: float = 0.01
    """AdamW weight decay (official 0.01)"""
    max_minutes: float = 0.0
    """stop training after this wall time (0: no limit); the report says if it stopped"""
    eval_every: int = 0
    """also compute the MCC on held-out pairs every N epochs (0: only at the end)"""

    def __post_init__(self) -> None:
        check_values(self, positive=("epochs", "batch_size", "lr"),
                     non_negative=("weight_decay", "max_minutes", "eval_every"))
        at_most(self, "batch_size", 10**6)


@dataclass
class PretrainConfig:
    """Stage 1 (slots only): the slot auto-encoder trained on the reconstruction of both frames of every pair,
    as the official runs do before the disentanglement fine-tune (``run_train_balls.sh``: SA-MESH, up to 2000
    epochs); the fine-tune (stage 2) starts from its weights."""

    epochs: int = 0
    """passes over the training pairs (0: no stage 1; the fine-tune starts from init_from or from scratch)"""
    batch_size: int = 64
    """pairs per step (official 64)"""
    lr: float = 2e-4
    """AdamW learning rate (official 2e-4)"""
    weight_decay: float = 0.0
    """AdamW weight decay"""
    max_minutes: float = 0.0
    """stop stage 1 after this wall time (0: no limit)"""
    eval_every: int = 0
    """log the held-out ARI every N epochs (0: only at the end)"""

    def __post_init__(self) -> None:
        check_values(self, positive=("batch_size", "lr"), non_negative=("epochs", "weight_decay", "max_minutes", "eval_every"))
        at_most(self, "batch_size", 10**6)


@dataclass
class CRLCheckpointConfig(CheckpointConfig):
    """The fit's checkpoints in the run's store."""

    every: int = 0
    """optimizer steps between checkpoints (0: at the end of every epoch, and at the end)"""


@dataclass
class CRLJobConfig(RunConfig):
    """Generate the pairs, train an encoder on the sparse-perturbation objective, evaluate MCC / R²."""

    MOVED_KEYS: ClassVar[dict[str, str]] = {"train.accelerator": "fabric.accelerator", "train.threads": "cpu_threads"}

    job: str = "crl"
    """the job's registered name"""
    name: str = "crl"
    """run name"""
    seed: int = 0
    """seeds the data (train: seed, val: seed + 1) and the networks"""
    sprites: SpritesConfig = field(default_factory=SpritesConfig)
    """the sprites scenes and their sparse perturbations"""
    model: ModelConfig = field(default_factory=ModelConfig)
    """the encoder trained on the pairs (slots or flat)"""
    loss: LossConfig = field(default_factory=LossConfig)
    """the sparse-perturbation objective and its weights"""
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    """stage 1: the slot auto-encoder on reconstruction only (epochs 0: none)"""
    init_from: str = ""
    """start the fine-tune from a slot auto-encoder: a crl run directory (its autoencoder.pt) or a weights file
    (autoencoder.pt); "" = stage 1's result, or from scratch"""
    train: TrainerConfig = field(default_factory=TrainerConfig)
    """stage 2, the fine-tune on the sparse-perturbation objective (the Lightning Trainer: epochs, batch size,
    optimiser; where it runs: the fabric section)"""
    plots: bool = True
    """write latents.png (z against the truth) and slots.png (slot masks)"""
    checkpoint: CRLCheckpointConfig = field(default_factory=CRLCheckpointConfig)
    """the fit's checkpoints: every epoch by default (``every`` counts optimizer steps)"""


@dataclass
class EncoderConfig:
    """A registered encoder: the architecture, and optionally the trained weights of a ``crl`` run."""

    checkpoint: str = ""
    """a run's encoder.pt (its architecture overrides the fields below); "" = untrained"""
    image_size: int = 64
    """input side in pixels"""
    num_objects: int = 2
    """sets the number of slots when num_slots is 0, and the flat output size"""
    num_properties: int = 2
    """flat encoder: latents per object"""
    model: ModelConfig = field(default_factory=ModelConfig)
    """the architecture (ignored when checkpoint is set: the run's own architecture is used)"""

    def __post_init__(self) -> None:
        check_values(self, positive=("image_size", "num_objects", "num_properties"))
