"""Errors raised by the LLM backends (all subclass ``intarsia.errors.IntarsiaError`` where useful)."""

from __future__ import annotations

from intarsia.errors import IntarsiaError


class LLMError(IntarsiaError):
    """Base class of this plugin's errors."""


class CacheError(LLMError):
    """The on-disk cache cannot be opened or read."""


class ContextLengthError(LLMError, ValueError):
    """A prompt does not fit the model's context window."""


class BackendUnavailableError(LLMError, ImportError):
    """An optional dependency of a backend is not installed."""


class ServerError(LLMError):
    """An OpenAI-compatible server failed (unreachable, timing out, HTTP error, or bad response)."""


class MalformedResponseError(ServerError):
    """The server answered with invalid JSON or JSON without the expected fields."""


class UnsupportedError(LLMError):
    """The backend cannot do what was asked (e.g. option scoring on a server without prompt logprobs)."""
