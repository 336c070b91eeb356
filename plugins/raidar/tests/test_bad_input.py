"""Bad input gets a clear message, never a crash: files, texts, records, and the CLI's exit codes."""

from __future__ import annotations

import json
import re

import click
import pytest
from click.testing import CliRunner
from intarsia_raidar.cli import add_commands
from intarsia_raidar.config import RaidarConfig
from intarsia_raidar.detector import ModelFileError, RaidarDetector
from intarsia_raidar.textio import InputError, load_items
from raidar_testdata import synthetic_records


def write(tmp_path, name, data):
    p = tmp_path / name
    (p.write_bytes if isinstance(data, bytes) else p.write_text)(data)
    return p


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"  \n\t \n", "empty or only whitespace"),
    (b"caf\xe9 au lait", r"not UTF-8 text \(invalid byte 0xe9 at offset 3\)"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00binary", "binary"),
    (b'["a text", "   "]', r"\[1\]: the text is only whitespace"),
    (b'["a text", ""]', r"\[1\]: empty text"),
    (b'{"text": 5}\n', "expected a text"),
    (b'{"title": "x"}\n', "needs a 'text' or 'input' key"),
    (b'[{"input": "x", "P": null}]', "under 'P' is NoneType"),
    (b"[]", "JSON list is empty"),
])
def test_bad_files_are_refused_with_the_reason(tmp_path, data, message):
    with pytest.raises(InputError, match=message):
        load_items(write(tmp_path, "f", data))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_items(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="directory"):
        load_items(tmp_path)


def test_formats_are_recognised(tmp_path):
    assert load_items(write(tmp_path, "a.txt", "Just one text.\nTwo lines.\n")).items == ["Just one text.\nTwo lines.\n"]
    jl = load_items(write(tmp_path, "b.jsonl", '"first"\n\n{"text": "second"}\n{"input": "third"}\n'))
    assert jl.items == ["first", "second", "third"] and jl.where[1].endswith(":3")
    paper = load_items(write(tmp_path, "c.json", json.dumps([{"input": "x y", "P": "x z"}])))
    assert paper.items == [{"input": "x y", "P": "x z"}]
    # a plain text that merely starts with a bracket is still a plain text
    assert load_items(write(tmp_path, "d.txt", "[citation needed] is a phrase.")).items == ["[citation needed] is a phrase."]
    assert load_items(write(tmp_path, "e.txt", "\ufeffWith a BOM")).items == ["With a BOM"]


def test_detector_refuses_empty_texts_with_a_message():
    records, labels = synthetic_records(10)
    det = RaidarDetector(RaidarConfig()).fit(records, labels)
    for bad, msg in (("", "empty text"), ("   \n", "only whitespace"), ({"input": " ", "P1": "x"}, "whitespace")):
        with pytest.raises(InputError, match=msg):
            det.score([bad])
    assert det.score([]).shape == (0,)


@pytest.fixture
def cli_and_model(tmp_path):
    group = click.Group("intarsia")
    add_commands(group)
    records, labels = synthetic_records(15)
    det = RaidarDetector(RaidarConfig()).fit(records, labels)
    det.save(tmp_path / "model.json")
    return group, tmp_path / "model.json"


def test_detect_reports_bad_files_and_scores_the_good_ones(tmp_path, cli_and_model):
    group, model = cli_and_model
    good = write(tmp_path, "good.json", json.dumps(synthetic_records(2)[0]))
    files = [write(tmp_path, "empty.txt", b""), write(tmp_path, "latin1.txt", b"caf\xe9"),
             write(tmp_path, "bin.dat", bytes(range(256))), good]
    res = CliRunner().invoke(group, ["detect", "--model", str(model), "--json", *map(str, files)])
    assert res.exit_code == 1 and res.exception is None or isinstance(res.exception, SystemExit)
    rows = json.loads(res.stdout)
    errors = {r["source"]: r["error"] for r in rows if r["probability"] is None}
    assert len(errors) == 3 and any("UTF-8" in e for e in errors.values()) and any("binary" in e for e in errors.values())
    assert sum(r["probability"] is not None for r in rows) == 4
    assert "Traceback" not in res.output


def test_detect_without_model_or_with_a_bad_model(tmp_path, cli_and_model):
    group, _ = cli_and_model
    f = write(tmp_path, "t.txt", "some text")
    res = CliRunner().invoke(group, ["detect", str(f)], env={"INTARSIA_RAIDAR_MODEL": ""})
    assert res.exit_code == 2 and "no model" in res.output
    bad = write(tmp_path, "bad.json", b"\x80\x04pickle")
    res = CliRunner().invoke(group, ["detect", "--model", str(bad), str(f)])
    assert res.exit_code == 2 and "not a Raidar model file" in res.output and "Traceback" not in res.output


