"""The train job: reports and plots, learning, reward composition, checkpoints, resume, kill -9, DDP."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from intarsia.runner.api import resume_run, run_config
from intarsia.testing import CLI, run_cli

INTARSIA = list(CLI)
GRID = {"name": "t", "seed": 0, "num_envs": 2, "cpu_threads": 1, "env": {"name": "CaptionedGrid-v0", "size": 5, "max_steps": 30},
        "fabric": {"accelerator": "cpu"}, "log": {"every": 200, "tensorboard": False}}


def test_run_writes_report_plot_logs_and_checkpoints(core_host, tmp_path):
    cfg = {**GRID, "steps": 600, "policy": {"name": "random"}, "checkpoint": {"every": 200, "keep": 2}}
    report = run_config(cfg, run_dir=tmp_path)
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["steps"] == report["steps"] == 600
    assert {"recipe", "steps", "seconds", "metrics"} <= set(on_disk)
    assert on_disk["metrics"]["episodes"] >= 600 // 30
    assert (tmp_path / "learning_curve.png").stat().st_size > 1000
    assert (tmp_path / "logs" / "metrics.csv").read_text().count("\n") >= 3
    assert (tmp_path / "config.yaml").exists()
    ckpts = sorted((tmp_path / "checkpoints").glob("step-*.rank0.pt"))
    assert len(ckpts) == 2 and ckpts[-1].name == "step-000000000600.rank0.pt"
    torch.load(ckpts[-1], weights_only=True)  # loadable without unpickling arbitrary objects


def test_reference_agent_learns_the_gridworld(core_host, tmp_path):
    """Random success is about 2%; Q-learning with n-step returns solves the 5x5 grid."""
    random = run_config({**GRID, "steps": 4000, "env": {"name": "CaptionedGrid-v0", "size": 5, "max_steps": 40},
                         "policy": {"name": "random"}}, run_dir=tmp_path / "random")
    learned = run_config({**GRID, "steps": 20000, "num_envs": 4, "env": {"name": "CaptionedGrid-v0", "size": 5, "max_steps": 40},
                          "policy": {"name": "qlearning", "eps_decay_steps": 10000},
                          "eval": {"final": True, "episodes": 10}}, run_dir=tmp_path / "q")
    assert random["metrics"]["success_rate"] < 0.2
    assert learned["metrics"]["eval_success"] >= 0.9
    assert learned["metrics"]["success_rate"] >= 0.7


def test_reward_terms_are_weighted_logged_and_handed_to_the_policy(intarsia_host, tmp_path):
    from intarsia import hookimpl

    seen = []

    class Spy:
        """A policy that records what the runner hands it."""

        wants_reward_terms = True

        def __init__(self, config=None, *, env_spec, fabric):
            assert env_spec.reward_terms == ("extrinsic", "constant", "caption")
            self.space = env_spec.action_space

        def act(self, obs, state, *, explore=True, reset=None):
            return [self.space.sample() for _ in range(len(obs))], state

        def observe(self, batch):
            seen.append(batch)

        def update(self, step):
            return {}

        def state_dict(self):
            return {}

        def load_state_dict(self, state):
            pass

    class Plugin:
        @hookimpl
        def register_policies(self, register):
            register("spy", factory=Spy)

    intarsia_host(Plugin())
    cfg = {**GRID, "steps": 200, "policy": {"name": "spy"}, "extrinsic_coef": 2.0,
           "rewards": [{"name": "constant", "coef": 0.5, "value": 3.0}, {"name": "caption", "coef": 1.0, "phrase": "wall"}]}
    report = run_config(cfg, run_dir=tmp_path)
    b = seen[0]
    assert set(b.reward_terms) == {"extrinsic", "constant", "caption"}
    assert b.reward_terms["constant"].tolist() == [1.5, 1.5]
    for b in seen:
        total = sum(b.reward_terms.values())
        assert (abs(b.reward - total) < 1e-6).all()
        assert (b.reward_terms["extrinsic"] == 2.0 * b.env_reward).all()
    assert report["metrics"]["reward_constant_mean"] == pytest.approx(1.5 * 30)
    header = (tmp_path / "logs" / "metrics.csv").read_text().splitlines()[0]
    assert "reward/constant" in header and "reward/caption" in header


def test_one_reward_twice_needs_labels(core_host, tmp_path):
    from intarsia.errors import IntarsiaError

    twice = [{"name": "constant", "value": 1.0}, {"name": "constant", "value": 2.0}]
    cfg = {**GRID, "steps": 60, "policy": {"name": "random"}, "rewards": twice}
    with pytest.raises(IntarsiaError, match="label"):
        run_config(cfg, run_dir=tmp_path / "a")
    twice[1]["label"] = "bonus"
    report = run_config(cfg, run_dir=tmp_path / "b")
    assert report["metrics"]["reward_bonus_mean"] == pytest.approx(2.0 * 30)


def _wait_for(path: Path, timeout: float) -> None:
    end = time.time() + timeout
    while not path.exists():
        if time.time() > end:
            raise TimeoutError(path)
        time.sleep(0.05)


def _csv_rows(run_dir: Path) -> list[dict]:
    with (run_dir / "logs" / "metrics.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_kill_9_then_resume_keeps_every_metrics_row_once(tmp_path):
    """The probe's runs: a second `run` and a `resume` into a directory that is still running are refused
    (they used to interleave with it); after kill -9 the lock is gone, and the resume keeps every metrics
    row up to the last checkpoint, once, followed by the rest of the run."""
    cfg = tmp_path / "run.yaml"
    cfg.write_text(json.dumps({**GRID, "name": "killed", "steps": 1_000_000, "log": {"every": 250, "tensorboard": False},
                               "policy": {"name": "qlearning", "train_every": 2},
                               "checkpoint": {"every": 1000, "keep": 2}}))
    run_dir = tmp_path / "run"
    env = {"INTARSIA_LOAD_PLUGINS": ""}
    proc = subprocess.Popen([*INTARSIA, "run", str(cfg), "--run-dir", str(run_dir)],
                            env={**os.environ, **env, "INTARSIA_NO_PROGRESS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(run_dir / "checkpoints" / "latest.json", 300)
        for args in (["run", str(cfg), "--run-dir", str(run_dir)], ["resume", str(run_dir)]):
            out = run_cli(*args, env=env)
            assert out.returncode == 2 and f"is in use by process {proc.pid}" in out.stderr, out.stderr
        assert proc.poll() is None, "the first run should still be running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not (run_dir / "report.json").exists(), "the run should have been killed before finishing"
    done_before = json.loads((run_dir / "checkpoints" / "latest.json").read_text())["step"]
    assert done_before >= 1000
    before = _csv_rows(run_dir)
    target = done_before + 1000
    out = run_cli("resume", str(run_dir), f"steps={target}", env=env)
    assert out.returncode == 0, out.stderr
    # it continued from the last checkpoint written before the kill: at most one interval was lost
    assert f"resumed from step {done_before} " in out.stdout
    report = json.loads((run_dir / "report.json").read_text())
    assert report["steps"] == target
    assert report["metrics"]["episodes"] >= target / 30 * 0.9  # episode history survived the kill
    assert f"steps: {target}" in (run_dir / "config.yaml").read_text()
    rows = _csv_rows(run_dir)
    assert [int(r["step"]) for r in rows] == list(range(250, target + 1, 250))  # every row, once
    kept = [r for r in before if int(r["step"]) <= done_before]
    assert len(kept) == done_before // 250
    assert [{k: r[k] for k in kept[0]} for r in rows[:len(kept)]] == kept  # the rows before the kill, as written


def test_resume_continues_from_the_checkpoint_and_can_extend(core_host, tmp_path):
    cfg = {**GRID, "steps": 400, "policy": {"name": "qlearning", "learning_starts": 50}, "checkpoint": {"every": 200}}
    first = run_config(cfg, run_dir=tmp_path)
    again = resume_run(tmp_path, ["steps=800"])
    assert first["steps"] == 400 and again["steps"] == 800
    assert again["seconds"] >= first["seconds"]


def test_a_used_run_dir_is_not_overwritten(core_host, tmp_path):
    from intarsia.errors import IntarsiaError

    cfg = {**GRID, "steps": 100, "policy": {"name": "random"}}
    run_config(cfg, run_dir=tmp_path)
    with pytest.raises(IntarsiaError, match="already holds a run"):
        run_config(cfg, run_dir=tmp_path)


def test_ddp_on_two_cpu_processes(tmp_path):
    cfg = tmp_path / "ddp.yaml"
    cfg.write_text(json.dumps({**GRID, "name": "ddp", "steps": 2000, "policy": {"name": "qlearning", "learning_starts": 100},
                               "checkpoint": {"every": 1000}}))
    run_dir = tmp_path / "run"
    env = {**os.environ, "INTARSIA_LOAD_PLUGINS": "", "INTARSIA_NO_PROGRESS": "1"}
    out = subprocess.run([*INTARSIA, "run", str(cfg), "--run-dir", str(run_dir), "fabric.devices=2",
                          "fabric.strategy=ddp", "fabric.accelerator=cpu"], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["world_size"] == 2 and report["steps"] == 2000
    rank0 = torch.load(run_dir / "checkpoints" / "step-000000002000.rank0.pt", weights_only=True)
    rank1 = torch.load(run_dir / "checkpoints" / "step-000000002000.rank1.pt", weights_only=True)
    for key, value in rank0["policy"]["q"].items():  # gradients were all-reduced: identical weights
        torch.testing.assert_close(value, rank1["policy"]["q"][key])


def test_async_env_workers_are_spawned_once_cuda_is_initialised(monkeypatch):
    import torch
    from intarsia.runner.vector import worker_start_method

    assert worker_start_method() is None  # no CUDA here: the platform's fast default
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    assert worker_start_method() == "spawn"
