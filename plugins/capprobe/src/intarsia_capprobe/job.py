"""The capprobe job (``job: capprobe``): the paper's protocol at small scale.

    pre-train (original task) -> fine-tune (new task, correlated share, η_L with a cosine schedule)
    -> the control model (pre-trained on the new task alone, fine-tuned the same way)
    -> analyses (probes before/after and untrained, one-shot signed saliency pruning vs random, the same
       pruning of the control model, exact match)
    -> reverse fine-tune (back to the original task, at the fine-tuning LR or below) against Scr.+FT (the
       control's pre-trained model fine-tuned on the original task, same settings) and from scratch
    -> the prior x LR x correlation grid -> report + figures

Every stage is a fit of the run context's Trainer (``fabric:``, ``log.loggers``, ``checkpoints/<stage>/``)
and writes a marker ``stages/<stage>.json`` when complete; rerunning or ``intarsia resume RUN_DIR`` skips
completed stages (each grid cell is a stage) and continues an interrupted one from its checkpoint.

Run-directory layout::

    models/pretrain_<prior>.pt   pre-trained model per prior (weights_only-loadable)
    models/finetune.pt           the main fine-tuned model
    models/pretrain_other.pt     pre-trained on the new task only (Scr.+FT's start)
    models/finetune_other.pt     that model fine-tuned as the main one (the pruning control)
    models/*.rank<r>.pt          rank r's copies under DDP (equal to rank 0's)
    logs/<stage>/metrics.csv     each fit's metrics (and the other loggers of ``log.loggers``)
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
               "random_pruned_original_acc", "control_pruned_original_acc", "probe_count_a_before",
               "probe_count_a_after", "probe_count_a_untrained", "probe_count_a_not_pretrained",
               "probe_count_a_other_pretrained",
               "reverse_ft_steps", "scratch_ft_steps", "scratch_steps")


def process_rank() -> int:
    """This process's global rank as the DDP launcher set it (0 outside DDP): before a stage's first fit the
    Trainer that would say it does not exist yet (a resumed run, the analyses command)."""
    import os

    local, node = int(os.environ.get("LOCAL_RANK", "0") or 0), int(os.environ.get("NODE_RANK", "0") or 0)
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", "0") or 0)
    return int(os.environ.get("RANK", node * per_node + local) or 0)


def model_file(root: Path, stem: str, rank: int | None = None) -> Path:
    """``models/<stem>.pt`` for rank 0, ``models/<stem>.rank<r>.pt`` for rank r: each rank reads the copy it
    wrote itself, so no rank waits on another's file (the copies are equal under DDP)."""
    rank = process_rank() if rank is None else rank
    return Path(root) / "models" / (f"{stem}.pt" if rank == 0 else f"{stem}.rank{rank}.pt")


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

    def train(self, model, stage, *, run, split: str, lr: float, eval_split: str, seed: int, name: str,
              correlation: float = 1.0, prior: str | None = None, keep: str | None = None) -> dict:
        """One fit of ``model`` (in place) as the run's fit ``name``; ``keep``: the stem under ``models/``
        each rank saves the trained model to (:func:`model_file`). The fit's checkpoints go once the
        stage's outputs are saved."""
        from .training import drop_checkpoints, train_stage

        data = self.task.dataset(split, stage.samples, seed, correlation=correlation, prior=prior)
        out = train_stage(model, data, stage, lr=lr, seed=seed, run=run, config=self.config,
                          eval_data=self.eval[eval_split], name=name)
        rank = out.pop("rank")
        out.pop("world_size")
        if keep is not None:
            model.save(model_file(run.dir, keep, rank))
        drop_checkpoints(run, name, rank)
        return out

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
        out = exp.train(model, config.pretrain, run=run, split="pretrain", lr=pre_lr, eval_split="original",
                        seed=config.seed, name=f"pretrain_{prior}", prior=prior,
                        keep=f"pretrain_{prior}")
        return {**out, "accuracies": exp.accuracies(model)}

    priors = [config.task.prior] + [p for p in (config.sweep.priors if config.sweep.enabled else [])
                                    if p != config.task.prior]
    pre = {p: run.stage(f"pretrain_{p}", lambda p=p: pretrain(p)) for p in priors}
    count_b_check = _count_b_check(config, pre)

    def finetune(start: str, name: str) -> dict:
        model = MiniGPT.load(model_file(root, start))
        ft = config.finetune
        out = exp.train(model, ft, run=run, split="finetune", lr=stage_lr(config, ft, finetuning=True),
                        eval_split="correlated", seed=config.seed + 1, name=name, correlation=ft.correlation,
                        keep=name)
        return {**out, "accuracies": exp.accuracies(model)}

    ft = run.stage("finetune", lambda: finetune(f"pretrain_{config.task.prior}", "finetune"))

    def pretrain_other() -> dict:
        # never counts the original operand: pre-trained on the new task alone (no correlation with the old)
        model = exp.new_model(config.seed + 3)
        out = exp.train(model, config.pretrain, run=run, split="finetune", lr=pre_lr, eval_split="uncorrelated",
                        seed=config.seed + 3, name="pretrain_other", correlation=0.0, keep="pretrain_other")
        return {**out, "accuracies": exp.accuracies(model)}

    other = run.stage("pretrain_other", pretrain_other)
    # the pruning control: that model fine-tuned exactly as the main one
    control = run.stage("finetune_other", lambda: finetune("pretrain_other", "finetune_other"))
    analyses = run.stage("analyses", lambda: analyze_run(root, config, exp=exp, registry=run.registry))

    def steps_stage(start: str | None, stage, name: str) -> dict:
        model = MiniGPT.load(model_file(root, start)) if start else exp.new_model(config.seed + 7)
        out = exp.train(model, stage, run=run, split="pretrain", lr=stage_lr(config, stage), eval_split="original",
                        seed=config.seed + 2, name=name)
        from .training import steps_to

        reached = steps_to(out["curve"], config.threshold)
        return {**out, "steps_to_threshold": reached}

    reverse = run.stage("reverse", lambda: steps_stage("finetune", config.reverse, "reverse"))
    # Scr.+FT, the paper's main baseline: pre-trained on the other operand, fine-tuned on this one as reverse is
    scratch_ft = run.stage("scratch_ft", lambda: steps_stage("pretrain_other", config.reverse, "scratch_ft"))
    scratch = run.stage("scratch", lambda: steps_stage(None, config.scratch, "scratch"))

    grid, cells = [], []
    if config.sweep.enabled:
        for prior in config.sweep.priors:
            for label, ratio in sweep_lrs(config):
                for corr in config.sweep.correlations:
                    name = f"sweep_{prior}_lr{label}_c{corr:g}"
                    cell = run.stage(name, lambda prior=prior, ratio=ratio, corr=corr, name=name: _sweep_cell(
                        exp, run, root, prior, ratio, corr, name))
                    cells.append(cell)
                    grid.append({"prior": prior, "lr_ratio": ratio, "lr": label, "correlation": corr,
                                 **{k: cell["accuracies"][k] for k in ("original", "correlated", "uncorrelated")}})

    figures = _figures(root, config, grid, analyses, reverse, scratch_ft, scratch) if process_rank() == 0 else []
    rev_steps, scr_steps = reverse["steps_to_threshold"], scratch["steps_to_threshold"]
    sft_steps = scratch_ft["steps_to_threshold"]
    k = config.prune_k
    metrics = {
        "wrapper_correlated_acc": ft["accuracies"]["correlated"],
        "wrapper_uncorrelated_acc": ft["accuracies"]["uncorrelated"],
        "pruned_original_acc": analyses["pruning"]["metrics"][f"pruned_acc@{k}"],
        "random_pruned_original_acc": analyses["pruning"]["metrics"][f"random_pruned_acc@{k}"],
        # the same pruning of a model that never counted the original operand
        "control_pruned_original_acc": analyses["pruning_control"]["metrics"][f"pruned_acc@{k}"],
        "probe_count_a_before": analyses["probe_before_best"],
        "probe_count_a_after": analyses["probe_after_best"],
        # the same probe on an untrained model: what the probe reads without any training
        "probe_count_a_untrained": analyses["probe_random_init_best"],
        # the pre-trained model probed for a count its pre-training never asked for (the control letter's)
        "probe_count_a_not_pretrained": analyses["probe_not_pretrained_best"],
        # and a model pre-trained on the new task only probed for count(a), which it was never trained on
        "probe_count_a_other_pretrained": analyses.get("probe_other_pretrained_best"),
        # a stage that never reached the threshold reports its step budget (a lower bound; see *_reached)
        "reverse_ft_steps": rev_steps if rev_steps is not None else reverse["steps"],
        "scratch_ft_steps": sft_steps if sft_steps is not None else scratch_ft["steps"],
        "scratch_steps": scr_steps if scr_steps is not None else scratch["steps"],
    }
    stage_steps = [r["steps"] for r in (*pre.values(), ft, other, control, reverse, scratch_ft, scratch)]
    return run.report(
        steps=int(sum(stage_steps) + sum(c["steps"] for c in cells)), unit="optimizer steps", metrics=metrics,
        training={"stage_seconds": run.stage_seconds(), "reverse_reached": rev_steps is not None,
                  "scratch_ft_reached": sft_steps is not None, "scratch_reached": scr_steps is not None,
                  "learning_rates": {"finetune": stage_lr(config, config.finetune, finetuning=True),
                                     "reverse": stage_lr(config, config.reverse),
                                     "scratch": stage_lr(config, config.scratch)}},
        artifacts=["config.yaml", "analyses.json", "models/finetune.pt", *figures,
                   "probe_pretrained.png", "probe_finetuned.png", "attention_pretrained.png",
                   "attention_finetuned.png",
                   *analyses.get("extra_figures", [])],
        seconds=time.perf_counter() - t_start,
        pretrain_accuracies={p: r["accuracies"] for p, r in pre.items()},
        finetune_accuracies=ft["accuracies"],
        control_accuracies={"pretrain_other": other["accuracies"], "finetune_other": control["accuracies"]},
        probe_before=analyses["probe_before"], probe_after=analyses["probe_after"],
        probe_random_init_best=analyses.get("probe_random_init_best"),
        probe_not_pretrained_best=analyses.get("probe_not_pretrained_best"),
        probe_other_pretrained_best=analyses.get("probe_other_pretrained_best"),
        attention=analyses.get("attention"), checks={"count_b_before_ft": count_b_check},
        pruning_curve=analyses["pruning"]["curve"], pruning_control_curve=analyses["pruning_control"]["curve"],
        grid=grid, analyses=analyses.get("extra", {}),
        reverse_curve=reverse["curve"], scratch_ft_curve=scratch_ft["curve"], scratch_curve=scratch["curve"],
        figures=figures)


