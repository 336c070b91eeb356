"""Scan equality (outputs and gradients, with resets) and the S5 layer against a naive dense loop."""

import numpy as np
import pytest
import torch
from intarsia_r2i.s5 import S5Layer, S5Stack, discretize, hippo_legs_normal_diag
from intarsia_r2i.scan import mask_coefficients, scan_parallel, scan_sequential

torch.set_num_threads(1)


def _random_problem(B=3, T=37, P=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    lam = torch.complex(-torch.rand(P, generator=g) * 0.5 + 0.4, torch.randn(P, generator=g))  # |lam| ~ 1
    bu = torch.complex(torch.randn(B, T, P, generator=g), torch.randn(B, T, P, generator=g))
    x0 = torch.complex(torch.randn(B, P, generator=g), torch.randn(B, P, generator=g))
    x_init = torch.complex(torch.randn(P, generator=g), torch.randn(P, generator=g))
    reset = (torch.rand(B, T, generator=g) < 0.15).float()
    reset[0, 0] = 1.0  # a reset at the very first step too
    return lam, bu, x0, x_init, reset


def _reference_with_resets(lam, bu, x0, x_init, reset):
    """The step-by-step recurrence with explicit resets (no masking trick)."""
    out = []
    x = x0
    for t in range(bu.shape[1]):
        d = reset[:, t].bool().unsqueeze(-1)
        x = torch.where(d, x_init.expand_as(x), x)
        x = lam * x + bu[:, t]
        out.append(x)
    return torch.stack(out, 1)


@pytest.mark.parametrize("T", [1, 2, 5, 37, 64])
def test_parallel_equals_sequential_with_resets(T):
    lam, bu, x0, x_init, reset = _random_problem(T=T, seed=T)
    a, b = mask_coefficients(lam, bu, reset, x_init)
    par = scan_parallel(a, b, x0)
    seq = scan_sequential(a, b, x0)
    ref = _reference_with_resets(lam, bu, x0, x_init, reset)
    torch.testing.assert_close(par, seq, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(seq, ref, rtol=1e-5, atol=1e-5)


def test_resets_actually_matter():
    lam, bu, x0, x_init, reset = _random_problem(T=20, seed=3)
    a, b = mask_coefficients(lam, bu, reset, x_init)
    a0, b0 = mask_coefficients(lam, bu, None)
    assert not torch.allclose(scan_parallel(a, b, x0), scan_parallel(a0, b0, x0), atol=1e-3)


def test_parallel_equals_sequential_gradients():
    lam, bu, x0, x_init, reset = _random_problem(T=29, seed=7)
    grads = {}
    for name, fn in (("par", scan_parallel), ("seq", scan_sequential)):
        lr = lam.real.clone().requires_grad_(True)
        li = lam.imag.clone().requires_grad_(True)
        bur = bu.real.clone().requires_grad_(True)
        xi = x_init.real.clone().requires_grad_(True)
        a, b = mask_coefficients(torch.complex(lr, li), torch.complex(bur, bu.imag), reset,
                                 torch.complex(xi, x_init.imag))
        xs = fn(a, b, x0)
        w = torch.linspace(-1, 1, xs.numel()).reshape(xs.shape)
        loss = (xs.real * w).sum() + (xs.imag ** 2).mean()
        grads[name] = torch.autograd.grad(loss, [lr, li, bur, xi])
    for gp, gs in zip(grads["par"], grads["seq"], strict=True):
        torch.testing.assert_close(gp, gs, rtol=1e-4, atol=1e-4)


def test_hippo_diagonalisation_reconstructs_normal_part():
    n = 16
    lam, V = hippo_legs_normal_diag(n)
    p = np.sqrt(1.0 + 2.0 * np.arange(n))
    A = -(np.tril(p[:, None] * p[None, :]) - np.diag(np.arange(n)))
    q = np.sqrt(np.arange(n) + 0.5)
    S = A + q[:, None] * q[None, :]
    np.testing.assert_allclose(V @ np.diag(lam) @ V.conj().T, S, atol=1e-8)
    assert np.allclose(lam.real, -0.5)


@pytest.mark.parametrize("method", ["bilinear", "zoh"])
def test_discretisation_matches_dense_formulas(method):
    torch.manual_seed(0)
    P, H = 6, 3
    lam = torch.complex(-torch.rand(P, dtype=torch.float64) - 0.1, torch.randn(P, dtype=torch.float64))
    B = torch.complex(torch.randn(P, H, dtype=torch.float64), torch.randn(P, H, dtype=torch.float64))
    step = torch.rand(P, dtype=torch.float64) * 0.1 + 0.001
    lam_bar, b_bar = discretize(lam, B, step, method)
    A = torch.diag(lam * step)  # per-state step: A*Delta, B*Delta
    eye = torch.eye(P, dtype=A.dtype)
    if method == "zoh":
        Ab = torch.linalg.matrix_exp(A)
        Bb = torch.linalg.solve(A, Ab - eye) @ (torch.diag(step.to(A.dtype)) @ B)
    else:
        Ab = torch.linalg.solve(eye - A / 2, eye + A / 2)
        Bb = torch.linalg.solve(eye - A / 2, torch.diag(step.to(A.dtype)) @ B)
    torch.testing.assert_close(torch.diag(lam_bar), Ab)
    torch.testing.assert_close(b_bar, Bb)


@pytest.mark.parametrize("scan", ["parallel", "sequential"])
def test_s5_layer_matches_naive_loop(scan):
    torch.manual_seed(1)
    H, P, B, T = 5, 8, 2, 13
    layer = S5Layer(H, P, blocks=2, discretization="zoh", scan=scan)
    u = torch.randn(B, T, H)
    x0 = torch.zeros(B, P, dtype=torch.complex64)
    reset = torch.zeros(B, T)
    reset[1, 6] = 1.0
    y, xs = layer(u, x0, reset)
    lam_bar, b_bar, c = layer.discrete()
    Ab = torch.diag(lam_bar)
    for bi in range(B):
        x = torch.zeros(P, dtype=torch.complex64)
        for t in range(T):
            if reset[bi, t]:
                x = torch.zeros_like(x)
            x = Ab @ x + b_bar @ u[bi, t].to(torch.complex64)
            y_ref = (c @ x).real + layer.d * u[bi, t]
            torch.testing.assert_close(y[bi, t], y_ref, rtol=1e-4, atol=1e-4)
            torch.testing.assert_close(xs[bi, t], x, rtol=1e-4, atol=1e-4)


def test_s5_init_properties():
    layer = S5Layer(16, 32, blocks=4, dt_min=0.001, dt_max=0.1)
    steps = layer.log_step.exp()
    assert steps.min() >= 0.001 - 1e-6 and steps.max() <= 0.1 + 1e-6
    lam = layer.lambda_continuous()
    assert torch.allclose(lam.real, torch.full_like(lam.real, -0.5))
    # block-diagonal: each of the 4 blocks carries the same 8 eigenvalues
    assert torch.allclose(lam.imag[:8], lam.imag[8:16])
    lam_bar, _, _ = layer.discrete()
    assert (lam_bar.abs() < 1).all()  # stable


def test_stack_sequence_equals_steps_with_gradients():
    torch.manual_seed(2)
    H, P, L, B, T = 8, 8, 2, 3, 11
    stack = S5Stack(H, P, L, blocks=2)
    u = torch.randn(B, T, H, requires_grad=True)
    h0 = torch.zeros(B, L, P, dtype=torch.complex64)
    x_init = torch.complex(torch.randn(L, P), torch.randn(L, P))
    reset = (torch.rand(B, T) < 0.2).float()
    out_p, st_p = stack(u, h0, reset, x_init, scan="parallel")
    g_p = torch.autograd.grad(out_p.square().sum(), [u, stack.blocks[0].ssm.log_step])
    outs, h = [], h0
    for t in range(T):
        o, h = stack.step(u[:, t], h, reset[:, t], x_init)
        outs.append(o)
    out_s = torch.stack(outs, 1)
    g_s = torch.autograd.grad(out_s.square().sum(), [u, stack.blocks[0].ssm.log_step])
    torch.testing.assert_close(out_p, out_s, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(st_p[:, -1], h, rtol=1e-4, atol=1e-4)
    for a, b in zip(g_p, g_s, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)
