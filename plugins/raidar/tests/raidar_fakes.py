"""A scripted LLM for plumbing tests (the real embedded model is exercised in test_llm_slow.py)."""

from __future__ import annotations


class ScriptedLLM:
    """Answers each request with ``answer(request_text)`` and records what it was asked."""

    def __init__(self, answer=None, fail: Exception | None = None):
        self.answer = answer or (lambda request: request.upper())
        self.fail = fail
        self.calls: list[dict] = []

    def generate(self, prompts, *, max_tokens=256, temperature=0.0, top_p=1.0, stop=None, seed=None):
        self.calls.append({"prompts": list(prompts), "max_tokens": max_tokens, "temperature": temperature, "seed": seed})
        if self.fail is not None:
            raise self.fail
        texts = [p[-1]["content"] if isinstance(p, list) else p for p in prompts]
        return [self.answer(t) for t in texts]
