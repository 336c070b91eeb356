"""Saliency pruning with a random control.

A *neuron* is one output unit of an ``nn.Linear`` layer that ``module_pattern`` selects. Its saliency is the
signed ``sum w * dL/dw`` over its weight row and bias (``score: signed``, the paper's θ·∇ score, App. D,
Alg. 3: zeroing the neuron changes the loss by about ``-w * dL/dw``, so the top neurons are those whose
removal lowers it most) or ``sum |w * dL/dw|`` (``score: abs``, an option: it ranks neurons whose removal
hurts as high as those whose removal helps), with ``L`` the cross-entropy of the answer token on the
saliency data (which task's loss is the data's choice: capprobe passes the pre-training task). The paper
scores once and prunes the top K (``method: one-shot``, K from 5 to 15); ``method: iterative`` recomputes
the scores on the pruned model after every ``chunk`` neurons (an option). Pruning K neurons zeroes their
rows and biases, so their outputs are exactly zero.

``SaliencyPruning.run(model, data)``: ``data = {"input_ids", "positions", "labels"}`` (the saliency loss)
and optionally ``"eval": {...}`` in the same form (accuracy after pruning; defaults to the saliency data).
It prunes a deep copy, so the model passed in is untouched.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import PruneConfig

Neuron = tuple[str, int]


def neurons(model: nn.Module, pattern: str) -> list[Neuron]:
    """Every prunable neuron as ``(module name, output index)``, in model order."""
    from .activations import select_modules

    out = []
    for name, m in select_modules(model, pattern):
        if not isinstance(m, nn.Linear):
            raise ValueError(f"pruning: module {name!r} is a {type(m).__name__}, not nn.Linear")
        out.extend((name, i) for i in range(m.out_features))
    return out


def saliency(model: nn.Module, data: dict, pattern: str, batch_size: int = 512, *, signed: bool = True
             ) -> dict[Neuron, float]:
    """The signed sum of weight x gradient per neuron (``signed=False``: of |weight x gradient|); gradients of the mean answer cross-entropy over
    ``data``. Computed on a copy so the caller's parameters keep ``grad is None``."""
    from .activations import frozen_eval, select_modules
    from .model import answer_logits

    work = copy.deepcopy(model)
    work.zero_grad(set_to_none=True)
    n = len(data["labels"])
    dev = next(work.parameters()).device
    with frozen_eval(work):
        for i in range(0, n, batch_size):
            logits = answer_logits(work, data["input_ids"][i:i + batch_size].to(dev), data["positions"][i:i + batch_size].to(dev))
            loss = F.cross_entropy(logits, data["labels"][i:i + batch_size].to(dev), reduction="sum") / n
            loss.backward()
    scores: dict[Neuron, float] = {}
    for name, m in select_modules(work, pattern):
        wg = m.weight * m.weight.grad
        s = wg.sum(1) if signed else wg.abs().sum(1)
        if m.bias is not None:
            bg = m.bias * m.bias.grad
            s = s + (bg if signed else bg.abs())
        scores.update({(name, i): float(v) for i, v in enumerate(s.detach().cpu())})
    return scores


@torch.no_grad()
def prune(model: nn.Module, chosen: list[Neuron]) -> nn.Module:
    """Zero the weight row and bias of each chosen neuron, in place; returns the model."""
    mods = dict(model.named_modules())
    for name, i in chosen:
        layer = mods[name]
        layer.weight[i].zero_()
        if layer.bias is not None:
            layer.bias[i] = 0.0
    return model


def top_k(scores: dict[Neuron, float], k: int) -> list[Neuron]:
    return sorted(scores, key=lambda n: (-scores[n], n))[:k]


def salient_order(model: nn.Module, data: dict, config: PruneConfig, k: int) -> list[Neuron]:
    """The first ``k`` neurons to prune, best first: one-shot top-k (the paper's), or iteratively ``chunk`` at
    a time with the scores recomputed on the model pruned so far."""
    if config.score not in ("abs", "signed"):
        raise ValueError(f"prune.score must be 'signed' or 'abs', got {config.score!r}")
    if config.method not in ("one-shot", "iterative"):
        raise ValueError(f"prune.method must be 'one-shot' or 'iterative', got {config.method!r}")
    signed = config.score == "signed"
    if config.method == "one-shot":
        return top_k(saliency(model, data, config.module_pattern, config.batch_size, signed=signed), k)
    work, order = copy.deepcopy(model), []
    while len(order) < k:
        scores = saliency(work, data, config.module_pattern, config.batch_size, signed=signed)
        for n in order:
            scores.pop(n, None)
        step = top_k(scores, min(config.chunk, k - len(order)))
        prune(work, step)
        order += step
    return order


def random_k(all_neurons: list[Neuron], k: int, rng: np.random.Generator) -> list[Neuron]:
    return [all_neurons[i] for i in rng.choice(len(all_neurons), size=k, replace=False)]


def pruning_figure(ks: list[int], salient: list[float], random: list[float], title: str):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.5, 3.2))
    ax = fig.subplots()
    ax.plot(ks, salient, marker="o", label="top-K salient")
    ax.plot(ks, random, marker="s", label="K random (mean)")
    ax.set_xlabel("neurons pruned (K)")
    ax.set_ylabel("exact-match accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


class SaliencyPruning:
    """The ``saliency-pruning`` analysis. Metrics ``unpruned_acc``, ``pruned_acc@K``, ``random_pruned_acc@K``."""

    def __init__(self, config: PruneConfig | None = None):
        self.config = config or PruneConfig()

    def run(self, model, data) -> dict:
        from .training import exact_match

        cfg = self.config
        for key in ("input_ids", "positions", "labels"):
            if key not in data:
                raise ValueError(f"saliency-pruning: data needs {key!r} (has {sorted(data)})")
        eval_data = data.get("eval", data)
        all_neurons = neurons(model, cfg.module_pattern)
        if max(cfg.ks) > len(all_neurons):
            raise ValueError(f"saliency-pruning: K={max(cfg.ks)} exceeds the {len(all_neurons)} neurons matched")
        order = salient_order(model, data, cfg, max(cfg.ks))
        rng = np.random.default_rng(cfg.seed)
        salient_acc, random_acc = [], []
        for k in cfg.ks:
            salient_acc.append(exact_match(prune(copy.deepcopy(model), order[:k]), eval_data, cfg.batch_size))
            draws = [exact_match(prune(copy.deepcopy(model), random_k(all_neurons, k, rng)), eval_data, cfg.batch_size)
                     for _ in range(cfg.random_repeats if k else 1)]
            random_acc.append(float(np.mean(draws)))
        metrics = {"unpruned_acc": exact_match(model, eval_data, cfg.batch_size)}
        for k, s, r in zip(cfg.ks, salient_acc, random_acc):
            metrics[f"pruned_acc@{k}"] = s
            metrics[f"random_pruned_acc@{k}"] = r
        fig = pruning_figure(list(cfg.ks), salient_acc, random_acc, "accuracy against neurons pruned")
        return {"metrics": metrics, "figures": {"pruning": fig},
                "curve": {"k": list(cfg.ks), "salient": salient_acc, "random": random_acc},
                "top_neurons": [f"{n}[{i}]" for n, i in order]}

