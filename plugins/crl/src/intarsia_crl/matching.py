"""Which slot is the perturbed object, and which slot of x~ is which slot of x.

The cost of calling slot ``k`` of x the perturbed one, with slot ``i`` of x becoming slot ``j`` of x~, is
``|z_i + b [i = k] - z~_j|^2`` (mean over properties). Two ways to pick:

* ``hungarian``: for every candidate ``k``, the best one-to-one matching of slots across the pair
  (``scipy.optimize.linear_sum_assignment``); keep the candidate whose matching is cheapest. It needs no
  assumption on slot order.
* ``argmin``: slots keep their index across the pair (x~'s slots start from x's final slots, as in the
  official code); ``k`` is the candidate with the cheapest perturbed cost.

Matchings are discrete, so they are computed without gradients; the loss then uses the matched costs.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment


def assign(cost: np.ndarray) -> np.ndarray:
    """Batch of square assignment problems ``(B, S, S)`` -> ``perm`` ``(B, S)``: row ``i`` goes to
    column ``perm[b, i]`` in a minimum-cost one-to-one matching."""
    perm = np.empty(cost.shape[:2], dtype=np.int64)
    for n, c in enumerate(cost):
        rows, cols = linear_sum_assignment(c)
        perm[n, rows] = cols
    return perm


def perturbation_costs(z1: torch.Tensor, z2: torch.Tensor, b: torch.Tensor):
    """``same[b, i, j] = |z1_i - z2_j|^2`` and ``moved[b, i, j] = |z1_i + b - z2_j|^2`` (means over properties)."""
    same = (z1.unsqueeze(2) - z2.unsqueeze(1)).pow(2).mean(-1)
    moved = (z1.unsqueeze(2) + b[:, None, None, :] - z2.unsqueeze(1)).pow(2).mean(-1)
    return same, moved


def match(z1: torch.Tensor, z2: torch.Tensor, b: torch.Tensor, candidates: torch.Tensor, method: str = "hungarian"):
    """``z1``, ``z2``: ``(B, S, P)`` projections of x's and x~'s slots; ``b`` ``(B, P)``; ``candidates``
    ``(B, S)`` bool, the slots that may be the perturbed object. Returns ``(k, perm)``: the perturbed slot
    ``(B,)`` and the slot of x~ matched to each slot of x ``(B, S)`` (long tensors on z1's device)."""
    with torch.no_grad():
        same, moved = perturbation_costs(z1, z2, b)
        big = torch.finfo(same.dtype).max / 16
        if method == "argmin":
            diag = torch.diagonal(moved, dim1=1, dim2=2).masked_fill(~candidates, big)
            k = diag.argmin(dim=1)
            perm = torch.arange(z1.shape[1], device=z1.device).expand(z1.shape[0], -1)
            return k, perm
        if method != "hungarian":
            raise ValueError(f"loss.matching must be 'hungarian' or 'argmin', got {method!r}")
        bsz, s = same.shape[:2]
        # candidate k: row k of the cost takes the perturbed costs
        eye = torch.eye(s, dtype=torch.bool, device=z1.device)
        cost = torch.where(eye[None, :, :, None], moved.unsqueeze(2), same.unsqueeze(1))  # (B, k, i, j)
        cost = cost.cpu().double().numpy()
        cand = candidates.cpu().numpy()
        best_k = np.zeros(bsz, dtype=np.int64)
        best_perm = np.zeros((bsz, s), dtype=np.int64)
        for n in range(bsz):
            best = np.inf
            for k in np.flatnonzero(cand[n]):
                rows, cols = linear_sum_assignment(cost[n, k])
                total = cost[n, k, rows, cols].sum()
                if total < best:
                    best, best_k[n] = total, k
                    best_perm[n, rows] = cols
        return torch.as_tensor(best_k, device=z1.device), torch.as_tensor(best_perm, device=z1.device)


def object_candidates(attn: torch.Tensor, num_objects: int, exclude_background: bool) -> torch.Tensor:
    """Slots that may hold an object: all, or all but the ``S - num_objects`` whose attention over the image
    varies least (the official background heuristic). ``attn`` ``(B, S, ...)`` -> bool ``(B, S)``."""
    bsz, s = attn.shape[:2]
    keep = torch.ones((bsz, s), dtype=torch.bool, device=attn.device)
    drop = s - num_objects
    if exclude_background and drop > 0:
        order = attn.flatten(2).std(dim=-1).argsort(dim=1)
        keep.scatter_(1, order[:, :drop], False)
    return keep
