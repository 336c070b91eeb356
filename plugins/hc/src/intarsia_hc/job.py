"""The ``hc-train`` job: the core's ``train`` job, then the interpretability report of the final policy.

``report.json`` ``metrics`` holds exactly ``eval_return`` (mean over the final evaluation episodes), for an env
that reports success (``PointNav-v0``) ``eval_success`` (share of the final evaluation episodes that reached the
goal), and, for a HyperCombinator actor, ``subpolicies_used``, ``switch_rate`` and ``usage_entropy``; the core's training
statistics move to ``training``, the report's other numbers to ``interpretability``."""

from __future__ import annotations

from intarsia.errors import ConfigError
from intarsia.runner.train import train

METRIC_KEYS = ("eval_return", "subpolicies_used", "switch_rate", "usage_entropy")
EVAL_KEYS = ("eval_success",)
"""final-evaluation numbers of the core's train job that stay in ``metrics`` when the env reports them"""


def train_and_explain(cfg, *, run) -> dict:
    if not cfg.eval.final or cfg.eval.episodes <= 0:
        raise ConfigError("job hc-train reports the final evaluation: set eval.final: true and eval.episodes > 0")
    report = train(cfg, run=run)
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_rank() != 0:
        return report
    from .explain import explain_run

    summary = explain_run(run.dir)
    interp = summary["metrics"]
    metrics = {"eval_return": float(report["metrics"].get("eval_return", interp["eval_return"]))}
    metrics.update({k: float(report["metrics"][k]) for k in EVAL_KEYS if k in report["metrics"]})
    metrics.update({k: float(interp[k]) for k in METRIC_KEYS[1:] if k in interp})
    moved = {k: v for k, v in report["metrics"].items() if k not in EVAL_KEYS}
    report["training"] = {**moved, **report.get("training", {})}
    report["metrics"] = metrics
    report["interpretability"] = {"report": "interpretability/report.md",
                                  **{k: v for k, v in interp.items() if k not in metrics}}
    report["artifacts"] = [*report.get("artifacts", []), "interpretability/report.md"]
    return report
