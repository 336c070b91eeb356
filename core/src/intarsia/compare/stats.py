"""Aggregates over seeds after Agarwal et al. (NeurIPS 2021), computed with ``rliable``: IQM, mean, median and
optimality gap with stratified-bootstrap confidence intervals, probability of improvement, performance
profiles, and IQM learning curves with CI bands."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from intarsia.errors import ConfigError

AGGREGATES = ("iqm", "mean", "median", "optimality_gap")


def _rliable():
    import warnings

    # arch warns that rliable's RandomState argument is deprecated; the results are the same
    warnings.filterwarnings("ignore", message="random_state is deprecated", category=FutureWarning)
    try:
        from rliable import library, metrics
    except ImportError:
        raise ConfigError("compare needs rliable: pip install 'intarsia-core[stats]'") from None
    return library, metrics


def aggregates(scores: Mapping[str, np.ndarray], *, reps: int = 2000, ci: float = 0.95, gap: float = 1.0,
               seed: int = 0, per_task: bool = False) -> dict[str, dict]:
    """``{group: {aggregate: {"value", "low", "high"}}}``; ``scores[group]`` is (runs, tasks). ``per_task``: also
    ``"per_task"``, a list with the same aggregates of each task's column, from the same stratified resamples
    (each task's runs are resampled on their own, so a column's resamples are that task's bootstrap)."""
    library, metrics = _rliable()

    def four(x):
        return [metrics.aggregate_iqm(x), metrics.aggregate_mean(x), metrics.aggregate_median(x),
                metrics.aggregate_optimality_gap(x, gap)]

    def func(x):
        return np.array(four(x) + ([v for j in range(x.shape[1]) for v in four(x[:, j:j + 1])] if per_task else []))

    np.random.seed(seed)  # arch does not follow random_state everywhere: fix numpy's global state as well
    point, interval = library.get_interval_estimates(dict(scores), func, reps=reps, confidence_interval_size=ci,
                                                     random_state=np.random.RandomState(seed))
    k = len(AGGREGATES)

    def named(g, offset):
        return {name: {"value": float(point[g][offset + i]), "low": float(interval[g][0][offset + i]),
                       "high": float(interval[g][1][offset + i])} for i, name in enumerate(AGGREGATES)}

    out: dict[str, dict] = {g: named(g, 0) for g in scores}
    if per_task:
        for g in scores:
            out[g]["per_task"] = [named(g, k * (1 + j)) for j in range(scores[g].shape[1])]
    return out


def improvement(scores: Mapping[str, np.ndarray], baseline: str, *, reps: int = 2000, ci: float = 0.95,
                seed: int = 0, per_task: bool = False) -> dict[str, dict]:
    """P(group > baseline) for every other group, with its bootstrap CI: rliable's average over tasks of each
    task's P(X > Y). ``per_task``: also ``"per_task"``, a list of each task's P(X > Y) from the same resamples."""
    library, metrics = _rliable()
    pairs = {f"{g},{baseline}": (scores[g], scores[baseline]) for g in scores if g != baseline}
    if not pairs:
        return {}

    def func(x, y):
        tasks = [metrics.probability_of_improvement(x[:, j:j + 1], y[:, j:j + 1]) for j in range(x.shape[1])]
        # rliable's overall value is the mean of exactly these per-task probabilities: computed once
        return np.array([np.mean(tasks), *tasks])

    np.random.seed(seed)
    point, interval = library.get_interval_estimates(pairs, func if per_task else metrics.probability_of_improvement,
                                                     reps=reps, confidence_interval_size=ci,
                                                     random_state=np.random.RandomState(seed))

    def at(k, i):
        return {"value": float(np.ravel(point[k])[i]), "low": float(np.ravel(interval[k][0])[i]),
                "high": float(np.ravel(interval[k][1])[i])}

    out = {}
    for k in pairs:
        out[k.split(",")[0]] = entry = at(k, 0)
        if per_task:
            entry["per_task"] = [at(k, 1 + j) for j in range(pairs[k][0].shape[1])]
    return out


def profiles(scores: Mapping[str, np.ndarray], taus: np.ndarray, *, reps: int = 500):
    """Performance profiles: the fraction of runs scoring above each ``tau``, with CIs."""
    library, _ = _rliable()
    np.random.seed(0)  # create_performance_profile takes no random state
    return library.create_performance_profile(dict(scores), taus, reps=reps)


def curves(curve_scores: Mapping[str, np.ndarray], *, reps: int = 500, ci: float = 0.95, seed: int = 0):
    """Per-step IQM and its CI; ``curve_scores[group]`` is (runs, tasks, steps)."""
    library, metrics = _rliable()

    def func(x):
        return np.array([metrics.aggregate_iqm(x[..., t]) for t in range(x.shape[-1])])

    np.random.seed(seed)
    return library.get_interval_estimates(dict(curve_scores), func, reps=reps, confidence_interval_size=ci,
                                          random_state=np.random.RandomState(seed))
