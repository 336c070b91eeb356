"""Linear probes: one multinomial logistic regression (scikit-learn) per probed module, fitted on a share
of the samples and scored on the rest.

``LinearProbe.run(model, data)`` takes ``data = {"input_ids": (N, T) long, "positions": (N,) long,
"targets": (N,) int}`` and probes each module that ``module_pattern`` selects at each row's position.
``fit_probes(features, targets)`` is the model-free core other probes (the R2I memory probe, the
TinyStories feature probe) reuse.
"""

from __future__ import annotations

import numpy as np

from .config import ProbeConfig


def fit_probe(x: np.ndarray, y: np.ndarray, config: ProbeConfig) -> dict[str, float]:
    """Fit on a seeded ``train_fraction`` split, return held-out accuracy and the majority-class rate."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    y = np.asarray(y)
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(y))
    cut = int(round(config.train_fraction * len(y)))
    if cut < 2 or cut >= len(y):
        raise ValueError(f"probe: {len(y)} samples leave no train/test split at train_fraction={config.train_fraction}")
    tr, te = order[:cut], order[cut:]
    majority = float(np.max(np.bincount(_codes(y)[te])) / len(te))
    if len(np.unique(y[tr])) < 2:
        return {"accuracy": float(np.mean(y[te] == y[tr][0])), "chance": majority}
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=config.C, max_iter=config.max_iter))
    clf.fit(x[tr], y[tr])
    return {"accuracy": float(clf.score(x[te], y[te])), "chance": majority}


def _codes(y: np.ndarray) -> np.ndarray:
    return np.unique(y, return_inverse=True)[1].reshape(-1)


def fit_probes(features: dict[str, np.ndarray], y: np.ndarray, config: ProbeConfig) -> dict[str, dict[str, float]]:
    return {name: fit_probe(x, y, config) for name, x in features.items()}


def probe_figure(results: dict[str, dict[str, float]], title: str, labels: dict[str, str] | None = None):
    """Bar chart: held-out probe accuracy per probed module, with the majority-class rate as a line."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1.2 + 0.7 * len(results), 3.2))
    ax = fig.subplots()
    names = list(results)
    ax.bar(range(len(names)), [results[n]["accuracy"] for n in names], color="tab:blue")
    chance = max(r["chance"] for r in results.values())
    ax.axhline(chance, color="grey", ls="--", label="majority class")
    ax.set_xticks(range(len(names)), [(labels or {}).get(n, n) for n in names], rotation=30, ha="right")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("probe accuracy (held out)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


class LinearProbe:
    """The ``linear-probe`` analysis (see the module docstring). Metrics: ``probe/<module>`` and ``probe/chance``."""

    def __init__(self, config: ProbeConfig | None = None):
        self.config = config or ProbeConfig()

    def run(self, model, data) -> dict:
        import torch

        from .activations import answer_position_activations

        for key in ("input_ids", "positions", "targets"):
            if key not in data:
                raise ValueError(f"linear-probe: data needs {key!r} (has {sorted(data)})")
        feats = answer_position_activations(model, self.config.module_pattern, torch.as_tensor(data["input_ids"]),
                                            torch.as_tensor(data["positions"]), self.config.batch_size)
        y = np.asarray(torch.as_tensor(data["targets"]).cpu())
        results = fit_probes({k: v.numpy() for k, v in feats.items()}, y, self.config)
        metrics = {f"probe/{name}": r["accuracy"] for name, r in results.items()}
        metrics["probe/chance"] = max(r["chance"] for r in results.values())
        return {"metrics": metrics, "figures": {"probe": probe_figure(results, "linear probe per module")},
                "results": results}
