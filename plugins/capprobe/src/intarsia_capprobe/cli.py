"""``intarsia capprobe analyze RUN_DIR`` and ``intarsia capprobe probe-r2i RUN_DIR``.

Only click is imported here; the command bodies import torch and the analyses.
"""

from __future__ import annotations

import json

import click


def add_commands(cli: click.Group) -> None:
    @cli.group("capprobe")
    def capprobe():
        """What fine-tuning does to capabilities: probes, pruning, reverse fine-tuning."""

    @capprobe.command("analyze")
    @click.argument("run_dir", type=click.Path(file_okay=False))
    def analyze(run_dir: str):
        """Rerun the probes, pruning and exact-match analyses on a capprobe run's saved models."""
        from pathlib import Path

        from intarsia.errors import IntarsiaError
        from intarsia.runner.api import prepare

        from .job import analyze_run

        cfg = Path(run_dir) / "config.yaml"
        if not cfg.is_file():
            raise IntarsiaError(f"{run_dir!r} is not a run directory (no config.yaml)")
        _, job, config = prepare(str(cfg))
        if job != "capprobe":
            raise IntarsiaError(f"{run_dir!r} holds a {job!r} run, not a capprobe run")
        try:
            out = analyze_run(run_dir, config)
        except ValueError as exc:
            raise IntarsiaError(str(exc)) from None
        click.echo(json.dumps({"probe_count_a_before": out["probe_before_best"],
                               "probe_count_a_after": out["probe_after_best"],
                               "probe_count_a_random_init": out["probe_random_init_best"],
                               "probe_not_pretrained": out["probe_not_pretrained_best"],
                               **{f"pruning.{k}": v for k, v in out["pruning"]["metrics"].items()},
                               "written": str(Path(run_dir) / "analyses.json")}, indent=2))

    @capprobe.command("probe-r2i")
    @click.argument("run_dir", type=click.Path())
    @click.option("--episodes", default=64, show_default=True, help="memory-task episodes to record")
    @click.option("--out", default="r2i_probe.png", show_default=True, help="where the figure goes")
    @click.option("--seed", default=0, show_default=True)
    def probe_r2i(run_dir: str, episodes: int, out: str, seed: int):
        """Where does an R2I agent keep its memory? Per-layer probes of the cue against steps since the cue
        (RUN_DIR: an `intarsia run` directory of r2i/dreamerv3 on MemoryLength-v0, or a checkpoint in it)."""
        from intarsia.errors import IntarsiaError

        from .r2i_probe import R2IMemoryProbe, R2IProbeConfig, load_r2i_checkpoint

        try:
            agent, env_factory = load_r2i_checkpoint(run_dir)
            result = R2IMemoryProbe(R2IProbeConfig(episodes=episodes, seed=seed)).run(agent, env_factory)
        except (ValueError, ImportError) as exc:
            raise IntarsiaError(str(exc)) from None
        result["figures"]["memory_probe"].savefig(out, dpi=100)
        click.echo(json.dumps({**result["metrics"], "figure": out}, indent=2))
