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

    def finetune() -> dict:
        model = MiniGPT.load(model_file(root, f"pretrain_{config.task.prior}"))
        ft = config.finetune
        out = exp.train(model, ft, run=run, split="finetune", lr=pre_lr * ft.lr_ratio, eval_split="correlated",
                        seed=config.seed + 1, name="finetune", correlation=ft.correlation,
                        keep="finetune")
        return {**out, "accuracies": exp.accuracies(model)}

    ft = run.stage("finetune", finetune)
    analyses = run.stage("analyses", lambda: analyze_run(root, config, exp=exp, registry=run.registry))

    def steps_stage(start: str | None, stage, name: str) -> dict:
        model = MiniGPT.load(model_file(root, start)) if start else exp.new_model(config.seed + 7)
        out = exp.train(model, stage, run=run, split="pretrain", lr=stage.lr, eval_split="original",
                        seed=config.seed + 2, name=name)
        from .training import steps_to

        reached = steps_to(out["curve"], config.threshold)
        return {**out, "steps_to_threshold": reached}

    reverse = run.stage("reverse", lambda: steps_stage("finetune", config.reverse, "reverse"))
    scratch = run.stage("scratch", lambda: steps_stage(None, config.scratch, "scratch"))

    grid, cells = [], []
    if config.sweep.enabled:
        for prior in config.sweep.priors:
            for ratio in config.sweep.lr_ratios:
                for corr in config.sweep.correlations:
                    name = f"sweep_{prior}_lr{ratio:g}_c{corr:g}"
                    cell = run.stage(name, lambda prior=prior, ratio=ratio, corr=corr: _sweep_cell(
                        exp, run, root, prior, ratio, corr))
                    cells.append(cell)
                    grid.append({"prior": prior, "lr_ratio": ratio, "correlation": corr,
                                 **{k: cell["accuracies"][k] for k in ("original", "correlated", "uncorrelated")}})

    figures = _figures(root, config, grid, analyses, reverse, scratch) if process_rank() == 0 else []
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
                   "probe_pretrained.png", "probe_finetuned.png",
                   *analyses.get("extra_figures", [])],
        seconds=time.perf_counter() - t_start,
        pretrain_accuracies={p: r["accuracies"] for p, r in pre.items()},
        finetune_accuracies=ft["accuracies"],
        probe_before=analyses["probe_before"], probe_after=analyses["probe_after"],
        probe_random_init_best=analyses.get("probe_random_init_best"),
        pruning_curve=analyses["pruning"]["curve"], grid=grid, analyses=analyses.get("extra", {}),
        reverse_curve=reverse["curve"], scratch_curve=scratch["curve"], figures=figures)


def _sweep_cell(exp: Experiment, run, root: Path, prior: str, ratio: float, corr: float) -> dict:
    from .model import MiniGPT

    cfg = exp.config
    model = MiniGPT.load(model_file(root, f"pretrain_{prior}"))
    stage = dataclasses.replace(cfg.finetune, steps=cfg.sweep.steps, correlation=corr, stop_at=None)
    out = exp.train(model, stage, run=run, split="finetune", lr=cfg.pretrain.lr * ratio, eval_split="correlated",
                    seed=cfg.seed + 1, name=f"sweep_{prior}_lr{ratio:g}_c{corr:g}", correlation=corr)
    return {"accuracies": exp.accuracies(model), "steps": out["steps"]}


def _check(config: CapprobeConfig) -> None:
    from intarsia.errors import ConfigError

    if config.prune_k not in config.prune.ks:
        raise ConfigError(f"prune_k={config.prune_k} is not one of prune.ks={list(config.prune.ks)}")
    for prior in [config.task.prior, *config.sweep.priors]:
        if prior not in config.task.prior_levels:
            raise ConfigError(f"unknown prior {prior!r}; task.prior_levels has {sorted(config.task.prior_levels)}")
    for corr in [config.finetune.correlation, *config.sweep.correlations]:
        if not 0.0 <= corr <= 1.0:
            raise ConfigError(f"correlation {corr} is outside [0, 1]")
    if config.task.kind not in ("counter", "pcfg"):
        raise ConfigError(f"task.kind must be 'counter' or 'pcfg', got {config.task.kind!r}")


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
    # control: the same probe on an untrained model (counts are linear in mean-pooled embeddings)
    control = probe.run(exp.new_model(config.seed + 99).to(device), data)
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
        "pruning": {"metrics": pruning["metrics"], "curve": pruning["curve"], "top_neurons": pruning["top_neurons"][:20]},
        "accuracy": acc,
        "extra": extra, "extra_figures": extra_figures,
    }
    if not writes:  # the other DDP ranks computed the same (equal weights); rank 0 writes it
        return out
    write_json(root / "analyses.json", out)
    for name, fig in (("probe_pretrained", before["figures"]["probe"]), ("probe_finetuned", after["figures"]["probe"]),
                      ("pruning", pruning["figures"]["pruning"])):
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
