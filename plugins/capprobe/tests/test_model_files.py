"""A hostile or truncated capprobe model file ends as one line (exit 2 in the CLI), never unpickled."""

from __future__ import annotations

import pytest
import torch
from intarsia.errors import IntarsiaError
from intarsia.testing.hostile_files import assert_one_line_refusal, write_hostile_torch_file, write_truncated_torch_file
from intarsia_capprobe.model import MiniGPT

FORMAT = "intarsia-capprobe/minigpt/1"


def test_a_hostile_model_file_is_refused_without_running_it(tmp_path):
    path = tmp_path / "pretrain_uniform.pt"
    marker = write_hostile_torch_file(path, {"format": FORMAT})
    with pytest.raises(IntarsiaError) as info:
        MiniGPT.load(path)
    assert "refused, never unpickled" in assert_one_line_refusal(info.value, path)
    assert not marker.exists()


@pytest.mark.parametrize("keep", [0.02, 0.5, 0.98])  # in the header, in the tensor data, in the zip directory
def test_a_truncated_model_file_is_one_line(tmp_path, keep):
    path = tmp_path / "pretrain_uniform.pt"
    write_truncated_torch_file(path, {"format": FORMAT, "state_dict": {"w": torch.zeros(4096)}}, keep)
    with pytest.raises(IntarsiaError) as info:
        MiniGPT.load(path)
    assert "truncated or damaged" in assert_one_line_refusal(info.value, path)


def test_save_goes_through_an_unpredictable_temporary_name(tmp_path):
    """A file or symlink planted under the old fixed temporary name is never written through."""
    from intarsia_capprobe.config import ModelConfig

    torch.manual_seed(0)
    model = MiniGPT(ModelConfig(n_layer=1, n_head=2, d_model=8), vocab_size=11, max_len=6)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    path = tmp_path / "pretrain_uniform.pt"
    (tmp_path / ".pretrain_uniform.pt.tmp").symlink_to(victim)
    model.save(path)
    assert victim.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".pretrain_uniform.pt.tmp",
        "pretrain_uniform.pt",
        "victim.txt",
    ]
    again = MiniGPT.load(path)
    ids = torch.randint(0, 11, (2, 6))
    torch.testing.assert_close(again.eval()(ids), model.eval()(ids))
