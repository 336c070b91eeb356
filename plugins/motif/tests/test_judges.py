"""The small-model judges: contextual calibration, few-shot examples kept apart, both orders, pointwise."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from intarsia_motif.annotators import LLMAnnotator
from intarsia_motif.config import AnnotatorConfig, PromptConfig
from intarsia_motif.judges import (
    EMPTY_CAPTION,
    PairwiseJudge,
    calibrate_probs,
    compact_pairwise_prompt,
    split_few_shot,
)
from intarsia_motif.prompts import FIRST, SECOND

SCORES = {"": 0.0, "You bump into the wall.": -1.0, "A torch flickers on the wall.": 0.0,
          "The door is locked.": 0.5, "You pick up the key.": 1.0, "You open the door.": 2.0,
          "You reach the goal.": 3.0}
CAPTIONS = list(SCORES)


def _caption(text: str) -> str:
    return "" if text == EMPTY_CAPTION else text


class BiasedPairLLM:
    """A fake base model with a known position bias: p("1") ∝ bias[0] * t(a), p("2") ∝ bias[1] * t(b),
    where t is a softmax of the two captions' true scores (so a pair of equal captions shows the bias alone)."""

    def __init__(self, bias=(0.9, 0.1), temperature=4.0, scores=SCORES):
        self.bias, self.temperature, self.scores = np.asarray(bias, float), temperature, scores
        self.prompts: list[str] = []

    def option_logprobs(self, prompts, options):
        assert list(options) == [" 1", " 2"]
        out = []
        for prompt in prompts:
            self.prompts.append(prompt)
            a = _caption(re.findall(r"Message 1: (.*)", prompt)[-1])
            b = _caption(re.findall(r"Message 2: (.*)", prompt)[-1])
            sa, sb = (self.scores.get(c, 0.0) / self.temperature for c in (a, b))
            t = np.exp([sa, sb]) / np.exp([sa, sb]).sum()
            out.append(np.log(self.bias * t) + 7.0)  # unnormalised, as a real model's option log-probs are
        return np.asarray(out)


class YesNoLLM:
    """A fake base model whose "yes" log-odds for a caption is its score plus a constant bias."""

    def __init__(self, bias=-2.0):
        self.bias, self.prompts = bias, []

    def option_logprobs(self, prompts, options):
        assert list(options) == [" yes", " no"]
        self.prompts += list(prompts)
        logit = np.array([SCORES.get(_caption(re.findall(r"Message: (.*)", p)[-1]), 0.0) + self.bias for p in prompts])
        return np.stack([-np.log1p(np.exp(-logit)), -np.log1p(np.exp(logit))], axis=1)


def _annotator(llm, **kw) -> LLMAnnotator:
    return LLMAnnotator(llm, AnnotatorConfig(mode="logprobs", prompt=PromptConfig(game="gridworld"), **kw))


def test_calibration_matches_a_hand_computation():
    # bias (0.8, 0.2) on a true preference (0.6, 0.4): the model says p = (0.48, 0.08) / 0.56
    raw = np.array([[0.48 / 0.56, 0.08 / 0.56]])
    cf = np.array([[0.8, 0.2], [0.8, 0.2]])
    # W = diag(1/0.8, 1/0.2): (0.857/0.8, 0.143/0.2) = (1.0714, 0.7143) -> normalised (0.6, 0.4)
    np.testing.assert_allclose(calibrate_probs(raw, cf), [[0.6, 0.4]], atol=1e-12)
    # p_cf is the mean of the content-free rows, (0.8, 0.2): a uniform answer becomes (0.625, 2.5) / 3.125
    np.testing.assert_allclose(calibrate_probs(np.array([[0.5, 0.5]]), np.array([[0.7, 0.3], [0.9, 0.1]])),
                               [[0.2, 0.8]], atol=1e-12)


def test_calibration_removes_a_known_position_bias():
    llm = BiasedPairLLM(bias=(0.9, 0.1))
    pairs = list(itertools.combinations(CAPTIONS, 2))
    render = compact_pairwise_prompt("Reach the goal.")
    raw_p, raw_ok = PairwiseJudge(llm, render, calibrate=False).probs(pairs)
    cal = PairwiseJudge(llm, render, calibrate=True)
    cal_p, cal_ok = cal.probs(pairs)
    # uncalibrated, "1" wins in every prompt: never order-consistent
    assert not any(raw_ok)
    assert all(cal_ok[i] for i, (a, b) in enumerate(pairs) if SCORES[a] != SCORES[b])
    # calibrated, each order gives back the true preference exactly, so their average does too
    for (a, b), p in zip(pairs, cal_p):
        sa, sb = SCORES[a] / 4.0, SCORES[b] / 4.0
        assert p == pytest.approx(np.exp(sa) / (np.exp(sa) + np.exp(sb)), abs=1e-9)
    # content-free prompts are each caption against itself: "N/A" and "" (shown as "(nothing happens)")
    assert any("Message 1: N/A\nMessage 2: N/A\n" in q for q in llm.prompts)
    assert cal.calls == 2 * 2 * len(pairs) // 2 + 2
    assert np.all(np.isfinite(raw_p))


