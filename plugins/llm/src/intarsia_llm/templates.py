"""Chat templates: turn a message list into the text a model continues.

A prompt is either a plain string (sent as is: a completion prompt) or a list of messages
``[{"role": "system"|"user"|"assistant", "content": str}, ...]``. Messages are rendered with the model's
own Jinja template (from the GGUF metadata or the tokenizer config) or with one of the built-ins below;
every rendering ends with the opening of the assistant's turn, so the model's continuation is the answer.
Rendered text never includes the BOS token: backends add it when tokenizing (see ``strip_bos``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

ROLES = ("system", "user", "assistant")


class PromptError(ValueError):
    """A prompt is neither a string nor a well-formed message list."""


def validate_messages(messages: Any) -> list[dict[str, str]]:
    if not isinstance(messages, (list, tuple)) or not messages:
        raise PromptError(f"a prompt must be a str or a non-empty list of messages, got {type(messages).__name__}")
    out = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or "role" not in msg or "content" not in msg:
            raise PromptError(f"message {i} must be a dict with 'role' and 'content', got {msg!r}")
        if msg["role"] not in ROLES:
            raise PromptError(f"message {i} has role {msg['role']!r}; expected one of {', '.join(ROLES)}")
        if not isinstance(msg["content"], str):
            raise PromptError(f"message {i} content must be a str, got {type(msg['content']).__name__}")
        out.append({"role": msg["role"], "content": msg["content"]})
    return out


@dataclass(frozen=True)
class ChatTemplate:
    """A named rendering of messages plus the stop strings that end the assistant's turn."""

    name: str
    render_fn: Callable[[list[dict[str, str]]], str]
    stop: tuple[str, ...] = field(default_factory=tuple)

    def render(self, messages: Sequence[dict]) -> str:
        return self.render_fn(validate_messages(messages))


def _plain(messages: list[dict[str, str]]) -> str:
    # A transcript a base model has seen many times in pre-training text; the system text is a preamble.
    parts = []
    for m in messages:
        if m["role"] == "system":
            parts.append(m["content"].strip() + "\n\n")
        else:
            speaker = "User" if m["role"] == "user" else "Assistant"
            parts.append(f"{speaker}: {m['content'].strip()}\n")
    return "".join(parts) + "Assistant:"


def _gemma(messages: list[dict[str, str]]) -> str:
    # Gemma has no system role: its official template prepends the system text to the first user turn.
    system = "".join(m["content"] + "\n\n" for m in messages if m["role"] == "system")
    out = []
    for m in messages:
        if m["role"] == "system":
            continue
        role = "model" if m["role"] == "assistant" else "user"
        content = m["content"]
        if role == "user" and system:
            content, system = system + content, ""
        out.append(f"<start_of_turn>{role}\n{content}<end_of_turn>\n")
    return "".join(out) + "<start_of_turn>model\n"


def _chatml(messages: list[dict[str, str]]) -> str:
    body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return body + "<|im_start|>assistant\n"


def _llama3(messages: list[dict[str, str]]) -> str:
    body = "".join(
        f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content'].strip()}<|eot_id|>" for m in messages
    )
    return body + "<|start_header_id|>assistant<|end_header_id|>\n\n"


BUILTIN: dict[str, ChatTemplate] = {
    "plain": ChatTemplate("plain", _plain, ("\nUser:",)),
    "gemma": ChatTemplate("gemma", _gemma, ("<end_of_turn>",)),
    "chatml": ChatTemplate("chatml", _chatml, ("<|im_end|>",)),
    "llama3": ChatTemplate("llama3", _llama3, ("<|eot_id|>",)),
}

DEFAULT_FALLBACK = "plain"


def jinja_template(source: str, *, bos_token: str = "", eos_token: str = "", name: str = "jinja") -> ChatTemplate:
    """A template from Jinja source, rendered as HF ``apply_chat_template`` does (sandboxed)."""
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    compiled = env.from_string(source)

    def render(messages: list[dict[str, str]]) -> str:
        return compiled.render(messages=messages, bos_token=bos_token, eos_token=eos_token,
                               add_generation_prompt=True)

    stop = tuple(s for s in (eos_token,) if s)
    return ChatTemplate(name, render, stop)


def resolve_template(option: str, *, own: str | None = None, bos_token: str = "", eos_token: str = "") -> ChatTemplate:
    """Pick the template for config value ``option`` given the model's own Jinja source (or None)."""
    if option == "auto":
        if own:
            return jinja_template(own, bos_token=bos_token, eos_token=eos_token, name="model")
        return BUILTIN[DEFAULT_FALLBACK]
    if option in BUILTIN:
        return BUILTIN[option]
    if "{{" in option or "{%" in option:
        return jinja_template(option, bos_token=bos_token, eos_token=eos_token, name="custom")
    raise PromptError(
        f"unknown chat_template {option!r}: use 'auto', one of {', '.join(BUILTIN)}, or Jinja source"
    )


def strip_bos(text: str, bos_token: str) -> tuple[str, bool]:
    """Remove a leading BOS string that a Jinja template wrote; returns (text, had_bos)."""
    if bos_token and text.startswith(bos_token):
        return text[len(bos_token):], True
    return text, False
