"""First-order linear recurrences x_t = a_t * x_{t-1} + b_t over the time axis (dim 1).

One map, several algorithms, selected by name (``model.scan``; :data:`SCAN_MODES`):

* ``sequential``: a step loop, O(T) work and depth.
* ``chunked``: the loop runs *inside* chunks of about sqrt(T) steps, all chunks at once, then a short loop
  over the chunk carries and one correction pass: about 2 sqrt(T) steps of larger tensors.
* ``blelloch``: a work-efficient parallel scan (odd/even pairing, as ``jax.lax.associative_scan``):
  O(T) work, 2 log2(T) rounds.
* ``parallel``: the Hillis-Steele scan this plugin used first: O(T log T) work, log2(T) rounds,
  differentiated by autograd (O(T log T) memory). Kept for comparison.
* ``accelerated``: ``accelerated-scan``'s Triton kernels (CUDA only; the ``cuda`` extra).
* ``associative``: ``torch._higher_order_ops.associative_scan`` (compiled on CUDA, eager elsewhere).
* ``auto`` (default): chosen by device and length, see :func:`resolve_mode` and the README.

Every mode except ``parallel`` is one :class:`torch.autograd.Function` whose backward is itself a reverse
scan with the same algorithm (the adjoint g_t = dL/dx_t + conj(a_{t+1}) g_{t+1}; dL/db_t = g_t,
dL/da_t = g_t conj(x_{t-1})), so the memory kept for backward is a and the states: O(T), whatever the
algorithm needs transiently.

Episode resets are handled *outside* the operator: where ``d_t = 1`` the state before step t is replaced by
``x_init``, which is the same as the masked coefficients ``a_t = (1 - d_t) * L`` and
``b_t = B u_t + d_t * L * x_init`` in an ordinary scan (:func:`mask_coefficients`). A coefficient of exactly
zero therefore *replaces* the state: x_t = b_t even when x_{t-1} is not finite (a plain product would give
0 * inf = NaN and carry it into every later episode of the chunk). The fast paths multiply; when their
result is not finite they are re-run with the guarded loop, so the guard costs one ``isfinite`` pass.
"""

from __future__ import annotations

import functools
import math

import torch
from intarsia.errors import ConfigError

SCAN_MODES = ("auto", "sequential", "chunked", "blelloch", "parallel", "accelerated", "associative")

# ``auto`` on a CPU (measured, see README): the step loop, unless a step is small (fewer elements than
# this, e.g. batch x states) and the sequence long (at least this many steps); then the parallel scan.
AUTO_CPU_SMALL_STEP = 512
AUTO_CPU_LONG_T = 512


