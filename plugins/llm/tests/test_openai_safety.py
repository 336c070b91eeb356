"""The probe's server answers: a 64 MiB body (was read whole and cached), a redirect (was "malformed
JSON"), credentials in base_url (reached the cache's model column and error text), the API key sent over
plain http to any host."""

from __future__ import annotations

import http.server
import threading

import pytest
from intarsia_llm.config import OpenAIConfig
from intarsia_llm.errors import ServerError
from intarsia_llm.openai_compat import OpenAILLM, _key_may_go_to


@pytest.fixture
def server():
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append(self.headers.get("Authorization"))
            if self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", "http://elsewhere.example/v1/completions")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            size = 64 * 1024 * 1024
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b" " * (1024 * 1024)
            try:
                for _ in range(64):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1], seen
    srv.shutdown()
    srv.server_close()


def _llm(port, path="v1", **kw):
    return OpenAILLM(OpenAIConfig(base_url=f"http://user:hunter2@127.0.0.1:{port}/{path}", cache=False,
                                  max_retries=0, timeout_s=30, **kw))


def test_a_64_mib_answer_is_refused_without_reading_it_whole(server):
    port, _ = server
    with pytest.raises(ServerError) as info:
        _llm(port).generate(["hi"], max_tokens=2)
    msg = str(info.value)
    assert "max_response_bytes=16777216" in msg and "hunter2" not in msg and "\n" not in msg
    with pytest.raises(ServerError, match="max_response_bytes=1024"):
        _llm(port, max_response_bytes=1024).generate(["hi"], max_tokens=2)


def test_a_redirect_is_reported_as_one(server):
    port, _ = server
    with pytest.raises(ServerError) as info:
        _llm(port, path="redirect/v1").generate(["hi"], max_tokens=2)
    assert "redirect (HTTP 302)" in str(info.value) and "malformed" not in str(info.value)


def test_credentials_never_reach_the_model_id_or_messages(server):
    llm = _llm(server[0])
    assert "hunter2" not in llm.model_id and "hunter2" not in llm.shown_url


def test_the_key_goes_only_over_https_or_to_loopback():
    assert _key_may_go_to("https://api.example.com/v1", False)
    assert _key_may_go_to("http://127.0.0.1:8000/v1", False) and _key_may_go_to("http://[::1]:8/v1", False)
    assert _key_may_go_to("http://localhost:8/v1", False)
    assert not _key_may_go_to("http://api.example.com/v1", False)
    assert _key_may_go_to("http://api.example.com/v1", True)
    llm = OpenAILLM(OpenAIConfig(base_url="http://10.1.2.3:8000/v1", api_key_env="PROBE_KEY", cache=False))
    import os

    os.environ["PROBE_KEY"] = "sk-secret"
    try:
        assert "Authorization" not in llm._headers()
        llm.config.allow_insecure_key = True
        assert llm._headers()["Authorization"] == "Bearer sk-secret"
    finally:
        del os.environ["PROBE_KEY"]
