"""The S5 layer (Smith et al., 2023) as R2I uses it: a MIMO diagonal state-space model.

Continuous system  x' = Lambda x + B~ u,  y = Re(C~ x) + D u  with complex diagonal Lambda (P states),
initialised from the diagonalised normal part of HiPPO-LegS, one copy per block (block-diagonal init),
learned per-state step sizes Delta = exp(log_step), log_step ~ U[log dt_min, log dt_max], and bilinear or
zero-order-hold discretisation. Sequences run through :mod:`intarsia_r2i.scan`; single steps (acting,
imagination) through :meth:`S5Layer.step`.

:class:`S5Block` wraps a layer as R2I's sequence model does (S5 -> GELU -> GLU -> residual -> LayerNorm,
post-norm), and :class:`S5Stack` stacks blocks and carries one complex hidden state per layer.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .scan import SCAN_MODES, linear_scan, mask_coefficients


def hippo_legs_normal_diag(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition of the normal part of HiPPO-LegS of size n.

    HiPPO-LegS A = -(tril(p p^T) - diag(0..n-1)) with p_k = sqrt(2k+1); adding the rank-one term q q^T
    (q_k = sqrt(k + 1/2)) gives S = -I/2 + (skew-symmetric), which is normal. Returns (Lambda, V) with
    S = V diag(Lambda) V^H: Lambda has real part -1/2 and the skew part's imaginary eigenvalues.
    """
    p = np.sqrt(1.0 + 2.0 * np.arange(n))
    A = -(np.tril(p[:, None] * p[None, :]) - np.diag(np.arange(n)))
    q = np.sqrt(np.arange(n) + 0.5)
    S = A + q[:, None] * q[None, :]
    diag = np.diagonal(S)
    skew = S - np.diag(diag)
    imag, V = np.linalg.eigh(-1j * skew)  # -i * skew is Hermitian, eigenvalues real
    lam = np.mean(diag) * np.ones(n) + 1j * imag
    return lam, V


def block_diag_init(state_size: int, blocks: int, conj_sym: bool) -> tuple[np.ndarray, np.ndarray]:
    """Block-diagonal HiPPO init: (Lambda (P,), V (P, P)) with ``blocks`` copies of a P/blocks block.

    With conjugate symmetry each block keeps half of the eigenpairs of a 2x larger HiPPO matrix (the other
    half are conjugates), and the output uses 2 Re(Cx).
    """
    if state_size % blocks:
        raise ValueError(f"state_size {state_size} is not divisible by blocks {blocks}")
    size = state_size // blocks
    lam, V = hippo_legs_normal_diag(size * (2 if conj_sym else 1))
    lam, V = lam[:size], V[:, :size]
    lam = np.tile(lam, blocks)
    big_v = np.zeros((state_size * (2 if conj_sym else 1), state_size), dtype=np.complex128)
    rows = V.shape[0]
    for i in range(blocks):
        big_v[i * rows:(i + 1) * rows, i * size:(i + 1) * size] = V
    return lam, big_v


def discretize(lam: torch.Tensor, b_tilde: torch.Tensor, step: torch.Tensor, method: str):
    """Discrete (Lambda_bar (P,), B_bar (P, H)) for a diagonal system with per-state steps (P,)."""
    if method == "bilinear":
        bl = 1.0 / (1.0 - (step / 2.0) * lam)
        lam_bar = bl * (1.0 + (step / 2.0) * lam)
        b_bar = (bl * step).unsqueeze(-1) * b_tilde
    elif method == "zoh":
        lam_bar = torch.exp(lam * step)
        b_bar = ((lam_bar - 1.0) / lam).unsqueeze(-1) * b_tilde
    else:
        raise ValueError(f"unknown discretization {method!r}; expected 'bilinear' or 'zoh'")
    return lam_bar, b_bar


TRUNC_STD = 0.87962566103423978
"""std of a standard normal truncated to [-2, 2]; jax's truncated initialisers divide by it"""

S5_NORM_EPS = 1e-6
"""epsilon of flax's ``nn.LayerNorm()``, the official S5 block's norm"""


def _lecun_normal(shape, fan_in: int, generator=None) -> torch.Tensor:
    """jax's ``lecun_normal()``: a normal truncated at two standard deviations, divided by their std (0.8796)
    so that the samples' std is sqrt(1 / fan_in)."""
    std = math.sqrt(1.0 / fan_in) / TRUNC_STD
    t = torch.empty(shape)
    nn.init.trunc_normal_(t, std=std, a=-2 * std, b=2 * std, generator=generator)
    return t


