"""intarsia-llm: language-model backends (embedded GGUF, transformers, OpenAI-compatible servers) with a
persistent cache. Build one by name: ``intarsia.build.build("llms", "gguf", {})``.

Public API for other plugins (import these names from ``intarsia_llm``, not from its modules):

* :func:`option_probs` ``(logprobs) -> probs``: the softmax of each row of option log-probabilities
  (``llm.option_logprobs(prompts, options)``), i.e. probabilities renormalised among the fixed options.
* :func:`pairwise_option_probs` ``(llm, render, pairs, options=("1", "2"), both_orders=True)``: per pair
  ``(a, b)`` the probabilities that a judge prompt prefers a, b (and a tie), with the position bias
  cancelled by averaging both presentation orders.
* :func:`pairwise_order_probs`: the same, each order kept apart (to tell whether the orders agree).

Importing this package is cheap (these names load on first use); backends import their heavy dependencies
when built.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
_PAIRWISE = ("option_probs", "pairwise_option_probs", "pairwise_order_probs")
__all__ = [*_PAIRWISE, "__version__"]


def __getattr__(name: str) -> Any:  # numpy loads on first use, not when `intarsia --help` imports the plugin
    if name in _PAIRWISE:
        from . import pairwise

        return getattr(pairwise, name)
    raise AttributeError(f"module 'intarsia_llm' has no attribute {name!r}")
