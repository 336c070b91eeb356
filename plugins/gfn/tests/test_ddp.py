"""The gfn samplers under DDP, two CPU processes (gloo): TB, OC-GFN pre-training (with its explorer) and
amortized fine-tuning finish, and every trained network is equal on both ranks afterwards (the ranks draw
different trajectories, so equal weights mean the gradients were averaged)."""

from __future__ import annotations

from importlib.resources import files

import pytest
import torch
import yaml
from intarsia.testing import run_cli

DDP = ("fabric.accelerator=cpu", "fabric.devices=2", "fabric.strategy=ddp")
QUIET = ("eval.every=0", "log.tensorboard=false", "cpu_threads=1")
ITERATIONS = 6


def _run(recipe: str, run_dir, *overrides: str) -> list[dict]:
    out = run_cli("run", recipe, "--run-dir", str(run_dir), f"iterations={ITERATIONS}",
                  f"checkpoint.every={ITERATIONS}", *QUIET, *DDP, *overrides, timeout=240)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return [torch.load(run_dir / "checkpoints" / f"step-{ITERATIONS:012d}.rank{r}.pt", weights_only=True)["sampler"]
            for r in (0, 1)]


def _assert_equal(a: dict, b: dict, what: str) -> None:
    assert a, f"{what}: no weights"
    for key, value in a.items():
        torch.testing.assert_close(value, b[key], rtol=0, atol=0, msg=f"{what}.{key} differs between ranks")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_tb_ranks_end_with_equal_weights(tmp_path):
    ranks = _run("gfn/hypergrid-tb", tmp_path / "tb", "sampler.network.hidden=32", "sampler.batch_size=16")
    _assert_equal(ranks[0]["net"], ranks[1]["net"], "net")
    assert float(ranks[0]["net"]["log_z"]) != 0.0  # log Z is trained (it starts at 0)
    # every head TB reads has optimizer state; the state flow it never reads is frozen
    trained = [k for k in ranks[0]["net"] if not k.startswith("flow_head")]
    assert len(ranks[0]["opt"]["state"]) == len(trained)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ocgfn_pretraining_and_finetuning_ranks_end_with_equal_weights(tmp_path):
    env = ("sampler.env.height=4",)
    pre = _run("gfn/ocgfn-pretrain", tmp_path / "pre", *env, "sampler.batch_size=16",
               "sampler.network.hidden=32", "sampler.explorer.hidden=16")
    _assert_equal(pre[0]["net"], pre[1]["net"], "ocgfn net")
    _assert_equal(pre[0]["explorer"]["net"], pre[1]["explorer"]["net"], "explorer net")
    _assert_equal(pre[0]["explorer"]["rnd"], pre[1]["explorer"]["rnd"], "explorer rnd")

    # the fine-tuning recipe without its pretrain stage (a nested run is refused under DDP): the model above
    recipe = yaml.safe_load((files("intarsia_gfn") / "recipes" / "ocgfn_finetune.yaml").read_text())
    del recipe["pretrain"], recipe["pretrain_iterations"]
    recipe["sampler"].update(pretrained=str(tmp_path / "pre" / "model.pt"), hidden=32, layers=1)
    config = tmp_path / "finetune.yaml"
    config.write_text(yaml.safe_dump(recipe))
    fine = _run(str(config), tmp_path / "fine", *env)
    _assert_equal(fine[0]["model"], fine[1]["model"], "fine-tuned model")
    # the numerator and the outcome sampler both reached the optimizer (through the wrapper's one forward)
    n_params = len(fine[0]["model"])
    assert len(fine[0]["opt"]["state"]) == n_params


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_dqn_ranks_end_with_equal_weights(tmp_path):
    # the RL baseline of the fine-tuning benchmark: each rank rolls out and replays its own episodes, the
    # Q-network's gradients are averaged, and the target (a copy of the network) follows it on both ranks
    recipe = yaml.safe_load((files("intarsia_gfn") / "recipes" / "hypergrid_tb.yaml").read_text())
    recipe["sampler"] = {"name": "dqn", "env": {**recipe["sampler"]["env"], "height": 4}, "hidden": 32, "layers": 1,
                         "batch_size": 8, "train_batch": 32, "target_every": 2, "epsilon_iterations": 4}
    config = tmp_path / "dqn.yaml"
    config.write_text(yaml.safe_dump(recipe))
    ranks = _run(str(config), tmp_path / "dqn")
    _assert_equal(ranks[0]["net"], ranks[1]["net"], "q net")
    _assert_equal(ranks[0]["target"], ranks[1]["target"], "target net")
    assert ranks[0]["opt"]["state"], "the Q network was never stepped"
    # the replay buffers are each rank's own episodes: the ranks were not handed one shared stream
    assert not torch.equal(ranks[0]["buffer"]["a"], ranks[1]["buffer"]["a"])
