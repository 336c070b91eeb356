"""AdamLangevin against a hand computation of the issue's formula, with a fixed noise generator."""

import copy
import math

import pytest
import torch
from intarsia_lmcdqn.optim import AdamLangevin


def _hand_steps(w0, grads_fn, *, lr, betas, eps, a, sigma, seed, steps):
    """m, v without bias correction; w <- w - lr g - lr a m/(sqrt(v)+eps) + sigma sqrt(2 lr) xi."""
    gen = torch.Generator().manual_seed(seed)
    w = w0.clone()
    m = torch.zeros_like(w)
    v = torch.zeros_like(w)
    for _ in range(steps):
        g = grads_fn(w)
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        xi = torch.randn(w.shape, generator=gen, dtype=w.dtype)
        w = w - lr * g - lr * a * m / (v.sqrt() + eps) + sigma * math.sqrt(2 * lr) * xi
    return w


def _grad_of_quadratic(w):  # L(w) = sum(w^2 * c) / 2 with per-coordinate curvature c
    c = torch.arange(1, w.numel() + 1, dtype=w.dtype).reshape(w.shape)
    return c * w


@pytest.mark.parametrize("a,sigma", [(1.0, 0.1), (0.1, 1e-3), (0.0, 0.5)])
def test_matches_hand_computation(a, sigma):
    torch.manual_seed(0)
    w0 = torch.randn(3, 2, dtype=torch.float64)
    param = torch.nn.Parameter(w0.clone())
    opt = AdamLangevin([param], lr=0.05, betas=(0.8, 0.95), eps=1e-6, bias_factor=a, noise_scale=sigma,
                       generator=torch.Generator().manual_seed(123))
    for _ in range(5):
        opt.zero_grad()
        param.grad = _grad_of_quadratic(param.detach())
        opt.step()
    expected = _hand_steps(w0, _grad_of_quadratic, lr=0.05, betas=(0.8, 0.95), eps=1e-6, a=a, sigma=sigma,
                           seed=123, steps=5)
    torch.testing.assert_close(param.detach(), expected, rtol=1e-12, atol=1e-12)


def test_first_step_by_hand_numbers():
    # One scalar step written out: g = 2, m = 0.2, v = 0.004, m/(sqrt v + eps) = 0.2/0.0632456 = 3.16227...
    p = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = AdamLangevin([p], lr=0.1, betas=(0.9, 0.999), eps=0.0, bias_factor=0.5, noise_scale=0.0)
    p.grad = torch.tensor([2.0], dtype=torch.float64)
    opt.step()
    expected = 1.0 - 0.1 * 2.0 - 0.1 * 0.5 * (0.2 / math.sqrt(0.004))
    assert p.item() == pytest.approx(expected, abs=1e-12)


def test_a_zero_is_sgld_and_noise_is_isotropic():
    p = torch.nn.Parameter(torch.zeros(20000, dtype=torch.float64))
    opt = AdamLangevin([p], lr=0.02, bias_factor=0.0, noise_scale=0.3, generator=torch.Generator().manual_seed(1))
    p.grad = torch.full_like(p, 1.0)
    opt.step()
    xi = torch.randn(20000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(p.detach(), -0.02 * 1.0 + 0.3 * math.sqrt(0.04) * xi)
    # isotropic: every coordinate has the same noise std whatever its gradient history
    assert (p.detach() + 0.02).std().item() == pytest.approx(0.3 * math.sqrt(0.04), rel=0.03)


def test_inverse_temperature_is_sigma_squared_inverse_and_generator_reproducible():
    def run(**kw):
        p = torch.nn.Parameter(torch.ones(4))
        opt = AdamLangevin([p], lr=0.01, generator=torch.Generator().manual_seed(7), **kw)
        for _ in range(3):
            p.grad = torch.ones(4)
            opt.step()
        return p.detach().clone()

    torch.testing.assert_close(run(inverse_temperature=1e4), run(noise_scale=1e-2))
    assert not torch.equal(run(noise_scale=1e-2), run(noise_scale=0.0))
    with pytest.raises(ValueError):
        AdamLangevin([torch.nn.Parameter(torch.ones(1))], noise_scale=0.1, inverse_temperature=10.0)


def test_state_dict_roundtrip_continues_identically():
    def make():
        p = torch.nn.Parameter(torch.linspace(-1, 1, 5))
        return p, AdamLangevin([p], lr=0.05, noise_scale=0.0, bias_factor=1.0)

    p1, o1 = make()
    for _ in range(3):
        p1.grad = p1.detach() * 2
        o1.step()
    p2, o2 = make()
    with torch.no_grad():
        p2.copy_(p1)
    o2.load_state_dict(copy.deepcopy(o1.state_dict()))  # a checkpoint is a copy, not shared tensors
    for p, o in ((p1, o1), (p2, o2)):
        p.grad = p.detach() * 2
        o.step()
    torch.testing.assert_close(p1.detach(), p2.detach())
