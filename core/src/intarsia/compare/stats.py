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
               seed: int = 0) -> dict[str, dict[str, dict[str, float]]]:
    """``{group: {aggregate: {"value", "low", "high"}}}``; ``scores[group]`` is (runs, tasks)."""
    library, metrics = _rliable()

    def func(x):
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x), metrics.aggregate_median(x),
                         metrics.aggregate_optimality_gap(x, gap)])

    np.random.seed(seed)  # arch does not follow random_state everywhere: fix numpy's global state as well
    point, interval = library.get_interval_estimates(dict(scores), func, reps=reps, confidence_interval_size=ci,
                                                     random_state=np.random.RandomState(seed))
    return {g: {name: {"value": float(point[g][i]), "low": float(interval[g][0][i]), "high": float(interval[g][1][i])}
                for i, name in enumerate(AGGREGATES)} for g in scores}


def improvement(scores: Mapping[str, np.ndarray], baseline: str, *, reps: int = 2000, ci: float = 0.95,
                seed: int = 0) -> dict[str, dict[str, float]]:
    """P(group > baseline) for every other group, with its bootstrap CI."""
    library, metrics = _rliable()
    pairs = {f"{g},{baseline}": (scores[g], scores[baseline]) for g in scores if g != baseline}
    if not pairs:
        return {}
    np.random.seed(seed)
    point, interval = library.get_interval_estimates(pairs, metrics.probability_of_improvement, reps=reps,
                                                     confidence_interval_size=ci,
                                                     random_state=np.random.RandomState(seed))
    return {k.split(",")[0]: {"value": float(np.ravel(point[k])[0]), "low": float(np.ravel(interval[k][0])[0]),
                                 "high": float(np.ravel(interval[k][1])[0])}
            for k in pairs}


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
