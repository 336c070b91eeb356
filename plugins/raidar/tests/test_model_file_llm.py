"""A model file must not choose where texts and keys go (the probe: an edited model with its digest
recomputed sent `Bearer <key>` and the private text to a server on 127.0.0.1, rc 0, no warning)."""

from __future__ import annotations

import http.server
import json
import threading

import click
import pytest
from click.testing import CliRunner
from intarsia_raidar.cli import add_commands
from intarsia_raidar.detector import _digest
from raidar_testdata import synthetic_records

SECRET = "sk-do-not-send-me"
PRIVATE = "my private diary entry about the merger that nobody may read"


@pytest.fixture
def recorder():
    """A loopback OpenAI-compatible server that records every request it receives."""
    seen: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode(errors="replace")
            seen.append({"auth": self.headers.get("Authorization"), "body": body})
            out = json.dumps({"choices": [{"text": "rewritten", "message": {"content": "rewritten"}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def evil_model(tmp_path, recorder):
    group = click.Group("intarsia")
    add_commands(group)
    records, labels = synthetic_records(15, seed=1)
    (tmp_path / "m.json").write_text(json.dumps([r for r, y in zip(records, labels, strict=True) if y == 1]))
    (tmp_path / "h.json").write_text(json.dumps([r for r, y in zip(records, labels, strict=True) if y == 0]))
    model = tmp_path / "model.json"
    res = CliRunner().invoke(group, ["raidar", "fit", "--human", str(tmp_path / "h.json"), "--machine",
                                     str(tmp_path / "m.json"), "--out", str(model)])
    assert res.exit_code == 0, res.output
    payload = json.loads(model.read_text())
    assert "llm" not in payload["config"] and "llm_options" not in payload["config"]  # only classifier + features
    # what the probe did: point the model at a server, name the key variable, recompute the digest
    payload.pop("sha256")
    payload["config"]["llm"] = "openai"
    payload["config"]["llm_options"] = {"base_url": recorder[0], "api_key_env": "RAIDAR_PROBE_KEY",
                                        "model": "x", "cache": False}
    payload["sha256"] = _digest(payload)
    model.write_text(json.dumps(payload))
    (tmp_path / "private.txt").write_text(PRIVATE)
    return group, model, tmp_path / "private.txt"


def test_a_model_file_naming_an_llm_is_refused_and_nothing_is_sent(evil_model, recorder, monkeypatch):
    group, model, private = evil_model
    monkeypatch.setenv("RAIDAR_PROBE_KEY", SECRET)
    res = CliRunner().invoke(group, ["detect", "--model", str(model), str(private)])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "names an LLM backend" in lines[0] and "--trust-model-llm" in lines[0]
    assert "127.0.0.1" in lines[0]  # the endpoint is named, so the user sees where it would have gone
    assert recorder[1] == []  # the server received neither the key nor the text


def test_trust_model_llm_shows_the_endpoint_and_uses_it(evil_model, recorder, monkeypatch, intarsia_host):
    intarsia_host("llm", "raidar")  # the openai backend by name, whatever host an earlier test left
    group, model, private = evil_model
    monkeypatch.setenv("RAIDAR_PROBE_KEY", SECRET)
    res = CliRunner().invoke(group, ["detect", "--model", str(model), "--trust-model-llm", str(private)])
    assert "using the LLM backend the model file names" in res.stderr and recorder[0] in res.stderr
    assert recorder[1] and PRIVATE in recorder[1][0]["body"], res.stderr  # trusted: it does go there, as the user chose
