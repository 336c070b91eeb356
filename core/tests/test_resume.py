"""Resuming loses nothing: a finished run resumes to the same report, a failed resume leaves config.yaml
alone, damaged or unmarked checkpoints fall back to the older ones kept, and leftovers of killed writes go."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest
from intarsia.errors import IntarsiaError
from intarsia.runner.api import resume_run, run_config

GRID = {"name": "t", "seed": 0, "num_envs": 2, "cpu_threads": 1,
        "env": {"name": "CaptionedGrid-v0", "size": 5, "max_steps": 30},
        "fabric": {"accelerator": "cpu"}, "log": {"every": 100, "tensorboard": False}}
QLEARN = {**GRID, "steps": 600, "policy": {"name": "qlearning", "learning_starts": 50, "hidden": 16},
          "checkpoint": {"every": 200, "keep": 2}}


def _steps_logged(run_dir) -> list[int]:
    with (run_dir / "logs" / "metrics.csv").open(newline="") as fh:
        return [int(row["step"]) for row in csv.DictReader(fh)]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    return proc.pid


def test_resuming_a_finished_run_gives_the_same_report_and_metrics(core_host, tmp_path):
    """The probe saw metrics.csv cut to one row and the report's policy_* metrics gone."""
    first = run_config({**QLEARN, "eval": {"final": True, "episodes": 3}}, run_dir=tmp_path)
    csv_text = (tmp_path / "logs" / "metrics.csv").read_text()
    assert any(k.startswith("policy_") for k in first["training"])
    again = resume_run(tmp_path)
    assert again["metrics"] == first["metrics"] and again["training"] == first["training"] and again["steps"] == first["steps"]
    assert (tmp_path / "logs" / "metrics.csv").read_text() == csv_text


def test_a_failed_resume_leaves_config_yaml_as_it_was(core_host, tmp_path):
    run_config(QLEARN, run_dir=tmp_path)
    config_before = (tmp_path / "config.yaml").read_text()
    with pytest.raises(IntarsiaError, match="does not fit this config .*size mismatch.*resume without the overrides"):
        resume_run(tmp_path, ["policy.hidden=32", "steps=800"])
    assert (tmp_path / "config.yaml").read_text() == config_before
    assert resume_run(tmp_path, ["steps=800"])["steps"] == 800  # a plain resume still works
    assert "steps: 800" in (tmp_path / "config.yaml").read_text()


def test_damaged_or_unmarked_checkpoints_fall_back_and_leftovers_are_removed(core_host, tmp_path, capsys):
    run_config(QLEARN, run_dir=tmp_path)
    ckpts = tmp_path / "checkpoints"
    newest = ckpts / "step-000000000600.rank0.pt"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # cut short, as by a full disk
    dead = _dead_pid()
    leftovers = [tmp_path / f".config.yaml.tmp{dead}", ckpts / f"step-000000000800.rank0.pt.tmp{dead}"]
    for p in leftovers:
        p.write_text("partial")

    assert resume_run(tmp_path, ["steps=800"])["steps"] == 800
    out = capsys.readouterr()
    assert "resumed from step 400 " in out.out
    assert "step-000000000600.rank0.pt" in out.err and "resuming from the older checkpoint at step 400" in out.err
    assert not any(p.exists() for p in leftovers)
    assert _steps_logged(tmp_path) == list(range(100, 801, 100))  # rows after step 400 replaced, not doubled

    (ckpts / "latest.json").unlink()  # used to restart silently from step 0
    assert resume_run(tmp_path, ["steps=1000"])["steps"] == 1000
    out = capsys.readouterr()
    assert "resumed from step 800 " in out.out and "latest.json is missing" in out.err

    for p in ckpts.glob("step-*.pt"):
        p.write_bytes(b"not a checkpoint")
    with pytest.raises(IntarsiaError, match="no checkpoint in .* can be loaded .*start a new run"):
        resume_run(tmp_path, ["steps=1200"])


def test_tensorboard_hides_what_a_killed_run_logged_past_its_checkpoint(core_host, tmp_path):
    """A resumed run logs again every step after its checkpoint; TensorBoard must not draw those twice."""
    pytest.importorskip("tensorboard")
    from intarsia.runner.loggers import make_loggers
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    first = make_loggers(["tensorboard"], tmp_path, registry=core_host.registry)[0]
    for step in range(11):  # the killed session got to step 10; its last checkpoint was at step 5
        first.log_metrics({"x": float(step)}, step=step)
    first.finalize("failed")
    resumed = make_loggers(["tensorboard"], tmp_path, registry=core_host.registry)[0]
    resumed.resume_from(5)
    for step in range(6, 9):
        resumed.log_metrics({"x": 100.0 + step}, step=step)
    resumed.finalize("success")
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    seen = [(e.step, e.value) for e in events.Scalars("x")]
    assert seen == [(s, float(s)) for s in range(6)] + [(s, 100.0 + s) for s in range(6, 9)]
