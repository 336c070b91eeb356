"""Every registered recipe, run tiny, writes a report in the one schema (``intarsia.runner.context``).

Each job has one set of overrides that makes any of its recipes tiny (a few steps, CPU, one process, no
periodic checkpoints): the recipe's own sizes stay, so a paper-size recipe builds its real networks and
takes a few real steps. What is checked is the lifecycle, not learning.
"""

from __future__ import annotations

import dataclasses
import json
from fnmatch import fnmatch

import pytest
from intarsia.plugins import get_registry
from intarsia.runner.api import run_recipe
from intarsia.runner.context import report_problems

CPU = ["fabric.accelerator=cpu", "fabric.devices=1", "fabric.strategy=auto", "fabric.precision=32-true",
       "cpu_threads=1", "log.progress=false"]
TINY = {
    "train": ["steps=16", "num_envs=1", "vector=sync", "checkpoint.every=0", "log.every=8", "eval.every=0",
              "eval.episodes=1"],
    "hc-train": ["steps=16", "num_envs=1", "vector=sync", "checkpoint.every=0", "log.every=8", "eval.every=0",
                 "eval.episodes=1", "eval.final=true"],
    "gfn": ["iterations=2", "eval.every=0", "checkpoint.every=0", "log.every=1", "pretrain_iterations=2"],
    "crl": ["train.epochs=1", "sprites.num_pairs=64", "sprites.val_pairs=16", "train.batch_size=32",
            "train.eval_every=0", "checkpoint.every=0"],
    "capprobe": [f"{s}.{k}" for s in ("pretrain", "finetune", "reverse", "scratch")
                 for k in ("steps=4", "samples=64", "batch_size=32", "eval_every=2")]
                + ["sweep.steps=2", "sweep.lr_ratios=[1.0]", "sweep.lr_levels=[]", "sweep.correlations=[1.0]", "eval_samples=32", "probe_samples=60", "prune.random_repeats=1"]
                # one pre-training (every recipe's sweep has "high"); saliency scored once, not 4 neurons at a time
                # (iterating to prune_k=128 recomputed it 32 times: 30 of the GPU recipes' 60 s of analyses)
                + ["sweep.priors=[high]", "prune.chunk=0"],
    # the oracle judges (no LLM to load); the agent stage is the train job's tiny run on the CPU
    "motif-pipeline": ["collect.steps=64", "collect.num_envs=1", "pairs.num_pairs=32", "annotator.kind=oracle",
                       "compare_with=[]", "reward_model.epochs=1", "reward_model.batch_size=16",
                       "checkpoint.every=0", "train.steps=16", "train.num_envs=1", "train.vector=sync",
                       "train.checkpoint.every=0", "train.log.every=8", "train.eval.every=0", "train.eval.episodes=1",
                       "train.fabric.accelerator=cpu", "train.fabric.devices=1", "train.cpu_threads=1",
                       "train.log.progress=false"],
}
# recipe-specific additions (fnmatch patterns): what a recipe needs from outside, made tiny
EXTRA = {
    "lmcdqn/atari-*": ["policy.buffer_size=64"],  # the paper's 1M-frame replay would be allocated up front
    "motif/grid-*": ["rewards.0.reward_model={reward_model}"],  # trained by motif-pipeline; here random
    "motif/nethack-*": ["rewards.0.reward_model={reward_model}"],
    # the paper-size slot encoder (128 channels, 5x5, stride 1) on 64x64 images took 76 s on 2 CPU cores for
    # one epoch of 64 pairs: the same networks on 16x16 images
    "crl/*-gpu": ["sprites.image_size=16", "sprites.radius_range=[0.06,0.08]"],
    "crl/*slots*": ["pretrain.epochs=1", "pretrain.batch_size=32", "pretrain.eval_every=0"],  # stage 1, one epoch
    # the 6 x 256 model on 250-token PCFG windows took 518 s on 2 loaded CPU cores (96-letter counter: 183 s):
    # the same windows on a 2 x 32 model, fp32
    "capprobe/*-gpu": ["model.n_layer=2", "model.d_model=32", "fabric.precision=32-true", "prune.ks=[0,8]",
                       "prune_k=8"],
}
# recipes whose envs need what a CPU test machine may lack get their own reason to skip
NEEDS = {"r2i/memory-maze-9x9": "memory_maze", "r2i/dmc-vision": "dm_control", "hc/cheetah-run": "dm_control",
         "hc/walker-walk": "dm_control", "hc/cartpole-swingup": "dm_control", "hc/reacher-easy": "dm_control",
         "crl/balls-flat-gpu": "torchvision"}


@pytest.fixture(scope="module")
def reward_model_file(tmp_path_factory):
    """A randomly initialised Motif caption reward model in the plugin's file format (what the grid and
    NetHack recipes read; the motif-pipeline job trains the real one)."""
    pytest.importorskip("intarsia_motif")
    import torch
    from intarsia_motif.config import RewardModelConfig
    from intarsia_motif.reward_model import QUANTILE_LEVELS, CaptionRewardNet, save_artefact

    torch.manual_seed(0)
    cfg = RewardModelConfig(hidden_dim=8, head_dims=[8, 8], char_embed_dim=4)
    path = tmp_path_factory.mktemp("motif") / "reward_model.pt"
    save_artefact({"format": "intarsia-motif/reward-model/1", "config": dataclasses.asdict(cfg),
                   "state_dict": CaptionRewardNet(cfg).state_dict(), "reward_mean": torch.tensor(0.0),
                   "reward_std": torch.tensor(1.0), "quantile_levels": torch.tensor(QUANTILE_LEVELS),
                   "quantiles": torch.linspace(-1.0, 1.0, len(QUANTILE_LEVELS)), "metrics": {}, "extra": {}}, path)
    return path


def _recipes() -> list[str]:
    return get_registry().names("recipes")


# the tiny run of these costs 15-30 s (a MuJoCo or Memory Maze env and paper-size networks): `make test-all`
SLOW = {"r2i/memory-maze-9x9", "r2i/dmc-vision", "hc/cheetah-run", "hc/walker-walk", "hc/cartpole-swingup",
        "hc/reacher-easy"}


@pytest.mark.parametrize("recipe", [pytest.param(r, marks=pytest.mark.slow) if r in SLOW else r for r in _recipes()])
def test_every_recipe_reports_the_one_schema(recipe, tmp_path, reward_model_file):
    from intarsia.config import load_raw

    raw = load_raw(recipe, get_registry())
    job = str(raw.get("job", "train"))
    if job not in TINY:
        pytest.skip(f"job {job!r} is not on the run context yet (its port is open): no tiny overrides")
    if recipe in NEEDS:
        pytest.importorskip(NEEDS[recipe])
    overrides = TINY[job]
    if job == "gfn" and raw.get("pretrain") is None:
        overrides = [o for o in overrides if not o.startswith("pretrain_")]
    extra = [o.format(reward_model=reward_model_file) for pattern, items in EXTRA.items() if fnmatch(recipe, pattern)
             for o in items]
    report = run_recipe(recipe, overrides=[*overrides, *extra, *CPU], run_dir=tmp_path / "run")
    assert report_problems(report) == [], report
    assert report["job"] == job and report["recipe"] == recipe and report["steps"] > 0
    on_disk = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report_problems(on_disk) == []
    for artifact in on_disk["artifacts"]:
        assert (tmp_path / "run" / artifact).exists()

