"""The registered encoders (``encoders`` kind): build one by name, untrained or from a run's ``encoder.pt``.

>>> from intarsia.build import build
>>> enc = build("encoders", "crl-slots", {"checkpoint": "runs/crl-balls-slots/<stamp>/encoder.pt"})
>>> slots = enc(images)          # (batch, num_slots, slot_dim)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from .config import EncoderConfig, ModelConfig
from .networks import FlatEncoder, SlotEncoder

FORMAT = "intarsia-crl/encoder/1"


def save_encoder(path: Path, encoder: torch.nn.Module, *, kind: str, model: ModelConfig, image_size: int,
                 num_objects: int, properties: list[str], heads: torch.nn.Module | None = None) -> None:
    """Write the weights and the architecture (plain values and tensors: loads with ``weights_only=True``)."""
    import os

    blob: dict[str, Any] = {
        "format": FORMAT, "kind": kind, "model": dataclasses.asdict(model), "image_size": image_size,
        "num_objects": num_objects, "properties": list(properties),
        "encoder": {k: v.detach().cpu() for k, v in encoder.state_dict().items()},
    }
    if heads is not None:
        blob["heads"] = {k: v.detach().cpu() for k, v in heads.state_dict().items()}
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(blob, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str) -> dict:
    from intarsia.errors import ConfigError
    from intarsia.safe_load import load_torch_file

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"encoder checkpoint {path!r} does not exist (a crl run writes <run>/encoder.pt)")
    blob = load_torch_file(p, what="encoder checkpoint")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ConfigError(f"{path!r} is not an intarsia-crl encoder file")
    return blob


def _build(config: EncoderConfig, kind: str) -> torch.nn.Module:
    from intarsia.errors import ConfigError

    if config.checkpoint:
        blob = load_checkpoint(config.checkpoint)
        if blob["kind"] != kind:
            raise ConfigError(f"{config.checkpoint!r} holds a {blob['kind']} encoder, not a {kind} one")
        model = ModelConfig(**blob["model"])
        size, objects, props = blob["image_size"], blob["num_objects"], len(blob["properties"])
    else:
        blob, model = None, config.model
        size, objects, props = config.image_size, config.num_objects, config.num_properties
    if kind == "slots":
        enc: torch.nn.Module = SlotEncoder(model, image_size=size, num_objects=objects)
    else:
        enc = FlatEncoder(model, image_size=size, num_objects=objects, num_properties=props)
    if blob is not None:
        enc.load_state_dict(blob["encoder"])
    return enc.eval()


def slot_encoder(config: EncoderConfig) -> SlotEncoder:
    """``crl-slots``: images -> ``(batch, num_slots, slot_dim)`` slots (Slot Attention / SA-MESH)."""
    return _build(config, "slots")


def flat_encoder(config: EncoderConfig) -> FlatEncoder:
    """``crl-flat``: images -> ``(batch, num_objects * num_properties)`` latents."""
    return _build(config, "flat")
