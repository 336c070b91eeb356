"""Learning-curve plots for the run folder (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import math
from pathlib import Path

# an eval series is drawn on the axes of the training series it measures, as points
_EVAL_OF = {"eval/return": "episode/return", "eval/success": "episode/success"}


def curve_panels(history: list[dict]) -> list[tuple[str, list[str]]]:
    """``(panel title, series keys)`` per panel: one panel per distinct training series among returns,
    success and reward terms (a series equal to an earlier one at every step, like ``reward/extrinsic``
    with ``extrinsic_coef: 1``, is named in that panel's title instead), eval series on their training
    panel (or their own when training never logged it)."""
    train = [k for k in ("episode/return", "episode/success") if any(k in h for h in history)]
    train += sorted({k for h in history for k in h if k.startswith("reward/")})
    series = {k: [(h["step"], h[k]) for h in history if k in h] for k in train}
    panels: list[tuple[str, list[str]]] = []
    for key in train:
        twin = next((p for p in panels if series[p[1][0]] == series[key]), None)
        if twin is not None:
            panels[panels.index(twin)] = (f"{twin[0]} = {key}", twin[1])
        else:
            panels.append((key, [key]))
    for ev, of in _EVAL_OF.items():
        if not any(ev in h for h in history):
            continue
        home = next((i for i, p in enumerate(panels) if p[1][0] == of), None)
        if home is None:
            panels.append((ev, [ev]))
        else:
            panels[home] = (panels[home][0], panels[home][1] + [ev])
    return panels


def plot_history(history: list[dict], path: Path, title: str) -> Path | None:
    """The panels of :func:`curve_panels` in a grid of up to three columns; x axis is env steps."""
    if not history:
        return None
    panels = curve_panels(history)
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, (name, keys) in zip(axes.flat, panels):
        for key in keys:
            pts = [(h["step"], h[key]) for h in history if key in h]
            if key.startswith("eval/"):
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o", color="black", label=f"{key} (greedy)")
            else:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="." if len(pts) < 30 else None,
                        label=key)
        if len(keys) > 1:
            ax.legend(fontsize=7)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
