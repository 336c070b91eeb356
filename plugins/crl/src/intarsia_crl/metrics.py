"""Disentanglement metrics: permutation-matched mean correlation coefficient (MCC, Pearson or Spearman)
and linear R², per true property.

MCC: correlate every learned latent with every true one, match them one-to-one by the largest absolute
correlation (``linear_sum_assignment``), and average the matched absolute correlations. It is invariant to
permutation and per-latent affine rescaling, the ambiguity the paper's identifiability result leaves.
R²: an ordinary least-squares map from all learned latents to each true one, fitted on half of the points
and scored on the other half.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import rankdata


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = (a - a.mean(0)) / (a.std(0) + 1e-12)
    b = (b - b.mean(0)) / (b.std(0) + 1e-12)
    return a.T @ b / len(a)


def matched_correlations(true: np.ndarray, learned: np.ndarray, method: str = "pearson") -> np.ndarray:
    """For each true latent (column), the absolute correlation of the learned latent matched to it."""
    true, learned = np.asarray(true, np.float64), np.asarray(learned, np.float64)
    if method == "spearman":
        true, learned = rankdata(true, axis=0), rankdata(learned, axis=0)
    elif method != "pearson":
        raise ValueError(f"method must be 'pearson' or 'spearman', got {method!r}")
    c = np.abs(np.nan_to_num(_corr(true, learned)))
    rows, cols = linear_sum_assignment(-c)
    out = np.zeros(true.shape[1])
    out[rows] = c[rows, cols]
    return out


def mcc(true: np.ndarray, learned: np.ndarray, method: str = "pearson") -> float:
    return float(matched_correlations(true, learned, method).mean())


def r2_per_latent(true: np.ndarray, learned: np.ndarray, seed: int = 0) -> np.ndarray:
    """Held-out R² of a linear regression from the learned latents to each true latent."""
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    true, learned = np.asarray(true, np.float64), np.asarray(learned, np.float64)
    idx = np.random.default_rng(seed).permutation(len(true))
    fit, test = idx[: len(idx) // 2], idx[len(idx) // 2:]
    reg = LinearRegression().fit(learned[fit], true[fit])
    return np.atleast_1d(r2_score(true[test], reg.predict(learned[test]), multioutput="raw_values"))


def property_scores(true: np.ndarray, learned: np.ndarray, column_property: list[str]) -> dict[str, float]:
    """``mcc``, ``mcc_spearman``, ``r2`` (means over properties) and ``mcc_<p>``, ``r2_<p>`` per property;
    ``column_property`` names the property of each true column (a property may own several columns, as
    in the flat encoder's one column per object and property)."""
    pearson = matched_correlations(true, learned, "pearson")
    spearman = matched_correlations(true, learned, "spearman")
    r2 = r2_per_latent(true, learned)
    names = list(dict.fromkeys(column_property))
    cols = {p: [i for i, q in enumerate(column_property) if q == p] for p in names}
    out: dict[str, float] = {}
    per = {p: (float(pearson[c].mean()), float(spearman[c].mean()), float(r2[c].mean())) for p, c in cols.items()}
    out["mcc"] = float(np.mean([v[0] for v in per.values()]))
    out["mcc_spearman"] = float(np.mean([v[1] for v in per.values()]))
    out["r2"] = float(np.mean([v[2] for v in per.values()]))
    for p, (m, _, r) in per.items():
        out[f"mcc_{p}"] = m
        out[f"r2_{p}"] = r
    return out


def adjusted_rand_index(true_labels, pred_labels, *, foreground: bool = False) -> float:
    """Mean ARI over images of a predicted segmentation against the ground truth (integer label maps
    ``(N, H, W)``, numpy or torch); ``foreground``: only the pixels the ground truth gives to an object
    (label > 0), as FG-ARI. Images with fewer than two pixels to score are left out."""
    import torch

    t = torch.as_tensor(true_labels).long().flatten(1)
    p = torch.as_tensor(pred_labels).long().flatten(1)
    weight = (t > 0).double() if foreground else torch.ones_like(t, dtype=torch.float64)
    kt, kp = int(t.max()) + 1, int(p.max()) + 1
    onehot_t = torch.nn.functional.one_hot(t, kt).double() * weight[..., None]
    onehot_p = torch.nn.functional.one_hot(p, kp).double()
    n_ij = torch.einsum("npi,npj->nij", onehot_t, onehot_p)
    a, b, n = n_ij.sum(2), n_ij.sum(1), n_ij.sum((1, 2))

    def comb2(x):
        return x * (x - 1) / 2

    index = comb2(n_ij).sum((1, 2))
    sum_a, sum_b = comb2(a).sum(1), comb2(b).sum(1)
    expected = sum_a * sum_b / comb2(n).clamp_min(1)
    maximum = (sum_a + sum_b) / 2
    denom = maximum - expected
    ari = torch.where(denom.abs() > 1e-12, (index - expected) / denom.where(denom.abs() > 1e-12, torch.ones_like(denom)),
                      torch.ones_like(denom))  # one cluster on each side: a perfect (if trivial) agreement
    keep = n >= 2
    return float(ari[keep].mean()) if keep.any() else float("nan")
