"""Every scan mode against the sequential loop on one device: values and gradients (real and complex, with
resets). Prints one JSON line per mode; exits 1 if any available mode disagrees."""

from __future__ import annotations

import argparse
import json
import sys

import torch
from intarsia_r2i.scan import SCAN_MODES, accelerated_available, linear_scan, mask_coefficients


def check(device: torch.device, T: int, B: int, P: int) -> list[dict]:
    torch.manual_seed(0)
    rows = []
    for dtype in (torch.float32, torch.complex64):
        lam = (0.9 * torch.rand(P, device=device) + 0.05).to(dtype)
        bu = torch.randn(B, T, P, device=device, dtype=dtype)
        reset = (torch.rand(B, T, device=device) < 0.05).float()
        x0 = torch.randn(B, P, device=device, dtype=dtype)
        results = {}
        for mode in SCAN_MODES:
            if mode == "accelerated" and not accelerated_available(device):
                rows.append({"mode": mode, "dtype": str(dtype), "T": T, "status": "skipped (no accelerated-scan)"})
                continue
            lam_, bu_, x0_ = (t.detach().clone().requires_grad_(True) for t in (lam, bu, x0))
            try:
                a, b = mask_coefficients(lam_, bu_, reset)
                xs = linear_scan(a, b, x0_, mode)
                (xs.real.sum() + (xs.imag.sum() if xs.is_complex() else 0)).backward()
                results[mode] = (xs.detach(), lam_.grad, bu_.grad, x0_.grad)
            except Exception as err:  # noqa: BLE001  (reported, the check goes on)
                rows.append({"mode": mode, "dtype": str(dtype), "T": T, "status": f"error: {err!r}"[:300]})
        ref = results.get("sequential")
        for mode, got in results.items():
            errs = [float((g - r).abs().max() / r.abs().max().clamp_min(1e-6)) for g, r in zip(got, ref, strict=True)]
            ok = max(errs) < 1e-3
            rows.append({"mode": mode, "dtype": str(dtype), "T": T, "status": "ok" if ok else "mismatch",
                         "rel_err_values": errs[0], "rel_err_grads": max(errs[1:])})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--lengths", type=int, nargs="+", default=[1, 7, 64, 1024])
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--states", type=int, default=64)
    args = p.parse_args()
    rows = [r for T in args.lengths for r in check(torch.device(args.device), T, args.batch, args.states)]
    for r in rows:
        print(json.dumps(r))
    sys.exit(1 if any(r["status"] not in ("ok",) and not r["status"].startswith("skipped") for r in rows) else 0)


if __name__ == "__main__":
    main()