def test_both_orders_average_probabilities_not_votes():
    llm = BiasedPairLLM(bias=(0.7, 0.3))
    pairs = [("You pick up the key.", "You bump into the wall.")]
    p, _ = PairwiseJudge(llm, compact_pairwise_prompt("t")).probs(pairs)
    t = np.exp([0.25, -0.25]) / np.exp([0.25, -0.25]).sum()
    fwd = 0.7 * t[0] / (0.7 * t[0] + 0.3 * t[1])  # key shown first
    rev = 0.3 * t[0] / (0.3 * t[0] + 0.7 * t[1])  # key shown second
    assert p[0] == pytest.approx(0.5 * (fwd + rev))


def test_few_shot_examples_never_overlap_the_judged_pairs():
    examples = [{"first": "You bump into the wall.", "second": "A torch flickers on the wall.", "label": 2},
                {"first": "The door is locked.", "second": "You bump into the wall.", "label": 1}]
    llm = BiasedPairLLM(bias=(0.5, 0.5))
    ann = _annotator(llm, judge="compact", few_shot=examples)
    pairs = list(itertools.combinations(CAPTIONS, 2))
    pairs += [("A torch flickers on the wall.", "You bump into the wall.")]  # an example in the other order
    records = ann.annotate(pairs)
    shots = {frozenset((e["first"], e["second"])) for e in examples}
    asked = set()
    for prompt in llm.prompts:
        a = _caption(re.findall(r"Message 1: (.*)", prompt)[-1])
        b = _caption(re.findall(r"Message 2: (.*)", prompt)[-1])
        asked.add(frozenset((a, b)))
        # every prompt shows both examples, then a pair that is not one of them
        assert prompt.count("More progress: ") == 2
    assert asked.isdisjoint(shots)
    by_pair = dict(zip(pairs, records))
    assert by_pair[("You bump into the wall.", "A torch flickers on the wall.")] == {"label": SECOND, "few_shot": True}
    assert by_pair[("A torch flickers on the wall.", "You bump into the wall.")] == {"label": FIRST, "few_shot": True}
    assert by_pair[("You bump into the wall.", "The door is locked.")] == {"label": SECOND, "few_shot": True}
    assert all("few_shot" not in r for p, r in by_pair.items() if frozenset(p) not in shots)
    assert ann.calls == 2 * (len(pairs) - 3)  # both orders of every judged pair, the examples never


def test_split_few_shot_is_order_blind():
    ask, given = split_few_shot([("a", "b"), ("b", "a"), ("a", "c")], [("b", "a", 1)])
    assert ask == [2] and given == {0: SECOND, 1: FIRST}


def test_pointwise_judge_is_order_consistent_and_asks_each_caption_once():
    llm = YesNoLLM()
    ann = _annotator(llm, judge="pointwise", calibrate=True)
    pairs = list(itertools.combinations(CAPTIONS, 2))
    records = ann.annotate(pairs[:10]) + ann.annotate(pairs[10:])
    # 7 captions and the content-free "N/A" ("" is a caption already): 8 prompts for 21 pairs
    assert ann.calls == len(llm.prompts) == 8
    for (a, b), rec in zip(pairs, records):
        assert rec["order_consistent"]
        if SCORES[a] != SCORES[b]:
            assert rec["label"] == (FIRST if SCORES[a] > SCORES[b] else SECOND)
            assert rec["p_first"] == pytest.approx(1 / (1 + np.exp(SCORES[b] - SCORES[a])))
    swapped = _annotator(YesNoLLM(), judge="pointwise").annotate([(b, a) for a, b in pairs])
    assert all(s["p_first"] == pytest.approx(1 - r["p_first"]) for s, r in zip(swapped, records))


def test_judge_config_errors_are_one_line():
    with pytest.raises(ValueError, match="annotator.judge"):
        _annotator(YesNoLLM(), judge="oracle-ish")
    with pytest.raises(ValueError, match="few_shot needs annotator.judge: compact"):
        _annotator(YesNoLLM(), judge="pointwise", few_shot=[{"first": "a", "second": "b", "label": 1}])
    with pytest.raises(ValueError, match=r"few_shot.0.label"):
        _annotator(BiasedPairLLM(), judge="compact", few_shot=[{"first": "a", "second": "b", "label": 3}])
    with pytest.raises(ValueError, match="need annotator.mode: logprobs"):
        LLMAnnotator(YesNoLLM(), AnnotatorConfig(mode="generate", judge="pointwise"))
