"""A native crash of llama.cpp becomes a clear Python error and exit code, never a dead interpreter.

The crash is real: a stand-in ``llama_cpp`` package (first on ``PYTHONPATH`` of the probe's child process)
dereferences a null pointer with ctypes, so the child dies with SIGSEGV exactly as the AMX kernel did.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from intarsia_llm.native_probe import (
    ModelLoadError,
    NativeCrashError,
    choose_extra_buffer_types,
    run_probe,
)

FAKE_LLAMA = '''
"""Stand-in for llama-cpp-python whose decode segfaults, optionally only with extra buffer types on."""
import ctypes
import os

from . import llama_cpp  # noqa: F401  (the low-level module, as the real package has)

__version__ = "0.0-fake"


class Llama:
    def __init__(self, model_path, **kwargs):
        if open(model_path, "rb").read(4) != b"GGUF":
            raise ValueError(f"Failed to load model from file: {model_path}")
        self.extra = llama_cpp.llama_model_default_params().use_extra_bufts

    def create_completion(self, prompt, **kwargs):
        if os.environ.get("FAKE_LLAMA_CRASH") == "always" or self.extra:
            ctypes.string_at(0)  # SIGSEGV, as the AMX kernel's ldtilecfg did
        return {"choices": [{"text": " Paris"}], "usage": {}}
'''

FAKE_LOW = '''
import ctypes


class llama_model_params(ctypes.Structure):
    _fields_ = [("n_gpu_layers", ctypes.c_int32), ("use_extra_bufts", ctypes.c_bool)]


def llama_model_default_params():
    p = llama_model_params()
    p.use_extra_bufts = True
    return p
'''


@pytest.fixture
def fake_llama(tmp_path, monkeypatch):
    pkg = tmp_path / "fakelib" / "llama_cpp"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(FAKE_LLAMA))
    (pkg / "llama_cpp.py").write_text(textwrap.dedent(FAKE_LOW))
    src = Path(__import__("intarsia_llm").__file__).parent.parent
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(pkg.parent), str(src), os.environ.get("PYTHONPATH", "")]))
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 64)
    return model


def test_a_segfaulting_probe_is_reported_as_a_signal(fake_llama, monkeypatch):
    monkeypatch.setenv("FAKE_LLAMA_CRASH", "always")
    result = run_probe(fake_llama, extra_buffer_types=False, n_threads=1)
    assert not result.ok and result.crashed and result.detail == "SIGSEGV"


def test_auto_falls_back_to_no_extra_buffer_types_and_caches_the_verdict(fake_llama, tmp_path, monkeypatch):
    calls = []
    import intarsia_llm.native_probe as probe

    real = probe.run_probe
    monkeypatch.setattr(probe, "run_probe", lambda *a, **k: calls.append(k) or real(*a, **k))
    assert choose_extra_buffer_types(fake_llama, setting="auto", n_threads=1, cache_dir=tmp_path) is False
    assert [c["extra_buffer_types"] for c in calls] == [True, False]  # the first crashed, the second ran
    assert choose_extra_buffer_types(fake_llama, setting="auto", n_threads=1, cache_dir=tmp_path) is False
    assert len(calls) == 2  # cached: no more probe processes


def test_a_build_that_always_crashes_is_one_clear_error(fake_llama, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_LLAMA_CRASH", "always")
    with pytest.raises(NativeCrashError) as err:
        choose_extra_buffer_types(fake_llama, setting="auto", n_threads=1, cache_dir=tmp_path)
    msg = str(err.value)
    assert "SIGSEGV" in msg and "CMAKE_ARGS" in msg and "\n" not in msg
    with pytest.raises(NativeCrashError, match="cached verdict"):  # and the verdict is remembered
        choose_extra_buffer_types(fake_llama, setting="auto", n_threads=1, cache_dir=tmp_path)


def test_an_exception_in_the_child_is_a_load_error_not_a_crash(fake_llama, tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"JUNK")  # the fake's Llama raises ValueError, as the real one does
    with pytest.raises(ModelLoadError, match="Failed to load model"):
        choose_extra_buffer_types(bad, setting="on", n_threads=1, cache_dir=tmp_path)


def test_the_cli_exits_2_with_one_line_when_llama_cpp_crashes(fake_llama, tmp_path, monkeypatch):
    from intarsia.testing import run_cli

    monkeypatch.setenv("FAKE_LLAMA_CRASH", "always")
    monkeypatch.setenv("INTARSIA_LLM_CACHE_DIR", str(tmp_path / "cache"))
    res = run_cli("llm", "generate", "-b", "gguf", "-o", f"model_path={fake_llama}", "Hello")
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "SIGSEGV" in lines[0] and "Traceback" not in res.stderr


@pytest.mark.parametrize("content, match", [(None, "does not exist"), (b"hello, I am text", "not a GGUF file")])
def test_bad_model_files_are_one_line_errors(tmp_path, content, match):
    pytest.importorskip("llama_cpp")
    from intarsia_llm.config import GGUFConfig
    from intarsia_llm.gguf import GGUFLLM

    path = tmp_path / "m.gguf"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=match):
        GGUFLLM(GGUFConfig(model_path=str(path), cache=False, progress=False))

