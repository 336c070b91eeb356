"""Judges a small base model can be: short prompts scored by option log-probabilities.

The paper's judge is Llama 2 70B chat writing an analysis before its verdict. A 270M base model cannot
follow that protocol, and scored on the answer digit alone it mostly reports a position bias (it names the
same slot whichever order a pair is shown in). The methods made for small base models are each an option
here, so they can be measured one by one (``benchmarks/motif_judges.py``):

* **compact pairwise prompt** (``judge: compact``): one line of task, then "Message 1 / Message 2 / More
  progress:" scored on " 1" / " 2". Short enough for few-shot examples.
* **few-shot** (``few_shot``): a handful of labelled caption pairs of the same task put before the
  question. A pair that is an example is never asked and never evaluated: :func:`split_few_shot` keeps the
  two apart, and the example's own label is used for it.
* **contextual calibration** (``calibrate``, Zhao et al. 2021): the option probabilities the prompt gives
  to content-free captions ("N/A", "") estimate the model's label bias p_cf; every answer is then
  re-weighted by ``W = diag(p_cf)^-1`` and renormalised (:func:`calibrate_probs`).
* **both orders** (``both_orders``): each pair is asked as (a, b) and (b, a); the probabilities that each
  *caption* wins are averaged (not the votes), which cancels a position bias to first order.
* **pointwise** (``judge: pointwise``, not in the paper): one "Progress: yes/no" verdict per caption; its
  log-odds ``s(c) = log p(yes) - log p(no)`` turn into preferences ``P(a > b) = sigmoid(s(a) - s(b))``.
  The label of a pair cannot depend on the order it is shown in (order-consistent by construction), and
  n captions cost n prompts instead of n(n-1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from intarsia_llm import option_probs

Pair = tuple[str, str]

#: one-line task descriptions for the compact prompts ("" in ``annotator.task_text`` picks the game's)
TASK_TEXTS = {
    "gridworld": "In this game you must get through the level and reach the goal.",
    "NetHack": "In this game you must go as deep into the dungeon as you can and stay alive.",
}
GENERIC_TASK = "In this game you must make progress towards finishing the game."

#: what an empty caption is shown as (an empty line would read as a missing message)
EMPTY_CAPTION = "(nothing happens)"

PAIRWISE_OPTIONS = (" 1", " 2")
POINTWISE_OPTIONS = (" yes", " no")


def task_text(game: str, custom: str = "") -> str:
    return custom or TASK_TEXTS.get(game, GENERIC_TASK)


def show(caption: str) -> str:
    return caption if caption else EMPTY_CAPTION


# ----------------------------------------------------------------------------------------------------------
# few-shot examples
# ----------------------------------------------------------------------------------------------------------
def parse_examples(examples: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, int]]:
    """``[{first, second, label}]`` (label 1: the first shows more progress, 2: the second) -> tuples."""
    out = []
    for i, ex in enumerate(examples):
        try:
            first, second, label = str(ex["first"]), str(ex["second"]), int(ex["label"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"annotator.few_shot.{i}: needs first, second and label (1 or 2), got {ex!r}") from None
        if label not in (1, 2):
            raise ValueError(f"annotator.few_shot.{i}.label: must be 1 or 2, got {label}")
        if first == second:
            raise ValueError(f"annotator.few_shot.{i}: the two captions are the same ({first!r})")
        out.append((first, second, label))
    return out


def split_few_shot(pairs: Sequence[Pair], examples: Sequence[tuple[str, str, int]]) -> tuple[list[int], dict[int, int]]:
    """Keep the few-shot examples apart from the pairs to judge.

    Returns the indices of ``pairs`` that are to be asked, and ``{index: label}`` for the pairs that are
    examples (in either order; the label is given in the pair's own order, 0 = first, 1 = second).
    """
    known = {}
    for a, b, label in examples:
        known[(a, b)] = label - 1
        known[(b, a)] = 2 - label
    ask, given = [], {}
    for i, pair in enumerate(pairs):
        if tuple(pair) in known:
            given[i] = known[tuple(pair)]
        else:
            ask.append(i)
    return ask, given


# ----------------------------------------------------------------------------------------------------------
# calibration
# ----------------------------------------------------------------------------------------------------------
def calibrate_probs(probs: np.ndarray, content_free: np.ndarray) -> np.ndarray:
    """Contextual calibration (Zhao et al. 2021): ``q = renormalise(diag(p_cf)^-1 p)``.

    ``probs`` (n, k) option probabilities; ``content_free`` (m, k) the probabilities the same prompt gives
    to m content-free inputs, averaged into p_cf. A model whose only preference is the bias p_cf is mapped
    to the uniform distribution.
    """
    p_cf = np.asarray(content_free, dtype=np.float64).reshape(-1, np.shape(probs)[1]).mean(axis=0)
    q = np.asarray(probs, dtype=np.float64) / p_cf
    return q / q.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------------------------------------------------
# judges
# ----------------------------------------------------------------------------------------------------------
class PairwiseJudge:
    """P(first caption shows more progress) from a pairwise prompt's two option probabilities.

    ``render(a, b, examples)`` builds the prompt; ``options`` are the answers "first" and "second".
    """

    def __init__(self, llm: Any, render, *, options: Sequence[str] = PAIRWISE_OPTIONS, examples=(),
                 both_orders: bool = True, calibrate: bool = False, content_free: Sequence[str] = ("N/A", "")):
        self.llm, self.render, self.options = llm, render, list(options)
        self.examples = list(examples)
        self.both_orders, self.calibrate, self.content_free = both_orders, calibrate, list(content_free)
        self.calls = 0
        self._p_cf: np.ndarray | None = None

    def content_free_probs(self) -> np.ndarray:
        """The option probabilities of content-free pairs (each content-free caption against itself)."""
        if self._p_cf is None:
            prompts = [self.render(c, c, self.examples) for c in self.content_free]
            self.calls += len(prompts)
            self._p_cf = option_probs(self.llm.option_logprobs(prompts, self.options))
        return self._p_cf

    def _order_probs(self, pairs: Sequence[Pair]) -> np.ndarray:
        """(n, 2) probabilities of the options "first", "second" for pairs shown in the given order."""
        prompts = [self.render(a, b, self.examples) for a, b in pairs]
        self.calls += len(prompts)
        p = option_probs(self.llm.option_logprobs(prompts, self.options))
        return calibrate_probs(p, self.content_free_probs()) if self.calibrate else p

    def probs(self, pairs: Sequence[Pair]) -> tuple[np.ndarray, list]:
        """P(first preferred) per pair and, with both orders, whether the two orders agree."""
        pairs = list(pairs)
        if not pairs:
            return np.zeros(0), []
        fwd = self._order_probs(pairs)[:, 0]
        if not self.both_orders:
            return fwd, [None] * len(pairs)
        # in the swapped prompt option "first" is b: P(a wins) = its "second" probability
        swapped = self._order_probs([(b, a) for a, b in pairs])[:, 1]
        consistent = [bool((f > 0.5) == (s > 0.5)) for f, s in zip(fwd, swapped)]
        return 0.5 * (fwd + swapped), consistent


class PointwiseJudge:
    """Per-caption "progress: yes/no" log-odds, turned into pairwise preferences by their difference."""

    def __init__(self, llm: Any, render, *, options: Sequence[str] = POINTWISE_OPTIONS, calibrate: bool = False,
                 content_free: Sequence[str] = ("N/A", "")):
        self.llm, self.render, self.options = llm, render, list(options)
        self.calibrate, self.content_free = calibrate, list(content_free)
        self.calls = 0
        self._logit: dict[str, float] = {}  # each caption is asked once per judge, whatever the batching

    def _log_odds(self, captions: Sequence[str]) -> None:
        new = [c for c in dict.fromkeys(captions) if c not in self._logit]
        if new:
            self.calls += len(new)
            p = option_probs(self.llm.option_logprobs([self.render(c) for c in new], self.options))
            self._logit.update(zip(new, (np.log(p[:, 0]) - np.log(p[:, 1])).tolist()))

    def scores(self, captions: Sequence[str]) -> dict[str, float]:
        """log p(yes) - log p(no) per distinct caption (calibrated: minus the content-free log-odds, which
        shifts every score by the same constant and so never changes a pair's label)."""
        caps = list(dict.fromkeys(captions))
        # "" may be both a caption and a content-free input: the same prompt, asked once
        self._log_odds(caps + (self.content_free if self.calibrate else []))
        bias = float(np.mean([self._logit[c] for c in self.content_free])) if self.calibrate else 0.0
        return {c: self._logit[c] - bias for c in caps}

    def probs(self, pairs: Sequence[Pair]) -> tuple[np.ndarray, list]:
        pairs = list(pairs)
        if not pairs:
            return np.zeros(0), []
        s = self.scores([c for pair in pairs for c in pair])
        diff = np.array([s[a] - s[b] for a, b in pairs])
        p = 1.0 / (1.0 + np.exp(-diff))
        # shown the other way round the same scores give 1 - p: the two orders always agree
        return p, [True] * len(pairs)


# ----------------------------------------------------------------------------------------------------------
# the compact prompts
# ----------------------------------------------------------------------------------------------------------
def compact_pairwise_prompt(task: str):
    """``render(a, b, examples)`` for the compact pairwise question (examples: (first, second, label))."""
    head = f"{task}\nFor each pair of game messages, say which one shows more progress towards the goal.\n\n"

    def render(a: str, b: str, examples=()) -> str:
        shots = "".join(f"Message 1: {show(x)}\nMessage 2: {show(y)}\nMore progress: {label}\n\n"
                        for x, y, label in examples)
        return f"{head}{shots}Message 1: {show(a)}\nMessage 2: {show(b)}\nMore progress:"

    return render


def pointwise_prompt(task: str):
    """``render(caption)`` for the pointwise yes/no progress question."""
    head = f"{task}\nFor each game message, say whether it shows progress towards the goal.\n\n"

    def render(caption: str) -> str:
        return f"{head}Message: {show(caption)}\nProgress:"

    return render


JUDGES = ("paper", "compact", "pointwise")


def make_judge(llm: Any, config: Any, paper_prompt=None):
    """The judge of an ``AnnotatorConfig`` (``judge``, ``few_shot``, ``calibrate``, ...), or ``None`` for the
    paper's prompt without calibration (the annotator's own path). ``paper_prompt(a, b)`` renders the
    paper's scoring prompt."""
    judge, examples = config.judge, parse_examples(config.few_shot)
    if judge not in JUDGES:
        raise ValueError(f"annotator.judge must be one of {', '.join(JUDGES)}, got {judge!r}")
    if (judge != "paper" or config.calibrate) and config.mode != "logprobs":
        raise ValueError(f"annotator.judge {judge!r} / calibrate score option log-probabilities: they need "
                         f"annotator.mode: logprobs (got {config.mode!r})")
    if examples and judge != "compact":
        raise ValueError(f"annotator.few_shot needs annotator.judge: compact (got {judge!r}): the paper's "
                         "prompt has no room for examples and the pointwise judge takes none")
    task = task_text(config.prompt.game, config.task_text)
    cf = list(config.content_free)
    if judge == "pointwise":
        return PointwiseJudge(llm, pointwise_prompt(task), calibrate=config.calibrate, content_free=cf)
    if judge == "compact":
        return PairwiseJudge(llm, compact_pairwise_prompt(task), examples=examples, both_orders=config.both_orders,
                             calibrate=config.calibrate, content_free=cf)
    if not config.calibrate:
        return None
    return PairwiseJudge(llm, lambda a, b, _examples=(): paper_prompt(a, b), options=("1", "2"),
                         both_orders=config.both_orders, calibrate=True, content_free=cf)

__all__ = [
    "JUDGES", "PairwiseJudge", "PointwiseJudge", "TASK_TEXTS", "calibrate_probs", "compact_pairwise_prompt",
    "make_judge", "parse_examples", "pointwise_prompt", "split_few_shot", "task_text",
]
