"""A tiny crl run under DDP, two CPU processes (gloo), through the CLI: both stages finish, and the weights are
equal on both ranks afterwards (the ranks read different shards of the pairs, so equal weights mean the
gradients were averaged). The job reports the largest difference of any weight between the ranks."""

from __future__ import annotations

import json

import pytest
import yaml
from intarsia.testing import run_cli

TINY = {
    "job": "crl", "name": "ddp", "seed": 0,
    "sprites": {"num_objects": 2, "properties": ["x", "y"], "image_size": 16, "num_pairs": 128, "val_pairs": 32,
                "radius_range": [0.1, 0.14]},
    "model": {"encoder": "slots", "slot_attention": "mesh", "hidden_dim": 8, "slot_dim": 8, "cnn_layers": 2,
              "cnn_stride": 2, "kernel_size": 3, "decoder": True, "decoder_channels": 8, "decoder_init_size": 4,
              "recon_downsample": 2},
    "pretrain": {"epochs": 1, "batch_size": 16},
    "loss": {"matching": "hungarian", "pair_recon": True, "w_recon": 100.0},
    "train": {"epochs": 1, "batch_size": 16},
    "cpu_threads": 1, "plots": False,
}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_tiny_crl_run_trains_under_ddp_with_equal_weights_on_both_ranks(tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    run_dir = tmp_path / "run"
    out = run_cli("run", str(cfg), "--run-dir", str(run_dir), "fabric.accelerator=cpu", "fabric.devices=2",
                  "fabric.strategy=ddp", timeout=280)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["world_size"] == 2
    assert report["training"]["rank_weight_max_diff"] == 0.0
    # each rank took half the steps of one process: 128 pairs / (2 ranks x 16) per epoch
    assert report["steps"] == 4 and report["training"]["stages"]["autoencoder"]["steps"] == 4
