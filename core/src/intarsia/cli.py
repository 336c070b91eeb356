"""The ``intarsia`` command line. Start-up imports no torch, no lightning and no plugin internals."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from . import __version__
from .errors import IntarsiaError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="intarsia")
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """intarsia: research methods as plugins that compose (rewards, world models, agents, detectors)."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _host(check: bool = True):
    """The plugin host. ``check``: fail on a name clash between plugins (:meth:`Host.check`); off only where
    the clash must not block (``--help``, ``--version``, ``intarsia plugins``), so the way out stays visible."""
    from .plugins import get_host

    return get_host().check() if check else get_host()


def _warn_failed_plugins() -> None:
    """One line on stderr when installed plugins failed to import: their components are missing from this run."""
    failed = _host().errors
    if failed and int(os.environ.get("LOCAL_RANK", "0")) == 0:  # once, not once per DDP rank
        names = ", ".join(f"{i.distribution} ({i.error.splitlines()[0][:120]})" for i in failed[:3])
        more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
        click.echo(f"warning: {len(failed)} plugin(s) failed to load, their components are unavailable: {names}{more};"
                   " `intarsia plugins --traceback` shows why", err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--traceback", "show_tb", is_flag=True, help="Show the traceback of plugins that failed to load.")
def plugins(as_json: bool, show_tb: bool) -> None:
    """List installed plugins, the hooks they implement, what they registered, and load errors."""
    host = _host(check=False)
    by_dist = host.registry.by_distribution()
    rows = []
    for info in host.infos:
        registered = {}
        declared = [k.name for k in host.registry.kinds.values() if k.distribution == info.distribution]
        if declared and info.distribution != "intarsia-core":
            registered["kinds"] = declared
        for comp in by_dist.get(info.distribution, []):
            registered.setdefault(comp.kind, []).append(comp.name)
        rows.append({"name": info.name, "distribution": info.distribution, "version": info.version,
                     "hooks": info.hooks, "registered": registered, "error": info.error})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="intarsia plugins", show_lines=True)
    table.add_column("distribution", no_wrap=True)
    table.add_column("version", no_wrap=True)
    for col in ("hooks", "registered", "error"):
        table.add_column(col, overflow="fold")
    for row in rows:
        reg = "\n".join(f"{kind}: {', '.join(names)}" for kind, names in row["registered"].items())
        hooks = "\n".join(h.removeprefix("register_") for h in row["hooks"])
        table.add_row(row["distribution"], row["version"], hooks, reg, f"[red]{row['error']}[/red]" if row["error"] else "")
    console = Console()
    console.print(table)
    if show_tb:
        for info in host.errors:
            console.print(f"[bold red]{info.distribution}[/bold red]\n{info.traceback}")
    elif host.errors:
        console.print(f"{len(host.errors)} plugin(s) failed to load; `intarsia plugins --traceback` shows why.")