def test_eval_with_bad_file_is_one_clear_line(tmp_path, cli_and_model):
    group, _ = cli_and_model
    good = write(tmp_path, "good.json", json.dumps(synthetic_records(10)[0]))
    bad = write(tmp_path, "bad.txt", b"\xff\xfe\x00\x00")
    res = CliRunner().invoke(group, ["raidar", "eval", "--human", str(bad), "--machine", str(good)])
    assert res.exit_code == 2 and "bad.txt" in res.output and "Traceback" not in res.output


def test_skip_invalid_drops_bad_items_with_a_warning(tmp_path, cli_and_model):
    loaded = load_items(write(tmp_path, "mixed.jsonl", b'"good one"\n"   "\n{"text": ""}\n"good two"\n'), skip_invalid=True)
    assert loaded.items == ["good one", "good two"] and len(loaded.skipped) == 2
    group, _ = cli_and_model
    records, labels = synthetic_records(20)
    machine = [r for r, y in zip(records, labels, strict=True) if y == 1] + [{"input": "  ", "P1": "a", "P2": "b", "P3": "c"},
                                                                              {"input": "no P3 here", "P1": "a", "P2": "b"}]
    human = [r for r, y in zip(records, labels, strict=True) if y == 0]
    write(tmp_path, "m.json", json.dumps(machine))
    write(tmp_path, "h.json", json.dumps(human))
    args = ["raidar", "eval", "--human", str(tmp_path / "h.json"), "--machine", str(tmp_path / "m.json"),
            "--seeds", "1", "--json", "--plot", str(tmp_path / "r.png")]
    res = CliRunner().invoke(group, args)
    assert res.exit_code == 2 and "only whitespace" in res.output
    res = CliRunner().invoke(group, [*args, "--skip-invalid"])
    assert res.exit_code == 0, res.output
    assert "skipped 2 invalid item(s)" in res.stderr and json.loads(res.stdout)["n_machine"] == 20


def test_long_text_is_truncated_with_a_warning_in_the_cli(tmp_path, cli_and_model, monkeypatch):
    """Over-long plain texts: truncated to max_words with a warning (not refused), then rewritten."""
    import intarsia_raidar.rewrite as rewrite
    from raidar_fakes import ScriptedLLM

    group, model = cli_and_model
    long_text = write(tmp_path, "long.txt", " ".join(["word"] * 5000))
    llm = ScriptedLLM(lambda request: "word word other")
    monkeypatch.setattr(rewrite, "build_llm", lambda name, options=None: llm)
    res = CliRunner().invoke(group, ["detect", "--model", str(model), str(long_text)])
    assert res.exit_code == 0, res.output
    assert "warning:" in res.stderr and "5000 words is more than max_words=500" in res.stderr
    (call,) = llm.calls
    assert len(call["prompts"]) == 3  # the model's prompts P1..P3, one request each
    assert call["prompts"][0][0]["content"] == "P1: " + " ".join(["word"] * 500)


@pytest.mark.parametrize("data, message", [
    (b'[{"input": "a text", "P1": "a rewrite"}, {"input": "another te', "line 1 column 52: Unterminated string"),
    (b'{"text": "one"}\n{"text": "two"}\n{"text": "thr', "line 3: Unterminated string"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
])
def test_damaged_json_data_is_refused_not_scored_as_one_text(tmp_path, data, message):
    """The probe's files: a records file cut short used to be scored as one plain text; a 100,000-deep
    JSON list crashed with a RecursionError."""
    with pytest.raises(InputError, match=re.escape(message)):
        load_items(write(tmp_path, "records.json", data))


def test_fit_to_a_missing_folder_fails_before_fitting(tmp_path, cli_and_model):
    group, _ = cli_and_model
    records, labels = synthetic_records(10)
    write(tmp_path, "m.json", json.dumps([r for r, y in zip(records, labels, strict=True) if y == 1]))
    write(tmp_path, "h.json", json.dumps([r for r, y in zip(records, labels, strict=True) if y == 0]))
    out = tmp_path / "nonexistent" / "dir" / "m.json"
    res = CliRunner().invoke(group, ["raidar", "fit", "--human", str(tmp_path / "h.json"), "--machine",
                                     str(tmp_path / "m.json"), "--out", str(out)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert f"the folder {str(out.parent)!r} does not exist" in res.output and len(res.output.strip().splitlines()) == 1
    with pytest.raises(ModelFileError, match="cannot write the model file: No such file or directory"):
        RaidarDetector(RaidarConfig()).fit(records, labels).save(out)
