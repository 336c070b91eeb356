"""The openai backend against local servers: fakes for each failure mode, and llama-cpp-python's real one."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
from intarsia_llm.cache import ResponseCache
from intarsia_llm.config import OpenAIConfig
from intarsia_llm.errors import MalformedResponseError, ServerError, UnsupportedError
from intarsia_llm.openai_compat import OpenAILLM
from llm_test_servers import (
    BlackholeServer,
    FakeOpenAIServer,
    TricklingServer,
    fake_char_logprob,
    fake_completion,
    free_port,
)


def make(base_url, tmp_path, **kw):
    kw.setdefault("backoff_s", 0.01)
    return OpenAILLM(OpenAIConfig(base_url=base_url, cache_dir=str(tmp_path / "cache"), progress=False, **kw))


@pytest.fixture
def server():
    with FakeOpenAIServer() as s:
        yield s


def test_completions_chat_and_payload(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_LLM_KEY", "sk-secret-123")
    llm = make(server.base_url, tmp_path, model="m1", api_key_env="MY_LLM_KEY")
    chat = [{"role": "system", "content": "S"}, {"role": "user", "content": "hello"}]
    out = llm.generate(["Once upon", chat], max_tokens=7, stop=["\n"])
    assert out == [fake_completion("Once upon"), "chat<hello>"]
    by_path = {r["path"]: r for r in server.requests}
    comp, chat_req = by_path["/v1/completions"], by_path["/v1/chat/completions"]
    assert comp["payload"] == {"model": "m1", "prompt": "Once upon", "max_tokens": 7, "temperature": 0.0,
                               "top_p": 1.0, "stop": ["\n"]}
    assert chat_req["payload"]["messages"] == chat
    assert comp["headers"]["Authorization"] == "Bearer sk-secret-123"
    # The key is never stored: not in the config, not in the cache file.
    llm.close()
    assert "sk-secret" not in repr(llm.config)
    for f in (tmp_path / "cache").iterdir():
        assert b"sk-secret" not in f.read_bytes()


def test_sampling_params_and_seed_are_sent(server, tmp_path):
    llm = make(server.base_url, tmp_path)
    llm.generate(["x"], max_tokens=3, temperature=0.8, top_p=0.9, seed=5)
    p = server.requests[0]["payload"]
    assert (p["temperature"], p["top_p"], p["seed"]) == (0.8, 0.9, 5) and "model" not in p


def test_concurrency_is_bounded_and_answers_are_in_order(server, tmp_path):
    server.mode, server.delay = "slow", 0.05
    llm = make(server.base_url, tmp_path, max_concurrency=3)
    prompts = [f"prompt {i}" for i in range(24)]
    assert llm.generate(prompts, max_tokens=2) == [fake_completion(p) for p in prompts]
    assert server.max_in_flight <= 3 and server.max_in_flight >= 2


def test_429_is_retried_then_succeeds(server, tmp_path):
    server.mode, server.fail_first = "flaky429", 2
    llm = make(server.base_url, tmp_path, max_retries=3)
    assert llm.generate(["a"], max_tokens=2) == [fake_completion("a")]
    assert len(server.requests) == 3


def test_5xx_retries_are_bounded_and_nothing_is_cached(server, tmp_path):
    server.mode = "error500"
    llm = make(server.base_url, tmp_path, max_retries=2)
    with pytest.raises(ServerError, match=rf"{server.base_url}/completions.*3 attempts.*HTTP 500"):
        llm.generate(["a"], max_tokens=2)
    assert len(server.requests) == 3
    assert len(llm.cache) == 0 and llm.cache.integrity_ok()


def test_4xx_fails_at_once_with_the_servers_message(server, tmp_path):
    server.mode = "bad_request"
    llm = make(server.base_url, tmp_path, max_retries=3)
    with pytest.raises(ServerError, match="HTTP 400.*model not found"):
        llm.generate(["a"], max_tokens=2)
    assert len(server.requests) == 1


def test_server_down_names_the_url(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    llm = make(url, tmp_path, max_retries=2)
    start = time.perf_counter()
    with pytest.raises(ServerError, match=rf"{url}/completions is unreachable after 3 attempts") as info:
        llm.generate(["a"], max_tokens=2)
    assert "base_url" in str(info.value) and time.perf_counter() - start < 10


def test_server_that_never_answers_times_out(tmp_path):
    with BlackholeServer() as hole:
        llm = make(hole.base_url, tmp_path, timeout_s=0.3, max_retries=1)
        start = time.perf_counter()
        with pytest.raises(ServerError, match=r"timeout_s=0.3.*|no answer within"):
            llm.generate(["a"], max_tokens=2)
        assert time.perf_counter() - start < 5


@pytest.mark.parametrize("headers_first", [True, False], ids=["stalled-body", "trickled-headers"])
def test_timeout_is_a_deadline_for_the_whole_request(tmp_path, headers_first, caplog, monkeypatch):
    """The probe's server: a byte every so often, so no single read ever times out."""
    import intarsia_llm.openai_compat as openai_compat

    monkeypatch.setattr(openai_compat, "WAIT_NOTE_S", (0.3, 10.0))
    with TricklingServer(gap=0.1, headers_first=headers_first) as trickle:
        llm = make(trickle.base_url, tmp_path, timeout_s=1.0, max_retries=1)
        start = time.perf_counter()
        with pytest.raises(ServerError, match=r"failed after 2 attempts: no complete answer within timeout_s=1 s"):
            llm.generate(["Hi"], max_tokens=2)
        assert time.perf_counter() - start < 2 * 1.0 + 1.5  # two attempts of one second, plus backoff
        assert trickle.requests == 2
    assert "still waiting for the LLM server" in caplog.text and "timeout_s=1" in caplog.text


