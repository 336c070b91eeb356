"""Evaluation protocols: the paper's splits, seeded k-fold, and the metrics the CLI reports.

Splits (indices into ``[machine items..., human items...]``):

* ``paper``: each class split 80/20 on its own (``train_test_split(test_size=0.2, random_state=seed)``
  per class, the official "rebalanced" split; the official seed is 42), repeated for every seed;
* ``head``: the first ``head_n`` items of each class are the test set (the official code-domain split;
  deterministic, so seeds are ignored);
* ``kfold``: stratified k-fold with shuffling, one round of k folds per seed.

Metrics per split: F1 with machine-generated as the positive class (threshold 0.5), AUROC, and the
F1 of labelling every test text machine-generated (the floor any detector must beat).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

SPLITS = ("paper", "kfold", "head")


@dataclass
class SplitResult:
    name: str  # e.g. "seed=42" or "seed=0/fold=3"
    f1: float
    auroc: float
    floor_f1: float
    accuracy: float
    n_test: int
    fpr: list[float] = field(default_factory=list, repr=False)
    tpr: list[float] = field(default_factory=list, repr=False)


def split_indices(n_machine: int, n_human: int, kind: str = "paper", seeds: Sequence[int] = (42,), *,
                  test_size: float = 0.2, folds: int = 5, head_n: int = 33) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield ``(name, train_idx, test_idx)``; machine items come first (0..n_machine-1)."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    machine = np.arange(n_machine)
    human = np.arange(n_machine, n_machine + n_human)
    if kind == "paper":
        for seed in seeds:
            m_tr, m_te = train_test_split(machine, test_size=test_size, random_state=seed)
            h_tr, h_te = train_test_split(human, test_size=test_size, random_state=seed)
            yield f"seed={seed}", np.concatenate([m_tr, h_tr]), np.concatenate([m_te, h_te])
    elif kind == "head":
        if head_n >= min(n_machine, n_human):
            raise ValueError(f"head split needs more than {head_n} items per class")
        test = np.concatenate([machine[:head_n], human[:head_n]])
        train = np.concatenate([machine[head_n:], human[head_n:]])
        yield f"head={head_n}", train, test
    elif kind == "kfold":
        y = np.r_[np.ones(n_machine, dtype=int), np.zeros(n_human, dtype=int)]
        for seed in seeds:
            skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
            for k, (tr, te) in enumerate(skf.split(np.zeros(len(y)), y)):
                yield f"seed={seed}/fold={k}", tr, te
    else:
        raise ValueError(f"unknown split {kind!r}; choose one of {', '.join(SPLITS)}")


def split_metrics(name: str, y_true: np.ndarray, proba: np.ndarray) -> SplitResult:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score, roc_curve

    pred = (proba >= 0.5).astype(int)
    fpr, tpr, _ = roc_curve(y_true, proba)
    return SplitResult(
        name=name,
        f1=float(f1_score(y_true, pred, zero_division=0.0)),
        auroc=float(roc_auc_score(y_true, proba)),
        floor_f1=float(f1_score(y_true, np.ones_like(y_true))),
        accuracy=float(accuracy_score(y_true, pred)),
        n_test=int(len(y_true)),
        fpr=fpr.tolist(),
        tpr=tpr.tolist(),
    )


def evaluate_features(X_machine: np.ndarray, X_human: np.ndarray, make_detector, *, split: str = "paper",
                      seeds: Sequence[int] = (42,), folds: int = 5, head_n: int = 33) -> list[SplitResult]:
    """Fit a fresh detector (``make_detector()``) on each split's training rows, score its test rows."""
    X = np.vstack([X_machine, X_human])
    y = np.r_[np.ones(len(X_machine), dtype=int), np.zeros(len(X_human), dtype=int)]
    results = []
    for name, tr, te in split_indices(len(X_machine), len(X_human), split, seeds, folds=folds, head_n=head_n):
        det = make_detector().fit_features(X[tr], y[tr])
        results.append(split_metrics(name, y[te], det.score_features(X[te])))
    return results


def evaluate_detector(make_detector, machine: Sequence, human: Sequence, where: Sequence[str] | None = None, *,
                      split: str = "paper", seeds: Sequence[int] = (42,), folds: int = 5,
                      head_n: int = 33) -> tuple[list[SplitResult], object]:
    """Evaluate any registered detector on texts (machine first, then human; ``where`` in that order).

    A detector with ``features``/``fit_features``/``score_features`` featurises every text once and a fresh
    one is fitted per split on those features; any other is fitted per split on the texts themselves.
    Returns the results and the detector that featurised (or the first fitted one)."""
    items = list(machine) + list(human)
    where = list(where) if where is not None else [f"item {i}" for i in range(len(items))]
    probe = make_detector()
    if all(callable(getattr(probe, a, None)) for a in ("features", "fit_features", "score_features")):
        X = np.asarray(probe.features(items, where))
        return evaluate_features(X[:len(machine)], X[len(machine):], make_detector, split=split, seeds=seeds,
                                 folds=folds, head_n=head_n), probe
    y = np.r_[np.ones(len(machine), dtype=int), np.zeros(len(human), dtype=int)]
    results = []
    for name, tr, te in split_indices(len(machine), len(human), split, seeds, folds=folds, head_n=head_n):
        det = probe if not results else make_detector()
        det.fit([items[i] for i in tr], y[tr], [where[i] for i in tr])
        proba = np.asarray(det.score([items[i] for i in te], [where[i] for i in te]), dtype=np.float64)
        results.append(split_metrics(name, y[te], proba))
    return results, probe


def summarize(results: Sequence[SplitResult]) -> dict:
    """Means (the JSON keys ``f1``, ``auroc``, ``floor_f1``), standard deviations and per-split rows."""
    out: dict = {}
    for key in ("f1", "auroc", "floor_f1", "accuracy"):
        vals = np.array([getattr(r, key) for r in results])
        out[key] = float(vals.mean())
        out[f"{key}_std"] = float(vals.std())
    out["n_splits"] = len(results)
    out["splits"] = [{"name": r.name, "f1": r.f1, "auroc": r.auroc, "floor_f1": r.floor_f1,
                      "accuracy": r.accuracy, "n_test": r.n_test} for r in results]
    return out


def plot_roc(results: Sequence[SplitResult], path: str, title: str = "Raidar ROC") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    grid = np.linspace(0, 1, 201)
    curves = []
    for r in results:
        ax.plot(r.fpr, r.tpr, color="tab:blue", alpha=0.25, lw=1)
        curves.append(np.interp(grid, r.fpr, r.tpr))
    mean_auc = float(np.mean([r.auroc for r in results]))
    ax.plot(grid, np.mean(curves, axis=0), color="tab:blue", lw=2, label=f"mean ROC (AUROC {mean_auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="chance")
    ax.set_xlabel("false positive rate (human flagged)")
    ax.set_ylabel("true positive rate (machine caught)")
    ax.set_title(f"{title} — {len(results)} split(s)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
