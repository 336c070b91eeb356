"""ris-hc under DDP (two CPU processes, gloo) with an evaluation inside the run: it finishes (a timeout catches
a hang: evaluation runs on rank 0 only, so nothing it calls may be a collective), learning starts at the same
global step on both ranks, and every network (actor, critic, subgoal policy, both targets) is equal on both
ranks after training. sac-hc's twin is tests/test_ddp_global_step.py."""

from __future__ import annotations

import json

import pytest
import torch
from intarsia.testing import run_cli

DDP = ("fabric.devices=2", "fabric.strategy=ddp", "fabric.accelerator=cpu")
TINY_RIS = ("steps=240", "cpu_threads=1", "env.max_episode_steps=20", "policy.actor.hidden_sizes=[16]",
            "policy.critic_hidden_sizes=[16]", "policy.subgoal_hidden_sizes=[16]", "policy.batch_size=16",
            "policy.seed_steps=100", "policy.buffer_size=1000", "policy.num_subgoals=3", "policy.metrics_every=10",
            "eval.every=120", "eval.episodes=2", "checkpoint.every=240", "log.every=120", "log.tensorboard=false",
            "log.progress=false")


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_ris_hc_ranks_agree_through_an_evaluation_inside_the_run(tmp_path):
    run_dir = tmp_path / "run"
    out = run_cli("run", "hc/point-nav", "--run-dir", str(run_dir), *TINY_RIS, *DDP, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["world_size"] == 2 and "eval_success" in report["metrics"]
    ranks = [torch.load(run_dir / "checkpoints" / f"step-{240:012d}.rank{r}.pt", weights_only=True)["policy"]
             for r in (0, 1)]
    assert [r["schedule"]["first_step"] for r in ranks] == [100, 100]
    assert int(ranks[0]["counters"][1]) == int(ranks[1]["counters"][1]) > 0  # the same number of updates
    for net in ("actor", "critic", "subgoal", "actor_target", "critic_target"):
        for key, value in ranks[0][net].items():
            torch.testing.assert_close(value, ranks[1][net][key], msg=f"{net}.{key} differs between ranks")
