"""Procedural task pairs, generated on the fly as HF ``datasets``.

Every row is one prompt whose last non-pad token is ``=``; the model's next-token prediction at that
position (``answer_pos``) is the answer, one number token. Columns:

    input_ids     prompt tokens, right-padded to a fixed width (causal attention never reads the padding)
    answer_pos    index of ``=``
    label         answer token of the split's task (what training and exact-match accuracy use)
    original      the original (pre-training) task's answer on this string, as a number
    new           the fine-tuning task's answer on this string, as a number
    correlated    whether ``new == f(original)`` holds on this row
    control       the windowed count of ``task.control_letter`` (c): a quantity pre-training never asks
                  for, the target of the not-in-pretraining probe control
    lm_start      (PCFG pre-training with ``task.next_token`` only) first position whose next token is scored

Splits (``TaskPair.dataset(split, n, seed)``):

    pretrain      the original task on the pre-training distribution (operand priors apply)
    finetune      the new task; a ``correlation`` share of rows has new == f(original)
    original      test set of the original task (pre-training distribution, label = original)
    correlated    test set of the new task where new == f(original)
    uncorrelated  test set of the new task where new != f(original)

Counts are taken over the last ``task.count_window`` string positions (0: all of them).

**Counter** (Tracr-style): the prompt is ``<bos> x_1 .. x_L =``; the original task counts token ``a`` in the
window, the new one counts ``b``. The prompt does not say which, so the fine-tuned model answers one task
on every input (as a compiled Tracr counter that is fine-tuned to count another token). With a window,
the letters before it are drawn from all letters (a and b too), so a count is no longer a linear
function of the mean embedding.

**PCFG** (the paper's App. B.2 setup): windows of ``seq_len`` tokens (250 in the paper) cut from grammar
sentences joined end to end; the prompt is ``<bos> <task> O : x_1 .. x_n =`` with a task token
(``<count>``: occurrences of operand O in the last ``count_window`` positions, 40 in the paper;
``<index>``: the position of the ``occurrence``-th O, the paper's 6th, or ``seq_len`` when there are fewer)
and an operand token O in {a, b, c}, drawn with the prior's shares (``task.operand_priors``). The original
task is ``count a``, the new one ``count b``, correlated rows having count(b) == f(count(a)).

**Max identifier** (``kind: maxid``, App. B.1 as we read it): prompt ``<bos> x_1 .. x_L =``; the original
task names the largest letter in the window (as a number, a = 0), the new one the smallest; correlated
rows have min == f(max) with ``relation: mirror`` (f(n) = letters - 1 - n) or ``identity``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from .config import TaskConfig

SPLITS = ("pretrain", "finetune", "original", "correlated", "uncorrelated")
RELATIONS = ("identity", "successor", "mirror")
KINDS = ("counter", "pcfg", "maxid")
NEW_TASK_SPLITS = ("finetune", "correlated", "uncorrelated")


@dataclass(frozen=True)
class Vocab:
    """Special tokens, the letters of the strings, then number tokens 0..max_number."""

    letters: int
    max_number: int

    specials = ("<pad>", "<bos>", "=", ":", "<count>", "<index>")

    @property
    def tokens(self) -> list[str]:
        return [*self.specials, *(chr(ord("a") + i) for i in range(self.letters)),
                *(str(n) for n in range(self.max_number + 1))]

    def __len__(self) -> int:
        return len(self.specials) + self.letters + self.max_number + 1

    def id(self, token: str) -> int:
        return self.specials.index(token)

    def letter(self, i: int) -> int:
        return len(self.specials) + i

    def number(self, n: int) -> int:
        if not 0 <= n <= self.max_number:
            raise ValueError(f"number {n} outside the vocabulary's 0..{self.max_number}")
        return len(self.specials) + self.letters + n

    def decode(self, ids) -> str:
        toks = self.tokens
        return " ".join(toks[i] for i in ids if i != 0)


class TaskPair:
    """The original -> new task pair named by ``config.kind``; ``dataset(split, n, seed)`` builds rows."""

    def __init__(self, config: TaskConfig):
        if config.kind not in KINDS:
            raise ValueError(f"task.kind must be one of {', '.join(KINDS)}, got {config.kind!r}")
        if config.relation not in RELATIONS:
            raise ValueError(f"task.relation must be one of {', '.join(RELATIONS)}, got {config.relation!r}")
        levels = config.operand_priors if config.kind == "pcfg" else config.prior_levels
        if config.prior not in levels:
            where = "task.operand_priors" if config.kind == "pcfg" else "task.prior_levels"
            raise ValueError(f"task.prior must be one of {sorted(levels)} ({where}), got {config.prior!r}")
        if config.letters < 3:
            raise ValueError("task.letters must be at least 3 (two operands and a distractor)")
        if config.count_window > config.seq_len:
            raise ValueError(f"task.count_window={config.count_window} is longer than seq_len={config.seq_len}")
        if config.control_letter >= config.letters:
            raise ValueError(f"task.control_letter={config.control_letter} is not one of the {config.letters} letters")
        self.window = config.count_window or config.seq_len
        if config.kind == "counter" and 2 * config.max_count > self.window:
            raise ValueError(f"task.max_count={config.max_count} does not fit twice into the counted "
                             f"{self.window} positions (seq_len / count_window)")
        if config.kind == "maxid" and config.relation == "successor":
            raise ValueError("task.relation: maxid needs 'mirror' or 'identity' (min == max + 1 never holds)")
        self.config = config
        self.f = {"identity": lambda n: n, "successor": lambda n: n + 1,
                  "mirror": lambda n: config.letters - 1 - n}[config.relation]
        self.vocab = Vocab(config.letters, max(config.seq_len, config.max_count + 1, config.letters))
        self.prefix = 4 if config.kind == "pcfg" else 1  # <bos> [<task> O :]
        self.width = self.prefix + config.seq_len + 1
        self.grammar = Grammar(config.letters) if config.kind == "pcfg" else None

    @property
    def prior_value(self) -> float:
        """Counter: P(b occurs); PCFG: b's operand share."""
        if self.config.kind == "pcfg":
            return float(self.operand_shares()[1])
        return float(self.config.prior_levels[self.config.prior])

    def operand_shares(self, prior: str | None = None) -> np.ndarray:
        """PCFG: the normalised pre-training shares of the operands a, b, c at ``prior``."""
        shares = np.asarray(self.config.operand_priors[prior or self.config.prior], dtype=np.float64)
        return shares / shares.sum()

    # ------------------------------------------------------------------------------------------------
    def dataset(self, split: str, n: int, seed: int, *, correlation: float = 1.0, prior: str | None = None):
        """``n`` rows of ``split`` from a generator seeded by (seed, split): the same call, the same rows."""
        from datasets import Dataset

        return Dataset.from_dict(self.rows(split, n, seed, correlation=correlation, prior=prior))

    def rows(self, split: str, n: int, seed: int, *, correlation: float = 1.0, prior: str | None = None) -> dict:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; splits are {', '.join(SPLITS)}")
        if not 0.0 <= correlation <= 1.0:
            raise ValueError(f"correlation must lie in [0, 1], got {correlation}")
        prior = prior or self.config.prior
        levels = self.config.operand_priors if self.config.kind == "pcfg" else self.config.prior_levels
        if prior not in levels:
            raise ValueError(f"unknown prior {prior!r}; the task has {sorted(levels)}")
        rng = np.random.default_rng([seed, SPLITS.index(split), int(round(correlation * 1000)),
                                     zlib.crc32(prior.encode())])
        if self.config.kind == "pcfg":
            # small sets (tests, toy runs) draw from a smaller pool: building 4096 sentences dominates them
            pool = self.grammar.pool(rng, 4096 if n >= 500 else max(256, 4 * n), self.config.min_len)
            make = lambda rng, split, corr: self._pcfg_row(rng, split, corr, prior, pool)  # noqa: E731
        elif self.config.kind == "maxid":
            make = self._maxid_row
        else:
            p = float(self.config.prior_levels[prior])
            make = lambda rng, split, corr: self._counter_row(rng, split, corr, p)  # noqa: E731
        keys = ["input_ids", "answer_pos", "label", "original", "new", "correlated", "control"]
        if self.config.kind == "pcfg" and self.config.next_token and split == "pretrain":
            keys.append("lm_start")
        out: dict[str, list] = {k: [] for k in keys}
        for _ in range(n):
            if split == "finetune":
                corr = bool(rng.random() < correlation)
            else:
                corr = {"correlated": True, "uncorrelated": False}.get(split)
            row = make(rng, split, corr)
            for k in keys:
                out[k].append(row[k])
        return out

    def _row(self, ids: list[int], label: int, original: int, new: int, control: int) -> dict:
        v = self.vocab
        pad = self.width - len(ids)
        return {"input_ids": ids + [v.id("<pad>")] * pad, "answer_pos": len(ids) - 1, "label": v.number(label),
                "original": original, "new": new, "correlated": new == self.f(original), "control": control,
                "lm_start": self.prefix - 1}

    # ------------------------------------------------------------------------------------------------
    def _counts(self, rng, corr: bool | None, b_present: float) -> tuple[int, int]:
        """(count_a, count_b): free draws, or constrained to count_b ==/!= f(count_a)."""
        m = self.config.max_count
        if corr is True:
            valid = [k for k in range(m + 1) if 0 <= self.f(k) <= m]
            a = int(rng.choice(valid))
            return a, self.f(a)
        a = int(rng.integers(0, m + 1))
        if corr is False:
            choices = [k for k in range(m + 1) if k != self.f(a)]
            return a, int(rng.choice(choices))
        b = int(rng.integers(0, m + 1)) if rng.random() < b_present else 0
        return a, b

    def _head(self, rng, exclude: tuple[int, ...] = ()) -> list[int]:
        """The letters before the counted window: drawn from every letter (but ``exclude``)."""
        allowed = [i for i in range(self.config.letters) if i not in exclude]
        return [int(t) for t in rng.choice(allowed, size=self.config.seq_len - self.window)]

    def _counter_row(self, rng, split: str, corr: bool | None, p: float) -> dict:
        cfg, v = self.config, self.vocab
        # pre-training and the original test set use the prior on b; fine-tuning sets draw b freely
        prior_split = split in ("pretrain", "original")
        a, b = self._counts(rng, corr, p if prior_split else 1.0)
        window = rng.integers(2, cfg.letters, size=self.window)  # distractors c, d, ...
        pos = rng.permutation(self.window)
        window[pos[:a]] = 0
        window[pos[a:a + b]] = 1
        # b stays absent from the whole string when the prior left it out of the window
        head = self._head(rng, exclude=(1,) if prior_split and b == 0 else ())
        string = head + [int(t) for t in window]
        ids = [v.id("<bos>"), *(v.letter(t) for t in string), v.id("=")]
        control = [int(t) for t in window].count(cfg.control_letter)
        return self._row(ids, b if split in NEW_TASK_SPLITS else a, a, b, control)

    # ------------------------------------------------------------------------------------------------
    def _maxid_row(self, rng, split: str, corr: bool | None) -> dict:
        cfg, v = self.config, self.vocab
        top = cfg.letters - 1
        for _ in range(10000):
            hi = int(rng.integers(0, top + 1))
            lo = int(rng.integers(0, hi + 1))
            if corr is None or (lo == self.f(hi)) == corr:
                break
        else:
            raise RuntimeError("maxid: no (max, min) pair satisfies the requested relation")
        window = rng.integers(lo, hi + 1, size=self.window)
        pos = rng.permutation(self.window)
        window[pos[0]], window[pos[min(1, self.window - 1)]] = hi, lo
        if self.window == 1:
            lo = hi
        string = self._head(rng) + [int(t) for t in window]
        ids = [v.id("<bos>"), *(v.letter(t) for t in string), v.id("=")]
        control = [int(t) for t in window].count(cfg.control_letter)
        return self._row(ids, lo if split in NEW_TASK_SPLITS else hi, hi, lo, control)

    # ------------------------------------------------------------------------------------------------
    def _pcfg_row(self, rng, split: str, corr: bool | None, prior: str, pool: list[list[int]]) -> dict:
        cfg, v = self.config, self.vocab
        if split == "pretrain":
            operand = int(rng.choice(3, p=self.operand_shares(prior)))
            task = "<index>" if rng.random() < cfg.index_share else "<count>"
            string = self._pcfg_window(rng, pool)
        else:
            task = "<count>"
            operand = 1 if split in NEW_TASK_SPLITS else 0
            string = self._pcfg_window(rng, pool, corr)
        a, b = self.windowed_count(string, 0), self.windowed_count(string, 1)
        ids = [v.id("<bos>"), v.id(task), v.letter(operand), v.id(":"), *(v.letter(t) for t in string), v.id("=")]
        return self._row(ids, self.answer(task, operand, string), a, b,
                         self.windowed_count(string, cfg.control_letter))

    def _pcfg_window(self, rng, pool: list[list[int]], corr: bool | None = None) -> list[int]:
        """A ``seq_len`` window of grammar sentences joined end to end; with ``corr``, rejection-sampled
        until the windowed count(b) ==/!= f(count(a))."""
        n = self.config.seq_len
        for _ in range(10000):
            out: list[int] = []
            while len(out) < n:
                out += pool[int(rng.integers(len(pool)))]
            out = out[:n]
            if corr is None or (self.windowed_count(out, 1) == self.f(self.windowed_count(out, 0))) == corr:
                return out
        raise RuntimeError("the grammar rarely yields the requested count relation; change task.seq_len/count_window")

    def windowed_count(self, string: list[int], letter: int) -> int:
        return string[len(string) - self.window:].count(letter)

    def answer(self, task: str, operand: int, string: list[int]) -> int:
        if task == "<count>":
            return self.windowed_count(string, operand)
        seen = 0
        for i, t in enumerate(string):
            seen += t == operand
            if seen == self.config.occurrence:
                return i
        return len(string)


