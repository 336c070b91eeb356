"""Motif's two trained pieces under DDP, two CPU processes (gloo): the recurrent PPO agent (with the Motif
reward term) and the reward model's Lightning fit both finish, and both ranks end with equal weights (the
ranks see different episodes / pair shards, so equal weights mean the gradients were averaged)."""

from __future__ import annotations

import json

import pytest
import torch
from helpers_motif import make_model_file
from intarsia.testing import run_cli

DDP = ("fabric.accelerator=cpu", "fabric.devices=2", "fabric.strategy=ddp")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ppo_ranks_end_with_equal_weights(tmp_path):
    make_model_file(tmp_path / "rm.pt")
    run_dir = tmp_path / "ppo"
    out = run_cli("run", "motif/tiny-ppo", "--run-dir", str(run_dir), "steps=512", "checkpoint.every=512",
                  f"rewards=[{{name: motif, coef: 0.1, reward_model: {tmp_path / 'rm.pt'}}}]", *DDP, timeout=240)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["world_size"] == 2 and "reward_motif_mean" in report["metrics"]
    ranks = [torch.load(run_dir / "checkpoints" / f"step-{512:012d}.rank{r}.pt", weights_only=True)["policy"]
             for r in (0, 1)]
    assert ranks[0]["updates"] == ranks[1]["updates"] > 0
    model = ranks[0]["model"]
    assert model
    for key, value in model.items():
        torch.testing.assert_close(value, ranks[1]["model"][key], rtol=0, atol=0, msg=f"{key} differs between ranks")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_reward_model_fit_ranks_end_with_equal_weights(tmp_path):
    run_dir = tmp_path / "rm"
    out = run_cli("run", "motif/demo-ppo", "--run-dir", str(run_dir), "collect.steps=1000", "collect.num_envs=2",
                  "pairs.num_pairs=200", "reward_model.epochs=2", "reward_model.batch_size=32",
                  "reward_model.hidden_dim=8", "reward_model.head_dims=[8]", "reward_model.char_embed_dim=4",
                  "skip_train=true", "baseline=false", *DDP, timeout=240)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    metrics = json.loads((run_dir / "report.json").read_text())["reward_model"]
    assert metrics["world_size"] == 2
    # each rank fitted half of every batch: the gathered weights are equal, and so are their checksums
    assert metrics["ranks_equal"] is True
    a, b = metrics["rank_weight_checksums"]
    assert a == b and a != 0.0
    # the held-out accuracy counts the pairs of both ranks' shards
    assert metrics["val_decisive_pairs"] > 0
