"""The motif-pipeline job end to end (oracle annotator, recurrent PPO), its resumption, and the composition
of the Motif reward with the R2I agent through the core runner."""

import json
import re

import pytest
from helpers_motif import make_model_file

# small enough for make test: the agent stage is plumbing here (10 PPO updates), the reward model still learns
SMALL = ["collect.steps=2000", "collect.num_envs=2", "pairs.num_pairs=400", "reward_model.epochs=8",
         "reward_model.batch_size=32",
         "train.steps=640", "train.num_envs=2", "train.policy.rollout=32", "train.log.every=320",
         "train.checkpoint.every=320", "baseline=false"]


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory):
    """One small pipeline run (oracle annotator, PPO) shared by the tests of this module."""
    from intarsia.runner.api import run_recipe

    run_dir = tmp_path_factory.mktemp("motif") / "run"
    return run_dir, run_recipe("motif/demo-ppo", overrides=SMALL, run_dir=run_dir)


def test_pipeline_runs_end_to_end_and_skips_finished_stages(pipeline_run, tmp_path):
    import shutil

    from intarsia.runner.api import resume_run

    src, report = pipeline_run
    run_dir = tmp_path / "run"
    shutil.copytree(src, run_dir)
    for name in ("captions", "pairs", "labelled_pairs", "annotations.jsonl", "reward_model.pt", "agent/report.json",
                 "reward_terms.png", "captions.png", "report.json"):
        assert (run_dir / name).exists(), name
    assert report["annotation"]["stats"]["complete"] is True
    assert report["preference_accuracy"] is not None
    assert "agreement" in report["annotation"] and "random" in report["annotation"]["agreement"]
    top = report["highest_rewarded_captions"]
    assert top and all({"caption", "r_norm", "r_int_first", "count"} <= set(r) for r in top)
    # the reward model learned the oracle's ranking: the wall bump (-1) below the key pickup (+1)
    r = {row["caption"]: row["r_norm"] for row in top + report["lowest_rewarded_captions"]}
    assert r["You bump into the wall."] < r["You pick up the key."]
    assert report["reward_model"]["train_accuracy"] > 0.8
    assert "reward_motif_mean" in report["agent"]["metrics"]

    # a resumed run skips every completed stage and asks the annotator nothing
    log_before = (run_dir / "annotations.jsonl").read_text()
    marker = json.loads((run_dir / "stages" / "reward_model.json").read_text())
    again = resume_run(run_dir)
    assert (run_dir / "annotations.jsonl").read_text() == log_before
    assert json.loads((run_dir / "stages" / "reward_model.json").read_text()) == marker
    assert again["preference_accuracy"] == report["preference_accuracy"]


def test_pipeline_continues_an_interrupted_agent_stage(pipeline_run, tmp_path):
    """Kill after the agent's first checkpoint: the rerun resumes the core train run, not from scratch."""
    import shutil

    from intarsia.runner.api import resume_run

    run_dir = tmp_path / "run"
    shutil.copytree(pipeline_run[0], run_dir)
    # pretend the job died during the agent stage: no marker, no final report, checkpoints present
    (run_dir / "stages" / "agent.json").unlink()
    (run_dir / "agent" / "report.json").unlink()
    again = resume_run(run_dir)
    assert again["agent"]["steps"] >= 640


def test_motif_reward_composes_with_r2i(tmp_path):
    pytest.importorskip("intarsia_r2i")
    from intarsia.runner.api import run_recipe

    make_model_file(tmp_path / "rm.pt")
    report = run_recipe("motif/grid-r2i", overrides=[
        "steps=700", "policy.learning_starts=300", "policy.train_ratio=8", "log.every=100", "log.progress=false",
        "checkpoint.every=0", "fabric.accelerator=cpu", "env.max_steps=50", f"rewards.0.reward_model={tmp_path / 'rm.pt'}",
        "rewards.0.threshold_quantile=0.0"], run_dir=tmp_path / "r2i")
    m = report["metrics"]
    # R2I learned a separate reward head for the motif term (it reads the terms unsummed)
    assert any(k.startswith("policy_wm_reward_motif") for k in report["training"]), sorted(report["training"])
    assert any(k.startswith("policy_wm_reward_extrinsic") for k in report["training"])
    assert "reward_motif_mean" in m


