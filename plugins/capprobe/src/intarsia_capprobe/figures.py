"""The recipe's figures at small scale (matplotlib ``Figure`` objects; no global pyplot state)."""

from __future__ import annotations


def _figure(**kw):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(**kw)


def grid_figure(grid: list[dict]):
    """New-task accuracy against correlation, one panel per prior, one line per (LR ratio, test set)."""
    priors = list(dict.fromkeys(c["prior"] for c in grid))
    ratios = list(dict.fromkeys(c["lr_ratio"] for c in grid))
    fig = _figure(figsize=(4.2 * len(priors), 3.4))
    axes = fig.subplots(1, len(priors), squeeze=False)[0]
    for ax, prior in zip(axes, priors):
        for i, ratio in enumerate(ratios):
            cells = sorted((c for c in grid if c["prior"] == prior and c["lr_ratio"] == ratio), key=lambda c: c["correlation"])
            xs = [c["correlation"] for c in cells]
            color = f"C{i}"
            ax.plot(xs, [c["correlated"] for c in cells], marker="o", color=color, label=f"LR x{ratio:g}, correlated")
            ax.plot(xs, [c["uncorrelated"] for c in cells], marker="s", ls="--", color=color,
                    label=f"LR x{ratio:g}, uncorrelated")
        ax.set_title(f"prior: {prior}")
        ax.set_xlabel("share of correlated fine-tuning samples")
        ax.set_ylabel("new-task accuracy")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def probe_compare_figure(before: dict, after: dict, control: dict | None = None):
    """Probe accuracy per probed module: pre-trained vs fine-tuned (and an untrained model, the control)."""
    names = list(before)
    series = [("pre-trained", before), ("fine-tuned", after)] + ([("untrained", control)] if control else [])
    width = 0.8 / len(series)
    fig = _figure(figsize=(1.5 + 0.9 * len(names), 3.3))
    ax = fig.subplots()
    xs = range(len(names))
    for j, (label, res) in enumerate(series):
        ax.bar([x - 0.4 + width * (j + 0.5) for x in xs], [res[n]["accuracy"] for n in names], width=width,
               label=label)
    ax.axhline(max(r["chance"] for r in before.values()), color="grey", ls="--", label="majority class")
    ax.set_xticks(list(xs), names, rotation=30, ha="right")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("count-of-a probe accuracy")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def steps_figure(reverse: list, scratch: list, threshold: float, scratch_ft: list | None = None):
    """Original-task accuracy against steps: reverse fine-tuning vs Scr.+FT (a model pre-trained on the other
    operand, fine-tuned at the same LR) and training from scratch."""
    fig = _figure(figsize=(4.8, 3.3))
    ax = fig.subplots()
    series = [(reverse, "reverse fine-tuning")] + ([(scratch_ft, "Scr.+FT")] if scratch_ft else [])
    for curve, label in (*series, (scratch, "from scratch")):
        ax.plot([s for s, _ in curve], [a for _, a in curve], marker=".", label=label)
    ax.axhline(threshold, color="grey", ls="--")
    return _finish_accuracy_axes(fig, ax, "gradient steps", legend_size=8)


def pruning_compare_figure(curve: dict, control: dict | None = None):
    """Original-task accuracy against K: salient and random pruning of the fine-tuned model, and salient
    pruning of the control model (one that never counted the original operand)."""
    fig = _figure(figsize=(4.8, 3.3))
    ax = fig.subplots()
    ax.plot(curve["k"], curve["salient"], marker="o", label="top-K salient")
    ax.plot(curve["k"], curve["random"], marker="s", label="K random (mean)")
    if control:
        ax.plot(control["k"], control["salient"], marker="^", ls="--", label="top-K salient, control model")
    return _finish_accuracy_axes(fig, ax, "neurons pruned (K)", legend_size=7)


def _finish_accuracy_axes(fig, ax, xlabel: str, *, legend_size: int):
    """The accuracy-against-something axes the reverse and pruning figures share."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel("original-task accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    return fig
