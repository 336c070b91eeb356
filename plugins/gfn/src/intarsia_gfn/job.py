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

import time

from intarsia.build import build
from intarsia.runner.context import RunContext
from intarsia.safe_load import save_torch_file

from .config import GFNJobConfig
from .plots import grid_heatmap, learning_curve

REPORTED = ("l1_sum", "l1_mean", "jsd", "modes_found", "trajectories", "seconds_per_iteration")


def run_gfn(config: GFNJobConfig, *, run: RunContext) -> dict:
    pretrain_report = _pretrain(config, run) if config.pretrain is not None else None
    fabric = run.launch_fabric(config)  # threads, Fabric from config.fabric, seed + rank
    sampler = build("samplers", config.sampler, registry=run.registry, fabric=fabric)

    iteration, train_seconds, history = 0, 0.0, []
    state = run.restore(fabric, lambda s: sampler.load_state_dict(s["sampler"]))
    if state is not None:
        iteration, train_seconds, history = int(state["step"]), float(state["seconds"]), list(state["history"])

    def save_checkpoint() -> None:
        run.save(fabric, iteration, {"seconds": train_seconds, "sampler": sampler.state_dict(), "history": history},
                 keep=config.checkpoint.keep)

    def evaluate() -> dict:
        entry = {"iteration": iteration, **{k: float(v) for k, v in sampler.evaluate().items()}}
        fabric.log_dict({f"eval/{k}": v for k, v in entry.items() if k != "iteration"}, step=iteration)
        history.append(entry)
        return entry

    def status(entry: dict) -> str:
        return "  ".join(f"{k} {entry[k]:.4g}" for k in ("l1_sum", "success_rate", "modes_found") if k in entry)

    if iteration == 0 and config.eval.every > 0:
        evaluate()
    last: dict = {}
    with run.progress(config.iterations, done=iteration, description=config.name, unit="iterations",
                      enabled=config.log.progress) as progress:
        while iteration < config.iterations:
            t0 = time.perf_counter()
            last = sampler.update(iteration + 1)
            train_seconds += time.perf_counter() - t0
            iteration += 1
            progress.advance(1)
            if config.log.every > 0 and iteration % config.log.every == 0:
                last = {**last, "train/seconds": train_seconds}  # wall-clock of training, for curves against it
                fabric.log_dict(last, step=iteration)
                history.append({"iteration": iteration, **last})
            if config.eval.every > 0 and iteration % config.eval.every == 0:
                progress.note(status(evaluate()))
            if config.checkpoint.every > 0 and iteration % config.checkpoint.every == 0 and iteration < config.iterations:
                save_checkpoint()

    final = history[-1] if history and history[-1].get("iteration") == iteration and "trajectories" in history[-1] \
        else evaluate()
    save_checkpoint()
    for logger in fabric.loggers:
        logger.finalize("success")
    artifacts = ["config.yaml", "logs/metrics.csv"]
    sections = {"sampler": config.sampler.name, "evaluation": {k: v for k, v in final.items() if k != "iteration"}}
    if pretrain_report is not None:
        sections["children"] = {"pretrain": {"dir": "pretrain", "metrics": pretrain_report.get("metrics", {})}}
    if fabric.global_rank == 0:
        if hasattr(sampler, "model_state"):
            save_torch_file(sampler.model_state(), run.dir / "model.pt")
            artifacts.append("model.pt")
        if config.log.plots:
            learning_curve(history, run.dir / "learning_curve.png", f"{config.name} ({config.sampler.name})")
            artifacts.append("learning_curve.png")
        if config.log.plots and _is_2d_grid(sampler) and hasattr(sampler, "terminal_distribution"):
            p, target, _ = sampler.terminal_distribution()
            grid_heatmap(sampler.env.all_states(), p, target, run.dir / "heatmap.png", f"{config.name}: {sampler.env!r}")
            artifacts.append("heatmap.png")
    return run.report(steps=iteration, unit="iterations", metrics=_metrics(final, train_seconds, iteration),
                      training={"train_seconds": round(train_seconds, 2)}, artifacts=artifacts,
                      seconds=train_seconds, **sections)


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
    """The pretrain stage: a child gfn run in <run>/pretrain (skipped when finished, resumed when started)
    whose ``model.pt`` becomes the fine-tuned sampler's ``pretrained`` unless the config names one."""
    from omegaconf import OmegaConf

    raw = OmegaConf.to_container(run.raw_config, resolve=True) if run.raw_config is not None else {}
    child = {"job": "gfn", "name": f"{config.name}-pretrain", "seed": config.seed,
             "iterations": config.pretrain_iterations, "sampler": raw.get("pretrain"),
             "cpu_threads": config.cpu_threads}
    for key in ("fabric", "log", "checkpoint", "eval"):  # the child runs where and as its parent does
        if key in raw:
            child[key] = raw[key]
    report = run.child("pretrain", child)
    target = config.sampler.config
    if hasattr(target, "pretrained") and not target.pretrained:
        target.pretrained = str(run.dir / "pretrain" / "model.pt")
    return report