@pytest.mark.parametrize("override, message", [
    ("annotator.llm.n_ctxx=512", "annotator.llm.n_ctxx: unknown key"),
    ("annotator.llm.model_path=/nonexistent/model.gguf", "annotator.llm.model_path: '/nonexistent/model.gguf' does not exist"),
    ("train.policy.rollot=8", "train (the agent stage's run): policy.rollot: unknown key"),
    ("compare_with=[orakel]", "compare_with.0: unknown annotator 'orakel'"),
    # a nested run under DDP: the extra rank would re-run the whole pipeline
    ("train.fabric.devices=2", "train.fabric (the agent stage's run): a nested run cannot run under 2 processes"),
    # the reward model's fit on two processes: its rank 1 re-runs the job, agent stage included
    ("fabric.devices=2", "train.fabric (the agent stage's run): a nested run cannot run under 2 processes"),
])
def test_a_bad_section_fails_before_any_stage_runs(tmp_path, override, message):
    """The probe's case: a typo in the LLM section used to surface only after the collect stage had run."""
    from intarsia.errors import IntarsiaError
    from intarsia.runner.api import run_recipe

    run_dir = tmp_path / "run"
    with pytest.raises(IntarsiaError, match=re.escape(message)):
        run_recipe("motif/demo-ppo", overrides=[*SMALL, "annotator.kind=llm", override], run_dir=run_dir)
    assert not (run_dir / "stages").exists() and not (run_dir / "captions").exists()


def test_report_starts_with_the_judge_the_ranking_and_both_agents(pipeline_run):
    from intarsia.runner.context import report_problems
    from intarsia_motif.config import PipelineConfig
    from intarsia_motif.job import headline_metrics

    _, report = pipeline_run
    assert report_problems(report) == []
    keys = list(report)
    after = [k for k in keys[keys.index("metrics") + 1:] if k not in ("training", "artifacts")]
    assert after[:4] == ["judge_order_consistency", "judge_kappa", "judge_kappa_symmetric", "caption_ranking"]
    # the oracle's ranking has its tie (torch = <empty>); the reward model ranks every caption
    assert "A torch flickers on the wall. = <empty>" in report["oracle_ranking"] or \
        "<empty> = A torch flickers on the wall." in report["oracle_ranking"]
    assert report["caption_ranking"].count(" > ") == len(report["highest_rewarded_captions"]) - 1
    assert report["metrics"]["caption_spearman"] > 0.8  # oracle labels
    assert report["step_unit"] == "env steps" and report["steps"] == report["agent"]["steps"]

    captions = [{"caption": "You reach the goal.", "r_norm": 1.0}, {"caption": "", "r_norm": 0.0},
                {"caption": "You bump into the wall.", "r_norm": -1.0}]
    fake = {"annotation": {"stats": {"order_consistency": 1.0}, "agreement": {"oracle": {"kappa": 0.5, "kappa_symmetric": 0.8}}},
            "agent": {"metrics": {"success_rate": 0.4, "eval_success": 0.9}},
            "baseline": {"metrics": {"success_rate": 0.1}}}
    head, metrics = headline_metrics(PipelineConfig(), fake, captions)
    assert metrics == {
        "judge_order_consistency": 1.0, "judge_kappa": 0.5, "judge_kappa_symmetric": 0.8, "caption_spearman": 1.0,
        "success_motif": 0.9, "success_extrinsic_only": 0.1}
    assert head["caption_ranking"] == "You reach the goal. > <empty> > You bump into the wall."
    assert head["oracle_ranking"] == "You reach the goal. > <empty> > You bump into the wall."
    assert list(head)[0] == "judge_order_consistency"


def test_moved_keys_fail_with_one_line(tmp_path):
    from intarsia.errors import ConfigError
    from intarsia.runner.api import run_recipe

    for key, new in (("reward_model.accelerator=cpu", "fabric.accelerator"), ("motif.device=cpu", "train.fabric.accelerator")):
        with pytest.raises(ConfigError, match=re.escape(f"moved to {new}")):
            run_recipe("motif/demo-ppo", overrides=[*SMALL, key], run_dir=tmp_path / "run")
