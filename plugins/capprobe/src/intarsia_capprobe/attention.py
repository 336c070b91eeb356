"""The ``attention-map`` analysis: where each attention head looks from the answer position.

For every attention module the regex selects, a forward hook recomputes the head's causal softmax
attention from its input (the module's ``qkv`` projection and ``n_head``, this plugin's minGPT layout), and
the analysis keeps the row of the answer position. Reported per block (mean over heads) and per head:
the attention mass on the positions holding each named token group (e.g. the operand tokens ``a`` and
``b``), so the pre-trained and the fine-tuned model can be compared on what they read for the answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from intarsia.runner.run_config import check_values

from .activations import frozen_eval, select_modules


@dataclass
class AttentionMapConfig:
    """Attention mass from the answer position onto named token groups."""

    groups: dict[str, list[int]] = field(default_factory=dict)
    """group name -> token ids; the mass on the positions holding any of them is reported (the job fills
    in the operand tokens ``a`` and ``b``)"""
    module_pattern: str = r"^blocks\.\d+\.attn$"
    """regex over module names: attention modules with a ``qkv`` linear layer and ``n_head``"""
    batch_size: int = 512
    """forward-pass batch size"""

    def __post_init__(self) -> None:
        check_values(self, positive=("batch_size",))


def _attention_rows(module, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """(B, heads, T): each row's causal attention weights at its answer position."""
    b, t, d = x.shape
    h = module.n_head
    q, k, _ = module.qkv(x).view(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
    rows = torch.arange(b, device=x.device)
    qa = q[rows, :, pos]  # (B, heads, hd)
    scores = torch.einsum("bhd,bhtd->bht", qa, k) / math.sqrt(d // h)
    causal = torch.arange(t, device=x.device)[None, None, :] > pos[:, None, None]
    return scores.masked_fill(causal, float("-inf")).softmax(-1)


class AttentionMap:
    """``run(model, {"input_ids", "positions"})`` -> metrics ``attention/<module>/<group>`` (mean over heads
    and rows), per-head numbers in ``results``, the mean attention map over positions in ``maps``."""

    def __init__(self, config: AttentionMapConfig | None = None):
        self.config = config or AttentionMapConfig()

    @torch.no_grad()
    def run(self, model, data) -> dict:
        cfg = self.config
        for key in ("input_ids", "positions"):
            if key not in data:
                raise ValueError(f"attention-map: data needs {key!r} (has {sorted(data)})")
        modules = select_modules(model, cfg.module_pattern)
        for name, m in modules:
            if not (hasattr(m, "qkv") and hasattr(m, "n_head")):
                raise ValueError(f"attention-map: module {name!r} has no qkv projection and n_head")
        ids_all, pos_all = torch.as_tensor(data["input_ids"]), torch.as_tensor(data["positions"])
        dev = next(model.parameters()).device
        mass = {name: {g: [] for g in cfg.groups} for name, _ in modules}
        maps = {name: [] for name, _ in modules}
        current: dict[str, torch.Tensor] = {}

        def hook(name):
            def fn(m, inputs, _out):
                w = _attention_rows(m, inputs[0], current["pos"])  # (B, H, T)
                maps[name].append(w.mean(0).cpu())
                for g, toks in cfg.groups.items():
                    on = torch.isin(current["ids"], torch.tensor(toks, device=current["ids"].device))
                    mass[name][g].append((w * on[:, None, :]).sum(-1).cpu())  # (B, H)
            return fn

        handles = [m.register_forward_hook(hook(name)) for name, m in modules]
        try:
            with frozen_eval(model):
                for i in range(0, len(ids_all), cfg.batch_size):
                    current["ids"], current["pos"] = ids_all[i:i + cfg.batch_size].to(dev), pos_all[i:i + cfg.batch_size].to(dev)
                    model(current["ids"])
        finally:
            for h in handles:
                h.remove()
        metrics, results = {}, {}
        for name in mass:
            results[name] = {}
            for g, chunks in mass[name].items():
                per_head = torch.cat(chunks).mean(0)
                results[name][g] = [float(v) for v in per_head]
                metrics[f"attention/{name}/{g}"] = float(per_head.mean())
        mean_maps = {name: torch.stack(ms).mean(0).tolist() for name, ms in maps.items()}
        return {"metrics": metrics, "results": results, "maps": mean_maps,
                "figures": {"attention": attention_figure(results)}}


def attention_figure(results: dict[str, dict[str, list[float]]]):
    """Bars: attention mass per module (mean over heads) on each token group."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    names = list(results)
    groups = sorted({g for r in results.values() for g in r})
    fig = Figure(figsize=(1.5 + 1.0 * len(names), 3.2))
    ax = fig.subplots()
    width = 0.8 / max(len(groups), 1)
    for j, g in enumerate(groups):
        vals = [sum(results[n].get(g, [0.0])) / max(len(results[n].get(g, [0.0])), 1) for n in names]
        ax.bar([i + j * width for i in range(len(names))], vals, width, label=g)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))], names, rotation=30, ha="right")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("attention mass from the answer position")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