@pytest.mark.parametrize("mode", ["malformed", "missing"])
def test_malformed_json_is_a_clear_error_and_the_cache_stays_sound(server, tmp_path, mode):
    llm = make(server.base_url, tmp_path, max_retries=1)
    server.mode = "ok"
    llm.generate(["good"], max_tokens=2)
    server.mode = mode
    with pytest.raises(MalformedResponseError, match=server.base_url):
        llm.generate(["bad"], max_tokens=2)
    llm.close()
    cache = ResponseCache(tmp_path / "cache")
    assert cache.integrity_ok() and len(cache) == 1
    server.mode = "ok"
    again = make(server.base_url, tmp_path)
    assert again.generate(["good", "bad"], max_tokens=2) == [fake_completion("good"), fake_completion("bad")]
    assert again.last_stats.cache_hits == 1


def test_option_logprobs_from_echoed_prompt_logprobs(server, tmp_path):
    llm = make(server.base_url, tmp_path, chat_template="plain")
    prompt = "Which is better? Answer:"
    lp = llm.option_logprobs([prompt, [{"role": "user", "content": "Q"}]], [" 1", "None"])
    expected = [sum(fake_char_logprob(c) for c in " 1"), sum(fake_char_logprob(c) for c in "None")]
    assert np.allclose(lp[0], expected)
    payload = server.requests[0]["payload"]
    assert payload["echo"] is True and payload["logprobs"] is not None
    # Chat prompts are rendered locally with the configured template; the option continues the text.
    assert {r["payload"]["prompt"] for r in server.requests} == {
        prompt + " 1", prompt + "None", "User: Q\nAssistant: 1", "User: Q\nAssistant:None"}


def test_option_logprobs_errors(server, tmp_path):
    llm = make(server.base_url, tmp_path)  # chat_template="server": no local rendering
    with pytest.raises(UnsupportedError, match="chat_template"):
        llm.option_logprobs([[{"role": "user", "content": "Q"}]], ["1", "2"])
    server.mode = "nologprobs"
    with pytest.raises(UnsupportedError, match="log-probabilities"):
        llm.option_logprobs(["Q"], ["1", "2"])


# ---- a real OpenAI-compatible server: llama-cpp-python's, serving the embedded Gemma ------------------

@pytest.fixture(scope="module")
def llama_server(gemma_path):
    for mod in ("fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings"):
        pytest.importorskip(mod, reason="llama-cpp-python's server extra is not installed (intarsia-llm[server])")
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gemma_path), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "1024", "--n_threads", "1", "--verbose", "False"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    import httpx2

    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx2.get(f"{url}/models", timeout=2).status_code == 200:
                break
        except httpx2.TransportError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("llama_cpp.server did not start within 120 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_real_server_generates_deterministically(llama_server, tmp_path):
    llm = make(llama_server, tmp_path, cache=False, model="gemma", max_concurrency=2)
    prompts = ["The capital of France is", "One, two, three,"]
    a = llm.generate(prompts, max_tokens=6)
    b = llm.generate(prompts, max_tokens=6)
    assert a == b and all(text.strip() for text in a)
    assert llm.last_stats.completion_tokens > 0


def test_real_server_matches_the_in_process_model(llama_server, gemma, tmp_path):
    # Same weights, same prompt text, greedy: the HTTP path must give what the in-process model gives.
    prompt = "The capital of France is"
    # llama.cpp's server applies repeat_penalty=1.1 unless told otherwise, which changes greedy outputs.
    remote = make(llama_server, tmp_path, cache=False, extra_body={"repeat_penalty": 1.0}).generate(
        [prompt], max_tokens=8)
    assert remote == gemma.generate([prompt], max_tokens=8)


@pytest.mark.slow
def test_real_server_chat_and_cache(llama_server, tmp_path):
    llm = make(llama_server, tmp_path)
    chat = [[{"role": "user", "content": "Say hello."}]]
    first = llm.generate(chat, max_tokens=6)   # the server renders with its chat handler
    second = make(llama_server, tmp_path)
    assert second.generate(chat, max_tokens=6) == first and second.last_stats.hit_rate == 1.0
