"""The ``gfn`` job: a sampler trained on Lightning Fabric, evaluated, checkpointed and reported.

Read top to bottom: (optional pretrain stage, a nested gfn run in <run>/pretrain) -> Fabric, seeds ->
build the sampler -> (resume from the last checkpoint) -> loop {update, log, evaluate, checkpoint} ->
final evaluation -> model.pt, report.json metrics, learning_curve.png, heatmap.png (2-D grids).

The report's ``metrics`` hold exactly ``l1_sum, l1_mean, jsd, modes_found, trajectories,
seconds_per_iteration`` (plus ``success_rate`` for OC-GFN pre-training, whose distances are those of its
zero-shot exact conversion to the environment's reward); everything else ``evaluate`` returned is under
``evaluation``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from intarsia.build import build
from intarsia.rng_state import capture_global_rng, restore_global_rng
from intarsia.runner import checkpoint as ckpt
from intarsia.runner.context import RunContext
from intarsia.runner.loggers import resume_loggers
from intarsia.runner.train import make_fabric

from .config import GFNJobConfig
from .plots import grid_heatmap, learning_curve

REPORTED = ("l1_sum", "l1_mean", "jsd", "modes_found", "trajectories", "seconds_per_iteration")


def run_gfn(config: GFNJobConfig, *, run: RunContext) -> dict:
    import torch

    if config.iterations < 0:
        from intarsia.errors import ConfigError

        raise ConfigError(f"iterations must be >= 0, got {config.iterations}")
    if config.cpu_threads > 0:
        torch.set_num_threads(config.cpu_threads)
    pretrain_report = _pretrain(config, run) if config.pretrain is not None else None
    fabric = make_fabric(config, run.dir)
    fabric.launch()
    fabric.seed_everything(config.seed + fabric.global_rank, verbose=False)
    sampler = build("samplers", config.sampler, registry=run.registry, fabric=fabric)

    iteration, train_seconds, history = 0, 0.0, []
    resumed_at = None
    if run.resume and (marker := ckpt.latest(run.checkpoints)) is not None:
        state = ckpt.load(run.checkpoints, marker["step"], fabric.global_rank, fabric.world_size)
        sampler.load_state_dict(state["sampler"])
        restore_global_rng(state["rng"])
        iteration, train_seconds, history = int(state["step"]), float(state["seconds"]), list(state["history"])
        resumed_at = iteration
        fabric.print(f"resumed from iteration {iteration} ({run.checkpoints})")
    resume_loggers(fabric, resumed_at)  # metrics.csv keeps the rows the checkpoint had seen

    def save_checkpoint() -> None:
        payload = {"step": iteration, "seconds": train_seconds, "sampler": sampler.state_dict(),
                   "rng": capture_global_rng(), "history": history}
        ckpt.save(run.checkpoints, iteration, fabric.global_rank, payload)
        fabric.barrier()
        if fabric.global_rank == 0:
            ckpt.commit(run.checkpoints, iteration, fabric.world_size, config.checkpoint.keep)
        fabric.barrier()

    def evaluate() -> dict:
        entry = {"iteration": iteration, **{k: float(v) for k, v in sampler.evaluate().items()}}
        fabric.log_dict({f"eval/{k}": v for k, v in entry.items() if k != "iteration"}, step=iteration)
        history.append(entry)
        return entry

    if iteration == 0 and config.eval.every > 0:
        evaluate()
    progress = _Progress(config.log.progress and fabric.global_rank == 0, config.iterations, iteration, config.name)
    last: dict = {}
    with progress:
        while iteration < config.iterations:
            t0 = time.perf_counter()
            last = sampler.update(iteration + 1)
            train_seconds += time.perf_counter() - t0
            iteration += 1
            progress.advance(last)
            if config.log.every > 0 and iteration % config.log.every == 0:
                fabric.log_dict(last, step=iteration)
                history.append({"iteration": iteration, **last})
            if config.eval.every > 0 and iteration % config.eval.every == 0:
                progress.note(evaluate())
            if config.checkpoint.every > 0 and iteration % config.checkpoint.every == 0 and iteration < config.iterations:
                save_checkpoint()

    final = history[-1] if history and history[-1].get("iteration") == iteration and "trajectories" in history[-1] \
        else evaluate()
    save_checkpoint()
    for logger in fabric.loggers:
        logger.finalize("success")
    metrics = _metrics(final, train_seconds, iteration)
    report = {"recipe": config.recipe, "name": config.name, "sampler": config.sampler.name, "iterations": iteration,
              "seconds": round(train_seconds, 2), "metrics": metrics,
              "evaluation": {k: v for k, v in final.items() if k != "iteration"}, "plot": "learning_curve.png"}
    if pretrain_report is not None:
        report["pretrain"] = {"dir": str(run.dir / "pretrain"), "metrics": pretrain_report.get("metrics", {})}
    if fabric.global_rank == 0:
        if hasattr(sampler, "model_state"):
            tmp = run.dir / ".model.pt.tmp"
            torch.save(sampler.model_state(), tmp)
            os.replace(tmp, run.dir / "model.pt")
            report["model"] = "model.pt"
        learning_curve(history, run.dir / "learning_curve.png", f"{config.name} ({config.sampler.name})")
        if _is_2d_grid(sampler) and hasattr(sampler, "terminal_distribution"):
            p, target, _ = sampler.terminal_distribution()
            grid_heatmap(sampler.env.all_states(), p, target, run.dir / "heatmap.png", f"{config.name}: {sampler.env!r}")
            report["heatmap"] = "heatmap.png"
    return report


def _metrics(final: dict, train_seconds: float, iterations: int) -> dict:
    out = {}
    converted = "success_rate" in final  # OC-GFN pre-training: distances of the zero-shot conversion
    for key in REPORTED[:3]:
        source = f"conversion_{key}" if converted else key
        if source in final:
            out[key] = final[source]
    out["modes_found"] = int(final.get("modes_found", 0))
    out["trajectories"] = int(final.get("trajectories", 0))
    out["seconds_per_iteration"] = train_seconds / max(1, iterations)
    if converted:
        out["success_rate"] = final["success_rate"]
    return out


def _is_2d_grid(sampler) -> bool:
    env = getattr(sampler, "env", None)
    return bool(env is not None and getattr(env, "enumerable", False) and getattr(env, "state_shape", None) == (2,)
                and type(env).__name__ == "HyperGrid")


def _pretrain(config: GFNJobConfig, run: RunContext) -> dict:
    """The pretrain stage: a nested gfn run in <run>/pretrain (resumed or skipped when already there)."""
    from intarsia.runner.api import resume_run, run_config
    from omegaconf import OmegaConf

    root = Path(run.dir) / "pretrain"
    if (root / "report.json").exists():
        report = json.loads((root / "report.json").read_text())
    elif (root / "config.yaml").exists() and (root / "checkpoints").exists():
        report = resume_run(root, registry=run.registry)
    else:
        raw = OmegaConf.to_container(run.raw_config, resolve=True) if run.raw_config is not None else {}
        nested = {"job": "gfn", "name": f"{config.name}-pretrain", "seed": config.seed,
                  "iterations": config.pretrain_iterations, "sampler": raw.get("pretrain"),
                  "cpu_threads": config.cpu_threads}
        for key in ("fabric", "log", "checkpoint", "eval"):
            if key in raw:
                nested[key] = raw[key]
        report = run_config(nested, run_dir=root, registry=run.registry)
    target = config.sampler.config
    if hasattr(target, "pretrained") and not target.pretrained:
        target.pretrained = str(root / "model.pt")
    return report


class _Progress:
    """A rich progress bar (no-op when disabled or INTARSIA_NO_PROGRESS is set)."""

    def __init__(self, enabled: bool, total: int, done: int, name: str):
        self.enabled = enabled and not os.environ.get("INTARSIA_NO_PROGRESS")
        self.text = ""
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[stats]}"), TimeRemainingColumn())
            self.task = self.bar.add_task(name, total=total, completed=done, stats="")

    def __enter__(self):
        if self.enabled:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.__exit__(*exc)

    def advance(self, metrics: dict) -> None:
        if self.enabled:
            self.bar.update(self.task, advance=1, stats=self.text)

    def note(self, entry: dict) -> None:
        shown = [f"{k} {entry[k]:.4g}" for k in ("l1_sum", "success_rate", "modes_found") if k in entry]
        self.text = "  ".join(shown)
