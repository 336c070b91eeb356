"""compare's figures (matplotlib, Agg): aggregates with 95% CIs, performance profiles, learning curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_aggregates(agg: dict, metric: str, path: Path) -> Path:
    plt = _plt()
    groups = list(agg)
    names = ("iqm", "mean", "median", "optimality_gap")
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 0.6 * len(groups) + 1.6), squeeze=False)
    colors = plt.cm.tab10(np.arange(len(groups)) % 10)
    for ax, name in zip(axes[0], names):
        for i, g in enumerate(groups):
            v = agg[g][name]
            ax.barh(i, v["high"] - v["low"], left=v["low"], height=0.6, color=colors[i], alpha=0.75)
            ax.plot([v["value"]] * 2, [i - 0.3, i + 0.3], color="black", lw=2)
        ax.set_yticks(range(len(groups)))
        ax.set_yticklabels(groups if ax is axes[0][0] else [])
        ax.set_title(name.replace("_", " ").upper() if name == "iqm" else name.replace("_", " "))
        ax.grid(axis="x", alpha=0.3)
        ax.invert_yaxis()
    fig.suptitle(f"{metric}: point estimate and 95% stratified-bootstrap CI")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_profiles(taus, point: dict, interval: dict, metric: str, path: Path) -> Path:
    return _bands({g: taus for g in point}, point, interval, path, size=(6, 4), xlabel=f"{metric} threshold τ",
                  ylabel="fraction of runs with score > τ", title="performance profile (95% CI)")


def plot_curves(steps: dict, point: dict, interval: dict, column: str, path: Path) -> Path:
    return _bands(steps, point, interval, path, size=(6.5, 4), xlabel="step", ylabel=f"IQM {column}",
                  title="learning curves: IQM over seeds, 95% CI")


def _bands(xs: dict, point: dict, interval: dict, path: Path, *, size, xlabel: str, ylabel: str, title: str) -> Path:
    """One line per group with its CI band (``interval[g]``: low, high) on shared axes."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=size)
    for g in point:
        (line,) = ax.plot(xs[g], point[g], label=g, lw=2)
        ax.fill_between(xs[g], interval[g][0], interval[g][1], color=line.get_color(), alpha=0.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
