"""A hostile or truncated encoder checkpoint ends as one line (exit 2 in the CLI), never unpickled."""

from __future__ import annotations

import pytest
import torch
from intarsia.errors import IntarsiaError
from intarsia.testing.hostile_files import assert_one_line_refusal, write_hostile_torch_file, write_truncated_torch_file
from intarsia_crl import plugin
from intarsia_crl.encoders import FORMAT


def test_a_hostile_encoder_checkpoint_is_refused_without_running_it(intarsia_host, tmp_path):
    from intarsia.build import build

    intarsia_host(plugin)
    path = tmp_path / "encoder.pt"
    marker = write_hostile_torch_file(path, {"format": FORMAT, "kind": "slots"})
    with pytest.raises(IntarsiaError) as info:
        build("encoders", "crl-slots", {"checkpoint": str(path)})
    assert "refused, never unpickled" in assert_one_line_refusal(info.value, path)
    assert not marker.exists()


def test_a_truncated_encoder_checkpoint_is_one_line(intarsia_host, tmp_path):
    from intarsia.build import build

    intarsia_host(plugin)
    path = tmp_path / "encoder.pt"
    write_truncated_torch_file(path, {"format": FORMAT, "kind": "slots", "encoder": {"w": torch.zeros(4096)}})
    with pytest.raises(IntarsiaError) as info:
        build("encoders", "crl-slots", {"checkpoint": str(path)})
    assert "truncated or damaged" in assert_one_line_refusal(info.value, path)


def test_save_goes_through_an_unpredictable_temporary_name(intarsia_host, tmp_path):
    """A symlink planted under the old fixed temporary name is never written through; the file loads."""
    from intarsia.build import build
    from intarsia_crl.config import ModelConfig
    from intarsia_crl.encoders import save_encoder
    from intarsia_crl.networks import SlotEncoder

    intarsia_host(plugin)
    model = ModelConfig(slot_dim=8, hidden_dim=8, cnn_layers=2, cnn_stride=2, kernel_size=3, iterations=1)
    torch.manual_seed(0)
    enc = SlotEncoder(model, image_size=16, num_objects=2)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    path = tmp_path / "encoder.pt"
    (tmp_path / ".encoder.pt.tmp").symlink_to(victim)
    save_encoder(path, enc, kind="slots", model=model, image_size=16, num_objects=2, properties=["x", "y"])
    assert victim.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".encoder.pt.tmp", "encoder.pt", "victim.txt"]
    loaded = build("encoders", "crl-slots", {"checkpoint": str(path)})
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), enc.eval()(x))
