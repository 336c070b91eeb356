"""A hostile or truncated reward model file, given as the motif reward's ``reward_model``, ends as one line
(exit 2 in the CLI), never unpickled."""

from __future__ import annotations

import pytest
import torch
from intarsia.errors import IntarsiaError
from intarsia.testing.hostile_files import assert_one_line_refusal, write_hostile_torch_file, write_truncated_torch_file
from intarsia_motif import plugin

FORMAT = "intarsia-motif/reward-model/1"


def test_a_hostile_reward_model_is_refused_without_running_it(intarsia_host, tmp_path):
    from intarsia.build import build

    intarsia_host(plugin)
    path = tmp_path / "reward_model.pt"
    marker = write_hostile_torch_file(path, {"format": FORMAT})
    with pytest.raises(IntarsiaError) as info:
        build("rewards", "motif", {"reward_model": str(path)})
    assert "refused, never unpickled" in assert_one_line_refusal(info.value, path)
    assert not marker.exists()


def test_a_truncated_reward_model_is_one_line(intarsia_host, tmp_path):
    from intarsia.build import build

    intarsia_host(plugin)
    path = tmp_path / "reward_model.pt"
    write_truncated_torch_file(path, {"format": FORMAT, "state_dict": {"w": torch.zeros(4096)}})
    with pytest.raises(IntarsiaError) as info:
        build("rewards", "motif", {"reward_model": str(path)})
    assert "truncated or damaged" in assert_one_line_refusal(info.value, path)


def test_save_goes_through_an_unpredictable_temporary_name(tmp_path):
    """A symlink planted under the old fixed temporary name is never written through."""
    from intarsia.safe_load import load_torch_file
    from intarsia_motif.reward_model import save_artefact

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    path = tmp_path / "reward_model.pt"
    (tmp_path / ".reward_model.pt.tmp").symlink_to(victim)
    save_artefact({"format": FORMAT, "reward_mean": 0.25}, path)
    assert victim.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".reward_model.pt.tmp", "reward_model.pt", "victim.txt"]
    assert load_torch_file(path) == {"format": FORMAT, "reward_mean": 0.25}
