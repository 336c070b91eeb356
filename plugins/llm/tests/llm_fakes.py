"""A model-free backend for testing the shared machinery."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from intarsia_llm.base import Completion, LLMBackend
from intarsia_llm.config import LLMCommonConfig


class RecordingLLM(LLMBackend):
    """A model-free backend: answers ``out:<prompt>``, records what it was asked, can fail after N."""

    backend_name = "recording"

    def __init__(self, config: LLMCommonConfig, fail_after: int | None = None, reverse: bool = False):
        super().__init__(config)
        from intarsia_llm.templates import resolve_template

        self.template = resolve_template(config.chat_template)
        self.asked: list[str] = []
        self.fail_after = fail_after
        self.reverse = reverse  # yield results out of order, as a concurrent backend does
        self.lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return "recording-v1"

    def _generate(self, jobs, params) -> Iterator[tuple[int, Completion]]:
        jobs = list(reversed(jobs)) if self.reverse else jobs
        for i, text in jobs:
            if self.fail_after is not None and len(self.asked) >= self.fail_after:
                raise RuntimeError("injected failure")
            self.asked.append(text)
            yield i, Completion(f"out:{text}:{params.temperature}:{params.seed}", len(text), 3)

    def _option_logprobs(self, jobs, options):
        for i, text in jobs:
            self.asked.append(text)
            yield i, [-float(len(o)) - 0.01 * len(text) for o in options]
