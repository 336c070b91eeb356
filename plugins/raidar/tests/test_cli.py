"""The commands: `intarsia raidar eval|fit` and `intarsia detect`, on the News data and synthetic records."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner
from intarsia_raidar.cli import add_commands
from raidar_testdata import synthetic_records


@pytest.fixture
def group():
    g = click.Group("intarsia")
    add_commands(g)
    return g


def test_eval_news_offline_json(group, news_paths, tmp_path):
    human, machine = news_paths
    plot = tmp_path / "roc.png"
    res = CliRunner().invoke(group, ["raidar", "eval", "--human", str(human), "--machine", str(machine),
                                     "--seeds", "3", "--json", "--plot", str(plot)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert {"f1", "auroc", "floor_f1"} <= set(out) and out["n_splits"] == 3
    assert out["n_machine"] == 479 and out["n_human"] == 730 and len(out["prompts"]) == 6
    assert out["auroc"] > 0.55 and 0.55 < out["floor_f1"] < 0.59
    assert plot.stat().st_size > 1000


def test_fit_then_detect_roundtrip(group, tmp_path):
    records, labels = synthetic_records(30, seed=3)
    (tmp_path / "m.json").write_text(json.dumps([r for r, y in zip(records, labels, strict=True) if y == 1]))
    (tmp_path / "h.json").write_text(json.dumps([r for r, y in zip(records, labels, strict=True) if y == 0]))
    model = tmp_path / "model.json"
    res = CliRunner().invoke(group, ["raidar", "fit", "--human", str(tmp_path / "h.json"), "--machine",
                                     str(tmp_path / "m.json"), "--out", str(model), "--classifier", "gbt"])
    assert res.exit_code == 0, res.output
    test, test_labels = synthetic_records(10, seed=4)
    (tmp_path / "test.jsonl").write_text("\n".join(json.dumps(r) for r in test))
    res = CliRunner().invoke(group, ["detect", "--model", str(model), "--json", str(tmp_path / "test.jsonl")])
    assert res.exit_code == 0, res.output
    probs = [row["probability"] for row in json.loads(res.stdout)]
    acc = sum((p >= 0.5) == bool(y) for p, y in zip(probs, test_labels, strict=True)) / len(probs)
    assert acc >= 0.9
    res = CliRunner().invoke(group, ["detect", "--model", str(model), str(tmp_path / "test.jsonl")])
    assert res.stdout.count("\n") == 20 and "test.jsonl:1" in res.stdout


@pytest.mark.parametrize("split, n", [("kfold", 2 * 3), ("head", 1)])
def test_eval_other_splits_and_classifiers(group, tmp_path, split, n):
    records, labels = synthetic_records(40, seed=5)
    (tmp_path / "m.json").write_text(json.dumps([r for r, y in zip(records, labels, strict=True) if y == 1]))
    (tmp_path / "h.json").write_text(json.dumps([r for r, y in zip(records, labels, strict=True) if y == 0]))
    res = CliRunner().invoke(group, ["raidar", "eval", "--human", str(tmp_path / "h.json"), "--machine",
                                     str(tmp_path / "m.json"), "--split", split, "--seeds", "2", "--folds", "3",
                                     "--head-n", "10", "--classifier", "mlp", "--json", "--plot",
                                     str(tmp_path / "r.png")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n_splits"] == n and out["f1"] > 0.85 and out["auroc"] > 0.9


def test_rewrite_command_writes_paper_format_records(group, tmp_path, monkeypatch):
    import intarsia_raidar.rewrite as rewrite
    from raidar_fakes import ScriptedLLM

    llm = ScriptedLLM(lambda request: request.split(": ", 1)[1].upper())
    monkeypatch.setattr(rewrite, "build_llm", lambda name, options=None: llm)
    (tmp_path / "texts.jsonl").write_text('"First text here."\n{"text": "Second one."}\n')
    out = tmp_path / "records.json"
    res = CliRunner().invoke(group, ["raidar", "rewrite", str(tmp_path / "texts.jsonl"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    records = json.loads(out.read_text())
    assert len(records) == 2 and len(records[0]) == 1 + 7
    assert records[1]["Help me polish this"] == "SECOND ONE." and records[0]["input"] == "First text here."


def test_through_the_intarsia_cli(intarsia_host, tmp_path, capsys):
    cli = pytest.importorskip("intarsia.cli")
    import intarsia_raidar.plugin as plugin

    intarsia_host(plugin)
    records, labels = synthetic_records(20, seed=6)
    (tmp_path / "m.json").write_text(json.dumps([r for r, y in zip(records, labels, strict=True) if y == 1]))
    (tmp_path / "h.json").write_text(json.dumps([r for r, y in zip(records, labels, strict=True) if y == 0]))
    rc = cli.main(["raidar", "eval", "--human", str(tmp_path / "h.json"), "--machine", str(tmp_path / "m.json"),
                   "--json", "--seeds", "2", "--plot", str(tmp_path / "r.png")])
    assert rc == 0
    assert json.loads(capsys.readouterr().out)["n_splits"] == 2
    rc = cli.main(["raidar", "eval", "--human", str(tmp_path / "nope.json"), "--machine", str(tmp_path / "m.json")])
    assert rc == 2 and "nope.json: cannot read" in capsys.readouterr().err


def test_cli_and_plugin_modules_import_nothing_heavy():
    code = ("import sys, intarsia_raidar.plugin, intarsia_raidar.cli, intarsia_raidar.config; "
            "heavy = [m for m in ('numpy', 'sklearn', 'rapidfuzz', 'matplotlib', 'torch') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
