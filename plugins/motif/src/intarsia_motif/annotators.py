"""Annotators: label caption pairs as FIRST / SECOND / TIE / UNKNOWN.

Every annotator has ``annotate(pairs) -> list[dict]`` over ``[(first, second), ...]`` (distinct captions);
each record holds at least ``label``. Three kinds, as in the official code:

* :class:`LLMAnnotator` -- any ``intarsia-llm`` backend, either by the paper's generate-then-parse protocol
  (one retry prompt when nothing parses) or by scoring the answer options' log-probabilities in both
  caption orders (averaged, which cancels a model's position bias).
* :class:`OracleAnnotator` -- prefers the caption with the higher event score (the env's own progress
  values, like the official ``ScoreAnnotator``), so the pipeline can be checked apart from the judge.
* :class:`RandomAnnotator` -- a uniform label in {first, second, tie}.

:func:`annotate_pairs` drives any of them resumably: finished annotations are appended (one JSON line per
pair, flushed and fsynced per batch) to a log keyed by pair id; a killed job re-reads the log and asks only
for the pairs that are missing, so no pair is lost or asked twice.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .config import AnnotatorConfig
from .prompts import (
    FIRST,
    LABEL_NAMES,
    SECOND,
    TIE,
    UNKNOWN,
    flip,
    goal_text,
    parse_answer,
    render_chat,
    render_retry,
    render_scoring_prompt,
)

Pair = tuple[str, str]


# ----------------------------------------------------------------------------------------------------------
# non-LLM annotators
# ----------------------------------------------------------------------------------------------------------
class RandomAnnotator:
    """Uniform over first / second / tie (the official RandomAnnotator)."""

    name = "random"

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def annotate(self, pairs: Sequence[Pair]) -> list[dict]:
        return [{"label": int(x)} for x in self.rng.integers(0, 3, size=len(pairs))]


class OracleAnnotator:
    """Prefers the caption with the higher progress score; equal scores are ties.

    ``scores`` maps captions to values. Exact matches win; otherwise keys are matched as case-insensitive
    substrings and the highest matching score counts; captions matching nothing score ``default``.
    """

    name = "oracle"

    def __init__(self, scores: Mapping[str, float], default: float = 0.0):
        if not scores:
            raise ValueError("the oracle annotator needs a caption -> score mapping (annotator.oracle_scores, "
                             "or an env that exposes caption_scores / EVENT_SCORES)")
        self.scores = {str(k): float(v) for k, v in scores.items()}
        self._lower = [(k.lower(), v) for k, v in self.scores.items() if k]
        self.default = default

    def score(self, caption: str) -> float:
        if caption in self.scores:
            return self.scores[caption]
        low = caption.lower()
        hits = [v for k, v in self._lower if k in low]
        return max(hits) if hits else self.default

    def annotate(self, pairs: Sequence[Pair]) -> list[dict]:
        out = []
        for a, b in pairs:
            sa, sb = self.score(a), self.score(b)
            label = FIRST if sa > sb else SECOND if sb > sa else TIE
            out.append({"label": label, "scores": [sa, sb]})
        return out


def env_caption_scores(env_section: Mapping | str) -> dict[str, float]:
    """The progress score of each caption that an env exposes, if it does.

    Looks for a ``caption_scores`` attribute on the (unwrapped) env, then for ``EVENT_SCORES`` /
    ``CAPTION_SCORES`` in the env class's module (the core's CaptionedGrid-v0 has ``EVENT_SCORES``).
    """
    import importlib

    from .dataset import make_env

    env = make_env(env_section)
    try:
        base = getattr(env, "unwrapped", env)
        for obj in (env, base):
            scores = getattr(obj, "caption_scores", None)
            if scores:
                return dict(scores)
        module = importlib.import_module(type(base).__module__)
        for name in ("CAPTION_SCORES", "EVENT_SCORES"):
            scores = getattr(module, name, None)
            if isinstance(scores, Mapping) and scores:
                return dict(scores)
    finally:
        env.close()
    return {}


# ----------------------------------------------------------------------------------------------------------
# the LLM judge
# ----------------------------------------------------------------------------------------------------------
class LLMAnnotator:
    """The paper's LLM judge over any ``intarsia-llm`` backend (anything with ``generate``)."""

    name = "llm"

    def __init__(self, llm: Any, config: AnnotatorConfig):
        self.llm, self.config = llm, config
        p = config.prompt
        self.game, self.style = p.game, p.style
        self.goal = goal_text(p.game, p.goal, p.goal_text)
        if config.mode not in ("generate", "logprobs"):
            raise ValueError(f"annotator.mode must be 'generate' or 'logprobs', got {config.mode!r}")
        # option scoring "where the backend allows it": otherwise the paper's generate-and-parse protocol
        self.mode = config.mode if hasattr(llm, "option_logprobs") else "generate"
        self.calls = 0  # prompts sent to the model (retries and both orders included)
        self.retries = 0  # retry prompts sent in generate mode
        from .judges import make_judge, parse_examples

        # the small-model judges (compact / few-shot / calibrated / pointwise); None: the paper's prompt
        self.judge = make_judge(llm, config, self.scoring_prompt)
        self.examples = parse_examples(config.few_shot)

    # -- prompts ------------------------------------------------------------------------------------
    def scoring_prompt(self, a: str, b: str) -> str:
        return render_scoring_prompt(a, b, game=self.game, goal=self.goal, style=self.style)

    def chat(self, a: str, b: str) -> list[dict]:
        return render_chat(a, b, game=self.game, goal=self.goal, style=self.style)

    def annotate(self, pairs: Sequence[Pair]) -> list[dict]:
        if not pairs:
            return []
        if self.mode == "logprobs":
            try:
                return self._by_logprobs(pairs)
            except Exception as exc:  # intarsia-llm raises UnsupportedError (not importable without it)
                if not {c.__name__ for c in type(exc).__mro__} & {"UnsupportedError", "NotImplementedError"}:
                    raise
                import warnings

                warnings.warn(f"the LLM backend cannot score options ({exc}); annotating by generation instead",
                              stacklevel=2)
                self.mode = "generate"
        return self._by_generation(pairs)

    # -- generate, parse, retry once (the paper's protocol) -------------------------------------------
    def _generate(self, prompts: list) -> list[str]:
        self.calls += len(prompts)
        c = self.config
        return list(self.llm.generate(prompts, max_tokens=c.max_tokens, temperature=c.temperature, top_p=c.top_p,
                                      stop=None, seed=c.seed))

    def _by_generation(self, pairs: Sequence[Pair]) -> list[dict]:
        chats = [self.chat(a, b) for a, b in pairs]
        answers = self._generate(chats)
        records = [{"label": UNKNOWN, "answer": ans, "attempts": 1} for ans in answers]
        retry_idx = []
        for i, ans in enumerate(answers):
            label = parse_answer(ans, self.style)
            if label is None:
                retry_idx.append(i)
            else:
                records[i]["label"] = label
        if retry_idx:
            self.retries += len(retry_idx)
            second = self._generate([render_retry(chats[i], answers[i], self.style) for i in retry_idx])
            for i, ans in zip(retry_idx, second):
                label = parse_answer(ans, self.style)
                records[i].update(retry_answer=ans, attempts=2, label=UNKNOWN if label is None else label)
        return records

    # -- option log-probabilities ------------------------------------------------------------------------
    def _by_logprobs(self, pairs: Sequence[Pair]) -> list[dict]:
        if self.judge is not None:
            return self._by_judge(pairs)
        p_first, consistent = pairwise_first_probs(self.llm, self.scoring_prompt, pairs, both_orders=self.config.both_orders)
        self.calls += len(pairs) * (2 if self.config.both_orders else 1)
        return self._records(p_first, consistent)

    def _by_judge(self, pairs: Sequence[Pair]) -> list[dict]:
        """The configured small-model judge; pairs that are few-shot examples take the example's label and
        are never asked (``few_shot: true`` in their record keeps them out of the agreement statistics)."""
        from .judges import split_few_shot

        ask, given = split_few_shot(pairs, self.examples)
        calls = self.judge.calls
        p_first, consistent = self.judge.probs([pairs[i] for i in ask])
        self.calls += self.judge.calls - calls
        records: list[dict] = [{}] * len(pairs)
        for i, rec in zip(ask, self._records(p_first, consistent)):
            records[i] = rec
        for i, label in given.items():
            records[i] = {"label": label, "few_shot": True}
        return records

    def _records(self, p_first, consistent) -> list[dict]:
        m = self.config.tie_margin
        records = []
        for p, ok in zip(p_first, consistent):
            if not np.isfinite(p):
                label = UNKNOWN
            elif p > 0.5 + m:
                label = FIRST
            elif p < 0.5 - m:
                label = SECOND
            else:
                label = TIE
            rec = {"label": label, "p_first": float(p)}
            if ok is not None:
                rec["order_consistent"] = bool(ok)
            records.append(rec)
        return records


