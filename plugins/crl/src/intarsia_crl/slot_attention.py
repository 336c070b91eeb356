"""Slot Attention (Locatello et al., 2020) and its minimum-entropy Sinkhorn variant SA-MESH (Zhang et al., 2023).

Softmax slot attention normalises the attention over slots (slots compete for inputs) and then takes a
weighted mean over inputs. SA-MESH replaces that normalisation by an optimal-transport plan between inputs
and slots with learned marginals ``a`` (inputs) and ``b`` (slots), computed by Sinkhorn iterations on the
distance cost, after a few gradient steps on the cost that lower the plan's entropy (sharper, tie-free
assignments that break the symmetry between identical objects).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def sinkhorn(cost: torch.Tensor, a: torch.Tensor, b: torch.Tensor, iters: int = 5,
             u: torch.Tensor | None = None, v: torch.Tensor | None = None):
    """Log-domain Sinkhorn. ``cost`` ``(B, N, S)``, marginals ``a`` ``(B, N)``, ``b`` ``(B, S)`` with equal
    totals. Returns the plan ``T`` (rows sum to ``a``; columns to ``b`` exactly after the last step) and the
    dual potentials ``u``, ``v`` (to warm-start the next call)."""
    logp = -cost
    log_a, log_b = a.log(), b.log()
    u = torch.zeros_like(a) if u is None else u
    v = torch.zeros_like(b) if v is None else v
    for _ in range(iters):
        u = log_a - torch.logsumexp(logp + v.unsqueeze(1), dim=2)
        v = log_b - torch.logsumexp(logp + u.unsqueeze(2), dim=1)
    return (logp + u.unsqueeze(2) + v.unsqueeze(1)).exp(), u, v


def minimize_entropy_of_sinkhorn(cost: torch.Tensor, a: torch.Tensor, b: torch.Tensor, *, steps: int = 4,
                                 lr: float = 5.0, sinkhorn_iters: int = 5, generator: torch.Generator | None = None):
    """MESH: ``steps`` normalised gradient steps on the cost that lower the entropy of its Sinkhorn plan.

    A little noise on the cost breaks exact ties first. The entropy gradient is taken as a constant (no
    second-order terms), as in the official implementation: the plan stays differentiable in the cost.
    Returns the adjusted cost and the warm-start potentials.
    """
    noise = torch.randn(cost.shape, generator=generator, dtype=cost.dtype).to(cost.device)
    cost_t = cost + 1e-3 * noise
    u = v = None
    with torch.enable_grad():
        if not cost_t.requires_grad:
            cost_t = cost_t.detach().requires_grad_(True)
        for _ in range(steps):
            plan, u, v = sinkhorn(cost_t, a, b, sinkhorn_iters, u, v)
            entropy = torch.special.entr(plan.clamp(1e-20, 1.0)).mean(dim=(1, 2)).sum()
            (grad,) = torch.autograd.grad(entropy, cost_t, retain_graph=True)
            cost_t = cost_t - lr * F.normalize(grad.flatten(1) + 1e-20, dim=1).view_as(grad)
    return cost_t, u.detach(), v.detach()


class SlotAttention(nn.Module):
    """Iterative slot attention over ``(B, N, d_in)`` inputs -> ``(B, S, slot_dim)`` slots.

    ``variant="softmax"`` is Locatello et al.'s; ``variant="mesh"`` is SA-MESH. Slots start from a learned
    Gaussian; in eval mode the noise comes from a fixed seed, so encodings are deterministic.
    ``forward`` returns ``(slots, attn)`` with ``attn`` ``(B, S, N)``: each slot's weights over the inputs.
    """

    def __init__(self, d_in: int, slot_dim: int, num_slots: int, *, iterations: int = 3, mlp_dim: int = 128,
                 variant: str = "mesh", mesh_iters: int = 4, mesh_lr: float = 5.0, sinkhorn_iters: int = 5,
                 eval_seed: int = 0):
        super().__init__()
        if variant not in ("mesh", "softmax"):
            raise ValueError(f"model.slot_attention must be 'mesh' or 'softmax', got {variant!r}")
        self.num_slots, self.slot_dim, self.iterations, self.variant = num_slots, slot_dim, iterations, variant
        self.mesh_iters, self.mesh_lr, self.sinkhorn_iters, self.eval_seed = mesh_iters, mesh_lr, sinkhorn_iters, eval_seed
        self.norm_inputs = nn.LayerNorm(d_in)
        self.norm_slots = nn.LayerNorm(slot_dim)
        self.norm_mlp = nn.LayerNorm(slot_dim)
        self.to_q = nn.Linear(slot_dim, slot_dim, bias=False)
        self.to_k = nn.Linear(d_in, slot_dim, bias=False)
        self.to_v = nn.Linear(d_in, slot_dim, bias=False)
        self.gru = nn.GRUCell(slot_dim, slot_dim)
        self.mlp = nn.Sequential(nn.Linear(slot_dim, mlp_dim), nn.ReLU(), nn.Linear(mlp_dim, slot_dim))
        self.slots_mu = nn.Parameter(nn.init.xavier_uniform_(torch.empty(1, 1, slot_dim)))
        self.slots_log_sigma = nn.Parameter(nn.init.xavier_uniform_(torch.empty(1, 1, slot_dim)))
        if variant == "mesh":  # the learned marginals of the transport problem
            self.input_weight = nn.Linear(d_in, 1)
            self.slot_weight = nn.Linear(slot_dim, 1)

    def _generator(self) -> torch.Generator | None:
        return None if self.training else torch.Generator().manual_seed(self.eval_seed)

    def initial_slots(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn((batch, self.num_slots, self.slot_dim), generator=generator).to(self.slots_mu)
        return self.slots_mu + self.slots_log_sigma.exp() * noise

    def forward(self, inputs: torch.Tensor, slots_init: torch.Tensor | None = None):
        gen = self._generator()
        batch = inputs.shape[0]
        inputs = self.norm_inputs(inputs)
        k, v = self.to_k(inputs), self.to_v(inputs)
        slots = self.initial_slots(batch, gen) if slots_init is None else slots_init
        if self.variant == "mesh":
            a = self.input_weight(inputs).squeeze(-1).softmax(-1) * self.num_slots
        attn = None
        for _ in range(self.iterations):
            prev = slots
            q = self.to_q(self.norm_slots(slots))
            if self.variant == "softmax":
                logits = torch.einsum("bnd,bsd->bns", k, q) * self.slot_dim ** -0.5
                attn = logits.softmax(dim=-1) + 1e-8  # slots compete for each input
                updates = torch.einsum("bns,bnd->bsd", attn / attn.sum(dim=1, keepdim=True), v)
            else:
                b = self.slot_weight(self.norm_slots(slots)).squeeze(-1).softmax(-1) * self.num_slots
                cost = torch.cdist(k, q)
                cost, pu, pv = minimize_entropy_of_sinkhorn(cost, a, b, steps=self.mesh_iters, lr=self.mesh_lr,
                                                            sinkhorn_iters=self.sinkhorn_iters, generator=gen)
                attn, _, _ = sinkhorn(cost, a, b, self.sinkhorn_iters, pu, pv)
                updates = torch.einsum("bns,bnd->bsd", attn, v)
            slots = self.gru(updates.reshape(-1, self.slot_dim), prev.reshape(-1, self.slot_dim)).view_as(prev)
            slots = slots + self.mlp(self.norm_mlp(slots))
        return slots, attn.transpose(1, 2)
