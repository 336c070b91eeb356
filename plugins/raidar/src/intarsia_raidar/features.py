"""Raidar's features: how much of the input survives each rewrite.

Follows the official detection scripts (``detect_*_inv.py``) step by step:

* words are ``text.split()`` lower-cased (and stripped, a no-op after ``split``);
* for each *key* of a record — every prompt's rewrite and, by default, the input itself (the official
  loop runs over all keys, ``"input"`` included) — count the **distinct** word n-grams (n = 1..4) that
  input and rewrite share, and take fuzzywuzzy's ``ratio`` (raw strings) and ``token_set_ratio``;
* also count the n-grams the input shares with all key values joined by spaces;
* vector = [mean over keys of the shared counts] + [shared counts per key] + [shared counts vs the
  joined values], all divided by the input's word count, then the raw similarities per key.

``rapidfuzz`` computes the two similarities (the same Indel-distance ratio that fuzzywuzzy computes
with python-Levenshtein, far faster); :mod:`intarsia_raidar.reference` is a plain-Python version that
the tests compare against.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

INPUT_KEY = "input"

# fuzzywuzzy's full_process: its "force ascii" removes only the code points 128..255, then every
# non-word character (unicode \W, so "_" survives) becomes a space, then lower-case and strip.
_LATIN1_HIGH = dict.fromkeys(range(128, 256))
_NON_WORD = re.compile(r"(?ui)\W")


def fuzzywuzzy_process(text: str) -> str:
    """The string fuzzywuzzy's ``token_set_ratio`` compares (``full_process(s, force_ascii=True)``)."""
    return _NON_WORD.sub(" ", text.translate(_LATIN1_HIGH)).lower().strip()


def words(text: str) -> list[str]:
    """The official tokenisation: whitespace split, lower-cased."""
    return [w.lower().strip() for w in text.split()]


def ngram_set(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """Distinct word n-grams (tuples: joining with spaces, as the official code does, gives the same
    sets because the tokens contain no whitespace)."""
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def shared_ngram_counts(tokens_a: Sequence[str], tokens_b: Sequence[str], ngram_max: int = 4) -> list[int]:
    """Numbers of distinct n-grams, n = 1..ngram_max, present in both token lists."""
    return [len(ngram_set(tokens_a, n) & ngram_set(tokens_b, n)) for n in range(1, ngram_max + 1)]


class SimilarityFns:
    """``ratio`` and ``token_set_ratio`` as the config asks (rounding, pre-processing)."""

    def __init__(self, round_similarities: bool = True, processor: str = "fuzzywuzzy"):
        from rapidfuzz import fuzz, utils

        if processor == "fuzzywuzzy":
            self._process = fuzzywuzzy_process
        elif processor == "rapidfuzz":
            self._process = utils.default_process
        else:
            raise ValueError(f"unknown similarity_processor {processor!r}; choose fuzzywuzzy or rapidfuzz")
        self._fuzz = fuzz
        self._round = round_similarities

    def __call__(self, original: str, rewrite: str) -> tuple[float, float]:
        ratio = self._fuzz.ratio(original, rewrite)
        a, b = self._process(original), self._process(rewrite)
        # fuzzywuzzy returns 0 when either processed string is empty; rapidfuzz agrees, but be explicit
        token_set = self._fuzz.token_set_ratio(a, b, processor=None) if a and b else 0.0
        if self._round:  # fuzzywuzzy's utils.intr: int(round(x)), Python's round-half-even
            return float(int(round(ratio))), float(int(round(token_set)))
        return float(ratio), float(token_set)


def record_keys(record: Mapping[str, str], prompts: Sequence[str], include_input: bool) -> list[str]:
    """The keys compared with the input, in feature order: ``"input"`` first (where it sits in the
    paper's records) when included, then the prompts in the given order."""
    return ([INPUT_KEY] if include_input else []) + list(prompts)


def feature_names(prompts: Sequence[str], include_input: bool = True, ngram_max: int = 4) -> list[str]:
    keys = record_keys({}, prompts, include_input)
    ns = range(1, ngram_max + 1)
    names = [f"mean/shared_{n}gram" for n in ns]
    names += [f"{k}/shared_{n}gram" for k in keys for n in ns]
    names += [f"joined/shared_{n}gram" for n in ns]
    names += [f"{k}/{m}" for k in keys for m in ("ratio", "token_set_ratio")]
    return names


def record_features(
    record: Mapping[str, str],
    prompts: Sequence[str],
    *,
    include_input: bool = True,
    ngram_max: int = 4,
    similarity: SimilarityFns | None = None,
) -> np.ndarray:
    """The feature vector of one record (``{"input": text, prompt: rewrite, ...}``)."""
    similarity = similarity or SimilarityFns()
    original = record[INPUT_KEY]
    tokens = words(original)
    if not tokens:
        raise ValueError("the input text has no words: Raidar's features are undefined for empty text")
    n_words = float(len(tokens))
    keys = record_keys(record, prompts, include_input)

    per_key: list[list[int]] = []
    sims: list[float] = []
    joined = ""
    for key in keys:
        value = record[key]
        joined += " " + value
        per_key.append(shared_ngram_counts(tokens, words(value), ngram_max))
        sims.extend(similarity(original, value))
    counts = np.asarray(per_key, dtype=np.float64)
    mean = counts.sum(axis=0) / len(keys)
    vs_joined = np.asarray(shared_ngram_counts(tokens, words(joined), ngram_max), dtype=np.float64)
    return np.concatenate([mean / n_words, counts.ravel() / n_words, vs_joined / n_words, np.asarray(sims)])


def features_matrix(records: Sequence[Mapping[str, str]], prompts: Sequence[str], *, include_input: bool = True,
                    ngram_max: int = 4, round_similarities: bool = True,
                    similarity_processor: str = "fuzzywuzzy") -> np.ndarray:
    sim = SimilarityFns(round_similarities, similarity_processor)
    rows = [record_features(r, prompts, include_input=include_input, ngram_max=ngram_max, similarity=sim)
            for r in records]
    width = len(feature_names(prompts, include_input, ngram_max))
    return np.vstack(rows) if rows else np.zeros((0, width))
