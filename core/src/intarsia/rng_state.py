"""Random-number-generator states as tensors, so checkpoints load with ``torch.load(weights_only=True)``."""

from __future__ import annotations

import random

import numpy as np

_U64 = 2**64


def _to_i64(x: int) -> int:
    return x - _U64 if x >= 2**63 else x


def numpy_generator_state(rng: np.random.Generator):
    """A ``np.random.Generator`` (PCG64) state as an int64 tensor."""
    import torch

    s = rng.bit_generator.state
    if s.get("bit_generator") != "PCG64":
        raise TypeError(f"only PCG64 generators can be checkpointed, got {s.get('bit_generator')}")
    words = []
    for w in (s["state"]["state"], s["state"]["inc"]):
        words += [(w >> 64) % _U64, w % _U64]
    return torch.tensor([_to_i64(x) for x in words] + [int(s["has_uint32"]), int(s["uinteger"])], dtype=torch.int64)


def numpy_generator_from_state(t) -> np.random.Generator:
    v = [int(x) % _U64 for x in t.tolist()]
    rng = np.random.default_rng()
    state = rng.bit_generator.state
    state["state"] = {"state": (v[0] << 64) | v[1], "inc": (v[2] << 64) | v[3]}
    state["has_uint32"], state["uinteger"] = v[4], v[5]
    rng.bit_generator.state = state
    return rng


def capture_global_rng() -> dict:
    """Python, numpy-global and torch (CPU + CUDA) RNG states, as tensors and plain values."""
    import torch

    _, keys, pos, has_gauss, cached = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    state = {
        "python": torch.tensor([_to_i64(int(x)) for x in py_state], dtype=torch.int64),
        "python_gauss": -1.0 if py_gauss is None else float(py_gauss),
        "python_version": int(py_version),
        "numpy_keys": torch.from_numpy(keys.astype(np.int64)),
        "numpy_meta": torch.tensor([int(pos), int(has_gauss)], dtype=torch.int64),
        "numpy_cached": float(cached),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_global_rng(state: dict) -> None:
    import torch

    py_state = tuple(int(x) % _U64 for x in state["python"].tolist())
    gauss = state["python_gauss"]
    random.setstate((state["python_version"], py_state, None if gauss == -1.0 else gauss))
    pos, has_gauss = (int(x) for x in state["numpy_meta"].tolist())
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), pos, has_gauss, state["numpy_cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
