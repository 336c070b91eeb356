"""``intarsia resume`` of a crl run continues its fit and keeps the metrics rows logged before."""

from __future__ import annotations

import csv

from intarsia.runner.api import resume_run, run_config
from intarsia_crl import plugin

FLAT = {
    "job": "crl", "name": "resume-flat", "seed": 0,
    "sprites": {"num_objects": 2, "properties": ["x", "y"], "image_size": 16, "injective": True,
                "num_pairs": 320, "val_pairs": 64, "radius_range": [0.1, 0.14]},
    "model": {"encoder": "flat", "hidden_dim": 16, "cnn_layers": 2, "cnn_stride": 2, "kernel_size": 3,
              "flat_width": 32},
    "train": {"epochs": 4, "batch_size": 32, "lr": 2e-3},
    "fabric": {"accelerator": "cpu"}, "cpu_threads": 1,
    "plots": False,
}


def _steps(run_dir) -> list[int]:
    with open(run_dir / "logs" / "metrics.csv", newline="") as fh:
        return sorted(int(row["step"]) for row in csv.DictReader(fh))


def test_a_resumed_fit_keeps_the_rows_logged_before_it(intarsia_host, tmp_path):
    intarsia_host(plugin)
    straight = run_config(FLAT, run_dir=tmp_path / "a")
    run_config({**FLAT, "train": {**FLAT["train"], "epochs": 2}}, run_dir=tmp_path / "b")
    before = _steps(tmp_path / "b")
    resumed = resume_run(tmp_path / "b", ["train.epochs=4"])
    assert resumed["steps"] == straight["steps"] == 40 and resumed["training"]["epochs"] == 4
    after = _steps(tmp_path / "b")
    assert before and after[: len(before)] == before  # the first session's rows survived
    assert after == _steps(tmp_path / "a")  # each step once, as in the uninterrupted run
