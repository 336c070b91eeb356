"""Reading a model's activations through forward hooks on modules chosen by name (any ``nn.Module``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import contextmanager

import torch
from torch import nn


def select_modules(model: nn.Module, pattern: str) -> list[tuple[str, nn.Module]]:
    """The ``(name, module)`` pairs whose name matches ``pattern`` (``re.search``), in model order."""
    rx = re.compile(pattern)
    found = [(n, m) for n, m in model.named_modules() if n and rx.search(n)]
    if not found:
        names = ", ".join(n for n, _ in model.named_modules() if n)[:400]
        raise ValueError(f"no module name matches {pattern!r}; the model's modules are: {names}")
    return found


@contextmanager
def frozen_eval(model: nn.Module):
    """Eval mode for the duration; every module's training flag is restored afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, mode in modes:
            m.train(mode)


@torch.no_grad()
def collect(model: nn.Module, modules: list[tuple[str, nn.Module]], run: Callable[[nn.Module], None],
            pick: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, torch.Tensor]:
    """Run ``run(model)`` once with hooks on ``modules``; ``pick(output)`` selects what each hook keeps
    (e.g. the answer position of each row). Returns name -> concatenated CPU tensor. Hooks are removed
    even if ``run`` raises."""
    store: dict[str, list[torch.Tensor]] = {name: [] for name, _ in modules}
    handles = []
    for name, module in modules:
        def hook(_m, _inp, out, name=name):
            out = out[0] if isinstance(out, (tuple, list)) else out
            store[name].append(pick(out).detach().float().cpu())
        handles.append(module.register_forward_hook(hook))
    try:
        with frozen_eval(model):
            run(model)
    finally:
        for h in handles:
            h.remove()
    return {name: torch.cat(chunks) for name, chunks in store.items() if chunks}


def answer_position_activations(model: nn.Module, pattern: str, input_ids: torch.Tensor, positions: torch.Tensor,
                                batch_size: int = 512) -> dict[str, torch.Tensor]:
    """Each matched module's output at each row's answer position: name -> (N, width)."""
    modules = select_modules(model, pattern)
    dev = next(model.parameters()).device
    current: dict[str, torch.Tensor] = {}

    def run(m):
        for i in range(0, len(input_ids), batch_size):
            current["pos"] = positions[i:i + batch_size].to(dev)
            m(input_ids[i:i + batch_size].to(dev))

    def pick(out):
        pos = current["pos"]
        return out[torch.arange(len(pos), device=out.device), pos]

    return collect(model, modules, run, pick)
