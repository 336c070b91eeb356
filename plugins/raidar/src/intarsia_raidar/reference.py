"""A plain-Python reference of Raidar's features: no rapidfuzz, no numpy, written for obviousness.

The tests check :mod:`intarsia_raidar.features` against it and the benchmark times both. Two
similarity back-ends:

* ``exact``: the normalised Indel similarity ``100 * 2 * LCS(a, b) / (len(a) + len(b))`` from a
  textbook longest-common-subsequence table. It is what fuzzywuzzy's ``ratio`` computes when
  python-Levenshtein is installed (and what rapidfuzz computes), so values must agree exactly.
* ``difflib``: ``difflib.SequenceMatcher(None, a, b).ratio()``, fuzzywuzzy's fallback without
  python-Levenshtein. Its matching-block heuristic (and "autojunk" on long strings) is not an exact
  LCS, so its values can differ from the exact ones by a few points; it is here for the speed
  comparison and to show that difference, not as ground truth.
"""

from __future__ import annotations

import difflib
import re


def lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence (dynamic programming, one row at a time)."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0]
        for j, cb in enumerate(b):
            if ca == cb:
                cur.append(prev[j] + 1)
            else:
                cur.append(cur[j] if cur[j] > prev[j + 1] else prev[j + 1])
        prev = cur
    return prev[-1]


def indel_ratio(a: str, b: str) -> float:
    """Normalised Indel similarity in [0, 100]; two empty strings are identical (100)."""
    total = len(a) + len(b)
    if total == 0:
        return 100.0
    return 100.0 * 2 * lcs_length(a, b) / total


def difflib_ratio(a: str, b: str) -> float:
    if not a and not b:
        return 100.0
    return 100.0 * difflib.SequenceMatcher(None, a, b).ratio()


def full_process(s: str) -> str:
    """fuzzywuzzy's ``utils.full_process(s, force_ascii=True)`` under Python 3."""
    s = "".join(ch for ch in s if not 128 <= ord(ch) <= 255)
    s = re.sub(r"(?ui)\W", " ", s)
    return s.lower().strip()


def token_set_ratio(s1: str, s2: str, ratio=indel_ratio) -> float:
    """fuzzywuzzy's ``token_set_ratio``: best ratio among sorted intersection / intersection+rest."""
    p1, p2 = full_process(s1), full_process(s2)
    if not p1 or not p2:
        return 0.0
    t1, t2 = set(p1.split()), set(p2.split())
    sect = " ".join(sorted(t1 & t2))
    only1 = " ".join(sorted(t1 - t2))
    only2 = " ".join(sorted(t2 - t1))
    comb1 = (sect + " " + only1).strip()
    comb2 = (sect + " " + only2).strip()

    def fw_ratio(x: str, y: str) -> float:  # fuzzywuzzy's ratio: equal -> 100, one empty -> 0
        if x == y:
            return 100.0
        if not x or not y:
            return 0.0
        return ratio(x, y)

    return max(fw_ratio(sect, comb1), fw_ratio(sect, comb2), fw_ratio(comb1, comb2))


def tokenize(sentence: str) -> list[str]:
    return [word.lower().strip() for word in sentence.split()]


def shared_ngrams(s1: str, s2: str, ngram_max: int = 4) -> list[int]:
    """Distinct shared word n-grams, n-grams as space-joined strings (the official representation)."""
    t1, t2 = tokenize(s1), tokenize(s2)
    out = []
    for n in range(1, ngram_max + 1):
        g1 = {" ".join(t1[i:i + n]) for i in range(len(t1) - n + 1)}
        g2 = {" ".join(t2[i:i + n]) for i in range(len(t2) - n + 1)}
        out.append(len(g1 & g2))
    return out


def reference_features(record: dict, prompts: list[str], include_input: bool = True, ngram_max: int = 4,
                       similarity: str = "exact", round_similarities: bool = True) -> list[float]:
    """The feature vector, computed the long way round. Key order: ``input`` (if included), prompts."""
    ratio = indel_ratio if similarity == "exact" else difflib_ratio
    original = record["input"]
    n_words = len(tokenize(original))
    keys = (["input"] if include_input else []) + list(prompts)
    per_key, sims, joined = [], [], ""
    for key in keys:
        joined += " " + record[key]
        per_key.append(shared_ngrams(original, record[key], ngram_max))
        r = 100.0 if original == record[key] else (0.0 if not original or not record[key] else ratio(original, record[key]))
        t = token_set_ratio(original, record[key], ratio)
        if round_similarities:
            r, t = float(int(round(r))), float(int(round(t)))
        sims += [r, t]
    mean = [sum(c[i] for c in per_key) / len(keys) for i in range(ngram_max)]
    vec = [m / n_words for m in mean]
    for counts in per_key:
        vec += [c / n_words for c in counts]
    vec += [c / n_words for c in shared_ngrams(original, joined, ngram_max)]
    return vec + sims
