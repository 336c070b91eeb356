"""Throughput and cache counters of a backend."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class LLMStats:
    """Counters over one call (``llm.last_stats``) or the backend's lifetime (``llm.stats``)."""

    requests: int = 0
    """Prompts answered (generation or option scoring), cached or not."""
    cache_hits: int = 0
    """Of those, answered from the on-disk cache."""
    prompt_tokens: int = 0
    """Prompt tokens the model evaluated (uncached requests only)."""
    completion_tokens: int = 0
    """Tokens the model generated (uncached requests only)."""
    seconds: float = 0.0
    """Wall time spent on uncached requests."""

    @property
    def computed(self) -> int:
        return self.requests - self.cache_hits

    @property
    def hit_rate(self) -> float:
        return self.cache_hits / self.requests if self.requests else 0.0

    @property
    def tokens_per_s(self) -> float:
        """Generated tokens per second of wall time (prompt evaluation included in the time)."""
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0

    @property
    def seconds_per_request(self) -> float:
        """Mean wall time per uncached request (with concurrency: wall time / requests)."""
        return self.seconds / self.computed if self.computed else 0.0

    def add(self, other: LLMStats) -> None:
        for name in ("requests", "cache_hits", "prompt_tokens", "completion_tokens", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, float]:
        out = asdict(self)
        out.update(hit_rate=self.hit_rate, tokens_per_s=self.tokens_per_s,
                   seconds_per_request=self.seconds_per_request)
        return out

    def __str__(self) -> str:
        return (f"{self.requests} requests, cache hit rate {self.hit_rate:.0%}, "
                f"{self.completion_tokens} tokens generated at {self.tokens_per_s:.1f} tok/s, "
                f"{self.seconds_per_request:.2f} s per uncached request")
