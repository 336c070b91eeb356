"""The paper's rewrite prompts and how a prompt and a text become one LLM request."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PromptSet:
    """A named list of rewrite prompts plus the request template they were used with."""

    prompts: tuple[str, ...]
    template: str  # with {prompt} and {text}


# Section 3 of the paper: the seven prompts for prose ("invariance" rewriting).
PROSE = PromptSet(
    prompts=(
        "Revise this with your best effort",
        "Help me polish this",
        "Rewrite this for me",
        "Make this fluent while doing minimal change",
        "Refine this for me please",
        "Concise this for me and keep all the information",
        "Improve this in GPT way",
    ),
    template="{prompt}: {text}",
)

# The five code prompts of the official code-domain rewriting script. That script quotes the code and
# appends an instruction so the chat model answers with code only; we keep that request shape.
CODE = PromptSet(
    prompts=(
        "Revise the code with your best effort",
        "Help me polish this code",
        "Rewrite the code with GPT style",
        "Refine the code for me please",
        "Concise the code without change the functionality",
    ),
    template='{prompt}: "{text}" . No need to explain. Just write code:',
)

PROMPT_SETS = {"prose": PROSE, "code": CODE}


def resolve_prompts(prompt_set: str, prompts: list[str] | tuple[str, ...] = (), template: str = "") -> PromptSet:
    """The prompts and template a config asks for (explicit prompts/template override the named set)."""
    if prompt_set not in PROMPT_SETS:
        raise ValueError(f"unknown prompt set {prompt_set!r}; choose one of {', '.join(PROMPT_SETS)}")
    base = PROMPT_SETS[prompt_set]
    chosen = tuple(prompts) if prompts else base.prompts
    if any(not isinstance(p, str) or not p.strip() or p == "input" for p in chosen):
        raise ValueError("rewrite prompts must be non-empty strings other than 'input'")
    tmpl = template or base.template
    if "{prompt}" not in tmpl or "{text}" not in tmpl:
        raise ValueError(f"template {tmpl!r} must contain {{prompt}} and {{text}}")
    return PromptSet(chosen, tmpl)


def render(template: str, prompt: str, text: str) -> str:
    """Fill the template. ``str.replace`` rather than ``format`` so braces in the text are harmless."""
    return template.replace("{prompt}", prompt).replace("{text}", text)


def strip_echo(output: str, request: str, prompt: str) -> str:
    """Remove what a completion-style model repeats of its request before the actual rewrite.

    Base (non-chat) models often start by copying the request, or the instruction, back. When the
    output starts with the whole request and goes on, the part after it is the rewrite. Otherwise a
    leading ``"<prompt>:"`` is dropped, so an output that is exactly the request counts as the model
    returning the text unchanged (which is what it did). Surrounding whitespace goes, as the official
    code's ``.strip()`` did.
    """
    out = output.strip()
    req = request.strip()
    if req and out.startswith(req) and out[len(req):].strip():
        return out[len(req):].strip()
    head = prompt.strip() + ":"
    if out.lower().startswith(head.lower()):
        out = out[len(head):]
    return out.strip()