def mask_coefficients(lam: torch.Tensor, bu: torch.Tensor, reset: torch.Tensor | None,
                      x_init: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Coefficients (a, b) of shape (B, T, P) for a diagonal recurrence with resets.

    lam: (P,) or (B, T, P) discrete diagonal; bu: (B, T, P) input term; reset: (B, T) in {0, 1} (1 where
    the state before step t must be ``x_init``); x_init: (P,) or (B, P), zeros when None. ``a`` is exactly
    zero at resets, which the scans read as "replace the state".
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


# -- forward kernels: no autograd, (a, b, x0) -> states; a, b (B, T, P), x0 (B, P) ------------------------
def _loop(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(b)
    x = x0
    for a_t, b_t, o_t in zip(a.unbind(1), b.unbind(1), out.unbind(1), strict=True):
        x = torch.addcmul(b_t, a_t, x, out=o_t)
    return out


def _adjoint_loop(a: torch.Tensor, gx: torch.Tensor) -> torch.Tensor:
    """g_t = gx_t + conj(a_{t+1}) g_{t+1}, g_{T-1} = gx_{T-1}: the loop's backward, without flipped copies."""
    g = torch.empty_like(gx)
    gs, gxs, acs = g.unbind(1), gx.unbind(1), a.conj().unbind(1)
    x = gs[-1].copy_(gxs[-1])
    for t in range(gx.shape[1] - 2, -1, -1):
        x = torch.addcmul(gxs[t], acs[t + 1], x, out=gs[t])
    return g


def _loop_guarded(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """The loop with a zero coefficient replacing the state (no 0 * inf), for non-finite inputs."""
    out = torch.empty_like(b)
    x = x0
    for a_t, b_t, o_t in zip(a.unbind(1), b.unbind(1), out.unbind(1), strict=True):
        x = torch.addcmul(b_t, a_t, torch.where(a_t == 0, 0, x), out=o_t)
    return out


def default_chunk(T: int) -> int:
    """Chunk length of the ``chunked`` scan: the power of two nearest sqrt(T) (the two loops balance)."""
    return max(1, 2 ** round(math.log2(max(T, 1)) / 2))


def _chunked(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor, chunk: int = 0) -> torch.Tensor:
    B, T = b.shape[:2]
    C = chunk or default_chunk(T)
    if T <= C:
        return _loop(a, b, x0)
    N = -(-T // C)
    pad = N * C - T
    if pad:  # identity elements (a = 1, b = 0) at the end; their states are dropped
        a = torch.cat([a, a.new_ones(B, pad, *a.shape[2:]).expand(B, pad, *a.shape[2:])], 1)
        b = torch.cat([b, b.new_zeros(B, pad, *b.shape[2:])], 1)
    a = a.reshape(B, N, C, *a.shape[2:])
    b = b.reshape(B, N, C, *b.shape[2:])
    # 1. every chunk from a zero state, all chunks at once (C steps)
    h = torch.empty_like(b)
    hs, a_s, b_s = h.unbind(2), a.unbind(2), b.unbind(2)
    hs[0].copy_(b_s[0])
    for c in range(1, C):
        torch.addcmul(b_s[c], a_s[c], hs[c - 1], out=hs[c])
    decay = torch.cumprod(a, 2)  # product of a over the chunk up to each step
    # 2. the state entering each chunk (N steps on (B, P))
    carry = torch.empty_like(h[:, :, 0])
    x = x0
    for n, c_n in enumerate(carry.unbind(1)):
        c_n.copy_(x)
        x = torch.addcmul(h[:, n, -1], decay[:, n, -1], x)
    # 3. x_t = h_t + (prod of a since the chunk start) * carry
    out = h.addcmul_(decay, carry.unsqueeze(2)).reshape(B, N * C, *b.shape[3:])
    return out[:, :T] if pad else out


def _blelloch(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    # pair (2i, 2i+1) into one element, scan the T//2 pairs recursively (giving the odd states), then fill
    # in the even states from their left neighbours: 2 log2(T) rounds, O(T) work
    T = b.shape[1]
    if T == 1:
        return torch.addcmul(b, a, x0.unsqueeze(1))
    n = T // 2
    a_l, a_r = a[:, 0:2 * n:2], a[:, 1:2 * n:2]
    b_l, b_r = b[:, 0:2 * n:2], b[:, 1:2 * n:2]
    odd = _blelloch(a_r * a_l, torch.addcmul(b_r, a_r, b_l), x0)
    out = torch.empty_like(b)
    out[:, 1:2 * n:2] = odd
    torch.addcmul(b[:, 0], a[:, 0], x0, out=out[:, 0])
    m = (T - 1) // 2  # even positions after 0
    if m:
        torch.addcmul(b[:, 2::2], a[:, 2::2], odd[:, :m], out=out[:, 2::2])
    return out


def _pair_combine(left, right):
    (a_l, b_l), (a_r, b_r) = left, right
    return a_r * a_l, torch.addcmul(b_r, a_r, b_l)


def _associative(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    from torch._higher_order_ops import associative_scan

    b = torch.cat([torch.addcmul(b[:, :1], a[:, :1], x0.unsqueeze(1)), b[:, 1:]], 1)
    if b.is_cuda:  # pointwise mode generates one kernel, under torch.compile (CUDA only)
        return _compiled_associative()(a, b)[1]
    return associative_scan(_pair_combine, (a, b), 1, combine_mode="generic")[1]


_COMPILED = None


def _compiled_associative():
    global _COMPILED
    if _COMPILED is None:
        from torch._higher_order_ops import associative_scan

        _COMPILED = torch.compile(
            lambda a, b: associative_scan(_pair_combine, (a, b), 1, combine_mode="pointwise"), dynamic=False)
    return _COMPILED


def _accelerated(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    # accelerated-scan's kernels take (batch, channels, T) contiguous and no initial state (fold it into b_0)
    if a.is_complex() or b.is_complex():
        from accelerated_scan.complex import scan
    else:
        from accelerated_scan.scalar import scan
    b = torch.cat([torch.addcmul(b[:, :1], a[:, :1], x0.unsqueeze(1)), b[:, 1:]], 1)
    shape = b.shape
    flat = lambda t: t.reshape(shape[0], shape[1], -1).transpose(1, 2).contiguous()  # noqa: E731
    out = scan(flat(a), flat(b))
    return out.transpose(1, 2).reshape(shape)


_KERNELS = {"sequential": _loop, "chunked": _chunked, "blelloch": _blelloch, "associative": _associative}


class _LinearScan(torch.autograd.Function):
    """x = scan(a, b, x0) with the given forward kernel; backward is the reverse scan with the same one."""

    @staticmethod
    def forward(ctx, a, b, x0, kernel):
        xs = kernel(a, b, x0)
        ctx.nonfinite = not bool(torch.isfinite(xs).all())
        if ctx.nonfinite:
            xs = _loop_guarded(a, b, x0)
        ctx.kernel = kernel
        ctx.save_for_backward(a, x0, xs)
        return xs

    @staticmethod
    def backward(ctx, gx):
        a, x0, xs = ctx.saved_tensors
        # the adjoint g_t = gx_t + conj(a_{t+1}) g_{t+1}, g_{T-1} = gx_{T-1}
        if ctx.kernel is _loop:
            g = _adjoint_loop(a, gx)
        else:  # the same kernel, forward over the flipped sequence
            g = torch.empty_like(gx)
            g[:, -1] = gx[:, -1]
            if gx.shape[1] > 1:
                g[:, :-1] = ctx.kernel(a[:, 1:].flip(1).conj(), gx[:, :-1].flip(1), gx[:, -1]).flip(1)
        grad_a = grad_x0 = None
        if ctx.needs_input_grad[0]:
            grad_a = torch.empty_like(g)
            torch.mul(g[:, 0], x0.conj(), out=grad_a[:, 0])
            torch.mul(g[:, 1:], xs[:, :-1].conj(), out=grad_a[:, 1:])
            if ctx.nonfinite:
                # a non-finite previous state contributes exactly zero where the loss does not reach the step
                # (g = 0) or the state was replaced (a = 0), instead of 0 * inf = NaN
                x_prev = torch.cat([x0.unsqueeze(1), xs[:, :-1]], 1)
                zero = ~torch.isfinite(x_prev) & ((g == 0) | (a == 0))
                grad_a = torch.where(zero, 0, grad_a)
        if ctx.needs_input_grad[2]:
            grad_x0 = a[:, 0].conj() * g[:, 0]
        return grad_a, g if ctx.needs_input_grad[1] else None, grad_x0, None


def accelerated_available(device: torch.device | str) -> bool:
    """accelerated-scan's Triton kernels need CUDA and the package (the ``cuda`` extra)."""
    return torch.device(device).type == "cuda" and _accelerated_importable()


@functools.cache
def _accelerated_importable() -> bool:
    # checked once per process: a failed import is not cached by Python, and retrying it on every scan
    # call cost about 15 ms per update without the extra
    try:
        import accelerated_scan.complex  # noqa: F401  (imports triton)
    except ImportError:
        return False
    return True


def resolve_mode(mode: str, device: torch.device | str, T: int, step_elements: int = 1 << 30,
                 dtype: torch.dtype = torch.complex64) -> str:
    """The algorithm ``mode`` stands for on ``device`` (``auto`` resolved for ``T`` steps of
    ``step_elements`` elements each, e.g. batch x states, of ``dtype``).

    CPU (measured, README): the step loop, except for small steps (< :data:`AUTO_CPU_SMALL_STEP` elements)
    over long sequences (>= :data:`AUTO_CPU_LONG_T`), where the work-efficient parallel scan's few large
    operations beat the loop's many tiny ones. CUDA (not measured here, no GPU): accelerated-scan's kernels
    when installed (float32/complex64 only), else the work-efficient parallel scan.
    """
    if mode not in SCAN_MODES:
        raise ConfigError(f"unknown scan mode {mode!r}; expected one of {SCAN_MODES}")
    if mode != "auto":
        return mode
    if torch.device(device).type == "cuda":
        fits = dtype in (torch.float32, torch.complex64)
        return "accelerated" if fits and accelerated_available(device) else "blelloch"
    if step_elements < AUTO_CPU_SMALL_STEP and T >= AUTO_CPU_LONG_T:
        return "blelloch"
    return "sequential"


def scan_sequential(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """Reference loop. a, b: (B, T, P); x0: (B, P). Returns all states (B, T, P)."""
    return linear_scan(a, b, x0, "sequential")


def scan_chunked(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """Loop inside chunks of about sqrt(T) steps. Same signature as :func:`scan_sequential`."""
    return linear_scan(a, b, x0, "chunked")


def scan_blelloch(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """Work-efficient parallel scan. Same signature as :func:`scan_sequential`."""
    return linear_scan(a, b, x0, "blelloch")


def scan_parallel(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """Hillis-Steele inclusive scan over dim 1 (log-depth, autograd). Same signature as :func:`scan_sequential`.

    The initial state is folded into the first element (b_0 <- a_0 x0 + b_0), after which element t of the
    inclusive scan *is* x_t. Out-of-place concatenations keep autograd happy for complex tensors.
    """
    return linear_scan(a, b, x0, "parallel")


def _hillis_steele(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    T = a.shape[1]
    b = torch.cat([a[:, :1] * x0.unsqueeze(1) + b[:, :1], b[:, 1:]], 1)
    k = 1
    while k < T:
        # combine element t (right) with element t-k (left); old a_t is used for b before a is updated
        b = torch.cat([b[:, :k], a[:, k:] * b[:, :-k] + b[:, k:]], 1)
        a = torch.cat([a[:, :k], a[:, k:] * a[:, :-k]], 1)
        k *= 2
    return b


def linear_scan(a: torch.Tensor, b: torch.Tensor, x0: torch.Tensor, mode: str = "auto") -> torch.Tensor:
    """All states x_1..x_T (B, T, P) of x_t = a_t x_{t-1} + b_t from x0 (B, P); ``mode`` in :data:`SCAN_MODES`.

    a and b broadcast against each other (a may be an expanded (P,) diagonal); real or complex.
    """
    dtype = torch.promote_types(torch.promote_types(a.dtype, b.dtype), x0.dtype)
    if b.shape[1] == 1:  # one step (acting, imagination): no mode to choose, no kernel, no host sync
        if mode not in SCAN_MODES:
            raise ConfigError(f"unknown scan mode {mode!r}; expected one of {SCAN_MODES}")
        a, b = torch.broadcast_tensors(a.to(dtype), b.to(dtype))
        x0 = x0.to(dtype).expand(b.shape[0], *b.shape[2:]).unsqueeze(1)
        return torch.addcmul(b, a, torch.where((a == 0) & ~torch.isfinite(x0), 0, x0))  # a = 0 replaces x0
    mode = resolve_mode(mode, b.device, b.shape[1], b[:, 0].numel(), dtype)
    a, b = torch.broadcast_tensors(a.to(dtype), b.to(dtype))
    x0 = x0.to(dtype).expand(b.shape[0], *b.shape[2:])
    if mode in ("parallel", "accelerated"):  # differentiated by autograd / by accelerated-scan's kernels
        if mode == "accelerated" and not accelerated_available(b.device):
            raise ConfigError("scan mode 'accelerated' needs a CUDA device and accelerated-scan "
                             "(pip install 'intarsia-r2i[cuda]')")
        xs = (_hillis_steele if mode == "parallel" else _accelerated)(a, b, x0)
        if torch.isfinite(xs).all():
            return xs
        # re-run guarded (see the module docstring)
    return _LinearScan.apply(a, b, x0, _KERNELS.get(mode, _loop))