class Grammar:
    """The PCFG: start symbol S, two levels of nonterminals, then terminal groups of letters (a = 0).

    S  -> N1 N2 N3 (0.4) | N2 N1 (0.3) | N3 N3 N1 (0.3)
    N1 -> T1 T2 (0.4)    | T2 T1 T3 (0.3) | T3 T1 (0.3)
    N2 -> T2 T3 (0.4)    | T3 T2 T1 (0.3) | T1 T1 T2 (0.3)
    N3 -> T3 T1 T2 (0.4) | T2 T2 (0.3)    | T1 T3 (0.3)
    T1 -> a b c (0.4)    | c d (0.3)      | e a (0.3)
    T2 -> b d f (0.4)    | g h (0.3)      | a i (0.3)
    T3 -> j c e (0.4)    | f b (0.3)      | h g a (0.3)

    A stand-in of the same shape as the paper's Fig. 14 (a start symbol, nonterminal levels whose rules
    have 2-3 children, terminals over a small alphabet; not its exact rules): every letter's count and
    positions depend on the derivation. Letters beyond ``letters`` wrap around (index mod ``letters``).
    """

    RULES: dict[str, list[tuple[tuple, float]]] = {
        "S": [(("N1", "N2", "N3"), 0.4), (("N2", "N1"), 0.3), (("N3", "N3", "N1"), 0.3)],
        "N1": [(("T1", "T2"), 0.4), (("T2", "T1", "T3"), 0.3), (("T3", "T1"), 0.3)],
        "N2": [(("T2", "T3"), 0.4), (("T3", "T2", "T1"), 0.3), (("T1", "T1", "T2"), 0.3)],
        "N3": [(("T3", "T1", "T2"), 0.4), (("T2", "T2"), 0.3), (("T1", "T3"), 0.3)],
        "T1": [((0, 1, 2), 0.4), ((2, 3), 0.3), ((4, 0), 0.3)],
        "T2": [((1, 3, 5), 0.4), ((6, 7), 0.3), ((0, 8), 0.3)],
        "T3": [((9, 2, 4), 0.4), ((5, 1), 0.3), ((7, 6, 0), 0.3)],
    }

    def __init__(self, letters: int):
        self.letters = letters

    def _expand(self, rng, symbol, out: list[int]) -> None:
        if isinstance(symbol, int):
            out.append(symbol % self.letters)
            return
        rules = self.RULES[symbol]
        rhs = rules[int(rng.choice(len(rules), p=[w for _, w in rules]))][0]
        for s in rhs:
            self._expand(rng, s, out)

    def sample(self, rng, min_len: int = 1) -> list[int]:
        """One sentence of at least ``min_len`` letters."""
        for _ in range(10000):
            out: list[int] = []
            self._expand(rng, "S", out)
            if len(out) >= min_len:
                return out
        raise RuntimeError(f"the grammar yields no sentence of {min_len} letters or more")

    def pool(self, rng, n: int, min_len: int = 1) -> list[list[int]]:
        """``n`` sentences drawn from the grammar; windows draw sentences from it with replacement (the
        same distribution as fresh draws when ``n`` is large, and far faster than expanding per window)."""
        return [self.sample(rng, min_len) for _ in range(n)]


def tensors(ds) -> dict:
    """A generated dataset as the tensors the analyses take: input_ids, positions, labels (+ original, new)."""
    import torch

    return {"input_ids": torch.tensor(ds["input_ids"], dtype=torch.long),
            "positions": torch.tensor(ds["answer_pos"], dtype=torch.long),
            "labels": torch.tensor(ds["label"], dtype=torch.long),
            "original": torch.tensor(ds["original"], dtype=torch.long),
            "new": torch.tensor(ds["new"], dtype=torch.long),
            "control": torch.tensor(ds["control"], dtype=torch.long)}