def pairwise_first_probs(llm: Any, render: Callable[[str, str], str], pairs: Sequence[Pair], *,
                         both_orders: bool = True) -> tuple[np.ndarray, list]:
    """P(first caption preferred) per pair from the options "1"/"2", averaged over both caption orders.

    The probabilities come from intarsia-llm's pairwise scoring (:func:`intarsia_llm.pairwise_order_probs`:
    ``option_logprobs`` renormalised over the two options, each order kept apart, so this function also sees
    whether the two orders agree). ``consistent`` is ``None`` with a single order; a judge with a pure
    position bias is never order-consistent.
    """
    from intarsia_llm import pairwise_option_probs, pairwise_order_probs

    pairs = list(pairs)
    if not pairs:
        return np.zeros(0), []
    if not both_orders:
        return pairwise_option_probs(llm, render, pairs, options=("1", "2"), both_orders=False)[:, 0], [None] * len(pairs)
    forward, swapped = pairwise_order_probs(llm, render, pairs, options=("1", "2"))
    # P(a preferred) shown as (a, b), and P(b preferred) shown as (b, a): the swapped prompt's "1"
    fwd, b_first = forward[:, 0], swapped[:, 1]
    consistent = [bool((f > 0.5) == (s < 0.5)) for f, s in zip(fwd, b_first)]
    # 1 - P(b) rather than the swapped prompt's P("2"): a pure position bias then averages to exactly 0.5
    return 0.5 * (fwd + (1.0 - b_first)), consistent


