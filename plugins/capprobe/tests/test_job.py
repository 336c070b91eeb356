"""The capprobe job end to end at toy size: stages, resumability, the report's metric keys, the CLI."""

import json

import pytest
from intarsia.errors import ConfigError
from intarsia.runner.api import resume_run, run_config
from intarsia_capprobe.job import METRIC_KEYS

TINY = {
    "extends": "capprobe/counter", "fabric": {"accelerator": "cpu"},
    "model": {"n_layer": 2, "d_model": 32},
    "pretrain": {"steps": 12, "samples": 256, "batch_size": 32, "eval_every": 6},
    "finetune": {"steps": 6, "samples": 256, "batch_size": 32, "eval_every": 3},
    "reverse": {"steps": 6, "samples": 256, "batch_size": 32, "eval_every": 3},
    "scratch": {"steps": 6, "samples": 256, "batch_size": 32, "eval_every": 3},
    "sweep": {"priors": ["high"], "lr_levels": ["L"], "correlations": [1.0], "steps": 3},
    "prune": {"ks": [0, 4], "random_repeats": 1}, "prune_k": 4,
    "eval_samples": 64, "probe_samples": 120,
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("capprobe") / "run"
    return run_dir, run_config(TINY, run_dir=run_dir)


def test_report_holds_exactly_the_issue_metrics(tiny_run):
    run_dir, report = tiny_run
    assert tuple(report["metrics"]) == METRIC_KEYS
    assert all(isinstance(v, (int, float)) for v in report["metrics"].values())
    on_disk = json.loads((run_dir / "report.json").read_text())
    assert on_disk["metrics"] == report["metrics"]
    for fig in ("sweep.png", "probe.png", "pruning.png", "reverse.png"):
        assert (run_dir / fig).stat().st_size > 1000
    assert len(report["grid"]) == 1
    assert (run_dir / "models" / "finetune.pt").is_file()


def test_reverse_runs_at_the_fine_tuning_lr_against_scr_ft_and_the_control_is_pruned(tiny_run):
    run_dir, report = tiny_run
    lrs = report["training"]["learning_rates"]
    assert lrs["reverse"] <= lrs["finetune"] == pytest.approx(1e-4)  # η_L = η_PT / 10
    for stage in ("pretrain_other", "finetune_other", "scratch_ft"):
        assert (run_dir / "stages" / f"{stage}.json").is_file(), stage
    assert (run_dir / "models" / "finetune_other.pt").is_file()
    assert report["pruning_control_curve"]["k"] == report["pruning_curve"]["k"]
    assert report["scratch_ft_curve"][0][0] == 0
    # Scr.+FT starts from the model pre-trained on the new task; reverse from the fine-tuned one
    assert report["scratch_ft_curve"][0][1] == report["control_accuracies"]["pretrain_other"]["original"]
    assert report["reverse_curve"][0][1] == report["finetune_accuracies"]["original"]


def test_resume_skips_completed_stages(tiny_run, capsys):
    run_dir, report = tiny_run
    again = resume_run(run_dir)
    out = capsys.readouterr().out
    assert "pretrain_high: complete, skipped" in out and "reverse: complete, skipped" in out
    assert again["metrics"] == report["metrics"]


def test_cli_analyze_reruns_the_analyses(tiny_run, capsys):
    from intarsia.cli import main

    run_dir, report = tiny_run
    (run_dir / "analyses.json").unlink()
    capsys.readouterr()
    assert main(["capprobe", "analyze", str(run_dir)]) == 0
    stdout = capsys.readouterr().out
    out = json.loads(stdout[stdout.index("{"):])
    assert out["probe_count_a_after"] == report["metrics"]["probe_count_a_after"]
    assert (run_dir / "analyses.json").is_file()


def test_cli_analyze_on_a_non_run_is_one_line(tmp_path):
    from intarsia.testing import run_cli

    res = run_cli("capprobe", "analyze", str(tmp_path))
    assert res.returncode == 2 and "no config.yaml" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_bad_prune_k_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="prune_k=5"):
        run_config({**TINY, "prune_k": 5}, run_dir=tmp_path / "bad")


@pytest.mark.parametrize("key", ["accelerator", "precision"])
def test_the_old_top_level_keys_name_the_fabric_section(key, tmp_path):
    with pytest.raises(ConfigError, match=f"^{key}: moved to fabric.{key} "):
        run_config({**TINY, key: "cpu"}, run_dir=tmp_path / "run")


class _MeanLogit:
    """An analysis another distribution registers: the fine-tuned model's mean answer logit."""

    def __init__(self, config=None):
        self.config = config

    def run(self, model, data) -> dict:
        import torch

        with torch.no_grad():
            logits = model(data["input_ids"].to(next(model.parameters()).device))
        return {"metrics": {"mean_logit": float(logits.float().mean())}, "figures": {}}


class _OtherDistribution:
    """The hooks of a distribution that is not capprobe (defined here, registered through the host)."""

    from intarsia import hookimpl

    @staticmethod
    @hookimpl
    def register_analyses(register):
        register("mean-logit", factory=_MeanLogit, summary="the mean logit of the model (a test analysis)")


def test_an_analysis_from_another_distribution_runs_in_the_job_and_reports(intarsia_host, tmp_path):
    from intarsia_capprobe import plugin

    intarsia_host(plugin, _OtherDistribution)
    report = run_config({**TINY, "sweep": {**TINY["sweep"], "enabled": False}, "analyses": [{"name": "mean-logit"}]},
                        run_dir=tmp_path / "run")
    value = report["analyses"]["mean-logit"]["mean_logit"]
    assert isinstance(value, float) and value == value  # a number the model produced, not NaN
    assert json.loads((tmp_path / "run" / "report.json").read_text())["analyses"] == report["analyses"]


@pytest.mark.parametrize("recipe, task", [
    ("capprobe/pcfg", {"seq_len": 24, "count_window": 8}),
    ("capprobe/maxid", {}),
])
def test_pcfg_and_maxid_jobs_at_toy_size(tmp_path, recipe, task):
    cfg = {**TINY, "extends": recipe, "task": task, "sweep": {"enabled": False}, "probe_samples": 90}
    report = run_config(cfg, run_dir=tmp_path / "run")
    assert tuple(report["metrics"]) == METRIC_KEYS
    assert set(report["attention"]) == {"pretrained", "finetuned", "pretrained_new_task", "finetuned_new_task"}
    assert 0.0 <= report["probe_not_pretrained_best"] <= 1.0
    check = report["checks"]["count_b_before_ft"]
    if recipe == "capprobe/pcfg":  # the recipe's prior is low: the check ran
        assert check["prior"] == "low" and isinstance(check["passed"], bool)
    else:
        assert check is None
