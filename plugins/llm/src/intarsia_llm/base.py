"""What every backend shares: prompt rendering, the cache, stats and the progress bar.

A backend subclasses :class:`LLMBackend` and implements four things:

- ``model_id`` — a string naming the weights, part of every cache key;
- ``render(prompt)`` — a string prompt as is, a message list through the chat template;
- ``_generate(jobs, params)`` — yields ``(index, Completion)`` for ``jobs = [(index, rendered), …]``,
  each as soon as it is done (in any order), so the cache stores it at once;
- ``_option_logprobs(jobs, options)`` — yields ``(index, [logprob per option])`` (optional).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from .cache import ResponseCache, request_key
from .config import LLMCommonConfig
from .errors import UnsupportedError
from .stats import LLMStats
from .templates import ChatTemplate

log = logging.getLogger(__name__)


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class GenParams:
    """Generation parameters as they enter the cache key."""

    max_tokens: int
    temperature: float
    top_p: float
    stop: tuple[str, ...]
    seed: int | None

    def key(self) -> dict:
        return {"max_tokens": self.max_tokens, "temperature": self.temperature, "top_p": self.top_p,
                "stop": list(self.stop), "seed": self.seed}


class LLMBackend:
    """Base class of the backends registered under ``llms`` (see :class:`intarsia.interfaces.LLM`)."""

    backend_name = "base"
    template: ChatTemplate | None = None

    def __init__(self, config: LLMCommonConfig):
        self.config = config
        self.cache = ResponseCache(config.cache_dir or None) if config.cache else None
        self.stats = LLMStats()
        self.last_stats = LLMStats()

    # ---- to implement -------------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        raise NotImplementedError

    def render(self, prompt: Any) -> Any:
        """The text the model continues (a server-side-templated backend may return the messages)."""
        if isinstance(prompt, str):
            return prompt
        assert self.template is not None
        return self.template.render(prompt)

    def _generate(self, jobs: list[tuple[int, Any]], params: GenParams) -> Iterator[tuple[int, Completion]]:
        raise NotImplementedError

    def _option_logprobs(self, jobs: list[tuple[int, str]], options: Sequence[str]) -> Iterator[tuple[int, list[float]]]:
        raise UnsupportedError(f"the {self.backend_name} backend cannot score answer options")

    # ---- public API ---------------------------------------------------------------------------------
    def generate(self, prompts: Sequence[Any] | str, *, max_tokens: int = 256, temperature: float = 0.0,
                 top_p: float = 1.0, stop: Sequence[str] | None = None, seed: int | None = None) -> list[str]:
        """One completion per prompt, in order. Deterministic at ``temperature=0`` (greedy decoding).

        ``stop`` strings end the completion (they are not included); chat prompts also stop at the end of
        the assistant's turn of their template. ``seed=None`` uses ``config.seed``, so sampling with
        ``temperature>0`` is reproducible and cacheable; pass different seeds for different samples.
        """
        if isinstance(prompts, str) or (len(prompts) > 0 and isinstance(prompts[0], dict)):
            raise TypeError("generate takes a list of prompts; wrap a single prompt in a list")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        greedy = temperature <= 0
        rendered = [self.render(p) for p in prompts]
        stops = tuple(stop or ())
        params_by_kind: dict[bool, GenParams] = {}
        for is_chat in (False, True):
            extra = self.template.stop if (is_chat and self.template is not None) else ()
            params_by_kind[is_chat] = GenParams(
                max_tokens=int(max_tokens), temperature=0.0 if greedy else float(temperature),
                top_p=1.0 if greedy else float(top_p), stop=tuple(dict.fromkeys(stops + extra)),
                # The seed does not change greedy decoding: leave it out of the key so seeds share entries.
                seed=None if greedy else (self.config.seed if seed is None else int(seed)))
        params = [params_by_kind[not isinstance(p, str)] for p in prompts]
        keys = [request_key(self.backend_name, self.model_id, "generate", r, pr.key())
                for r, pr in zip(rendered, params)]
        results: list[str | None] = [None] * len(prompts)

        def store(i: int, c: Completion) -> None:
            results[i] = c.text
            if self.cache is not None:
                self.cache.put(keys[i], {"text": c.text, "prompt_tokens": c.prompt_tokens,
                                         "completion_tokens": c.completion_tokens},
                               backend=self.backend_name, model=self.model_id, op="generate")

        todo, duplicates, hits = self._plan(keys, results, lambda v: v["text"])
        # Group by parameters (chat prompts carry their template's stop strings).
        groups: dict[GenParams, list[tuple[int, Any]]] = {}
        for i in todo:
            groups.setdefault(params[i], []).append((i, rendered[i]))
        with self._tracking(len(prompts), len(todo), hits + len(duplicates), "generating") as track:
            for group_params, jobs in groups.items():
                for i, completion in self._generate(jobs, group_params):
                    store(i, completion)
                    track(completion)
        for i, first in duplicates.items():
            results[i] = results[first]
        assert all(r is not None for r in results), "a backend skipped a prompt"
        return results  # type: ignore[return-value]

    def option_logprobs(self, prompts: Sequence[Any], options: Sequence[str]) -> np.ndarray:
        """Total log-probability of each option as the continuation of each prompt.

        Returns an array of shape ``(len(prompts), len(options))``. Chat prompts are rendered with the
        chat template (the option continues the assistant's turn). Options are scored exactly, token by
        token, so multi-token options (``"None"``) compare with single-token ones on the same footing
        (a total, not a per-token mean).
        """
        options = [str(o) for o in options]
        if not options or len(set(options)) != len(options):
            raise ValueError(f"options must be distinct and non-empty, got {options!r}")
        rendered = [self.render(p) for p in prompts]
        for r in rendered:
            if not isinstance(r, str):
                raise UnsupportedError(
                    "option scoring needs the prompt as text, but chat_template='server' leaves rendering to "
                    "the server: set chat_template to 'auto', 'plain', 'gemma', 'chatml', 'llama3' or Jinja source")
        keys = [request_key(self.backend_name, self.model_id, "option_logprobs", r, {"options": options})
                for r in rendered]
        results: list[list[float] | None] = [None] * len(prompts)
        todo, duplicates, hits = self._plan(keys, results, lambda v: v["logprobs"])
        with self._tracking(len(prompts), len(todo), hits + len(duplicates), "scoring options") as track:
            for i, lps in self._option_logprobs([(i, rendered[i]) for i in todo], options):
                results[i] = [float(x) for x in lps]
                if self.cache is not None:
                    self.cache.put(keys[i], {"logprobs": results[i]}, backend=self.backend_name,
                                   model=self.model_id, op="option_logprobs")
                track(Completion("", 0, 0))
        for i, first in duplicates.items():
            results[i] = results[first]
        return np.asarray(results, dtype=np.float64).reshape(len(prompts), len(options))

    def reset_stats(self) -> None:
        self.stats = LLMStats()
        self.last_stats = LLMStats()

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()

    # ---- helpers ------------------------------------------------------------------------------------
    def _plan(self, keys: list[str], results: list, extract) -> tuple[list[int], dict[int, int], int]:
        """Fill ``results`` from the cache. Returns (indices to compute, {duplicate index: index of its
        first occurrence} for identical requests inside this call, number of cache hits)."""
        cached = self.cache.get_many(keys) if self.cache is not None else {}
        todo: list[int] = []
        first_of: dict[str, int] = {}
        duplicates: dict[int, int] = {}
        for i, key in enumerate(keys):
            if key in cached:
                results[i] = extract(cached[key])
            elif key in first_of:
                duplicates[i] = first_of[key]
            else:
                first_of[key] = i
                todo.append(i)
        return todo, duplicates, len(keys) - len(todo) - len(duplicates)

    @contextmanager
    def _tracking(self, n_total: int, n_todo: int, n_hits: int, what: str):
        """Progress bar + stats around the computation of ``n_todo`` uncached requests."""
        call = LLMStats(requests=n_total, cache_hits=n_hits)
        start = time.perf_counter()
        progress = task = None
        if self.config.progress and n_todo >= self.config.progress_min:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeRemainingColumn(), TextColumn("{task.fields[rate]}"))
            progress.start()
            task = progress.add_task(f"{self.backend_name}: {what}", total=n_todo,
                                     rate=f"cache hits {call.hit_rate:.0%}")

        def track(c: Completion) -> None:
            call.prompt_tokens += c.prompt_tokens
            call.completion_tokens += c.completion_tokens
            call.seconds = time.perf_counter() - start
            if progress is not None:
                progress.update(task, advance=1,
                                rate=f"{call.tokens_per_s:.1f} tok/s, cache hits {call.hit_rate:.0%}")

        try:
            yield track
        finally:
            if progress is not None:
                progress.stop()
            call.seconds = time.perf_counter() - start if n_todo else 0.0
            self.last_stats = call
            self.stats.add(call)
            if n_todo:
                log.info("%s (%s): %s", self.backend_name, what, call)
