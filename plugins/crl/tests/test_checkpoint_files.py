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
