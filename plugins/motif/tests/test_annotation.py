import json

import numpy as np
import pytest
from intarsia_motif import prompts as P
from intarsia_motif.annotators import (
    AnnotationLog,
    LLMAnnotator,
    OracleAnnotator,
    RandomAnnotator,
    agreement,
    annotate_pairs,
)
from intarsia_motif.config import AnnotatorConfig, PairsConfig
from intarsia_motif.dataset import labelled_pairs, pair_id, sample_pairs


class ScriptedLLM:
    """A backend double: answers from a script keyed by prompt content, counts every prompt it sees."""

    def __init__(self, answer_fn, logprob_fn=None):
        self.answer_fn, self.logprob_fn = answer_fn, logprob_fn
        self.prompts = []

    def generate(self, prompts, *, max_tokens=256, temperature=0.0, top_p=1.0, stop=None, seed=None):
        self.prompts.extend(prompts)
        return [self.answer_fn(p) for p in prompts]

    def option_logprobs(self, prompts, options):
        self.prompts.extend(prompts)
        return np.array([self.logprob_fn(p) for p in prompts])


def _user(p):
    return p[1]["content"] if isinstance(p, list) else p


def test_identical_captions_are_ties_and_pairs_are_deduplicated():
    caps = ["a", "b", "a", "c", "", "b"] * 20
    ps = sample_pairs(caps, PairsConfig(num_pairs=300, seed=1))
    assert len(ps) == 300
    # unique holds only distinct-caption pairs, once per unordered pair
    assert all(a < b for a, b in ps.unique.values())
    assert len(ps.unique) == len({frozenset(p) for p in zip(ps.first, ps.second) if p[0] != p[1]})
    assert pair_id("a", "b") == pair_id("b", "a")
    # annotate canonical pairs as "the alphabetically later caption wins"; the join flips swapped pairs
    labels = {pid: P.SECOND for pid in ps.unique}
    rows = labelled_pairs(ps, labels)
    for a, b, y in zip(rows["first"], rows["second"], rows["label"]):
        if a == b:
            assert y == P.TIE
        else:
            assert y == (P.SECOND if b > a else P.FIRST)


def test_captions_sampling_mode_is_uniform_over_distinct_captions():
    caps = ["common"] * 990 + ["rare"] * 10
    steps = sample_pairs(caps, PairsConfig(num_pairs=2000, sampling="steps"))
    uniq = sample_pairs(caps, PairsConfig(num_pairs=2000, sampling="captions"))
    assert steps.first.count("rare") < 60
    assert 800 < uniq.first.count("rare") < 1200


def test_oracle_and_random_annotators():
    oracle = OracleAnnotator({"key": 1.0, "goal": 3.0, "wall": -1.0})
    recs = oracle.annotate([("You pick up the key.", "You reach the goal."), ("You bump into the wall.", ""),
                            ("x", "y")])
    assert [r["label"] for r in recs] == [P.SECOND, P.SECOND, P.TIE]
    rnd = RandomAnnotator(0).annotate([("a", "b")] * 300)
    counts = np.bincount([r["label"] for r in rnd], minlength=4)
    assert counts[3] == 0 and all(c > 60 for c in counts[:3])


def test_generation_mode_parses_and_retries_once():
    def answer(p):
        if isinstance(p, list) and len(p) == 4:  # the retry conversation
            return "Fine: best_description: 2" if "treasure" in p[1]["content"] else "still no idea"
        u = _user(p)
        if "newt" in u:
            return 'Killing is progress. ("best_description": 1)'
        return "Both look similar to me."  # unparsable -> retry

    llm = ScriptedLLM(answer)
    ann = LLMAnnotator(llm, AnnotatorConfig(mode="generate"))
    recs = ann.annotate([("You kill the newt!", "Hello"), ("x", "You find treasure."), ("p", "q")])
    assert [r["label"] for r in recs] == [P.FIRST, P.SECOND, P.UNKNOWN]
    assert [r["attempts"] for r in recs] == [1, 2, 2]
    assert ann.calls == 5 and ann.retries == 2  # 3 first prompts + 2 retries, no third try