def build_llm(section: Mapping | str):
    """An ``intarsia-llm`` backend from its section (``{"name": "gguf", ...}``) through the registry."""
    from intarsia.build import build

    section = {"name": section} if isinstance(section, str) else dict(section)
    name = section.pop("name")
    return build("llms", name, section)


ANNOTATOR_KINDS = ("llm", "oracle", "random")


def make_annotator(config: AnnotatorConfig, *, env_section: Mapping | str | None = None, kind: str | None = None,
                   llm: Any = None):
    """Build the annotator ``kind`` (default ``config.kind``)."""
    kind = kind or config.kind
    if kind == "random":
        return RandomAnnotator(config.seed)
    if kind == "oracle":
        scores = dict(config.oracle_scores) or (env_caption_scores(env_section) if env_section else {})
        return OracleAnnotator(scores)
    if kind == "llm":
        return LLMAnnotator(llm if llm is not None else build_llm(config.llm), config)
    raise ValueError(f"annotator kind must be 'llm', 'oracle' or 'random', got {kind!r}")


# ----------------------------------------------------------------------------------------------------------
# resumable annotation log
# ----------------------------------------------------------------------------------------------------------
class AnnotationLog:
    """Append-only JSON-lines file of finished annotations keyed by ``pair_id``.

    Each batch is appended with one ``write`` and fsynced before the next batch is asked, so a killed job
    loses at most the batch in flight (never recorded, so asked again -- but never asked twice after being
    recorded). A torn last line (killed mid-write) is ignored on reading.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.records: dict[str, dict] = {}
        if self.path.exists():
            self._read()

    def _read(self) -> None:
        with self.path.open("r", encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # torn write of a killed job
                if isinstance(rec, dict) and "pair_id" in rec and "label" in rec:
                    self.records.setdefault(rec["pair_id"], rec)

    def __contains__(self, pid: str) -> bool:
        return pid in self.records

    def __len__(self) -> int:
        return len(self.records)

    def append(self, records: Iterable[dict]) -> None:
        records = [r for r in records if r["pair_id"] not in self.records]
        if not records:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # a torn previous line would swallow this one: start on a fresh line if the file does not end in one
        prefix = ""
        if self.path.exists() and self.path.stat().st_size > 0:
            with self.path.open("rb") as fh:
                fh.seek(-1, os.SEEK_END)
                prefix = "" if fh.read(1) == b"\n" else "\n"
        text = prefix + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        for r in records:
            self.records[r["pair_id"]] = r

    def labels(self) -> dict[str, int]:
        return {pid: int(r["label"]) for pid, r in self.records.items()}


def annotate_pairs(annotator: Any, unique: Mapping[str, Pair], log_path: str | Path, *, batch_size: int = 8,
                   on_batch: Callable[[int, int], None] | None = None, stop_after: int | None = None) -> dict[str, Any]:
    """Annotate every pair of ``unique`` (pair_id -> (a, b)) not yet in the log at ``log_path``.

    ``stop_after`` (tests) stops after that many batches, as if the job were killed. Returns statistics:
    counts per label, pairs asked in this call, seconds, throughput, and annotator-specific counters.
    """
    log = AnnotationLog(log_path)
    todo = [(pid, pair) for pid, pair in unique.items() if pid not in log]
    t0, asked, batches = time.perf_counter(), 0, 0
    for start in range(0, len(todo), max(1, batch_size)):
        if stop_after is not None and batches >= stop_after:
            break
        chunk = todo[start:start + batch_size]
        t_batch = time.perf_counter()
        results = annotator.annotate([pair for _, pair in chunk])
        dt = (time.perf_counter() - t_batch) / max(len(chunk), 1)
        records = []
        for (pid, (a, b)), res in zip(chunk, results):
            rec = {"pair_id": pid, "first": a, "second": b, **res, "seconds": round(dt, 4), "annotator": annotator.name}
            rec["label"] = int(rec["label"])
            records.append(rec)
        log.append(records)
        asked += len(chunk)
        batches += 1
        if on_batch is not None:
            on_batch(len(log), len(unique))
    seconds = time.perf_counter() - t0
    stats = annotation_stats(log.records.values())
    stats.update(asked_now=asked, seconds_now=round(seconds, 3),
                 pairs_per_second=round(asked / seconds, 3) if seconds > 0 and asked else None,
                 complete=all(pid in log for pid in unique), total_unique=len(unique))
    for attr in ("calls", "retries"):
        if hasattr(annotator, attr):
            stats[f"llm_{attr}_now"] = getattr(annotator, attr)
    return stats


def annotation_stats(records: Iterable[Mapping]) -> dict[str, Any]:
    """Label distribution, retry / parse-failure rates, order consistency, mean seconds per pair."""
    records = list(records)
    n = len(records)
    counts = {name: 0 for name in LABEL_NAMES.values()}
    for r in records:
        counts[LABEL_NAMES[int(r["label"])]] += 1
    out: dict[str, Any] = {"annotated": n, "labels": counts}
    if n:
        out["unknown_fraction"] = counts["unknown"] / n
        secs = [r.get("seconds") for r in records if r.get("seconds") is not None]
        if secs:
            out["seconds_per_pair"] = float(np.mean(secs))
        retried = [r for r in records if r.get("attempts", 1) > 1]
        if any("attempts" in r for r in records):
            out["retry_fraction"] = len(retried) / n
        cons = [r["order_consistent"] for r in records if "order_consistent" in r]
        if cons:
            out["order_consistency"] = float(np.mean(cons))
    return out


def agreement(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, Any]:
    """How often two annotators agree on the pairs both labelled (UNKNOWNs left out).

    ``agreement``: same label (tie included); ``decisive_agreement``: same winner among pairs where both
    named one; ``kappa``: Cohen's kappa over the three labels, with each pair in the orientation it was
    sampled in; ``kappa_symmetric``: the same over both orientations of every pair, which does not depend
    on how the pairs happen to be oriented (with most pairs oriented one way, "first"/"second" marginals
    are skewed and plain kappa's chance agreement is high).
    """
    common = [pid for pid in a if pid in b and a[pid] != UNKNOWN and b[pid] != UNKNOWN]
    if not common:
        return {"pairs": 0}
    la = np.array([a[p] for p in common])
    lb = np.array([b[p] for p in common])
    out = _agreement(la, lb)
    flip_all = np.vectorize(flip, otypes=[int])
    out["kappa_symmetric"] = _agreement(np.concatenate([la, flip_all(la)]), np.concatenate([lb, flip_all(lb)]))["kappa"]
    return out


def _agreement(la: np.ndarray, lb: np.ndarray) -> dict[str, Any]:
    decisive = (la != TIE) & (lb != TIE)
    out: dict[str, Any] = {"pairs": len(la), "agreement": float(np.mean(la == lb)),
                           "decisive_pairs": int(decisive.sum())}
    if decisive.any():
        out["decisive_agreement"] = float(np.mean(la[decisive] == lb[decisive]))
    try:
        from sklearn.metrics import cohen_kappa_score

        kappa = cohen_kappa_score(la, lb, labels=[FIRST, SECOND, TIE])
        out["kappa"] = float(kappa) if np.isfinite(kappa) else None
    except Exception:  # a single label on both sides makes kappa undefined
        out["kappa"] = None
    return out


__all__ = [
    "AnnotationLog", "LLMAnnotator", "OracleAnnotator", "RandomAnnotator", "agreement", "annotate_pairs",
    "annotation_stats", "env_caption_scores", "flip", "make_annotator", "pairwise_first_probs", "SECOND",
]
