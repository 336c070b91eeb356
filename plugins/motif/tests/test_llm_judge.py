"""The annotator with the real embedded model (intarsia-llm's gguf backend: Gemma 3 270M). Slow-ish: the
model scores each prompt on the CPU; skipped when the backend is not installed."""

import pytest
from intarsia_motif import prompts as P


@pytest.mark.slow
def test_embedded_model_annotates_in_both_modes(tmp_path):
    pytest.importorskip("intarsia_llm")
    pytest.importorskip("llama_cpp")
    from intarsia_motif.annotators import LLMAnnotator, build_llm
    from intarsia_motif.config import AnnotatorConfig, PromptConfig

    llm = build_llm({"name": "gguf", "progress": False, "cache_dir": str(tmp_path / "cache")})
    pairs = [("You pick up the key.", "You bump into the wall.")]
    lp = LLMAnnotator(llm, AnnotatorConfig(mode="logprobs", prompt=PromptConfig(game="gridworld")))
    rec = lp.annotate(pairs)[0]
    assert rec["label"] in (P.FIRST, P.SECOND, P.TIE) and 0.0 <= rec["p_first"] <= 1.0
    assert isinstance(rec["order_consistent"], bool)
    gen = LLMAnnotator(llm, AnnotatorConfig(mode="generate", max_tokens=24, prompt=PromptConfig(game="gridworld")))
    rec = gen.annotate(pairs)[0]
    assert rec["label"] in (P.FIRST, P.SECOND, P.TIE, P.UNKNOWN) and rec["attempts"] in (1, 2)
    assert isinstance(rec["answer"], str)
