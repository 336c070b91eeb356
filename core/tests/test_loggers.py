"""``log.loggers``: the trackers (W&B offline, MLflow's file store) show the run's config and the metrics
metrics.csv holds, a plugin's logger receives them too, and a misspelt name is one line."""

from __future__ import annotations

import csv
import importlib.util
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from intarsia.errors import ConfigError
from intarsia.hookspecs import hookimpl
from intarsia.runner.api import run_config
from intarsia.runner.run_config import RunConfig

TINY = {"extends": "builtin/tiny", "steps": 600, "log": {"every": 200}, "checkpoint": {"every": 0}}


def _csv_rows(run_dir: Path) -> list[dict]:
    with (run_dir / "logs" / "metrics.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _offline_tracker_env(monkeypatch, home: Path) -> None:
    for var in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_PROJECT", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))  # no ~/.netrc key, and wandb's settings stay out of the real home


def _wandb_records(path: Path):
    """The protobuf records of a ``.wandb`` file (LevelDB's log format: 32 KiB blocks of chunks with a
    7-byte header: crc32, length, type full/first/middle/last)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, parts = 7, 32768, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7]) if left >= 7 else (0, 0, 0)
        if left < 7 or (length == 0 and kind == 0):  # the zero padding at a block's end
            pos += left
            continue
        parts += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(parts)
            parts = b""
            yield record


def _key(item) -> str:
    return item.key or "/".join(item.nested_key)


@pytest.mark.slow  # two trackers start up (about 30 s on a loaded 2-core machine)
def test_wandb_and_mlflow_show_the_config_and_the_metrics_offline(core_host, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    pytest.importorskip("mlflow")
    _offline_tracker_env(monkeypatch, tmp_path / "home")
    run_dir = tmp_path / "run"
    report = run_config({**TINY, "name": "tracked", "log": {**TINY["log"], "loggers": ["csv", "wandb", "mlflow"]}},
                        run_dir=run_dir)
    assert report["steps"] == 600
    rows = _csv_rows(run_dir)
    assert [int(r["step"]) for r in rows] == [200, 400, 600]
    metric = "time/sps"  # logged at every step, and different at each
    want = {int(r["step"]): float(r[metric]) for r in rows}

    # W&B: one offline run named after the run, holding the config and the metric at the same steps
    (wandb_file,) = (run_dir / "wandb").glob("offline-run-*/run-*.wandb")
    config, history, names, exit_code = {}, {}, [], None
    for record in _wandb_records(wandb_file):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            names.append(record.run.display_name)
        elif kind == "config":
            config.update({_key(i): json.loads(i.value_json) for i in record.config.update})
        elif kind == "history":
            items = {_key(i): json.loads(i.value_json) for i in record.history.item}
            if metric in items:
                history[int(items["trainer/global_step"])] = items[metric]
        elif kind == "exit":
            exit_code = record.exit.exit_code
    assert names == ["tracked"] and exit_code == 0
    assert config["steps"] == 600 and config["policy"]["name"] == "qlearning" and config["env"]["size"] == 5
    assert history == pytest.approx(want)

    # MLflow: a file store in the run directory, the config as flattened params, the metric's rows
    (meta,) = (run_dir / "mlruns").glob("*/*/meta.yaml")
    run_files = meta.parent
    assert (run_files / "tags" / "mlflow.runName").read_text() == "tracked"
    assert (run_files / "params" / "steps").read_text() == "600"
    assert (run_files / "params" / "policy" / "name").read_text() == "qlearning"
    logged = {}
    for line in (run_files / "metrics" / metric).read_text().splitlines():
        _timestamp, value, step = line.split()
        logged[int(step)] = float(value)
    assert logged == pytest.approx(want)
    from mlflow.entities import RunStatus

    assert f"status: {RunStatus.from_string('FINISHED')}" in meta.read_text()


def _wandb_exit_codes(run_dir: Path) -> list:
    codes = []
    for path in sorted((run_dir / "wandb").glob("offline-run-*/run-*.wandb")):
        codes += [r.exit.exit_code for r in _wandb_records(path) if r.WhichOneof("record_type") == "exit"]
    return codes


class BoomLoggerPlugin:
    """A logger that fails at step 400, as a job that crashes mid-run."""

    __distribution__ = "third-party-boom"

    @hookimpl
    def register_loggers(self, register):
        register("boom", factory=self.make, summary="fails at step 400")

    @staticmethod
    def make(*, run_dir, name, fit, resume_step):
        from lightning.pytorch.loggers import Logger

        class BoomLogger(Logger):
            name, version = "boom", "0"

            def log_metrics(self, metrics, step=None):
                if step is not None and step >= 400:
                    raise RuntimeError("boom")

            def log_hyperparams(self, params, *args, **kwargs):
                pass

        return BoomLogger()


@pytest.mark.slow  # two tracker runs (about 20 s on a loaded 2-core machine)
def test_a_failed_run_ends_its_tracker_runs_and_the_next_run_gets_its_own(intarsia_host, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    pytest.importorskip("mlflow")
    _offline_tracker_env(monkeypatch, tmp_path / "home")
    host = intarsia_host(BoomLoggerPlugin())
    failing = {**TINY, "log": {**TINY["log"], "loggers": ["wandb", "mlflow", "boom"]}}
    with pytest.raises(RuntimeError, match="boom"):
        run_config(failing, run_dir=tmp_path / "a", registry=host.registry)
    assert _wandb_exit_codes(tmp_path / "a") == [1]
    from mlflow.entities import RunStatus

    (meta,) = (tmp_path / "a" / "mlruns").glob("*/*/meta.yaml")
    assert f"status: {RunStatus.from_string('FAILED')}" in meta.read_text()
    run_config({**TINY, "log": {**TINY["log"], "loggers": ["csv", "wandb"]}}, run_dir=tmp_path / "b",
               registry=host.registry)
    assert _wandb_exit_codes(tmp_path / "b") == [0]  # a run of its own, not the failed one reused


class MemoryLoggerPlugin:
    """A third-party plugin's logger: keeps what it receives in a list."""

    __distribution__ = "third-party-logger"
    seen: list = []

    @hookimpl
    def register_loggers(self, register):
        register("memory", factory=self.make, summary="metrics kept in memory")

    @hookimpl
    def register_jobs(self, register):
        register("fit", factory=fit_job, config=FitConfig, summary="a Trainer job")

    @classmethod
    def make(cls, *, run_dir, name, fit, resume_step):
        from lightning.pytorch.loggers import Logger  # a Trainer's kind of logger, which serves Fabric too

        seen = cls.seen

        class MemoryLogger(Logger):
            name = "memory"
            version = "0"

            def log_metrics(self, metrics, step=None):
                seen.append(("metrics", step, dict(metrics)))

            def log_hyperparams(self, params, *args, **kwargs):
                seen.append(("config", f"{name}/{fit}" if fit is not None else name, dict(params)))

        return MemoryLogger()


@dataclass
class FitConfig(RunConfig):
    job: str = "fit"
    """the job that runs this config"""


def fit_job(config: FitConfig, *, run) -> dict:
    import lightning as L
    import torch

    torch.manual_seed(config.seed)
    x = torch.randn(32, 3)

    class Reg(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 1)

        def training_step(self, batch, _):
            loss = self.lin(batch[0]).pow(2).mean()
            self.log("loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=8)
    trainer = run.trainer(config, name="reg", max_epochs=2, log_every_n_steps=1)
    run.fit(trainer, Reg(), loader)
    return run.report(steps=trainer.global_step, unit="optimizer steps", metrics={})


def test_a_plugin_logger_receives_the_config_and_every_metric(intarsia_host, tmp_path):
    host = intarsia_host(MemoryLoggerPlugin())
    MemoryLoggerPlugin.seen.clear()
    run_config({**TINY, "name": "mem", "log": {**TINY["log"], "loggers": ["csv", "memory"]}}, run_dir=tmp_path,
               registry=host.registry)
    (config,) = [entry for entry in MemoryLoggerPlugin.seen if entry[0] == "config"]
    assert config[1] == "mem" and config[2]["steps"] == 600 and config[2]["log"]["loggers"] == ["csv", "memory"]
    metrics = {step: values for kind, step, values in MemoryLoggerPlugin.seen if kind == "metrics"}
    rows = _csv_rows(tmp_path)
    assert sorted(metrics) == [int(r["step"]) for r in rows] == [200, 400, 600]
    for row in rows:
        assert metrics[int(row["step"])]["time/sps"] == pytest.approx(float(row["time/sps"]))
    assert not (tmp_path / "tensorboard").exists()  # the list replaces the default one


def test_a_trainer_fit_logs_to_the_same_list(intarsia_host, tmp_path):
    host = intarsia_host(MemoryLoggerPlugin())
    MemoryLoggerPlugin.seen.clear()
    run_config({"job": "fit", "name": "f", "fabric": {"accelerator": "cpu"}, "checkpoint": {"every": 0},
                "log": {"progress": False, "loggers": ["csv", "tensorboard", "memory"]}}, run_dir=tmp_path,
               registry=host.registry)
    configs = [entry for entry in MemoryLoggerPlugin.seen if entry[0] == "config"]
    assert configs and configs[0][1] == "f/reg" and configs[0][2]["job"] == "fit"
    losses = [(step, values["loss"]) for kind, step, values in MemoryLoggerPlugin.seen
              if kind == "metrics" and "loss" in values]
    rows = [r for r in csv.DictReader((tmp_path / "logs" / "reg" / "metrics.csv").open()) if r.get("loss")]
    assert [s for s, _ in losses] == [int(r["step"]) for r in rows] and len(rows) == 8
    assert [v for _, v in losses] == pytest.approx([float(r["loss"]) for r in rows])
    if importlib.util.find_spec("tensorboard") is not None:
        assert list((tmp_path / "tensorboard" / "reg").glob("events.out.tfevents.*"))


def test_a_misspelt_logger_is_one_line_naming_the_key_and_a_guess(core_host, tmp_path):
    with pytest.raises(ConfigError) as info:
        run_config({**TINY, "log": {**TINY["log"], "loggers": ["csv", "wandbb"]}}, run_dir=tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("log.loggers: unknown logger 'wandbb'. Did you mean 'wandb'")
    assert "Available: csv, mlflow, tensorboard, wandb" in message


def test_tensorboard_false_still_drops_tensorboard():
    from intarsia.runner.loggers import logger_names
    from intarsia.runner.train_config import TrainConfig

    config = TrainConfig()
    assert logger_names(config) == ["csv", "tensorboard"]
    config.log.tensorboard = False
    assert logger_names(config) == ["csv"]
    config.log.loggers = ["csv", "wandb", "csv", "tensorboard"]
    assert logger_names(config) == ["csv", "wandb"]


def test_the_builtin_loggers_are_listed(core_host):
    assert core_host.registry.names("loggers") == ["csv", "mlflow", "tensorboard", "wandb"]
