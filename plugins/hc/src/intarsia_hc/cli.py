"""``intarsia hc explain RUN_DIR``: the interpretability report of a finished (or checkpointed) run.

Only click is imported here; torch, gymnasium and matplotlib are imported inside the command body so
``intarsia --help`` stays fast."""

from __future__ import annotations

import click


def add_commands(cli: click.Group) -> None:
    @cli.group(name="hc")
    def hc_group():
        """HyperCombinator (interpretable piecewise-linear policies) tools."""

    @hc_group.command(name="explain")
    @click.argument("run_dir", type=click.Path(file_okay=False, path_type=str))
    @click.option("--episodes", type=int, default=None, help="evaluation episodes (default: the run's eval.episodes)")
    @click.option("--slice", "slice_dims", default=None, help="two observation indices for the 2-D slice, e.g. 0,2")
    @click.option("--slice-at", "slice_at", multiple=True, metavar="INDEX=VALUE",
                  help="hold an input of the slice at a value instead of its mean, e.g. 2=0.5 3=0.5 (a fixed goal); repeatable")
    @click.option("--out", default=None, help="output folder (default: RUN_DIR/interpretability)")
    def explain_cmd(run_dir, episodes, slice_dims, slice_at, out):
        """Write the interpretability report of the policy in RUN_DIR (coefficients, usage, switches, plots)."""
        from .explain import explain_run  # its IntarsiaErrors become one line + exit code 2 in the core's CLI

        dims = None
        if slice_dims:
            try:
                dims = tuple(int(x) for x in slice_dims.split(","))
                assert len(dims) == 2
            except (ValueError, AssertionError):
                raise click.BadParameter(f"expected two integers like 0,2, got {slice_dims!r}", param_hint="--slice") from None
        held = {}
        for item in slice_at:
            try:
                index, value = item.split("=", 1)
                held[int(index)] = float(value)
            except ValueError:
                raise click.BadParameter(f"expected INDEX=VALUE like 2=0.5, got {item!r}", param_hint="--slice-at") from None
        summary = explain_run(run_dir, episodes=episodes, slice_dims=dims, slice_at=held, out_dir=out)
        click.echo(summary["markdown_path"])
        for key in ("eval_return", "subpolicies_used", "switch_rate", "usage_entropy", "mean_segment_length"):
            if key in summary["metrics"]:
                click.echo(f"{key}: {summary['metrics'][key]:.4g}")
