"""Procedural task pairs, generated on the fly as HF ``datasets``.

Every row is one prompt whose last non-pad token is ``=``; the model's next-token prediction at that
position (``answer_pos``) is the answer, one number token. Columns:

    input_ids     prompt tokens, right-padded to a fixed width (causal attention never reads the padding)
    answer_pos    index of ``=``
    label         answer token of the split's task (what training and exact-match accuracy use)
    original      the original (pre-training) task's answer on this string, as a number
    new           the fine-tuning task's answer on this string, as a number
    correlated    whether ``new == f(original)`` holds on this row

Splits (``TaskPair.dataset(split, n, seed)``):

    pretrain      the original task on the pre-training distribution (operand priors apply)
    finetune      the new task; a ``correlation`` share of rows has new == f(original)
    original      test set of the original task (pre-training distribution, label = original)
    correlated    test set of the new task where new == f(original)
    uncorrelated  test set of the new task where new != f(original)

**Counter** (Tracr-style): the prompt is ``<bos> x_1 .. x_L =``; the original task counts token ``a``, the
new one counts ``b``. The prompt does not say which, so the fine-tuned model answers one task on every
input (as a compiled Tracr counter that is fine-tuned to count another token).

**PCFG**: strings come from a small probabilistic context-free grammar; the prompt is
``<bos> <task> O : x_1 .. x_n =`` with a task token (``<count>`` or ``<index>``: the position of the first
occurrence of operand O, or the length when O is absent) and an operand token O. Pre-training draws tasks
and operands (the fine-tuning operand with its prior); the original task is ``count a``, the new one
``count b`` (a separate prompt), correlated rows having count(b) == f(count(a)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import TaskConfig

SPLITS = ("pretrain", "finetune", "original", "correlated", "uncorrelated")
RELATIONS = {"identity": lambda n: n, "successor": lambda n: n + 1}


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
        if config.kind not in ("counter", "pcfg"):
            raise ValueError(f"task.kind must be 'counter' or 'pcfg', got {config.kind!r}")
        if config.relation not in RELATIONS:
            raise ValueError(f"task.relation must be one of {sorted(RELATIONS)}, got {config.relation!r}")
        if config.prior not in config.prior_levels:
            raise ValueError(f"task.prior must be one of {sorted(config.prior_levels)}, got {config.prior!r}")
        if config.letters < 3:
            raise ValueError("task.letters must be at least 3 (two operands and a distractor)")
        if config.kind == "counter" and 2 * config.max_count > config.seq_len:
            raise ValueError(f"task.max_count={config.max_count} does not fit twice into seq_len={config.seq_len}")
        self.config = config
        self.f = RELATIONS[config.relation]
        self.vocab = Vocab(config.letters, max(config.seq_len, config.max_count + 1))
        self.prefix = 1 if config.kind == "counter" else 4  # <bos> [<task> O :]
        self.width = self.prefix + config.seq_len + 1

    @property
    def prior_value(self) -> float:
        return float(self.config.prior_levels[self.config.prior])

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
        p = self.prior_value if prior is None else float(self.config.prior_levels[prior])
        rng = np.random.default_rng([seed, SPLITS.index(split), int(round(correlation * 1000)), int(p * 1e6)])
        make = self._counter_row if self.config.kind == "counter" else self._pcfg_row
        out: dict[str, list] = {k: [] for k in ("input_ids", "answer_pos", "label", "original", "new", "correlated")}
        for _ in range(n):
            if split == "finetune":
                corr = bool(rng.random() < correlation)
            else:
                corr = {"correlated": True, "uncorrelated": False}.get(split)
            row = make(rng, split, corr, p)
            for k, v in row.items():
                out[k].append(v)
        return out

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

    def _counter_row(self, rng, split: str, corr: bool | None, p: float) -> dict:
        cfg, v = self.config, self.vocab
        # pre-training and the original test set use the prior on b; fine-tuning sets draw b freely
        a, b = self._counts(rng, corr, p if split in ("pretrain", "original") else 1.0)
        string = rng.integers(2, cfg.letters, size=cfg.seq_len)  # distractors c, d, ...
        pos = rng.permutation(cfg.seq_len)
        string[pos[:a]] = 0
        string[pos[a:a + b]] = 1
        ids = [v.id("<bos>"), *(v.letter(int(t)) for t in string), v.id("=")]
        new_task = split in ("finetune", "correlated", "uncorrelated")
        return {"input_ids": ids, "answer_pos": len(ids) - 1, "label": v.number(b if new_task else a),
                "original": a, "new": b, "correlated": b == self.f(a)}

    # ------------------------------------------------------------------------------------------------
    def _pcfg_row(self, rng, split: str, corr: bool | None, p: float) -> dict:
        cfg, v = self.config, self.vocab
        grammar = Grammar(cfg.letters)
        if split == "pretrain":
            # the fine-tuning operand b gets prior p; the others share the rest uniformly
            probs = np.full(cfg.letters, (1.0 - p) / (cfg.letters - 1))
            probs[1] = p
            operand = int(rng.choice(cfg.letters, p=probs / probs.sum()))
            task = "<index>" if rng.random() < cfg.index_share else "<count>"
            string = grammar.sample(rng, cfg.min_len, cfg.seq_len)
        else:
            task = "<count>"
            operand = 1 if split in ("finetune", "correlated", "uncorrelated") else 0
            string = self._pcfg_string_with_counts(rng, grammar, corr) if corr is not None else \
                grammar.sample(rng, cfg.min_len, cfg.seq_len)
        a, b = string.count(0), string.count(1)
        answer = self.answer(task, operand, string)
        ids = [v.id("<bos>"), v.id(task), v.letter(operand), v.id(":"), *(v.letter(t) for t in string), v.id("=")]
        pad = self.width - len(ids)
        return {"input_ids": ids + [v.id("<pad>")] * pad, "answer_pos": len(ids) - 1, "label": v.number(answer),
                "original": a, "new": b, "correlated": b == self.f(a)}

    def _pcfg_string_with_counts(self, rng, grammar: Grammar, corr: bool) -> list[int]:
        """Rejection-sample grammar strings until count(b) ==/!= f(count(a)) as asked."""
        for _ in range(10000):
            s = grammar.sample(rng, self.config.min_len, self.config.seq_len)
            if (s.count(1) == self.f(s.count(0))) == corr:
                return s
        raise RuntimeError("the grammar rarely yields the requested count relation; change task.letters/seq_len")

    @staticmethod
    def answer(task: str, operand: int, string: list[int]) -> int:
        if task == "<count>":
            return string.count(operand)
        return string.index(operand) if operand in string else len(string)


class Grammar:
    """A small PCFG over the letters: S -> A B | B A | A S | S B (depth-limited), A -> a A | x, B -> y B | z.

    Nonterminal rules are chosen with fixed probabilities; terminals are drawn from overlapping
    letter groups, so counts and first-occurrence indices of every letter vary and depend on structure.
    """

    def __init__(self, letters: int):
        self.letters = letters
        half = max(2, letters // 2 + 1)
        self.group_a = list(range(0, half))
        self.group_b = list(range(letters - half, letters))

    def _expand(self, rng, symbol: str, depth: int, out: list[int]) -> None:
        if symbol == "S":
            r = rng.random()
            if depth > 3 or r < 0.4:
                rhs = ("A", "B") if rng.random() < 0.5 else ("B", "A")
            elif r < 0.7:
                rhs = ("A", "S")
            else:
                rhs = ("S", "B")
            for s in rhs:
                self._expand(rng, s, depth + 1, out)
        elif symbol == "A":
            out.append(int(rng.choice(self.group_a)))
            if rng.random() < 0.5:
                self._expand(rng, "A", depth + 1, out)
        else:
            out.append(int(rng.choice(self.group_b)))
            if rng.random() < 0.4:
                self._expand(rng, "B", depth + 1, out)

    def sample(self, rng, min_len: int, max_len: int) -> list[int]:
        for _ in range(10000):
            out: list[int] = []
            self._expand(rng, "S", 0, out)
            if min_len <= len(out) <= max_len:
                return out
        raise RuntimeError(f"the grammar yields no string of length {min_len}..{max_len}")


def tensors(ds) -> dict:
    """A generated dataset as the tensors the analyses take: input_ids, positions, labels (+ original, new)."""
    import torch

    return {"input_ids": torch.tensor(ds["input_ids"], dtype=torch.long),
            "positions": torch.tensor(ds["answer_pos"], dtype=torch.long),
            "labels": torch.tensor(ds["label"], dtype=torch.long),
            "original": torch.tensor(ds["original"], dtype=torch.long),
            "new": torch.tensor(ds["new"], dtype=torch.long)}
