"""A tiny capprobe run under DDP, two CPU processes (gloo): every stage's fit finishes, and the pre-trained and
fine-tuned models are equal on both ranks afterwards (each rank trains on its own half of every batch, so
equal weights mean the gradients were averaged)."""

from __future__ import annotations

import json

import pytest
import torch
from intarsia.testing import run_cli

DDP = ("fabric.accelerator=cpu", "fabric.devices=2", "fabric.strategy=ddp", "cpu_threads=1")
TINY = ("model.n_layer=1", "model.d_model=16", "model.n_head=2", "log.tensorboard=false",
        "pretrain.steps=8", "pretrain.samples=256", "pretrain.batch_size=32", "pretrain.eval_every=4",
        "finetune.steps=4", "finetune.samples=256", "finetune.batch_size=32", "finetune.eval_every=2",
        "reverse.steps=4", "reverse.samples=256", "reverse.batch_size=32", "reverse.eval_every=2",
        "scratch.steps=4", "scratch.samples=256", "scratch.batch_size=32", "scratch.eval_every=2",
        "sweep.enabled=false", "prune.ks=[0,4]", "prune.random_repeats=1", "prune_k=4",
        "eval_samples=64", "probe_samples=120")


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_capprobe_trains_under_ddp_and_the_ranks_end_with_equal_weights(tmp_path):
    run_dir = tmp_path / "run"
    out = run_cli("run", "capprobe/counter", "--run-dir", str(run_dir), *TINY, *DDP, timeout=400)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["world_size"] == 2
    for stem in ("pretrain_high", "finetune", "pretrain_other", "finetune_other"):
        ranks = [torch.load(run_dir / "models" / name, weights_only=True)["state_dict"]
                 for name in (f"{stem}.pt", f"{stem}.rank1.pt")]
        assert ranks[0].keys() == ranks[1].keys()
        for key, value in ranks[0].items():
            torch.testing.assert_close(value, ranks[1][key], rtol=0, atol=0, msg=f"{stem}.{key} differs between ranks")
    # the stages ran on both ranks' halves: 8 pre-training steps of 32 rows per rank
    stage = json.loads((run_dir / "stages" / "pretrain_high.json").read_text())
    assert stage["steps"] == 8
