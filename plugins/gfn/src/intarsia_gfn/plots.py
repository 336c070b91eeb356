"""The run's figures: learning curves against trajectories, and target vs learned P_T on 2-D grids."""

from __future__ import annotations

from pathlib import Path

CURVES = ("l1_sum", "success_rate", "modes_found", "jsd", "conversion_l1_sum")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def learning_curve(history: list[dict], path: Path, title: str) -> Path | None:
    """One panel per evaluated quantity (x: trajectories drawn) plus the training losses (x: iteration)."""
    evals = [h for h in history if "trajectories" in h]
    keys = [k for k in CURVES if any(k in h for h in evals)]
    loss_keys = sorted({k for h in history for k in h if k.startswith("loss/")})
    panels = keys + (["losses"] if loss_keys else [])
    if not panels:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2), squeeze=False)
    for ax, key in zip(axes[0], panels):
        if key == "losses":
            for lk in loss_keys:
                pts = [(h["iteration"], h[lk]) for h in history if lk in h]
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label=lk)
            ax.set_yscale("log")
            ax.set_xlabel("iteration")
            ax.legend(fontsize=7)
        else:
            pts = [(h["trajectories"], h[key]) for h in evals if key in h]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="." if len(pts) < 30 else None)
            ax.set_xlabel("trajectories")
            if key in ("l1_sum", "jsd", "conversion_l1_sum"):
                ax.set_yscale("log")
        ax.set_title(key)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def grid_heatmap(states, learned, target, path: Path, title: str) -> Path:
    """Target R(x)/Z and learned P_T side by side on a 2-D grid (states: (S, 2) coordinates)."""
    import numpy as np

    plt = _plt()
    s = states.cpu().numpy()
    H = int(s.max()) + 1
    grids = []
    for values in (target, learned):
        g = np.zeros((H, H))
        g[s[:, 1], s[:, 0]] = values.cpu().double().numpy()
        grids.append(g)
    vmax = max(g.max() for g in grids)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.8))
    for ax, g, name in zip(axes, grids, ("target R(x)/Z", "learned P_T(x)")):
        im = ax.imshow(g, origin="lower", vmin=0, vmax=vmax, cmap="viridis")
        ax.set_title(name)
    fig.colorbar(im, ax=axes, shrink=0.8)
    fig.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
