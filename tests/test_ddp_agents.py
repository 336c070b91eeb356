"""Agents under DDP on two CPU processes (gloo), as the tiny recipes train: each run finishes within its
timeout (a hang fails the test instead of stalling it), both ranks run the same number of updates, and every
network (and its optimiser state) is equal on both ranks afterwards; the ranks collect different data, so
equal weights mean the gradients were averaged.

The R2I agent itself is covered on the memory recipes in ``plugins/r2i/tests/test_recipes.py``, LMCDQN in
``test_ddp_global_step.py``; here: the DreamerV3 agent (GRU-RSSM, the same agent with its own defaults) on
``r2i/tiny``, R2I on the same tiny recipe, and the epsilon-greedy DQN of the lmcdqn plugin."""

from __future__ import annotations

import json

import pytest
import torch
from intarsia.testing import run_cli

DDP = ("fabric.accelerator=cpu", "fabric.devices=2", "fabric.strategy=ddp")
QUIET = ("log.tensorboard=false", "eval.final=false", "cpu_threads=1")


def _train(recipe: str, run_dir, steps: int, *overrides: str) -> list[dict]:
    out = run_cli("run", recipe, "--run-dir", str(run_dir), f"steps={steps}", f"checkpoint.every={steps}",
                  *QUIET, *DDP, *overrides, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["world_size"] == 2 and report["steps"] == steps
    return [torch.load(run_dir / "checkpoints" / f"step-{steps:012d}.rank{r}.pt", weights_only=True)["policy"]
            for r in (0, 1)]


def _assert_equal(a: dict, b: dict, what: str) -> None:
    assert a, f"{what}: nothing saved"
    for key, value in a.items():
        if isinstance(value, dict):
            _assert_equal(value, b[key], f"{what}.{key}")
        elif isinstance(value, torch.Tensor):
            torch.testing.assert_close(value, b[key], msg=f"{what}.{key} differs between ranks")


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.parametrize("agent", ["dreamerv3", "r2i"])
def test_dreamer_agents_keep_ranks_identical(tmp_path, agent):
    # 2 ranks x 2 envs: 4 global env steps per vector step; learning starts at global step 40
    ranks = _train("r2i/tiny", tmp_path / "run", 160, f"policy.name={agent}", "policy.checkpoint_replay=true",
                   "policy.replay_capacity=400")
    assert ranks[0]["updates"] == ranks[1]["updates"] > 0
    assert ranks[0]["schedule"] == ranks[1]["schedule"]
    for net in ("world_model", "actor", "critic", "slow_critic"):
        _assert_equal(ranks[0][net], ranks[1][net], net)
    for opt in ("wm_opt", "actor_opt", "critic_opt"):  # Adam moments follow the averaged gradients too
        _assert_equal(ranks[0][opt]["state"], ranks[1][opt]["state"], opt)
    assert not torch.equal(ranks[0]["replay"]["obs"], ranks[1]["replay"]["obs"])  # different data per rank


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_dqn_ranks_start_learning_together_with_equal_networks(tmp_path):
    ranks = _train("lmcdqn/tiny", tmp_path / "run", 200, "policy.name=dqn", "policy.learning_starts=40",
                   "policy.target_update_every=1000")  # no sync in the run: the target is the copy made at setup
    assert [r["schedule"]["first_step"] for r in ranks] == [40, 40]
    assert int(ranks[0]["counters"][1]) == int(ranks[1]["counters"][1]) > 0  # gradient steps
    for net in ("q", "target"):
        _assert_equal(ranks[0][net], ranks[1][net], net)
    _assert_equal(ranks[0]["optim"]["state"], ranks[1]["optim"]["state"], "optim")
