"""The capprobe job (``job: capprobe``): the paper's protocol at small scale.

    pre-train (original task) -> fine-tune (new task, correlated share) -> analyses (probes before/after,
    saliency pruning vs random, exact match) -> reverse fine-tune (back to the original task)
    -> from-scratch baseline (original task) -> the prior x LR x correlation grid -> report + figures

Every stage writes its outputs into the run directory and a marker ``stages/<stage>.json`` when it is
complete; rerunning or ``intarsia resume RUN_DIR`` skips completed stages (each grid cell is a stage).

Run-directory layout::

    models/pretrain_<prior>.pt   pre-trained model per prior (weights_only-loadable)
    models/finetune.pt           the main fine-tuned model
    stages/*.json                stage results (curves, accuracies)
    analyses.json                what ``intarsia capprobe analyze RUN_DIR`` (re)computes
    sweep.png, probe.png, pruning.png, reverse.png, report.json
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from intarsia.runner.stages import write_json

from .config import CapprobeConfig

METRIC_KEYS = ("wrapper_correlated_acc", "wrapper_uncorrelated_acc", "pruned_original_acc",
               "random_pruned_original_acc", "probe_count_a_before", "probe_count_a_after",
               "reverse_ft_steps", "scratch_steps")


class Experiment:
    """The generated data sets and model factory one config implies (deterministic from ``config.seed``)."""

    def __init__(self, config: CapprobeConfig):
        from .tasks import TaskPair, tensors

        self.config = config
        self.task = TaskPair(config.task)
        seed = config.seed
        self.eval = {split: tensors(self.task.dataset(split, config.eval_samples, seed + 1000))
                     for split in ("original", "correlated", "uncorrelated")}

    def new_model(self, seed: int):
        import torch

        from .model import MiniGPT

        torch.manual_seed(seed)
        return MiniGPT(self.config.model, len(self.task.vocab), self.task.width)

    def train(self, model, stage, *, split: str, lr: float, eval_split: str, seed: int, root: Path, name: str,
              correlation: float = 1.0, prior: str | None = None) -> dict:
        from intarsia.runner.fabric import trainer_settings

        from .training import train_stage

        data = self.task.dataset(split, stage.samples, seed, correlation=correlation, prior=prior)
        return train_stage(model, data, stage, lr=lr, seed=seed, eval_data=self.eval[eval_split],
                           where=trainer_settings(self.config),
                           log_dir=root / "logs", name=name)

    def accuracies(self, model) -> dict[str, float]:
        from .training import exact_match

        return {split: exact_match(model, d) for split, d in self.eval.items()}

    def original_rows(self, offset: int = 2000) -> dict:
        from .tasks import tensors

        d = tensors(self.task.dataset("original", self.config.probe_samples, self.config.seed + offset))
        return {**d, "targets": d["original"]}


def run_capprobe(config: CapprobeConfig, *, run) -> dict:
    """The job factory: ``factory(config, *, run)`` -> report dict."""
    from .model import MiniGPT

    _check(config)
    root = Path(run.dir)
    (root / "models").mkdir(parents=True, exist_ok=True)
    exp = Experiment(config)
    t_start = time.perf_counter()
    pre_lr = config.pretrain.lr

    def pretrain(prior: str) -> dict:
        model = exp.new_model(config.seed)
        out = exp.train(model, config.pretrain, split="pretrain", lr=pre_lr, eval_split="original",
                        seed=config.seed, root=root, name=f"pretrain_{prior}", prior=prior)
        model.save(root / "models" / f"pretrain_{prior}.pt")
        return {**out, "accuracies": exp.accuracies(model)}

    priors = [config.task.prior] + [p for p in (config.sweep.priors if config.sweep.enabled else [])
                                    if p != config.task.prior]
    pre = {p: run.stage(f"pretrain_{p}", lambda p=p: pretrain(p)) for p in priors}
    count_b_check = _count_b_check(config, pre)

    def finetune() -> dict:
        model = MiniGPT.load(root / "models" / f"pretrain_{config.task.prior}.pt")
        ft = config.finetune
        out = exp.train(model, ft, split="finetune", lr=pre_lr * ft.lr_ratio, eval_split="correlated",
                        seed=config.seed + 1, root=root, name="finetune", correlation=ft.correlation)
        model.save(root / "models" / "finetune.pt")
        return {**out, "accuracies": exp.accuracies(model)}

    ft = run.stage("finetune", finetune)
    analyses = run.stage("analyses", lambda: analyze_run(root, config, exp=exp, registry=run.registry))

    def steps_stage(start: str | None, stage, name: str) -> dict:
        model = MiniGPT.load(root / "models" / start) if start else exp.new_model(config.seed + 7)
        out = exp.train(model, stage, split="pretrain", lr=stage.lr, eval_split="original", seed=config.seed + 2,
                        root=root, name=name)
        from .training import steps_to

        reached = steps_to(out["curve"], config.threshold)
        return {**out, "steps_to_threshold": reached}

    reverse = run.stage("reverse", lambda: steps_stage("finetune.pt", config.reverse, "reverse"))
    scratch = run.stage("scratch", lambda: steps_stage(None, config.scratch, "scratch"))

    grid, cells = [], []
    if config.sweep.enabled:
        for prior in config.sweep.priors:
            for ratio in config.sweep.lr_ratios:
                for corr in config.sweep.correlations:
                    name = f"sweep_{prior}_lr{ratio:g}_c{corr:g}"
                    cell = run.stage(name, lambda prior=prior, ratio=ratio, corr=corr: _sweep_cell(
                        exp, root, prior, ratio, corr))
                    cells.append(cell)
                    grid.append({"prior": prior, "lr_ratio": ratio, "correlation": corr,
                                 **{k: cell["accuracies"][k] for k in ("original", "correlated", "uncorrelated")}})

    figures = _figures(root, config, grid, analyses, reverse, scratch)
    rev_steps, scr_steps = reverse["steps_to_threshold"], scratch["steps_to_threshold"]
    metrics = {
        "wrapper_correlated_acc": ft["accuracies"]["correlated"],
        "wrapper_uncorrelated_acc": ft["accuracies"]["uncorrelated"],
        "pruned_original_acc": analyses["pruning"]["metrics"][f"pruned_acc@{config.prune_k}"],
        "random_pruned_original_acc": analyses["pruning"]["metrics"][f"random_pruned_acc@{config.prune_k}"],
        "probe_count_a_before": analyses["probe_before_best"],
        "probe_count_a_after": analyses["probe_after_best"],
        # a stage that never reached the threshold reports its step budget (a lower bound; see *_reached)
        "reverse_ft_steps": rev_steps if rev_steps is not None else reverse["steps"],
        "scratch_steps": scr_steps if scr_steps is not None else scratch["steps"],
    }
    stage_steps = [r["steps"] for r in (*pre.values(), ft, reverse, scratch)]
    return run.report(
        steps=int(sum(stage_steps) + sum(c["steps"] for c in cells)), unit="optimizer steps", metrics=metrics,
        training={"stage_seconds": run.stage_seconds(), "reverse_reached": rev_steps is not None,
                  "scratch_reached": scr_steps is not None},
        artifacts=["config.yaml", "analyses.json", "models/finetune.pt", *figures,
                   "probe_pretrained.png", "probe_finetuned.png", "attention_pretrained.png",
                   "attention_finetuned.png",
                   *analyses.get("extra_figures", [])],
        seconds=time.perf_counter() - t_start,
        pretrain_accuracies={p: r["accuracies"] for p, r in pre.items()},
        finetune_accuracies=ft["accuracies"],
        probe_before=analyses["probe_before"], probe_after=analyses["probe_after"],
        probe_random_init_best=analyses.get("probe_random_init_best"),
        probe_not_pretrained_best=analyses.get("probe_not_pretrained_best"),
        attention=analyses.get("attention"), checks={"count_b_before_ft": count_b_check},
        pruning_curve=analyses["pruning"]["curve"], grid=grid, analyses=analyses.get("extra", {}),
        reverse_curve=reverse["curve"], scratch_curve=scratch["curve"], figures=figures)


def _sweep_cell(exp: Experiment, root: Path, prior: str, ratio: float, corr: float) -> dict:
    from .model import MiniGPT

    cfg = exp.config
    model = MiniGPT.load(root / "models" / f"pretrain_{prior}.pt")
    stage = dataclasses.replace(cfg.finetune, steps=cfg.sweep.steps, correlation=corr, stop_at=None)
    out = exp.train(model, stage, split="finetune", lr=cfg.pretrain.lr * ratio, eval_split="correlated",
                    seed=cfg.seed + 1, root=root, name=f"sweep_{prior}_lr{ratio:g}_c{corr:g}", correlation=corr)
    return {"accuracies": exp.accuracies(model), "steps": out["steps"]}


def _count_b_check(config: CapprobeConfig, pre: dict) -> dict | None:
    """Before fine-tuning: the low-prior pre-trained model must fail the new task (count b on the
    uncorrelated test set), or there is no capability for fine-tuning to add and no wrapper to find."""
    if "low" not in pre:
        return None
    acc = float(pre["low"]["accuracies"]["uncorrelated"])
    passed = acc <= config.count_b_check_max
    if not passed:
        import logging

        logging.getLogger(__name__).warning(
            "the low-prior pre-trained model already counts b (accuracy %.3f > count_b_check_max %.2f): "
            "fine-tuning has nothing to wrap", acc, config.count_b_check_max)
    return {"prior": "low", "count_b_acc": acc, "max": config.count_b_check_max, "passed": passed}


def _check(config: CapprobeConfig) -> None:
    from intarsia.errors import ConfigError

    if config.prune_k not in config.prune.ks:
        raise ConfigError(f"prune_k={config.prune_k} is not one of prune.ks={list(config.prune.ks)}")
    levels, where = ((config.task.operand_priors, "task.operand_priors") if config.task.kind == "pcfg"
                     else (config.task.prior_levels, "task.prior_levels"))
    for prior in [config.task.prior, *config.sweep.priors]:
        if prior not in levels:
            raise ConfigError(f"unknown prior {prior!r}; {where} has {sorted(levels)}")
    for corr in [config.finetune.correlation, *config.sweep.correlations]:
        if not 0.0 <= corr <= 1.0:
            raise ConfigError(f"correlation {corr} is outside [0, 1]")
    from .tasks import KINDS

    if config.task.kind not in KINDS:
        raise ConfigError(f"task.kind must be one of {', '.join(KINDS)}, got {config.task.kind!r}")


def analysis_device(accelerator: str):
    """The torch device for ``fabric.accelerator=accelerator`` (one process: the analyses are not distributed)."""
    import torch

    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    if accelerator == "mps":
        return torch.device("mps")
    return torch.device("cpu")


def analyze_run(root: str | Path, config: CapprobeConfig, *, exp: Experiment | None = None, registry=None) -> dict:
    """Probes (pre-trained vs fine-tuned, per block), saliency vs random pruning of the fine-tuned model on
    the original task, exact match on every eval set, and the analyses ``config.analyses`` names, each built
    by name from the registry. Writes ``analyses.json`` and returns it."""
    from intarsia.build import build
    from intarsia.errors import IntarsiaError

    from .model import MiniGPT

    def analysis(name: str, options=None):
        return build("analyses", name, dataclasses.asdict(options) if dataclasses.is_dataclass(options) else options,
                     registry=registry)

    root = Path(root)
    pre_path, ft_path = root / "models" / f"pretrain_{config.task.prior}.pt", root / "models" / "finetune.pt"
    for path in (pre_path, ft_path):
        if not path.is_file():
            raise IntarsiaError(f"{str(root)!r} has no {path.relative_to(root)}: run the pre-training and "
                                "fine-tuning stages first")
    exp = exp or Experiment(config)
    # the analyses run where the fits ran (each batch follows the model's device)
    device = analysis_device(str(config.fabric.accelerator))
    pre, ft = MiniGPT.load(pre_path).to(device), MiniGPT.load(ft_path).to(device)
    probe = analysis("linear-probe", config.probe)
    data = exp.original_rows()
    before, after = probe.run(pre, data), probe.run(ft, data)
    # controls: the same probe on an untrained model, and on the pre-trained model for a count that
    # pre-training never asked for (the control letter's): a probe claim means something only above both
    control = probe.run(exp.new_model(config.seed + 99).to(device), data)
    not_pretrained = probe.run(pre, {**data, "targets": data["control"]})
    # where the answer position attends: the operand tokens a and b, before and after fine-tuning, on the
    # original task's prompts and on the new task's
    v = exp.task.vocab
    attention = analysis("attention-map", {"groups": {"a": [v.letter(0)], "b": [v.letter(1)]}})
    attn = {"pretrained": attention.run(pre, data), "finetuned": attention.run(ft, data),
            # the new task's prompts (count b): does the fine-tuned model read the a's for them (a wrapper)?
            "pretrained_new_task": attention.run(pre, exp.eval["uncorrelated"]),
            "finetuned_new_task": attention.run(ft, exp.eval["uncorrelated"])}
    prune_data = {**exp.eval["original"]}
    saliency_set = exp.original_rows(offset=3000)  # saliency from other original-task rows than the eval set
    pruning = analysis("saliency-pruning", config.prune).run(ft, {**{k: saliency_set[k] for k in ("input_ids", "positions")},
                                                      "labels": saliency_set["labels"], "eval": prune_data})
    exact = analysis("exact-match")
    acc = {"pretrained": exact.run(pre, exp.eval)["metrics"], "finetuned": exact.run(ft, exp.eval)["metrics"]}
    extra, extra_figures = {}, []
    for spec in config.analyses:  # further analyses, by name: the fine-tuned model on the original-task rows
        name = str(spec.get("name", ""))
        result = analysis(name, {k: v for k, v in spec.items() if k != "name"}).run(ft, data)
        extra[name] = {k: float(v) for k, v in result.get("metrics", {}).items()}
        for fig_name, fig in (result.get("figures") or {}).items():
            fig.savefig(root / f"{name}_{fig_name}.png", dpi=100)
            extra_figures.append(f"{name}_{fig_name}.png")
    blocks = lambda m: {k: v for k, v in m.items() if k.startswith("probe/blocks")}  # noqa: E731
    out = {
        "probe_before": before["results"], "probe_after": after["results"],
        "probe_before_best": max(blocks(before["metrics"]).values()),
        "probe_after_best": max(blocks(after["metrics"]).values()),
        "probe_random_init": control["results"],
        "probe_random_init_best": max(blocks(control["metrics"]).values()),
        "probe_not_pretrained": not_pretrained["results"],
        "probe_not_pretrained_best": max(blocks(not_pretrained["metrics"]).values()),
        "attention": {k: {"metrics": r["metrics"], "per_head": r["results"]} for k, r in attn.items()},
        "pruning": {"metrics": pruning["metrics"], "curve": pruning["curve"], "top_neurons": pruning["top_neurons"][:20]},
        "accuracy": acc,
        "extra": extra, "extra_figures": extra_figures,
    }
    write_json(root / "analyses.json", out)
    for name, fig in (("probe_pretrained", before["figures"]["probe"]), ("probe_finetuned", after["figures"]["probe"]),
                      ("pruning", pruning["figures"]["pruning"]),
                      ("attention_pretrained", attn["pretrained"]["figures"]["attention"]),
                      ("attention_finetuned", attn["finetuned"]["figures"]["attention"])):
        fig.savefig(root / f"{name}.png", dpi=100)
    return out


def _figures(root: Path, config: CapprobeConfig, grid: list[dict], analyses: dict, reverse: dict, scratch: dict) -> list[str]:
    from .figures import grid_figure, probe_compare_figure, steps_figure

    out = []
    if grid:
        grid_figure(grid).savefig(root / "sweep.png", dpi=100)
        out.append("sweep.png")
    probe_compare_figure(analyses["probe_before"], analyses["probe_after"], analyses.get("probe_random_init")
                         ).savefig(root / "probe.png", dpi=100)
    steps_figure(reverse["curve"], scratch["curve"], config.threshold).savefig(root / "reverse.png", dpi=100)
    out += ["probe.png", "pruning.png", "reverse.png"]
    return out