def stage_lr(config: CapprobeConfig, stage, *, finetuning: bool = False) -> float:
    """A stage's LR: ``pretrain.lr`` times the ratio its ``lr_level`` names, else (fine-tuning)
    ``pretrain.lr * lr_ratio`` or (the other stages) its own ``lr``."""
    if stage.lr_level:
        return config.pretrain.lr * config.lr_levels[stage.lr_level]
    return config.pretrain.lr * stage.lr_ratio if finetuning else stage.lr


def sweep_lrs(config: CapprobeConfig) -> list[tuple[str, float]]:
    """The grid's LR axis as ``(label, ratio to pretrain.lr)``: the named levels, else the plain ratios."""
    if config.sweep.lr_levels:
        return [(name, config.lr_levels[name]) for name in config.sweep.lr_levels]
    return [(f"{r:g}", r) for r in config.sweep.lr_ratios]


def _sweep_cell(exp: Experiment, run, root: Path, prior: str, ratio: float, corr: float, name: str) -> dict:
    from .model import MiniGPT

    cfg = exp.config
    model = MiniGPT.load(model_file(root, f"pretrain_{prior}"))
    stage = dataclasses.replace(cfg.finetune, steps=cfg.sweep.steps, correlation=corr, stop_at=None)
    out = exp.train(model, stage, run=run, split="finetune", lr=cfg.pretrain.lr * ratio, eval_split="correlated",
                    seed=cfg.seed + 1, name=name, correlation=corr)
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

    for where, level in (("finetune", config.finetune.lr_level), ("reverse", config.reverse.lr_level),
                         ("scratch", config.scratch.lr_level), *(("sweep", n) for n in config.sweep.lr_levels)):
        if level and level not in config.lr_levels:
            raise ConfigError(f"{where}: unknown lr_level {level!r}; lr_levels has {sorted(config.lr_levels)}")
    for name, ratio in config.lr_levels.items():
        if not 0.0 < ratio < float("inf"):
            raise ConfigError(f"lr_levels.{name}: must be a positive ratio, got {ratio}")
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
    """The torch device for ``fabric.accelerator=accelerator``: under DDP each rank's own GPU (the analyses
    are not distributed; every rank runs them on equal weights and rank 0 writes the results)."""
    import os

    import torch

    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0") or 0))
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
    pre_path, ft_path = model_file(root, f"pretrain_{config.task.prior}"), model_file(root, "finetune")
    for path in (pre_path, ft_path):
        if not path.is_file():
            raise IntarsiaError(f"{str(root)!r} has no {path.relative_to(root)}: run the pre-training and "
                                "fine-tuning stages first")
    exp = exp or Experiment(config)
    writes = process_rank() == 0
    # the analyses run where the fits ran, on the model's device (each batch follows it)
    device = analysis_device(str(config.fabric.accelerator))
    pre, ft = MiniGPT.load(pre_path).to(device), MiniGPT.load(ft_path).to(device)
    probe = analysis("linear-probe", config.probe)
    data = exp.original_rows()
    before, after = probe.run(pre, data), probe.run(ft, data)
    # controls: the same probe on an untrained model, and on the pre-trained model for a count that
    # pre-training never asked for (the control letter's): a probe claim means something only above both
    control = probe.run(exp.new_model(config.seed + 99).to(device), data)
    not_pretrained = probe.run(pre, {**data, "targets": data["control"]})
    # and on a model whose pre-training never asked for count(a) (the pruning control's pre-trained model)
    other_path = model_file(root, "pretrain_other")
    other_pretrained = probe.run(MiniGPT.load(other_path).to(device), data) if other_path.is_file() else None
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
    prune_input = {**{k: saliency_set[k] for k in ("input_ids", "positions")}, "labels": saliency_set["labels"],
                   "eval": prune_data}
    pruner = analysis("saliency-pruning", config.prune)
    pruning = pruner.run(ft, prune_input)
    # control: the same pruning of a model that never counted the original operand (pre-trained on the new
    # task alone, fine-tuned as the main one); revival that shows here too is pruning's doing, not a capability
    control_path = model_file(root, "finetune_other")
    pruning_control = pruner.run(MiniGPT.load(control_path).to(device), prune_input) if control_path.is_file() else None
    exact = analysis("exact-match")
    acc = {"pretrained": exact.run(pre, exp.eval)["metrics"], "finetuned": exact.run(ft, exp.eval)["metrics"]}
    extra, extra_figures = {}, []
    for spec in config.analyses:  # further analyses, by name: the fine-tuned model on the original-task rows
        name = str(spec.get("name", ""))
        result = analysis(name, {k: v for k, v in spec.items() if k != "name"}).run(ft, data)
        extra[name] = {k: float(v) for k, v in result.get("metrics", {}).items()}
        for fig_name, fig in (result.get("figures") or {}).items():
            if writes:
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
        "probe_other_pretrained": other_pretrained["results"] if other_pretrained else None,
        "probe_other_pretrained_best": (max(blocks(other_pretrained["metrics"]).values())
                                        if other_pretrained else None),
        "attention": {k: {"metrics": r["metrics"], "per_head": r["results"]} for k, r in attn.items()},
        "pruning": {"metrics": pruning["metrics"], "curve": pruning["curve"], "top_neurons": pruning["top_neurons"][:20]},
        "pruning_control": ({"metrics": pruning_control["metrics"], "curve": pruning_control["curve"]}
                            if pruning_control else None),
        "accuracy": acc,
        "extra": extra, "extra_figures": extra_figures,
    }
    if not writes:  # the other DDP ranks computed the same (equal weights); rank 0 writes it
        return out
    write_json(root / "analyses.json", out)
    from .figures import pruning_compare_figure

    pruning_fig = pruning_compare_figure(pruning["curve"], pruning_control["curve"] if pruning_control else None)
    for name, fig in (("probe_pretrained", before["figures"]["probe"]), ("probe_finetuned", after["figures"]["probe"]),
                      ("pruning", pruning_fig),
                      ("attention_pretrained", attn["pretrained"]["figures"]["attention"]),
                      ("attention_finetuned", attn["finetuned"]["figures"]["attention"])):
        fig.savefig(root / f"{name}.png", dpi=100)
    return out


def _figures(root: Path, config: CapprobeConfig, grid: list[dict], analyses: dict, reverse: dict, scratch_ft: dict,
             scratch: dict) -> list[str]:
    from .figures import grid_figure, probe_compare_figure, steps_figure

    out = []
    if grid:
        grid_figure(grid).savefig(root / "sweep.png", dpi=100)
        out.append("sweep.png")
    probe_compare_figure(analyses["probe_before"], analyses["probe_after"], analyses.get("probe_random_init")
                         ).savefig(root / "probe.png", dpi=100)
    steps_figure(reverse["curve"], scratch["curve"], config.threshold, scratch_ft["curve"]
                 ).savefig(root / "reverse.png", dpi=100)
    out += ["probe.png", "pruning.png", "reverse.png"]
    return out
