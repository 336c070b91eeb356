"""Figures of a run: learned latents against the truth, and what each slot attends to."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .metrics import matched_correlations


def latents_figure(true: np.ndarray, learned: np.ndarray, names: list[str], path: Path, title: str = "") -> None:
    """One scatter per true column: the matched learned latent (by |correlation|) against it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.optimize import linear_sum_assignment

    c = np.abs(np.nan_to_num(np.corrcoef(true.T, learned.T)[: true.shape[1], true.shape[1]:]))
    rows, cols = linear_sum_assignment(-c)
    match = dict(zip(rows, cols))
    corr = matched_correlations(true, learned)
    n = true.shape[1]
    fig, axes = plt.subplots(1, n, figsize=(3 * n, 3), squeeze=False)
    for i, ax in enumerate(axes[0]):
        ax.scatter(true[:, i], learned[:, match[i]], s=3, alpha=0.5)
        ax.set_xlabel(f"true {names[i]}")
        ax.set_ylabel(f"learned z{match[i]}")
        ax.set_title(f"|r| = {corr[i]:.2f}")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def slots_figure(images: np.ndarray, attn: np.ndarray, path: Path, masks: np.ndarray | None = None,
                 recon: np.ndarray | None = None, rows: int = 4) -> None:
    """Per example: the image, (the reconstruction), then each slot's attention (and decoder mask)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = min(rows, len(images))
    s = attn.shape[1]
    per = 1 + (recon is not None)
    ncols = per + s * (1 + (masks is not None))
    fig, axes = plt.subplots(rows, ncols, figsize=(1.6 * ncols, 1.6 * rows), squeeze=False)
    for r in range(rows):
        col = 0
        axes[r, col].imshow(np.clip(images[r].transpose(1, 2, 0), 0, 1))
        axes[r, col].set_title("x", fontsize=7)
        col += 1
        if recon is not None:
            axes[r, col].imshow(np.clip(recon[r].transpose(1, 2, 0), 0, 1))
            axes[r, col].set_title("recon", fontsize=7)
            col += 1
        for j in range(s):
            axes[r, col].imshow(attn[r, j], cmap="viridis")
            axes[r, col].set_title(f"attn {j}", fontsize=7)
            col += 1
            if masks is not None:
                axes[r, col].imshow(masks[r, j], cmap="gray", vmin=0, vmax=1)
                axes[r, col].set_title(f"mask {j}", fontsize=7)
                col += 1
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
