"""The gfn job end to end: report keys, resume equals an uninterrupted run, recipes build, pretrain stage."""

import json
from pathlib import Path

import pytest
from intarsia.errors import ConfigError
from intarsia.runner.api import resume_run, run_config
from intarsia_gfn import plugin

TINY = {"job": "gfn", "name": "tiny", "seed": 3, "iterations": 30, "cpu_threads": 1,
        "sampler": {"name": "gflownet", "batch_size": 8, "env": {"ndim": 2, "height": 4},
                    "network": {"hidden": 32, "layers": 1}},
        "fabric": {"accelerator": "cpu"}, "log": {"every": 10, "progress": False, "tensorboard": False},
        "eval": {"every": 10}, "checkpoint": {"every": 10}}
METRICS = {"l1_sum", "l1_mean", "jsd", "modes_found", "trajectories", "seconds_per_iteration"}


def test_report_holds_exactly_the_issue_metrics_and_the_figures(intarsia_host, tmp_path):
    intarsia_host(plugin)
    report = run_config(TINY, run_dir=tmp_path)
    assert set(report["metrics"]) == METRICS
    assert report["metrics"]["trajectories"] == 30 * 8
    for name in ("learning_curve.png", "heatmap.png", "report.json", "config.yaml"):
        assert (tmp_path / name).exists(), name
    assert json.loads((tmp_path / "report.json").read_text())["metrics"]["l1_sum"] == report["metrics"]["l1_sum"]


def test_resume_continues_as_the_uninterrupted_run(intarsia_host, tmp_path):
    intarsia_host(plugin)
    straight = run_config(TINY, run_dir=tmp_path / "a")
    run_config({**TINY, "iterations": 20}, run_dir=tmp_path / "b")
    resumed = resume_run(tmp_path / "b", ["iterations=30"])
    assert resumed["steps"] == 30 and resumed["step_unit"] == "iterations"
    for key in ("l1_sum", "jsd", "trajectories", "modes_found"):
        assert resumed["metrics"][key] == pytest.approx(straight["metrics"][key], rel=1e-4, abs=1e-6), key
    # metrics.csv holds the rows of both sessions, each step once, as the uninterrupted run's does
    assert _logged_steps(tmp_path / "b") == _logged_steps(tmp_path / "a")


def _logged_steps(run_dir):
    import csv

    with open(run_dir / "logs" / "metrics.csv", newline="") as fh:
        return sorted(int(row["step"]) for row in csv.DictReader(fh))


def test_pretrain_stage_then_finetune(intarsia_host, tmp_path):
    intarsia_host(plugin)
    env = {"ndim": 2, "height": 4}
    cfg = {**TINY, "pretrain_iterations": 5, "iterations": 5,
           "pretrain": {"name": "ocgfn", "batch_size": 8, "env": env, "network": {"hidden": 32, "layers": 1},
                        "explorer": {"hidden": 16}},
           "sampler": {"name": "ocgfn-finetune", "batch_size": 4, "hidden": 32, "layers": 1,
                       "env": {**env, "reward": "random", "modes": 2}}}
    report = run_config(cfg, run_dir=tmp_path)
    assert (tmp_path / "pretrain" / "model.pt").exists()
    assert set(report["children"]["pretrain"]["metrics"]) == METRICS | {"success_rate"}
    assert set(report["metrics"]) == METRICS
    assert "conversion_l1_sum" in report["evaluation"] and report["evaluation"]["reward_queries"] > 0


def test_a_pretrain_stage_under_ddp_is_refused_before_anything_runs(intarsia_host, tmp_path):
    """A nested run under several processes: DDP's extra rank would re-run the whole outer job."""
    intarsia_host(plugin)
    cfg = {**TINY, "pretrain_iterations": 5,
           "pretrain": {"name": "ocgfn", "batch_size": 8, "env": {"ndim": 2, "height": 4}},
           "sampler": {"name": "ocgfn-finetune", "env": {"ndim": 2, "height": 4, "reward": "random", "modes": 2}},
           "fabric": {"accelerator": "cpu", "devices": 2, "strategy": "ddp"}}
    with pytest.raises(ConfigError, match=r"^pretrain: a nested run cannot run under 2 processes"):
        run_config(cfg, run_dir=tmp_path)
    assert not (tmp_path / "pretrain").exists()


def test_unknown_sampler_key_names_its_path(intarsia_host, tmp_path):
    intarsia_host(plugin)
    with pytest.raises(ConfigError, match="sampler.bacth_size"):
        run_config({**TINY, "sampler": {**TINY["sampler"], "bacth_size": 4}}, run_dir=tmp_path)


RECIPES = Path(plugin.__file__).parent / "recipes"


@pytest.mark.parametrize("recipe", sorted(p.name for p in RECIPES.glob("*_gpu.yaml")))
def test_gpu_recipes_build_and_run_a_few_iterations_on_cpu(intarsia_host, tmp_path, recipe):
    intarsia_host(plugin)
    overrides = ["iterations=2", "pretrain_iterations=2", "fabric.accelerator=cpu", "log.progress=false",
                 "log.tensorboard=false", "eval.every=0", "cpu_threads=1"]
    # smaller batches keep this quick; the shapes, networks and evaluation are the recipe's
    overrides += ["sampler.batch_size=8"] + (["pretrain.batch_size=8"] if "finetune" in recipe else [])
    report = run_config(str(RECIPES / recipe), overrides, run_dir=tmp_path)
    assert report["steps"] == 2 and set(METRICS) <= set(report["metrics"])
