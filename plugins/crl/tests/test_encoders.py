"""The registered encoders: the core's EncoderContract, and building one by name (untrained and trained)."""

from __future__ import annotations

import pytest
import torch
from intarsia.errors import ConfigError
from intarsia.testing import EncoderContract
from intarsia_crl import plugin
from intarsia_crl.config import EncoderConfig, ModelConfig
from intarsia_crl.encoders import flat_encoder, slot_encoder

SMALL = ModelConfig(slot_dim=16, hidden_dim=16, cnn_layers=2, cnn_stride=2, kernel_size=3, iterations=2)


class TestMeshSlotEncoder(EncoderContract):
    def make_encoder(self):
        torch.manual_seed(0)
        return slot_encoder(EncoderConfig(image_size=16, num_objects=2, model=SMALL))


class TestSoftmaxSlotEncoder(EncoderContract):
    def make_encoder(self):
        torch.manual_seed(0)
        model = ModelConfig(**{**SMALL.__dict__, "slot_attention": "softmax"})
        return slot_encoder(EncoderConfig(image_size=16, num_objects=3, model=model))


class TestFlatEncoder(EncoderContract):
    def make_encoder(self):
        torch.manual_seed(0)
        return flat_encoder(EncoderConfig(image_size=16, num_objects=2, num_properties=2, model=SMALL))


def test_a_plugin_builds_the_slot_encoder_by_name_and_encodes_a_batch(intarsia_host):
    from intarsia.build import build

    intarsia_host(plugin)
    enc = build("encoders", "crl-slots", {"image_size": 16, "num_objects": 3, "model": {"slot_dim": 8, "hidden_dim": 8}})
    with torch.no_grad():
        out = enc(torch.rand(5, 3, 16, 16))
    assert out.shape == (5, 4, 8) and enc.output_shape == (4, 8)


def test_a_missing_checkpoint_is_a_clear_error(intarsia_host, tmp_path):
    from intarsia.build import build

    intarsia_host(plugin)
    with pytest.raises(ConfigError, match="does not exist"):
        build("encoders", "crl-slots", {"checkpoint": str(tmp_path / "nope.pt")})
