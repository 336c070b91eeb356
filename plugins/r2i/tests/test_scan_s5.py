"""Scan equality (outputs and gradients, with resets) and the S5 layer against a naive dense loop."""

import numpy as np
import pytest
import torch
from intarsia_r2i.s5 import S5Layer, S5Stack, discretize, hippo_legs_normal_diag
from intarsia_r2i.scan import (
    SCAN_MODES,
    linear_scan,
    mask_coefficients,
    resolve_mode,
    scan_sequential,
)

torch.set_num_threads(1)

# every mode that runs on a CPU ('accelerated' needs CUDA and is checked where it is available)
CPU_MODES = [m for m in SCAN_MODES if m != "accelerated"]


def _random_problem(B=3, T=37, P=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    lam = torch.complex(-torch.rand(P, generator=g) * 0.5 + 0.4, torch.randn(P, generator=g))  # |lam| ~ 1
    bu = torch.complex(torch.randn(B, T, P, generator=g), torch.randn(B, T, P, generator=g))
    x0 = torch.complex(torch.randn(B, P, generator=g), torch.randn(B, P, generator=g))
    x_init = torch.complex(torch.randn(P, generator=g), torch.randn(P, generator=g))
    reset = (torch.rand(B, T, generator=g) < 0.15).float()
    reset[0, 0] = 1.0  # a reset at the very first step too
    return lam, bu, x0, x_init, reset


def _autograd_loop(a, b, x0):
    """The recurrence differentiated by autograd step by step (independent of every mode's backward)."""
    out, x = [], x0
    for t in range(a.shape[1]):
        x = a[:, t] * x + b[:, t]
        out.append(x)
    return torch.stack(out, 1)


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


@pytest.mark.parametrize("mode", CPU_MODES)
@pytest.mark.parametrize("T", [1, 2, 5, 37, 64])
def test_parallel_equals_sequential_with_resets(T, mode):
    lam, bu, x0, x_init, reset = _random_problem(T=T, seed=T)
    a, b = mask_coefficients(lam, bu, reset, x_init)
    par = linear_scan(a, b, x0, mode)
    seq = scan_sequential(a, b, x0)
    ref = _reference_with_resets(lam, bu, x0, x_init, reset)
    torch.testing.assert_close(par, seq, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(seq, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", CPU_MODES)
def test_resets_actually_matter(mode):
    lam, bu, x0, x_init, reset = _random_problem(T=20, seed=3)
    a, b = mask_coefficients(lam, bu, reset, x_init)
    a0, b0 = mask_coefficients(lam, bu, None)
    assert not torch.allclose(linear_scan(a, b, x0, mode), linear_scan(a0, b0, x0, mode), atol=1e-3)


@pytest.mark.parametrize("mode", CPU_MODES)
def test_parallel_equals_sequential_gradients(mode):
    lam, bu, x0, x_init, reset = _random_problem(T=29, seed=7)
    grads = {}
    for name, fn in (("par", lambda a, b, x0: linear_scan(a, b, x0, mode)), ("seq", _autograd_loop)):
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


@pytest.mark.parametrize("scan", CPU_MODES)
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


@pytest.mark.parametrize("scan", CPU_MODES)
def test_stack_sequence_equals_steps_with_gradients(scan):
    torch.manual_seed(2)
    H, P, L, B, T = 8, 8, 2, 3, 11
    stack = S5Stack(H, P, L, blocks=2)
    u = torch.randn(B, T, H, requires_grad=True)
    h0 = torch.zeros(B, L, P, dtype=torch.complex64)
    x_init = torch.complex(torch.randn(L, P), torch.randn(L, P))
    reset = (torch.rand(B, T) < 0.2).float()
    out_p, st_p = stack(u, h0, reset, x_init, scan=scan)
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


@pytest.mark.parametrize("mode", CPU_MODES)
@pytest.mark.parametrize("T", [1, 3, 16, 33, 130])
@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_every_mode_matches_autograd_loop_real_and_complex(mode, T, dtype):
    g = torch.Generator().manual_seed(T)
    a = (torch.rand(3, T, 4, generator=g, dtype=torch.float64) * 0.9 + 0.1).to(dtype)
    if dtype.is_complex:
        a = a * torch.exp(1j * torch.randn(3, T, 4, generator=g, dtype=torch.float64))
    a[torch.rand(3, T, generator=g) < 0.15] = 0  # resets
    b = torch.randn(3, T, 4, generator=g, dtype=torch.float64).to(dtype)
    x0 = torch.randn(3, 4, generator=g, dtype=torch.float64).to(dtype)
    w = torch.randn(3, T, 4, generator=g, dtype=torch.float64).to(dtype)
    out = {}
    for name, fn in ((mode, lambda *t: linear_scan(*t, mode)), ("ref", _autograd_loop)):
        leaves = [t.clone().requires_grad_(True) for t in (a, b, x0)]
        xs = fn(*leaves)
        loss = (xs * w).real.sum() + 0.1 * xs.abs().square().sum()
        out[name] = (xs, *torch.autograd.grad(loss, leaves))
    for got, want in zip(out[mode], out["ref"], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", CPU_MODES)
def test_non_finite_state_does_not_leak_across_a_reset(mode):
    lam, bu, x0, x_init, reset = _random_problem(B=3, T=40, seed=11)
    reset[0] = 0
    reset[0, 20] = 1  # episode boundary in sequence 0 ...
    bad = bu.clone()
    bad[0, 5] = complex(float("inf"), 0)  # ... after an overflow in its first episode
    lr = lam.real.clone().requires_grad_(True)
    bad_in = bad.clone().requires_grad_(True)
    a, b = mask_coefficients(torch.complex(lr, lam.imag), bad_in, reset, x_init)
    xs = linear_scan(a, b, x0, mode)
    want = _reference_with_resets(lam, bu, x0, x_init, reset)
    assert not torch.isfinite(xs[0, 5:20]).all()  # the first episode is broken, as it should be
    torch.testing.assert_close(xs[0, 20:], want[0, 20:], rtol=1e-4, atol=1e-4)  # the next one is not
    torch.testing.assert_close(xs[1:], want[1:], rtol=1e-4, atol=1e-4)
    # a loss on the clean episode has finite gradients, zero for the broken episode's inputs
    g_lam, g_bu = torch.autograd.grad(xs[0, 20:].abs().square().sum() + xs[1:].real.sum(), [lr, bad_in])
    assert torch.isfinite(g_lam).all() and torch.isfinite(g_bu).all()
    assert (g_bu[0, :20] == 0).all() and (g_bu[0, 20:] != 0).any()
    # the one-step path (acting, imagination) replaces a broken state at a reset too
    step = linear_scan(a[:, 20:21].detach(), b[:, 20:21].detach(), xs[:, 19].detach(), mode)
    torch.testing.assert_close(step[:, 0], want[:, 20], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("mode", [m for m in CPU_MODES if m != "parallel"])
def test_memory_kept_for_backward_is_linear_in_T(mode):
    """The custom backward keeps a and the states (plus x0), not one tensor per round of the scan."""
    B, T, P = 2, 256, 8
    a = torch.rand(B, T, P, requires_grad=True)
    b = torch.randn(B, T, P, requires_grad=True)
    saved = {}

    def pack(t):
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        linear_scan(a * 1.0, b * 1.0, torch.zeros(B, P), mode)
    assert sum(saved.values()) <= 3 * a.numel() * a.element_size()


def test_auto_mode_and_bad_modes():
    assert resolve_mode("auto", "cpu", 1024, 16 * 128) == "sequential"
    assert resolve_mode("auto", "cpu", 1024, 4 * 64) == "blelloch"
    assert resolve_mode("chunked", "cpu", 8) == "chunked"
    with pytest.raises(ValueError, match="unknown scan mode 'fast'"):
        resolve_mode("fast", "cpu", 8)
    with pytest.raises(ValueError, match="unknown scan mode"):
        S5Layer(4, 4, blocks=1, scan="fast")
    with pytest.raises(ValueError, match="needs a CUDA device"):
        linear_scan(torch.rand(1, 4, 2), torch.rand(1, 4, 2), torch.zeros(1, 2), "accelerated")


def _official_reset_operator(left, right):
    """R2I's vector_operator_with_dones_initial (recall2imagine/ssm/common.py), ported for this check."""
    a_i, b_i, _, d_i = left
    a_j, b_j, z_j, d_j = right
    return (a_j * a_i * (1 - d_j) + a_j * d_j, a_j * ((1 - d_j) * b_i + d_j * z_j) + b_j, z_j,
            (d_i + d_j).clamp(0, 1))


def _tree_scan(fn, elems):
    """jax.lax.associative_scan's odd/even recursion over dim 0."""
    n = elems[0].shape[0]
    if n < 2:
        return elems
    odd = _tree_scan(fn, fn([e[0:-1:2] for e in elems], [e[1::2] for e in elems]))
    even = fn([e[:-1] for e in odd] if n % 2 == 0 else odd, [e[2::2] for e in elems])
    out = [torch.empty_like(e) for e in elems]
    for o, e, ev, od in zip(out, elems, even, odd, strict=True):
        o[0], o[2::2], o[1::2] = e[0], ev, od
    return out


@pytest.mark.parametrize("L", [7, 16, 33])
def test_official_reset_operator_is_the_zero_reset_loop_with_shifted_flags(L):
    """What the README says about the official scan: with a zero reset state its operator, run in jax's
    tree order, is the step loop with resets to zero, with the done flags that ``np.insert(dones, -1, 0)``
    produces (a one-step shift); with a non-zero reset state (R2I's learned one) it is not associative and
    matches no loop."""
    lam, bu, x0, x_init, _ = _random_problem(B=1, T=L, seed=L)
    lam, bu, x0, x_init = lam.cdouble(), bu[0].cdouble(), x0[0].cdouble(), x_init.cdouble()
    dones = torch.zeros(L, dtype=torch.float64)
    dones[[0, 3, L // 2, L - 1]] = 1.0  # is_first flags, one at the chunk's last step
    shifted = torch.cat([dones[:-1], torch.zeros(1, dtype=dones.dtype), dones[-1:]])  # np.insert(dones, -1, 0)

    def official(z):
        A = torch.cat([torch.ones(1, lam.shape[0], dtype=lam.dtype), lam.expand(L, -1)])
        B = torch.cat([x0[None], bu])
        return _tree_scan(_official_reset_operator, [A, B, z.expand(L + 1, -1), shifted[:, None]])[1][1:]

    def loop(flags, z):
        return _reference_with_resets(lam, bu[None], x0[None], z, flags[None])[0]

    zero = torch.zeros_like(x_init)
    torch.testing.assert_close(official(zero), loop(shifted[1:], zero))
    assert not torch.allclose(official(x_init), loop(shifted[1:], x_init))
    assert not torch.allclose(official(zero), loop(dones, zero))


def test_one_step_scans_skip_the_mode_choice_and_the_kernel_import_is_tried_once(monkeypatch):
    from intarsia_r2i import scan

    def no_choice(*args, **kwargs):
        raise AssertionError("T == 1 must not resolve a mode")

    monkeypatch.setattr(scan, "resolve_mode", no_choice)
    a, b, x0 = torch.full((2, 1, 3), 0.5), torch.ones(2, 1, 3), torch.ones(2, 3)
    assert torch.allclose(scan.linear_scan(a, b, x0), torch.full((2, 1, 3), 1.5))
    scan._accelerated_importable.cache_clear()
    for _ in range(3):
        scan.accelerated_available("cuda")
    assert scan._accelerated_importable.cache_info().misses == 1
