"""Adam-preconditioned Langevin Monte Carlo (Adam SGLD), the sampler inside Adam LMCDQN.

One step, for every parameter tensor w with gradient g (Ishfaq et al., ICLR 2024, Algorithm 2)::

    m <- beta1 * m + (1 - beta1) * g
    v <- beta2 * v + (1 - beta2) * g**2
    w <- w - lr * g - lr * a * m / (sqrt(v) + eps) + noise_scale * sqrt(2 * lr) * xi,   xi ~ N(0, I)

* no bias correction of m and v (the paper's description, and the authors' code, use none);
* the noise is isotropic: the preconditioner biases the drift, it does not shape the noise;
* ``noise_scale`` is sigma = beta_k ** -0.5, beta_k being the inverse temperature of the target
  distribution exp(-beta_k * L(w)); pass ``inverse_temperature`` instead to give beta_k itself;
* ``bias_factor`` is a; with a = 0 the update is plain SGLD (``w - lr * g + sigma * sqrt(2 lr) * xi``).

The noise is drawn from ``generator`` when one is given, so a run (and a test) can fix it; agents seed it
identically on every rank so that data-parallel replicas stay identical after the noisy step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


class AdamLangevin(torch.optim.Optimizer):
    """Adam SGLD: gradient + Adam-preconditioned bias term + isotropic Gaussian noise.

    Args:
        params: parameters (or parameter groups) to sample.
        lr: step size eta.
        betas: (beta1, beta2) of the moment estimates m and v.
        eps: lambda, added to sqrt(v) in the denominator.
        bias_factor: a, the weight of the Adam term (0 gives SGLD).
        noise_scale: sigma = beta_k ** -0.5 (0 turns the sampler into a deterministic optimiser).
        inverse_temperature: beta_k; an alternative to ``noise_scale`` (give at most one).
        weight_decay: L2 coefficient added to the gradient (a Gaussian prior on w); 0 in the paper.
        generator: a ``torch.Generator`` for the noise (default: torch's global generator).
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        bias_factor: float = 1.0,
        noise_scale: float | None = None,
        inverse_temperature: float | None = None,
        weight_decay: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> None:
        if noise_scale is not None and inverse_temperature is not None:
            raise ValueError("give noise_scale (sigma) or inverse_temperature (beta_k), not both")
        if inverse_temperature is not None:
            if inverse_temperature <= 0:
                raise ValueError(f"inverse_temperature must be > 0, got {inverse_temperature}")
            noise_scale = inverse_temperature ** -0.5
        if noise_scale is None:
            noise_scale = 0.01  # the authors' default
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        if eps < 0 or noise_scale < 0 or weight_decay < 0:
            raise ValueError("eps, noise_scale and weight_decay must be >= 0")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, bias_factor=bias_factor,
                        noise_scale=noise_scale, weight_decay=weight_decay)
        super().__init__(params, defaults)
        self.generator = generator

    def _noise(self, p: torch.Tensor) -> torch.Tensor:
        gen = self.generator
        if gen is None:
            return torch.randn(p.shape, dtype=p.dtype, device=p.device)
        # A generator lives on one device; draw there and move, so a CPU generator also drives GPU params.
        xi = torch.randn(p.shape, dtype=p.dtype, device=gen.device, generator=gen)
        return xi.to(p.device, non_blocking=True)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, eps, a = group["lr"], group["eps"], group["bias_factor"]
            noise_std = group["noise_scale"] * math.sqrt(2.0 * lr)
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("AdamLangevin does not support sparse gradients")
                grad = p.grad
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                p.add_(grad, alpha=-lr)  # the plain Langevin drift
                if a != 0:
                    p.addcdiv_(m, v.sqrt().add_(eps), value=-lr * a)  # Adam bias term (no bias correction)
                if noise_std != 0:
                    p.add_(self._noise(p), alpha=noise_std)
        return loss
