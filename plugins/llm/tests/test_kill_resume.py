"""Kill a 200-prompt job with SIGKILL midway; the rerun asks only what had not finished."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from intarsia_llm.cache import ResponseCache
from intarsia_llm.config import OpenAIConfig
from intarsia_llm.openai_compat import OpenAILLM
from llm_test_servers import FakeOpenAIServer, fake_completion

N = 200
JOB = textwrap.dedent("""
    import sys
    from intarsia_llm.config import OpenAIConfig
    from intarsia_llm.openai_compat import OpenAILLM
    llm = OpenAILLM(OpenAIConfig(base_url=sys.argv[1], cache_dir=sys.argv[2], max_concurrency=4, progress=False))
    llm.generate([f"prompt number {i}" for i in range(int(sys.argv[3]))], max_tokens=4)
    print("finished")
""")


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_sigkill_midway_then_rerun_asks_only_unfinished(tmp_path):
    prompts = [f"prompt number {i}" for i in range(N)]
    cache_dir = tmp_path / "cache"
    with FakeOpenAIServer(mode="slow") as server:
        server.delay = 0.01
        proc = subprocess.Popen([sys.executable, "-c", JOB, server.base_url, str(cache_dir), str(N)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while len(server.completed) < N // 2 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.005)
        assert proc.poll() is None, f"the job ended before it could be killed: {proc.communicate()}"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        answered_before = len(server.completed)
        assert N // 2 <= answered_before < N

        cache = ResponseCache(cache_dir)
        assert cache.integrity_ok()
        kept = len(cache)
        cache.close()
        # Everything the client had stored survives; at most the requests in flight (4) are lost.
        assert answered_before - 4 <= kept <= answered_before

        server.reset()
        server.mode = "ok"
        llm = OpenAILLM(OpenAIConfig(base_url=server.base_url, cache_dir=str(cache_dir), progress=False))
        out = llm.generate(prompts, max_tokens=4)
        assert out == [fake_completion(p) for p in prompts]
        asked = server.prompts_asked()
        assert len(asked) == len(set(asked)) == N - kept   # each unfinished prompt once, nothing else
        assert llm.last_stats.cache_hits == kept


@pytest.mark.slow
def test_sigkill_of_a_real_model_job(tmp_path, gemma_path):
    """The same with the embedded model in-process (about 10 s per 100 prompts here)."""
    job = textwrap.dedent("""
        import sys
        from intarsia_llm.config import GGUFConfig
        from intarsia_llm.gguf import GGUFLLM
        llm = GGUFLLM(GGUFConfig(model_path=sys.argv[1], cache_dir=sys.argv[2], progress=False, n_threads=1))
        llm.generate([f"Number {i} is" for i in range(200)], max_tokens=2)
    """)
    cache_dir = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-c", job, str(gemma_path), str(cache_dir)])
    deadline = time.time() + 300
    kept = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
        if (cache_dir / "llm-cache.sqlite3").exists():
            c = ResponseCache(cache_dir)
            kept = len(c)
            c.close()
            if kept >= 40:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cache = ResponseCache(cache_dir)
    kept = len(cache)
    assert cache.integrity_ok() and 40 <= kept < 200
    cache.close()
    from intarsia_llm.config import GGUFConfig
    from intarsia_llm.gguf import GGUFLLM

    llm = GGUFLLM(GGUFConfig(model_path=str(gemma_path), cache_dir=str(cache_dir), progress=False, n_threads=1))
    out = llm.generate([f"Number {i} is" for i in range(200)], max_tokens=2)
    assert llm.last_stats.cache_hits == kept and llm.last_stats.computed == 200 - kept
    assert all(isinstance(t, str) for t in out)
