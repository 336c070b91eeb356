"""Pairwise preference probabilities from option log-probabilities (used by Motif).

A judge prompt shows two items and asks for "1" (the first is better), "2" (the second) and optionally a
third option for a tie ("None" in Motif). Small models prefer one position whatever the content; asking
both orders and averaging the probability that each *item* wins cancels that bias to first order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def option_probs(logprobs: np.ndarray) -> np.ndarray:
    """Softmax over the options of each row: probabilities renormalised among the fixed options."""
    logprobs = np.asarray(logprobs, dtype=np.float64)
    shifted = logprobs - logprobs.max(axis=1, keepdims=True)
    p = np.exp(shifted)
    return p / p.sum(axis=1, keepdims=True)


def pairwise_order_probs(llm, render: Callable[[Any, Any], Any], pairs: Sequence[tuple[Any, Any]],
                         options: Sequence[str] = ("1", "2")) -> tuple[np.ndarray, np.ndarray]:
    """``(forward, swapped)``: per pair ``(a, b)`` the option probabilities of ``render(a, b)`` and of
    ``render(b, a)``, both with columns [first (a), second (b), tie...] (the swapped prompt's "first"/"second"
    columns are exchanged back), rows summing to 1. The orders agree on a pair when both put the larger
    probability on the same item.

    ``render(a, b)`` builds the prompt (str or chat messages) presenting a first and b second; ``options``
    are the answers meaning "first", "second" and optionally further answers (a tie) in that order.
    """
    if len(options) < 2:
        raise ValueError("pairwise judgements need at least two options: first and second")
    pairs = list(pairs)
    if not pairs:
        return np.zeros((0, len(options))), np.zeros((0, len(options)))
    prompts = [render(a, b) for a, b in pairs] + [render(b, a) for a, b in pairs]
    # One call, so the progress bar and the cache see the whole batch.
    probs = option_probs(llm.option_logprobs(prompts, list(options)))
    swapped = probs[len(pairs):].copy()
    swapped[:, [0, 1]] = swapped[:, [1, 0]]  # in the swapped prompt "1" means b, i.e. "second" for (a, b)
    return probs[:len(pairs)], swapped


def pairwise_option_probs(llm, render: Callable[[Any, Any], Any], pairs: Sequence[tuple[Any, Any]],
                          options: Sequence[str] = ("1", "2"), both_orders: bool = True) -> np.ndarray:
    """Probabilities per pair ``(a, b)`` that a is preferred, b is preferred (and a tie).

    ``render(a, b)`` builds the prompt (str or chat messages) presenting a first and b second; ``options``
    are the answers meaning "first", "second" and optionally further answers (a tie) in that order.
    Returns an array ``(len(pairs), len(options))`` with columns [first (a), second (b), tie...], rows
    summing to 1. With ``both_orders`` the pair is also asked as ``render(b, a)`` and the two estimates of
    :func:`pairwise_order_probs` are averaged; further columns are averaged as is.
    """
    if len(options) < 2:
        raise ValueError("pairwise judgements need at least two options: first and second")
    pairs = list(pairs)
    if not pairs:
        return np.zeros((0, len(options)))
    if not both_orders:
        return option_probs(llm.option_logprobs([render(a, b) for a, b in pairs], list(options)))
    forward, swapped = pairwise_order_probs(llm, render, pairs, options)
    return (forward + swapped) / 2.0