def test_logprob_mode_averages_both_orders():
    # a judge with a strong position bias towards "1" plus a real preference for "gold"
    def lp(prompt):
        u = prompt.split('"description_1":')[1]
        first_is_gold = "gold" in u.split('"description_2":')[0]
        second_is_gold = "gold" in u.split('"description_2":')[1]
        bias = 2.0
        pref = 1.0 if first_is_gold else (-1.0 if second_is_gold else 0.0)
        return [bias + pref, 0.0]

    llm = ScriptedLLM(None, lp)
    ann = LLMAnnotator(llm, AnnotatorConfig(mode="logprobs", both_orders=True))
    recs = ann.annotate([("gold", "nothing"), ("nothing", "gold"), ("a", "b")])
    assert [r["label"] for r in recs] == [P.FIRST, P.SECOND, P.TIE]
    assert len(llm.prompts) == 6
    assert recs[2]["p_first"] == pytest.approx(0.5)
    assert recs[2]["order_consistent"] is False  # pure position bias flips with the order
    # one order only: the bias wins every time
    single = LLMAnnotator(ScriptedLLM(None, lp), AnnotatorConfig(mode="logprobs", both_orders=False))
    assert [r["label"] for r in single.annotate([("nothing", "gold"), ("a", "b")])] == [P.FIRST, P.FIRST]


def test_annotation_resumes_without_losing_or_repeating_pairs(tmp_path):
    caps = [f"caption {i}" for i in range(12)]
    ps = sample_pairs(caps, PairsConfig(num_pairs=400, sampling="captions", seed=3))
    assert len(ps.unique) > 30
    asked = []

    class Counting(OracleAnnotator):
        def annotate(self, pairs):
            asked.extend(pairs)
            return super().annotate(pairs)

    ann = Counting({f"caption {i}": float(i) for i in range(12)})
    log = tmp_path / "annotations.jsonl"
    s1 = annotate_pairs(ann, ps.unique, log, batch_size=5, stop_after=3)  # "killed" after 3 batches
    assert s1["complete"] is False and s1["annotated"] == 15
    # simulate a kill in the middle of a write: a torn, unparsable last line
    with log.open("a") as fh:
        fh.write('{"pair_id": "torn", "lab')
    s2 = annotate_pairs(ann, ps.unique, log, batch_size=5)
    assert s2["complete"] is True and s2["annotated"] == len(ps.unique)
    assert len(asked) == len(ps.unique)  # every pair asked exactly once
    assert len({frozenset(p) for p in asked}) == len(ps.unique)
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.strip().startswith("{") and x.strip().endswith("}")]
    assert len({r["pair_id"] for r in lines}) == len(lines) == len(ps.unique)
    # a third call asks nothing
    s3 = annotate_pairs(ann, ps.unique, log, batch_size=5)
    assert s3["asked_now"] == 0 and len(asked) == len(ps.unique)
    assert AnnotationLog(log).labels() == {r["pair_id"]: r["label"] for r in lines}


def test_agreement_statistics():
    a = {"p1": P.FIRST, "p2": P.SECOND, "p3": P.TIE, "p4": P.FIRST, "p5": P.UNKNOWN}
    b = {"p1": P.FIRST, "p2": P.FIRST, "p3": P.TIE, "p4": P.FIRST, "p5": P.FIRST}
    s = agreement(a, b)
    assert s["pairs"] == 4 and s["agreement"] == pytest.approx(0.75)
    assert s["decisive_pairs"] == 3 and s["decisive_agreement"] == pytest.approx(2 / 3)
    assert agreement(a, a)["kappa"] == pytest.approx(1.0)


def test_backend_without_option_scoring_falls_back_to_generation():
    class Unsupported(Exception):
        pass

    Unsupported.__name__ = "UnsupportedError"

    class NoScores(ScriptedLLM):
        def option_logprobs(self, prompts, options):
            raise Unsupported("server renders chat itself")

    llm = NoScores(lambda p: '("best_description": 2)')
    ann = LLMAnnotator(llm, AnnotatorConfig(mode="logprobs"))
    with pytest.warns(UserWarning):
        recs = ann.annotate([("a", "b")])
    assert recs[0]["label"] == P.SECOND and ann.mode == "generate"
