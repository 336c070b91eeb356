"""Mixed precision acts in TB training: under bf16-mixed the rollout's and the loss's matmuls run in bf16
(forward_logits bypasses the Fabric wrapper) and an update gives finite metrics and float32 weights."""

import math

import torch
from intarsia.testing.precision import linear_output_dtypes
from intarsia_gfn.config import EnvConfig, GFlowNetConfig
from intarsia_gfn.gflownet import GFlowNet
from lightning.fabric import Fabric


def test_tb_update_runs_bf16_matmuls_under_bf16_mixed():
    torch.set_num_threads(1)
    fabric = Fabric(accelerator="cpu", devices=1, precision="bf16-mixed")
    fabric.seed_everything(0, verbose=False)
    gfn = GFlowNet(GFlowNetConfig(env=EnvConfig(ndim=2, height=8), batch_size=16), fabric=fabric)
    with linear_output_dtypes(gfn.net) as seen:
        metrics = [gfn.update(i) for i in range(5)]
    assert seen[torch.bfloat16] > 0 and seen[torch.float32] == 0, seen
    assert all(math.isfinite(v) for m in metrics for v in m.values()), metrics
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in gfn.net.parameters())