def _complete_kind(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of a KIND argument: the core's kinds and those the installed plugins declare."""
    return [kind for kind in _host(check=False).registry.kinds if kind.startswith(incomplete)]


def _complete_name(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    registry = _host(check=False).registry
    kind = ctx.params.get("kind")
    if kind not in registry.kinds:
        return []
    return [name for name in registry.names(kind) if name.startswith(incomplete)]


@cli.command("list")
@click.argument("kind", required=False, shell_complete=_complete_kind)
def list_(kind: str | None) -> None:
    """List registered components (of one KIND: envs, rewards, policies, world_models, encoders, detectors,
    llms, jobs, recipes, or a kind a plugin declares: `intarsia plugins` shows which).

    `intarsia show KIND NAME` shows one component's options."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    host = _host()
    kinds = list(host.registry.kinds) if kind is None else [kind]
    if kind is not None:
        host.registry.names(kind)  # an unknown kind raises with the list of kinds and a close match
    table = Table(title="registered components", caption="`intarsia show KIND NAME`: one component's options")
    for col in ("kind", "name", "distribution", "summary"):
        table.add_column(col, overflow="fold")
    for k in kinds:
        for name in host.registry.names(k):
            comp = host.registry.get(k, name)
            table.add_row(k, name, comp.distribution, escape(comp.summary))  # "[wandb]" is text, not markup
    Console().print(table)


@cli.command()
def recipes() -> None:
    """List runnable recipes (``intarsia run NAME``)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    reg = _host().registry
    table = Table(title="recipes")
    for col in ("recipe", "distribution", "summary"):
        table.add_column(col, overflow="fold")
    for name in reg.names("recipes"):
        comp = reg.get("recipes", name)
        table.add_row(name, comp.distribution, escape(comp.summary))
    Console().print(table)


@cli.command()
@click.argument("kind", shell_complete=_complete_kind)
@click.argument("name", required=False, shell_complete=_complete_name)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(kind: str, name: str | None, as_json: bool) -> None:
    """Every option of a component: type, default and documentation (`intarsia show policies r2i`).

    `intarsia show train` shows the top-level keys of a run config (the train job's); a recipe
    (`intarsia show recipes r2i/memory-length`) is shown as its fully resolved config.
    """
    from .describe import describe, find, render

    registry = _host().registry
    if name is None:
        kind, name = find(registry, kind)
    info = describe(registry, kind, name)
    if kind == "recipes":
        from .config import to_yaml
        from .runner.api import prepare

        info["resolved"] = to_yaml(prepare(name, [], registry)[0])
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    click.echo(render(info))
    if kind == "recipes":
        click.echo(f"  file:    {info['file']}\n\nResolved config (every default filled in):\n")
        click.echo(info["resolved"])


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("source")
@click.argument("overrides", nargs=-1)
@click.option("--run-dir", type=click.Path(file_okay=False), help="Run directory (default: <log.dir>/<name>/<timestamp>).")
@click.option("--show-config", is_flag=True, help="Print the fully resolved config (every default filled in) and exit.")
@click.option("--force", is_flag=True, help="Let --run-dir name a folder that already holds other files.")
def run(source: str, overrides: tuple[str, ...], run_dir: str | None, show_config: bool, force: bool) -> None:
    """Run a recipe or YAML file, with key.path=value OVERRIDES."""
    from .runner import api

    _warn_failed_plugins()
    if show_config:
        from .config import to_yaml

        raw, _, _ = api.prepare(source, overrides)
        click.echo(to_yaml(raw))
        return
    report = api.run_config(source, overrides, run_dir=run_dir, force=force)
    _print_report(report)


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("overrides", nargs=-1)
def resume(run_dir: str, overrides: tuple[str, ...]) -> None:
    """Continue the run in RUN_DIR from its last checkpoint (OVERRIDES such as steps=… extend it)."""
    from .runner import api

    _warn_failed_plugins()
    _print_report(api.resume_run(run_dir, overrides))


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("source", required=False)
@click.argument("overrides", nargs=-1)
@click.option("--seeds", default="0", show_default=True, help="Seeds to run at every grid point: 0-9, 0,3,7 or 0-4,10.")
@click.option("--grid", multiple=True, metavar="KEY=V1,V2", help="A grid axis (repeat for a product of axes).")
@click.option("--launcher", type=click.Choice(["local", "slurm", "inprocess"]), help="Where runs execute (default: "
              "the config's launcher: section, else local; inprocess: one after another in this process).")
@click.option("--workers", type=int, help="local: runs at the same time (default 1).")
@click.option("--partition", help="slurm: partition.")
@click.option("--time", "time_min", type=int, help="slurm: time limit per run in minutes (default 60).")
@click.option("--cpus", type=int, help="slurm: CPUs per run (default 1).")
@click.option("--gpus", type=int, help="slurm: GPUs per run (default 0).")
@click.option("--mem", help="slurm: memory per run, like 8G.")
@click.option("--account", help="slurm: account to charge.")
@click.option("--setup", multiple=True, help="slurm: a shell line run on the node before each run (repeatable).")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False), help="Finish the sweep in this folder: "
              "finished runs are kept, checkpointed ones resumed, failed or killed ones started again.")