class S5Layer(nn.Module):
    """One S5 SSM. ``forward(u, x0, reset, x_init)`` for sequences, ``step(u, x)`` for one time step.

    Shapes: u (B, T, H) real; states (B, P) complex; reset (B, T) float/bool (1 where the state before
    step t is replaced by ``x_init``, shape (P,) or (B, P), zeros when None).
    """

    def __init__(self, d_model: int, state_size: int, blocks: int = 8, discretization: str = "bilinear",
                 dt_min: float = 0.001, dt_max: float = 0.1, conj_sym: bool = False, clip_eigs: bool = False,
                 scan: str = "auto", c_init: str = "trunc_standard_normal"):
        super().__init__()
        if scan not in SCAN_MODES:
            raise ValueError(f"unknown scan mode {scan!r}; expected one of {SCAN_MODES}")
        self.d_model, self.state_size = d_model, state_size
        self.discretization, self.conj_sym, self.clip_eigs, self.scan = discretization, conj_sym, clip_eigs, scan
        lam, V = block_diag_init(state_size, blocks, conj_sym)
        local_p = V.shape[0]  # rows of V: 2P with conjugate symmetry, else P
        v = torch.from_numpy(V).to(torch.complex64)
        vinv = v.conj().T  # V is unitary per block
        self.lambda_re = nn.Parameter(torch.from_numpy(lam.real).float())
        self.lambda_im = nn.Parameter(torch.from_numpy(lam.imag).float())
        # B~ = V^{-1} B with B lecun-normal (truncated; fan-in = the first axis of (P, H), as jax computes it)
        b = _lecun_normal((local_p, d_model), local_p)
        b_tilde = vinv @ b.to(torch.complex64)
        self.b_re = nn.Parameter(b_tilde.real.contiguous())
        self.b_im = nn.Parameter(b_tilde.imag.contiguous())
        # C~ (official options): 'trunc_standard_normal'/'lecun_normal' sample a complex C ~ truncated
        # lecun normal (fan-in over the state and model axes, as jax's 3-D initialiser computes it) and use
        # C~ = C V; 'complex_normal' samples C~ directly with std sqrt(1/2) per part (a much stronger
        # initial read-out of the state).
        if c_init in ("trunc_standard_normal", "lecun_normal"):
            fan_in = local_p * d_model  # jax's fans of the (H, P, 2) array: receptive field H times P
            c = torch.complex(_lecun_normal((d_model, local_p), fan_in), _lecun_normal((d_model, local_p), fan_in))
            c_tilde = c @ v
        elif c_init == "complex_normal":
            c_tilde = torch.complex(torch.randn(d_model, state_size), torch.randn(d_model, state_size)) * math.sqrt(0.5)
        else:
            raise ValueError(f"unknown c_init {c_init!r}")
        self.c_re = nn.Parameter(c_tilde.real.contiguous())
        self.c_im = nn.Parameter(c_tilde.imag.contiguous())
        self.d = nn.Parameter(torch.randn(d_model))
        log_lo, log_hi = math.log(dt_min), math.log(dt_max)
        self.log_step = nn.Parameter(torch.rand(state_size) * (log_hi - log_lo) + log_lo)

    # -- discrete parameters -------------------------------------------------------------------
    # The recurrence always runs in float32/complex64, whatever the precision: half-precision complex numbers
    # are not supported (``torch.complex`` refuses bf16), and a state carried over thousands of steps in bf16
    # would lose its memory to rounding. Half-precision parameters (``bf16-true``) are read as float32 here
    # and the layer's output is cast back to its input's dtype.
    def lambda_continuous(self) -> torch.Tensor:
        re = self.lambda_re.float()
        re = re.clamp(max=-1e-4) if self.clip_eigs else re
        return torch.complex(re, self.lambda_im.float())

    _cached = None  # discrete parameters held fixed during a rollout (see S5Stack.cached)

    def discrete(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(Lambda_bar (P,), B_bar (P, H), C~ (H, P)) as complex tensors."""
        if self._cached is not None:
            return self._cached
        lam_bar, b_bar = discretize(self.lambda_continuous(), torch.complex(self.b_re.float(), self.b_im.float()),
                                    torch.exp(self.log_step.float()), self.discretization)
        return lam_bar, b_bar, torch.complex(self.c_re.float(), self.c_im.float())

    def _readout(self, x: torch.Tensor, c: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        y = torch.einsum("...p,hp->...h", x, c).real
        if self.conj_sym:
            y = 2.0 * y
        return (y + self.d.float() * u.float()).to(u.dtype)

    # -- sequences and steps --------------------------------------------------------------------
    def forward(self, u: torch.Tensor, x0: torch.Tensor, reset: torch.Tensor | None = None,
                x_init: torch.Tensor | None = None, scan: str | None = None):
        """Returns (y (B, T, H), states (B, T, P))."""
        lam_bar, b_bar, c = self.discrete()
        # autocast off: the complex einsums stay complex64 (under autocast the matmuls inside them would be
        # lowered to half precision where the backend allows it)
        with torch.autocast(u.device.type, enabled=False):
            bu = torch.einsum("bth,ph->btp", u.float().to(b_bar.dtype), b_bar)
            a, b = mask_coefficients(lam_bar, bu, reset, None if x_init is None else x_init.to(bu.dtype))
            xs = linear_scan(a, b, x0.to(bu.dtype), scan or self.scan)
            return self._readout(xs, c, u), xs

    def step(self, u: torch.Tensor, x: torch.Tensor, reset: torch.Tensor | None = None,
             x_init: torch.Tensor | None = None):
        """One step: u (B, H), x (B, P) -> (y (B, H), x' (B, P))."""
        y, xs = self.forward(u.unsqueeze(1), x, None if reset is None else reset.unsqueeze(1), x_init,
                             scan="sequential")
        return y[:, 0], xs[:, 0]


class S5Block(nn.Module):
    """R2I's sequence block: S5 -> GELU -> GLU (dense * sigmoid(dense)) -> residual -> LayerNorm."""

    def __init__(self, d_model: int, state_size: int, **s5_kwargs):
        super().__init__()
        self.ssm = S5Layer(d_model, state_size, **s5_kwargs)
        # flax's nn.Dense and nn.LayerNorm as the official block builds them: lecun-normal kernels, zero biases,
        # epsilon 1e-6
        self.out = nn.Linear(d_model, d_model)
        self.gate = nn.Linear(d_model, d_model)
        for layer in (self.out, self.gate):
            with torch.no_grad():
                layer.weight.copy_(_lecun_normal((d_model, d_model), d_model))
                nn.init.zeros_(layer.bias)
        self.norm = nn.LayerNorm(d_model, eps=S5_NORM_EPS)

    def _mix(self, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y = F.gelu(y)
        y = self.out(y) * torch.sigmoid(self.gate(y))
        return self.norm(u + y)

    def forward(self, u, x0, reset=None, x_init=None, scan=None):
        y, xs = self.ssm(u, x0, reset, x_init, scan)
        return self._mix(u, y), xs

    def step(self, u, x, reset=None, x_init=None):
        y, x = self.ssm.step(u, x, reset, x_init)
        return self._mix(u, y), x


class S5Stack(nn.Module):
    """``layers`` S5 blocks; hidden state (B, layers, P) complex, one x_init per layer (layers, P)."""

    def __init__(self, d_model: int, state_size: int, layers: int, **s5_kwargs):
        super().__init__()
        self.blocks = nn.ModuleList(S5Block(d_model, state_size, **s5_kwargs) for _ in range(layers))

    def forward(self, u, hidden, reset=None, x_init=None, scan=None):
        """u (B, T, H); hidden (B, L, P). Returns (output (B, T, H), states (B, T, L, P))."""
        states = []
        for i, block in enumerate(self.blocks):
            u, xs = block(u, hidden[:, i], reset, None if x_init is None else x_init[..., i, :], scan)
            states.append(xs)
        return u, torch.stack(states, 2)

    @contextlib.contextmanager
    def cached(self):
        """Discretise once for many :meth:`step` calls (imagination); the graph is shared, so gradients
        are the same as recomputing per step."""
        layers = [b.ssm for b in self.blocks]
        for layer in layers:
            layer._cached = layer.discrete()
        try:
            yield self
        finally:
            for layer in layers:
                layer._cached = None

    def step(self, u, hidden, reset=None, x_init=None):
        """u (B, H); hidden (B, L, P) -> (output (B, H), hidden (B, L, P))."""
        states = []
        for i, block in enumerate(self.blocks):
            u, x = block.step(u, hidden[:, i], reset, None if x_init is None else x_init[..., i, :])
            states.append(x)
        return u, torch.stack(states, 1)
