"""First-order linear recurrences x_t = a_t * x_{t-1} + b_t over the time axis (dim 1).

Two implementations of the same map, selectable by name:

* ``sequential``: the reference loop, O(T) depth.
* ``parallel``: a Hillis-Steele inclusive scan with the associative operator
  (a_l, b_l) . (a_r, b_r) = (a_r a_l, a_r b_l + b_r); log2(T) rounds of elementwise work, so
  long sequences run in O(log T) depth on a GPU (and in a handful of large kernels on a CPU).

Episode resets are handled *outside* the operator (issue 4): where ``d_t = 1`` the state before step t
is replaced by ``x_init``, which is the same as the masked coefficients
``a_t = (1 - d_t) * L`` and ``b_t = B u_t + d_t * L * x_init`` in an ordinary scan. This keeps the
operator associative, so both implementations agree exactly (up to float error) on any reset pattern.
The official JAX code folds the done flags into the operator instead, which is not associative and
disagrees with the step-by-step recurrence when a chunk crosses an episode boundary.
"""

from __future__ import annotations

import torch

SCAN_MODES = ("parallel", "sequential")


def mask_coefficients(lam: torch.Tensor, bu: torch.Tensor, reset: torch.Tensor | None,
                      x_init: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Coefficients (a, b) of shape (B, T, P) for a diagonal recurrence with resets.

    lam: (P,) or (B, T, P) discrete diagonal; bu: (B, T, P) input term; reset: (B, T) in {0, 1} (1 where
    the state before step t must be ``x_init``); x_init: (P,) or (B, P), zeros when None.
    """
    a = lam.expand_as(bu)
    if reset is None:
        return a, bu
    d = reset.to(bu.real.dtype).unsqueeze(-1)  # (B, T, 1)
    keep = 1.0 - d
    a = a * keep
    if x_init is not None:
        x_init = x_init if x_init.dim() == 1 else x_init.unsqueeze(1)  # broadcast over T
        bu = bu + d * (lam * x_init)
    return a, bu


def scan_sequential(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """Reference loop. a, b: (B, T, P); x0: (B, P). Returns all states (B, T, P)."""
    xs = []
    x = x0
    for t in range(a.shape[1]):
        x = a[:, t] * x + b[:, t]
        xs.append(x)
    return torch.stack(xs, 1)


def scan_parallel(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """Hillis-Steele inclusive scan over dim 1 (log-depth). Same signature as :func:`scan_sequential`.

    The initial state is folded into the first element (b_0 <- a_0 x0 + b_0), after which element t of the
    inclusive scan *is* x_t. Out-of-place concatenations keep autograd happy for complex tensors.
    """
    T = a.shape[1]
    b = torch.cat([a[:, :1] * x0.unsqueeze(1) + b[:, :1], b[:, 1:]], 1)
    k = 1
    while k < T:
        # combine element t (right) with element t-k (left); old a_t is used for b before a is updated
        b = torch.cat([b[:, :k], a[:, k:] * b[:, :-k] + b[:, k:]], 1)
        a = torch.cat([a[:, :k], a[:, k:] * a[:, :-k]], 1)
        k *= 2
    return b


def linear_scan(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor, mode: str = "parallel") -> torch.Tensor:
    """Dispatch on ``mode`` (one of :data:`SCAN_MODES`)."""
    if mode == "parallel":
        return scan_parallel(a, b, x0)
    if mode == "sequential":
        return scan_sequential(a, b, x0)
    raise ValueError(f"unknown scan mode {mode!r}; expected one of {SCAN_MODES}")