def sweep(source: str | None, overrides: tuple[str, ...], seeds: str, grid: tuple[str, ...], launcher: str | None,
          workers: int | None, partition: str | None, time_min: int | None, cpus: int | None, gpus: int | None,
          mem: str | None, account: str | None, setup: tuple[str, ...], resume_dir: str | None) -> None:
    """One run of SOURCE (with OVERRIDES) per grid point and seed, under <log.dir>/<name>/sweep-<stamp>/ with a
    manifest, sweep.yaml; `intarsia compare` aggregates them."""
    from .sweeps import sweep as run_sweep

    if (source is None) == (resume_dir is None):
        raise click.UsageError("give a recipe to sweep, or --resume DIR (not both)")
    _warn_failed_plugins()
    settings = {"workers": workers, "partition": partition, "time": time_min, "cpus": cpus, "gpus": gpus,
                "mem": mem, "account": account, "setup": list(setup) or None}
    result = run_sweep(source, overrides, seeds=seeds, grid=list(grid), launcher=launcher, resume=resume_dir,
                       **{k: v for k, v in settings.items() if v is not None})
    counts = result["counts"]
    click.echo(f"sweep {result['dir']}: {counts['done']} done, {counts['failed']} failed of {len(result['runs'])}")
    failed = [r for r in result["runs"] if r["state"] == "failed"]
    for r in failed[:5]:
        click.echo(f"  failed {r['dir']}: {r['error']}", err=True)
    if failed:
        click.echo(f"`intarsia sweep --resume {result['dir']}` runs the failed ones again", err=True)
        raise click.exceptions.Exit(1)


@cli.command()
@click.argument("dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--metric", required=True, help="A report metric (report.json metrics) or a logs/metrics.csv column.")
@click.option("--by", help="Group runs by this config key (default: each folder, and each sweep point, is a group).")
@click.option("--baseline", help="The group the others are compared with (probability of improvement).")
@click.option("--curve", help="metrics.csv column for learning curves (default: --metric when it is a column).")
@click.option("--task", help="A config key whose values are tasks (env.n): scores form a runs x tasks matrix, "
              "bootstrapped within each task (stratified), with per-task aggregates too.")
@click.option("--gap", default=1.0, show_default=True, help="The score the optimality gap is measured from.")
@click.option("--out", type=click.Path(file_okay=False), help="Where compare.json, compare.md and plots go "
              "(default: the first folder).")
@click.option("--reps", default=2000, show_default=True, help="Bootstrap resamples.")
def compare(dirs: tuple[str, ...], metric: str, by: str | None, baseline: str | None, curve: str | None,
            task: str | None, gap: float, out: str | None, reps: int) -> None:
    """Aggregate runs over seeds: IQM, mean, median, optimality gap with 95% stratified-bootstrap CIs (rliable),
    probability of improvement over --baseline, performance profiles and learning curves."""
    from .compare import compare as run_compare

    result = run_compare(list(dirs), metric, by=by, baseline=baseline, curve=curve, task=task, gap=gap, out=out,
                         reps=reps)
    click.echo((Path(result["dir"]) / "compare.md").read_text(encoding="utf-8"))
    click.echo(f"wrote {result['dir']}/compare.json, compare.md and {len(result['plots'])} plot(s)")


@cli.command("eval")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--episodes", default=10, show_default=True, help="Episodes to play.")
@click.option("--seed", type=int, default=None, help="Seed of the first episode (episode i: seed + i); default: "
              "the run's seed + 10000019, as the train job's evaluation.")
