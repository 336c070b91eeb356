"""Exceptions for user mistakes. The CLI prints these as one line (no traceback unless ``--debug``)."""

from __future__ import annotations


class IntarsiaError(Exception):
    """A mistake the user can fix: bad config, unknown component, unreadable file, unreachable server."""


class UnknownComponentError(IntarsiaError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ConfigError(IntarsiaError, ValueError):
    pass


class PluginLoadError(IntarsiaError):
    pass


class DuplicateComponentError(IntarsiaError):
    pass


def close_matches(word: str, choices, limit: int = 3, cutoff: float = 60.0) -> list[str]:
    """Names from ``choices`` that look like ``word`` (best first), for "did you mean" hints."""
    from rapidfuzz import fuzz, process

    found = process.extract(word, list(choices), scorer=fuzz.WRatio, limit=limit, score_cutoff=cutoff)
    return [name for name, _score, _idx in found]


def did_you_mean(word: str, choices) -> str:
    matches = close_matches(word, choices)
    return f" Did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
