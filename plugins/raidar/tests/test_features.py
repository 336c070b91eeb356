"""Feature values: hand computations, and equality with the plain-Python reference implementation."""

from __future__ import annotations

import numpy as np
import pytest
from intarsia_raidar import reference
from intarsia_raidar.features import (
    SimilarityFns,
    feature_names,
    features_matrix,
    fuzzywuzzy_process,
    record_features,
    shared_ngram_counts,
    words,
)

SAMPLES = [
    {"input": "The cat sat on the mat. The cat sat!", "P1": "The cat sat on the mat.", "P2": "A dog sat on a mat."},
    {"input": "Résumé: naïve café_owner's 2nd-floor flat — £300/month", "P1": "Résumé: the naive café owner's flat, £300 a month",
     "P2": ""},
    {"input": "UPPER lower MiXeD   spacing\tand\nnewlines", "P1": "upper LOWER mixed spacing and newlines", "P2": "UPPER lower MiXeD   spacing\tand\nnewlines"},
    {"input": "x", "P1": "y", "P2": "x x x x"},
    {"input": "def f(a, b):\n    return a+b  # sum", "P1": "def f(a, b):\n    \"\"\"Sum.\"\"\"\n    return a + b", "P2": "lambda a, b: a + b"},
]


def test_words_are_lowercased_whitespace_tokens():
    assert words("  The CAT\tsat\n on  ") == ["the", "cat", "sat", "on"]


def test_shared_ngrams_by_hand():
    # input a b c a b: 1-grams {a,b,c}; 2-grams {ab, bc, ca}; rewrite a b d: {a,b,d}, {ab, bd}
    assert shared_ngram_counts(words("a b c a b"), words("a b d")) == [2, 1, 0, 0]
    # distinct n-grams: repeated phrases count once
    assert shared_ngram_counts(words("go go go go go"), words("go go go go go")) == [1, 1, 1, 1]


def test_vector_layout_by_hand():
    rec = {"input": "a b c d", "P": "a b x y"}
    # keys: input (vs itself: 4,3,2,1) and P (2,1,0,0); mean = (3, 2, 1, .5); joined "a b c d a b x y"
    # shares with the input: a,b,c,d / ab,bc,cd / abc,bcd / abcd = 4,3,2,1; all divided by 4 words
    v = record_features(rec, ["P"])
    expected = np.array([3, 2, 1, .5, 4, 3, 2, 1, 2, 1, 0, 0, 4, 3, 2, 1]) / 4.0
    np.testing.assert_allclose(v[:16], expected)
    assert v[16:18].tolist() == [100.0, 100.0]  # input vs itself
    assert len(v) == len(feature_names(["P"])) == 4 + 2 * 4 + 4 + 2 * 2


def test_include_input_flag_drops_the_self_comparison():
    rec = {"input": "a b c d", "P": "a b x y"}
    v = record_features(rec, ["P"], include_input=False)
    # only P: mean = P's counts; joined " a b x y" shares 2,1,0,0
    np.testing.assert_allclose(v[:12], np.array([2, 1, 0, 0, 2, 1, 0, 0, 2, 1, 0, 0]) / 4.0)
    assert len(v) == len(feature_names(["P"], include_input=False)) == 14


def test_fuzzywuzzy_processing():
    # U+0080..U+00FF vanish (fuzzywuzzy's "force ascii" under Python 3), other non-word chars -> space,
    # "_" is a word character and stays, higher code points stay
    assert fuzzywuzzy_process("Café_Owner — £5!") == "caf_owner   5"  # é, £ dropped; " — " and "!" become spaces
    assert fuzzywuzzy_process("Café_Owner, 5!") == "caf_owner  5"
    assert fuzzywuzzy_process("Ünïcode ĀB") == "ncode āb"


@pytest.mark.parametrize("rounding", [True, False])
@pytest.mark.parametrize("include_input", [True, False])
def test_equal_to_reference_on_samples(rounding, include_input):
    for rec in SAMPLES:
        fast = record_features(rec, ["P1", "P2"], include_input=include_input,
                               similarity=SimilarityFns(round_similarities=rounding))
        slow = reference.reference_features(rec, ["P1", "P2"], include_input=include_input, round_similarities=rounding)
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9, err_msg=repr(rec))


def test_similarities_equal_reference_pairwise():
    sim = SimilarityFns(round_similarities=False)
    for rec in SAMPLES:
        for key in ("P1", "P2"):
            r, t = sim(rec["input"], rec[key])
            a, b = rec["input"], rec[key]
            assert r == pytest.approx(reference.indel_ratio(a, b) if a and b else (100.0 if a == b else 0.0), abs=1e-9)
            assert t == pytest.approx(reference.token_set_ratio(a, b), abs=1e-9)


def test_reference_lcs_by_hand():
    assert reference.lcs_length("ABCBDAB", "BDCABA") == 4
    assert reference.indel_ratio("abcd", "abxd") == pytest.approx(100 * 2 * 3 / 8)
    assert reference.indel_ratio("", "") == 100.0


def test_equal_to_reference_on_news(news):
    human, machine = news
    records = human[:15] + machine[:15]
    prompts = [k for k in human[0] if k != "input"]
    fast = features_matrix(records, prompts)
    slow = np.array([reference.reference_features(r, prompts) for r in records])
    assert fast.shape == (30, 4 + 7 * 4 + 4 + 7 * 2)
    np.testing.assert_array_equal(fast, slow)  # rounded similarities and exact ratios: bit-equal


def test_empty_input_has_no_features():
    with pytest.raises(ValueError, match="no words"):
        record_features({"input": "  ", "P": "x"}, ["P"])