@click.option("--explore", is_flag=True, help="Act as in training (explore=True) instead of greedily.")
@click.option("--video", is_flag=True, help="Also record every episode as an mp4 (needs intarsia-core[video]).")
def eval_(run_dir: str, episodes: int, seed: int | None, explore: bool, video: bool) -> None:
    """Play episodes with the trained agent of RUN_DIR (its newest checkpoint); writes RUN_DIR/eval/eval.json."""
    from .evaluate import evaluate

    _warn_failed_plugins()
    result = evaluate(run_dir, episodes=episodes, seed=seed, explore=explore, video=video)
    how = "exploring" if explore else "greedy"
    line = (f"{result['episodes']} {how} episodes at step {result['checkpoint_step']}: return "
            f"{result['return_mean']:.3f} ± {result['return_std']:.3f}, length {result['length_mean']:.1f}")
    if "success_rate" in result:
        line += f", success {result['success_rate']:.2f}"
    line += f" ({result['distinct_episodes']} distinct)"
    click.echo(line)
    for path in result.get("videos", []):
        click.echo(f"  video: {path}")
    click.echo(f"  written: {result['file']}")


@cli.command("runs")
@click.argument("root", default="runs", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def runs_(root: str, as_json: bool) -> None:
    """List the runs under ROOT (default ./runs): recipe, status, steps and headline metric."""
    from .runs import list_runs

    rows = list_runs(root)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"runs under {root}", caption="`intarsia.load(RUN)` opens one; `intarsia eval RUN` plays it")
    for col in ("run", "recipe", "status", "steps", "headline", "when"):
        table.add_column(col, overflow="fold")
    colour = {"finished": "green", "failed": "red", "running": "yellow", "interrupted": "magenta"}
    for row in rows:
        status = row["status"] + (f": {row['error']}" if row.get("error") else "")
        headline = f"{row['metric']} {row['value']:.4g}" if row.get("metric") else ""
        table.add_row(row["run"], row["recipe"], f"[{colour.get(row['status'], 'white')}]{status}[/]",
                      "" if row["steps"] is None else str(row["steps"]), headline, row["when"])
    Console().print(table)


@cli.command("new-plugin")
@click.argument("name")
@click.option("--dir", "parent", default=".", type=click.Path(file_okay=False), help="Where to create intarsia-NAME/.")
def new_plugin(name: str, parent: str) -> None:
    """Create a plugin package skeleton: pyproject with the entry point, plugin.py, a reward, a recipe,
    conformance tests, a GitHub Actions workflow, README. NAME must not clash with an installed plugin."""
    from .scaffold import create_plugin

    path = create_plugin(name, parent)
    where = str(path) if path.is_absolute() else f"./{path}"  # pip reads a bare name as a PyPI project
    click.echo(f"created {where}\nnext: pip install '{where}[test]' && intarsia plugins && pytest {where}/tests\n"
               f"(while developing: pip install -e '{where}[test]')")


def _print_report(report: dict) -> None:
    """The report's scalars and every ``metrics`` table in it (top level, or one level down for jobs
    whose report nests a training run, like Motif's pipeline)."""
    if int(os.environ.get("LOCAL_RANK", "0")) != 0:
        return

    def scalars(d: dict) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()
                if isinstance(v, (int, float, str, bool)) and k not in {"run_dir", "recipe", "name", "plot"}}

    shown = scalars(report)
    if isinstance(report.get("metrics"), dict):
        shown.update(scalars(report["metrics"]))
    for key, value in report.items():
        if isinstance(value, dict) and isinstance(value.get("metrics"), dict):
            shown.update({f"{key}.{k}": v for k, v in scalars(value["metrics"]).items()})
    for key in ("schema", "seed", "world_size", "note", "step_unit"):
        shown.pop(key, None)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"run finished: {report.get('recipe', '')}", show_header=False, box=None,
                  caption=f"every number: {report.get('run_dir')}/report.json")
    table.add_column(style="bold")
    table.add_column(overflow="fold", max_width=90)
    for key, value in list(shown.items())[:24]:
        text = str(value)
        table.add_row(key, text if len(text) <= 120 else text[:117] + "...")
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or bool(os.environ.get("INTARSIA_DEBUG"))
    try:
        _host(check=False).add_commands(cli)
        cli.main(args=argv, prog_name="intarsia", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except IntarsiaError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    return 0


if __name__ == "__main__":  # `python -m intarsia.cli` (also what DDP children re-execute)
    sys.exit(main())
