"""Test helpers for mixed precision: which dtypes the linear layers of a model really compute in."""

from __future__ import annotations

import contextlib

import torch
import torch.nn as nn


@contextlib.contextmanager
def linear_output_dtypes(*modules: nn.Module):
    """Record the output dtype of every ``nn.Linear`` call inside ``modules`` while the block runs.

    Yields a :class:`collections.Counter` of dtypes (``torch.bfloat16`` there means the matmuls ran in bf16:
    a module's parameters stay float32 under ``bf16-mixed``, autocast lowers the matmul itself).
    """
    from collections import Counter

    seen: Counter = Counter()
    handles = []

    def hook(_module, _inputs, output):
        if isinstance(output, torch.Tensor):
            seen[output.dtype] += 1

    for module in modules:
        for sub in module.modules():
            if isinstance(sub, nn.Linear):
                handles.append(sub.register_forward_hook(hook))
    if not handles:
        raise ValueError("no nn.Linear inside the given modules")
    try:
        yield seen
    finally:
        for handle in handles:
            handle.remove()
