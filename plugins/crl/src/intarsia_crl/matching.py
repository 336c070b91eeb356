"""Which slot is the perturbed object, and which slot of x~ is which slot of x.

The cost of calling slot ``k`` of x the perturbed one, with slot ``i`` of x becoming slot ``j`` of x~, is
``|z_i + b [i = k] - z~_j|^2`` (mean over properties). Two ways to pick:

* ``hungarian``: for every candidate ``k``, the best one-to-one matching of slots across the pair; keep the
  candidate whose matching is cheapest. It needs no assumption on slot order. Up to ``MAX_ENUMERATED`` slots
  every permutation is scored on the tensors' device (no host sync in the training step); beyond that
  ``scipy.optimize.linear_sum_assignment`` runs on the host.
* ``argmin``: slots keep their index across the pair (x~'s slots start from x's final slots, as in the
  official code); ``k`` is the candidate with the cheapest perturbed cost.

``cost="changed"`` scores the perturbed row on the changed properties only (where ``b`` is not zero: the
official known-action cost); ``"all"`` on every property.

Matchings are discrete, so they are computed without gradients; the loss then uses the matched costs.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

MAX_ENUMERATED = 7
"""slots up to which the assignment enumerates all permutations on device (7! = 5040)"""


def assign(cost: np.ndarray) -> np.ndarray:
    """Batch of square assignment problems ``(B, S, S)`` -> ``perm`` ``(B, S)``: row ``i`` goes to
    column ``perm[b, i]`` in a minimum-cost one-to-one matching."""
    perm = np.empty(cost.shape[:2], dtype=np.int64)
    for n, c in enumerate(cost):
        rows, cols = linear_sum_assignment(c)
        perm[n, rows] = cols
    return perm


@lru_cache(maxsize=8)
def _permutations(s: int) -> np.ndarray:
    return np.array(list(itertools.permutations(range(s))), dtype=np.int64)  # (s!, s)


def assign_on_device(cost: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch of square assignment problems ``(N, S, S)`` -> ``(perm (N, S), total (N,))`` by scoring every
    permutation, on ``cost``'s device (exact, and without a host sync, for the few slots of a scene)."""
    n, s = cost.shape[:2]
    perms = torch.as_tensor(_permutations(s), device=cost.device)  # (P, S)
    rows = torch.arange(s, device=cost.device)
    totals = cost[:, rows[None, :], perms].sum(-1)  # (N, P)
    best = totals.argmin(dim=1)
    return perms[best], totals.gather(1, best[:, None]).squeeze(1)


def perturbation_costs(z1: torch.Tensor, z2: torch.Tensor, b: torch.Tensor, cost: str = "all"):
    """``same[b, i, j] = |z1_i - z2_j|^2`` and ``moved[b, i, j] = |z1_i + b - z2_j|^2`` (means over properties;
    ``moved`` over the changed ones only with ``cost="changed"``)."""
    same = (z1.unsqueeze(2) - z2.unsqueeze(1)).pow(2).mean(-1)
    sq = (z1.unsqueeze(2) + b[:, None, None, :] - z2.unsqueeze(1)).pow(2)
    if cost == "changed":
        w = (b != 0).to(sq.dtype)
        w = w / w.sum(-1, keepdim=True).clamp_min(1)
        return same, (sq * w[:, None, None, :]).sum(-1)
    return same, sq.mean(-1)


def match(z1: torch.Tensor, z2: torch.Tensor, b: torch.Tensor, candidates: torch.Tensor, method: str = "hungarian",
          cost: str = "all"):
    """``z1``, ``z2``: ``(B, S, P)`` projections of x's and x~'s slots; ``b`` ``(B, P)``; ``candidates``
    ``(B, S)`` bool, the slots that may be the perturbed object. Returns ``(k, perm)``: the perturbed slot
    ``(B,)`` and the slot of x~ matched to each slot of x ``(B, S)`` (long tensors on z1's device)."""
    with torch.no_grad():
        same, moved = perturbation_costs(z1, z2, b, cost)
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
        full = torch.where(eye[None, :, :, None], moved.unsqueeze(2), same.unsqueeze(1))  # (B, k, i, j)
        if s <= MAX_ENUMERATED:
            perm, total = assign_on_device(full.reshape(bsz * s, s, s))
            total = total.view(bsz, s).masked_fill(~candidates, float("inf"))
            k = total.argmin(dim=1)
            return k, perm.view(bsz, s, s)[torch.arange(bsz, device=z1.device), k]
        cost = full.cpu().double().numpy()
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
