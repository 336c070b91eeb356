"""The capprobe stages are fits of the run context's Trainer: ``log.loggers`` reach every stage's fit, and a
stage interrupted mid-fit resumes from its own checkpoint (with its learning curve)."""

from __future__ import annotations

import csv
import json

import pytest
from intarsia import hookimpl
from intarsia.runner.api import resume_run, run_config

SMALL = {
    "extends": "capprobe/counter", "fabric": {"accelerator": "cpu"}, "cpu_threads": 1,
    "log": {"tensorboard": False},
    "model": {"n_layer": 1, "d_model": 16, "n_head": 2},
    "pretrain": {"steps": 12, "samples": 256, "batch_size": 32, "eval_every": 6},
    "finetune": {"steps": 4, "samples": 256, "batch_size": 32, "eval_every": 2},
    "reverse": {"steps": 4, "samples": 256, "batch_size": 32, "eval_every": 2},
    "scratch": {"steps": 4, "samples": 256, "batch_size": 32, "eval_every": 2},
    "sweep": {"enabled": False},
    "prune": {"ks": [0, 4], "random_repeats": 1}, "prune_k": 4,
    "eval_samples": 64, "probe_samples": 120,
}
STAGES = ("pretrain_high", "finetune", "reverse", "scratch")


class MemoryLoggerPlugin:
    """Another distribution's logger: keeps what every fit sends it."""

    __distribution__ = "third-party-logger"
    seen: list = []

    @hookimpl
    def register_loggers(self, register):
        register("memory", factory=self.make, summary="metrics kept in memory")

    @classmethod
    def make(cls, *, run_dir, name, fit, resume_step):
        from lightning.pytorch.loggers import Logger

        seen = cls.seen

        class MemoryLogger(Logger):
            name, version = "memory", "0"

            def log_metrics(self, metrics, step=None):
                seen.append(("metrics", fit, dict(metrics)))

            def log_hyperparams(self, params, *args, **kwargs):
                seen.append(("config", fit, dict(params)))

        return MemoryLogger()


def test_log_loggers_reach_every_stage_fit(intarsia_host, tmp_path):
    from intarsia_capprobe import plugin

    host = intarsia_host(plugin, MemoryLoggerPlugin())
    MemoryLoggerPlugin.seen.clear()
    run_config({**SMALL, "log": {**SMALL["log"], "loggers": ["csv", "memory"]}}, run_dir=tmp_path / "run",
               registry=host.registry)
    seen = MemoryLoggerPlugin.seen
    for stage in STAGES:
        configs = [p for kind, fit, p in seen if kind == "config" and fit == stage]
        assert configs and configs[0]["job"] == "capprobe", stage  # the run's config as hyperparameters
        keys = set().union(*(m for kind, fit, m in seen if kind == "metrics" and fit == stage))
        assert {"train/loss", "eval/acc"} <= keys, (stage, keys)
        assert (tmp_path / "run" / "logs" / stage / "metrics.csv").is_file()
    # a finished stage's fit checkpoints are gone (its model is in models/, its result in stages/)
    assert not any((tmp_path / "run" / "checkpoints" / s).exists() for s in STAGES)


def test_a_stage_interrupted_mid_fit_resumes_from_its_checkpoint(tmp_path, monkeypatch, capfd):
    from intarsia_capprobe import training

    real = training.exact_match
    calls = {"n": 0}

    def interrupted_at_step_6(model, data, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # pre-training's evaluation at step 6: after the checkpoint at step 5
            raise RuntimeError("killed mid-fit")
        return real(model, data, *args, **kwargs)

    monkeypatch.setattr(training, "exact_match", interrupted_at_step_6)
    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="killed mid-fit"):
        run_config({**SMALL, "checkpoint": {"every": 5}}, run_dir=run_dir)
    ckpts = run_dir / "checkpoints" / "pretrain_high"
    assert json.loads((ckpts / "latest.json").read_text())["step"] == 5
    capfd.readouterr()

    resume_run(run_dir)
    err = capfd.readouterr().err
    assert "resuming the fit from" in err and "step-000000000005" in err
    done = json.loads((run_dir / "stages" / "pretrain_high.json").read_text())
    assert done["steps"] == 12
    # the curve's step-0 point came back with the checkpoint; the resumed fit did not evaluate at step 5
    assert [s for s, _ in done["curve"]] == [0, 6, 12]
    with (run_dir / "logs" / "pretrain_high" / "metrics.csv").open(newline="") as fh:
        loss_steps = [int(r["step"]) for r in csv.DictReader(fh) if r.get("train/loss")]
    assert len(loss_steps) == len(set(loss_steps))  # the rows past step 5 the first session wrote are dropped
