"""Under DDP the runner's step is global (all ranks' env steps together) and every policy schedules its
learning on it: with two ranks, both start learning at the same global step, the one ``learning_starts``
names (not at twice it, as a per-rank counter would), and their weights stay equal."""

from __future__ import annotations

import json

import pytest
import torch
from intarsia.testing import run_cli

DDP = ("fabric.devices=2", "fabric.strategy=ddp", "fabric.accelerator=cpu")


def _ranks(run_dir, step: int) -> list[dict]:
    return [torch.load(run_dir / "checkpoints" / f"step-{step:012d}.rank{r}.pt", weights_only=True)["policy"]
            for r in (0, 1)]


def _assert_equal(a: dict, b: dict, what: str) -> None:
    for key, value in a.items():
        torch.testing.assert_close(value, b[key], msg=f"{what}.{key} differs between ranks")


def test_qlearning_ranks_start_learning_at_the_same_global_step(tmp_path):
    run_dir = tmp_path / "run"
    # 2 ranks x 2 envs: the global step advances by 4 per vector step; learning_starts=100 is reached at
    # vector step 25 (a per-rank counter would reach it at global step 200)
    out = run_cli("run", "builtin/tiny", "--run-dir", str(run_dir), "steps=400", "num_envs=2", "cpu_threads=1",
                  "policy.learning_starts=100", "policy.batch_size=16", "checkpoint.every=400",
                  "eval.final=false", "log.tensorboard=false", *DDP, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["world_size"] == 2 and report["steps"] == 400
    ranks = _ranks(run_dir, 400)
    assert [r["schedule"]["first_step"] for r in ranks] == [100, 100]
    assert ranks[0]["counters"][3] == ranks[1]["counters"][3] == (400 - 100) // 4 + 1  # updates, one a round
    _assert_equal(ranks[0]["q"], ranks[1]["q"], "q")
    _assert_equal(ranks[0]["target"], ranks[1]["target"], "target")


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_hc_sac_ranks_agree_through_an_evaluation_inside_the_run(tmp_path):
    """SAC-HC under DDP with an evaluation (rank 0 only) inside the run: it finishes (no buffer broadcast
    waits for the other rank), learning starts at ``seed_steps`` global steps on both ranks, and actor,
    critic and target critic are equal on both ranks."""
    run_dir = tmp_path / "run"
    out = run_cli("run", "hc/tiny", "--run-dir", str(run_dir), "steps=240", "eval.every=120", "eval.episodes=1",
                  "checkpoint.every=240", "log.tensorboard=false", *DDP, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    ranks = _ranks(run_dir, 240)
    assert [r["schedule"]["first_step"] for r in ranks] == [100, 100]
    for net in ("actor", "critic", "critic_target"):
        _assert_equal(ranks[0][net], ranks[1][net], net)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_lmcdqn_ranks_start_learning_together_with_equal_targets(tmp_path):
    run_dir = tmp_path / "run"
    out = run_cli("run", "lmcdqn/tiny", "--run-dir", str(run_dir), "steps=200", "policy.learning_starts=40",
                  "policy.target_update_every=1000",  # no sync in the run: the target is the copy made at setup
                  "checkpoint.every=200", "eval.final=false", "log.tensorboard=false", *DDP, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    ranks = _ranks(run_dir, 200)
    assert [r["schedule"]["first_step"] for r in ranks] == [40, 40]  # 2 global env steps per vector step
    for net in ("q", "target"):
        _assert_equal(ranks[0][net], ranks[1][net], net)
