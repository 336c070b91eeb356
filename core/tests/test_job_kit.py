"""The job kit: a third-party job written only on the run context is resumable, reports in the one schema,
runs stages and child runs, and a Trainer job resumes from the same checkpoint store."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from intarsia import hookimpl
from intarsia.errors import IntarsiaError
from intarsia.runner.api import resume_run, run_config
from intarsia.runner.context import report_problems
from intarsia.runner.run_config import CheckpointConfig, RunConfig


@dataclass
class CountCheckpoint(CheckpointConfig):
    every: int = 5
    """iterations between checkpoints"""


@dataclass
class CountConfig(RunConfig):
    job: str = "count"
    """the job that runs this config"""
    iterations: int = 20
    """iterations to run"""
    crash_at: int = -1
    """raise at this iteration (a killed run)"""
    child: bool = False
    """also run a child count run"""
    checkpoint: CountCheckpoint = field(default_factory=CountCheckpoint)
    """checkpoint period"""


CALLS: list[int] = []


def run_count(config: CountConfig, *, run) -> dict:
    """A job that sums random draws: resumed, it must continue the same random stream."""
    import torch

    fabric = run.launch_fabric(config)
    state = run.restore(fabric)
    i, total = (int(state["step"]), float(state["total"])) if state else (0, 0.0)
    if config.child:
        run.child("inner", {"job": "count", "name": "inner", "iterations": 3, "log": {"progress": False}})
    with run.progress(config.iterations, done=i, unit="iterations", enabled=False) as bar:
        while i < config.iterations:
            if i == config.crash_at:
                raise RuntimeError("killed")
            total += float(torch.rand(()))
            i += 1
            CALLS.append(i)
            bar.advance(1, f"total {total:.2f}")
            if i % config.checkpoint.every == 0:
                run.save(fabric, i, {"total": total}, keep=config.checkpoint.keep)
    staged = run.stage("summary", lambda: {"total": total})
    (run.dir / "out.txt").write_text(f"{total}\n")
    return run.report(steps=i, unit="iterations", metrics={"total": total}, training={"staged": staged["total"]},
                      artifacts=["out.txt", "never-written.png"])


class CountPlugin:
    __distribution__ = "third-party-count"

    @hookimpl
    def register_jobs(self, register):
        register("count", factory=run_count, config=CountConfig, summary="sums random draws")


@pytest.fixture
def count_host(intarsia_host):
    return intarsia_host(CountPlugin())


def test_a_killed_job_resumes_on_the_same_random_stream_and_reports_the_schema(count_host, tmp_path):
    whole = run_config({"job": "count", "log": {"progress": False}}, run_dir=tmp_path / "whole", registry=count_host.registry)
    with pytest.raises(RuntimeError, match="killed"):
        run_config({"job": "count", "crash_at": 12, "log": {"progress": False}}, run_dir=tmp_path / "cut",
                   registry=count_host.registry)
    CALLS.clear()
    resumed = resume_run(tmp_path / "cut", ["crash_at=-1"], registry=count_host.registry)
    assert CALLS[0] == 11  # continued after the checkpoint at 10, not from 0
    assert resumed["metrics"]["total"] == pytest.approx(whole["metrics"]["total"])
    assert report_problems(resumed) == []
    assert resumed["steps"] == 20 and resumed["step_unit"] == "iterations" and resumed["job"] == "count"
    assert resumed["artifacts"] == ["out.txt"]  # what was never written is not listed
    on_disk = json.loads((tmp_path / "cut" / "report.json").read_text())
    assert on_disk["metrics"] == resumed["metrics"]


def test_stages_and_child_runs_are_skipped_once_finished(count_host, tmp_path):
    first = run_config({"job": "count", "child": True, "log": {"progress": False}}, run_dir=tmp_path,
                       registry=count_host.registry)
    child_report = json.loads((tmp_path / "inner" / "report.json").read_text())
    assert child_report["steps"] == 3 and (tmp_path / "stages" / "summary.json").is_file()
    CALLS.clear()
    again = resume_run(tmp_path, registry=count_host.registry)
    assert CALLS == []  # the finished child was not run again, nor the main loop
    assert again["training"] == first["training"]


def test_report_sections_may_not_shadow_the_schema(count_host, tmp_path):
    from intarsia.runner.context import RunContext

    ctx = RunContext(dir=tmp_path)
    with pytest.raises(IntarsiaError, match="clash"):
        ctx.report(steps=1, unit="iterations", metrics={}, steps_done=1, seconds=1.0, world_size=3)


# -- a Trainer job on the same store ------------------------------------------------------------------
@dataclass
class FitConfig(RunConfig):
    job: str = "fit"
    """the job that runs this config"""
    epochs: int = 6
    """epochs to fit"""
    crash_after_epoch: int = -1
    """raise at the end of this epoch (a killed fit)"""


def run_fit(config: FitConfig, *, run) -> dict:
    import lightning as L
    import torch

    torch.manual_seed(config.seed)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5])

    class Reg(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 1)

        def training_step(self, batch, _):
            xb, yb = batch
            loss = torch.nn.functional.mse_loss(self.lin(xb).squeeze(-1), yb)
            self.log("loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    class Crash(L.Callback):
        def on_train_epoch_end(self, trainer, module):
            if trainer.current_epoch == config.crash_after_epoch:
                raise RuntimeError("killed")

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
    module = Reg()
    trainer = run.trainer(config, max_epochs=config.epochs, callbacks=[Crash()], log_every_n_steps=1)
    run.fit(trainer, module, loader)
    loss = float(torch.nn.functional.mse_loss(module.lin(x).squeeze(-1), y))
    return run.report(steps=trainer.global_step, unit="optimizer steps", metrics={"loss": loss})


class FitPlugin:
    __distribution__ = "third-party-fit"

    @hookimpl
    def register_jobs(self, register):
        register("fit", factory=run_fit, config=FitConfig, summary="a Trainer job")


def test_a_trainer_job_resumes_from_the_core_store_and_keeps_its_metric_rows(intarsia_host, tmp_path):
    host = intarsia_host(FitPlugin())
    base = {"job": "fit", "fabric": {"accelerator": "cpu"}, "checkpoint": {"every": 0}, "log": {"progress": False}}
    whole = run_config(base, run_dir=tmp_path / "whole", registry=host.registry)
    with pytest.raises(RuntimeError, match="killed"):
        run_config({**base, "crash_after_epoch": 2}, run_dir=tmp_path / "cut", registry=host.registry)
    store = tmp_path / "cut" / "checkpoints"
    assert json.loads((store / "latest.json").read_text())["step"] == 12  # epochs 0-2 saved (4 steps each), then killed
    resumed = resume_run(tmp_path / "cut", ["crash_after_epoch=-1"], registry=host.registry)
    assert resumed["steps"] == whole["steps"] == 24
    assert resumed["metrics"]["loss"] == pytest.approx(whole["metrics"]["loss"], rel=1e-5)
    import csv

    rows = list(csv.DictReader((tmp_path / "cut" / "logs" / "metrics.csv").open()))
    steps = [int(r["step"]) for r in rows if r.get("loss")]
    assert steps == sorted(set(steps)) and len(steps) == 24  # no row lost, none twice
    assert len(list(store.glob("step-*.trainer.ckpt"))) <= 2
