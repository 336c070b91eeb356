"""Rewriting: ask an ``intarsia-llm`` backend to rewrite each text under each prompt.

The backend is built by name through the core (``build("llms", name, options)``), so this plugin does
not import intarsia-llm; it is an optional dependency (extra ``llm``). The backend caches answers on
disk, so rewriting the same texts with the same settings twice costs nothing the second time.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

from intarsia.errors import IntarsiaError

from .config import RaidarConfig
from .features import INPUT_KEY
from .prompts import render, resolve_prompts, strip_echo
from .textio import InputError, check_text


class RewriteUnavailable(IntarsiaError, RuntimeError):
    """No LLM backend can be built (intarsia-llm missing, unknown backend, bad options)."""


class TruncationWarning(UserWarning):
    """A text was longer than ``max_words`` and was cut before rewriting."""


_WORD = re.compile(r"\S+")


def truncate_words(text: str, max_words: int) -> tuple[str, int]:
    """The text up to the end of its ``max_words``-th word (original spacing kept), and its word count."""
    count = 0
    for count, match in enumerate(_WORD.finditer(text), start=1):
        if count == max_words:
            rest = text[match.end():]
            if rest.strip():
                return text[:match.end()], len(text.split())
            break
    return text, count


def auto_max_tokens(n_words: int) -> int:
    """Room for a rewrite a bit longer than the input (English runs ~1.3 tokens per word)."""
    return max(64, int(1.6 * n_words) + 32)


def build_llm(name: str, options: dict[str, Any] | None = None):
    """Build a registered LLM backend, turning every way that can fail into one clear error."""
    try:
        from intarsia.build import build
        from intarsia.errors import IntarsiaError, UnknownComponentError
    except ImportError as exc:  # pragma: no cover - intarsia-core is a hard dependency
        raise RewriteUnavailable(f"intarsia-core is not importable: {exc}") from exc
    try:
        return build("llms", name, dict(options or {}))
    except IntarsiaError as exc:
        hint = "" if not isinstance(exc, UnknownComponentError) else (
            " Rewriting needs an LLM backend: pip install 'intarsia-raidar[llm]' (intarsia-llm), or give"
            " precomputed rewrites in the paper's JSON format (offline mode).")
        raise RewriteUnavailable(f"cannot build LLM backend {name!r}: {exc}{hint}") from exc
    except ImportError as exc:
        raise RewriteUnavailable(f"LLM backend {name!r} is installed but cannot be imported: {exc}") from exc


class Rewriter:
    """Turns texts into records ``{"input": text, prompt: rewrite, ...}`` with the configured backend."""

    def __init__(self, config: RaidarConfig, llm: Any = None):
        self.config = config
        self.prompt_set = resolve_prompts(config.prompt_set, config.prompts, config.template)
        self._llm = llm

    @property
    def prompts(self) -> tuple[str, ...]:
        return self.prompt_set.prompts

    @property
    def llm(self):
        if self._llm is None:
            self._llm = build_llm(self.config.llm, self.config.llm_options)
        return self._llm

    def prepare(self, text: str, where: str = "text") -> str:
        """Validate and, when longer than ``max_words``, truncate (with a TruncationWarning)."""
        check_text(text, where)
        cut, n_words = truncate_words(text, self.config.max_words)
        if cut is not text:
            warnings.warn(f"{where}: {n_words} words is more than max_words={self.config.max_words}; "
                          f"only the first {self.config.max_words} are rewritten and scored", TruncationWarning,
                          stacklevel=3)
        return cut

    def requests(self, text: str, prompts: Sequence[str] | None = None) -> list[str]:
        return [render(self.prompt_set.template, p, text) for p in (prompts or self.prompts)]

    def rewrite(self, texts: Sequence[str], where: Sequence[str] | None = None,
                prompts: Sequence[str] | None = None) -> list[dict[str, str]]:
        """One record per text. Each text's prompts go to the backend as one batch. ``prompts``
        overrides the configured ones (a detector trained on precomputed rewrites uses their keys)."""
        prompts = tuple(prompts or self.prompts)
        where = list(where) if where is not None else [f"text {i}" for i in range(len(texts))]
        records = []
        for text, loc in zip(texts, where, strict=True):
            text = self.prepare(text, loc)
            requests = self.requests(text, prompts)
            n_words = len(text.split())
            max_tokens = self.config.max_tokens or auto_max_tokens(n_words)
            batch = [[{"role": "user", "content": r}] if self.config.chat else r for r in requests]
            try:
                outputs = self.llm.generate(batch, max_tokens=max_tokens, temperature=self.config.temperature,
                                            top_p=self.config.top_p, stop=None, seed=self.config.rewrite_seed)
            except (RewriteUnavailable, InputError):
                raise
            except Exception as exc:  # a backend failure (server down, model error) must name itself
                raise RewriteUnavailable(f"{loc}: the LLM backend {self.config.llm!r} failed: {exc}") from exc
            if len(outputs) != len(requests):
                raise RewriteUnavailable(f"LLM backend {self.config.llm!r} returned {len(outputs)} answers "
                                         f"for {len(requests)} prompts")
            record = {INPUT_KEY: text}
            for prompt, request, out in zip(prompts, requests, outputs, strict=True):
                record[prompt] = strip_echo(out if isinstance(out, str) else "", request, prompt)
            records.append(record)
        return records
