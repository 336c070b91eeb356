"""The sweep loop: plan the runs of a new sweep (or re-read a killed one), hand them to a launcher, follow
them to the end and keep ``sweep.yaml`` current, with one progress line for the whole sweep."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from intarsia.errors import ConfigError
from intarsia.runner.run_dir import RunDirBusyError, RunDirLock, make_run_dir
from intarsia.sweeps import grid as grids
from intarsia.sweeps import manifest as mf
from intarsia.sweeps.launchers import LOG_NAME, Task, make_launcher

POLL_S = 0.2
BUSY_WAIT_S = 30.0  # how long a resume waits for a killed sweep's runs to let go of their folders


def plan(source: str, overrides: Iterable[str] = (), *, seeds: Any = "0", grid: Any = (),
         launcher: str | None = None, settings: Mapping[str, Any] | None = None, registry=None,
         sweep_dir: str | Path | None = None) -> tuple[Path, mf.Manifest]:
    """Check every grid point's config, create ``<log.dir>/<name>/sweep-<stamp>/`` and its manifest."""
    from intarsia.runner.api import prepare

    overrides = list(overrides)
    seeds = grids.parse_seeds(seeds)
    axes = grids.parse_grid(grid)
    raw, _, config = prepare(source, overrides, registry)
    for point in grids.points(axes):  # a bad grid key or value fails here, before anything is launched
        prepare(source, [*overrides, *(f"{k}={v}" for k, v in point.items())], registry)
    if int(getattr(config, "cpu_threads", 0) or 0) == 0:
        overrides.append("cpu_threads=1")  # runs share the machine: one torch thread each unless configured
    section = raw.get("launcher") if hasattr(raw, "get") else None
    from omegaconf import OmegaConf

    merged = dict(OmegaConf.to_container(section, resolve=True) if OmegaConf.is_config(section) else (section or {}))
    merged.update({k: v for k, v in (settings or {}).items() if v is not None and v != ()})
    name = str(launcher or merged.pop("name", None) or "local")
    merged.pop("name", None)
    make_launcher_config_check(name, merged)
    if os.path.isfile(str(source)):
        source = str(Path(source).resolve())  # SLURM nodes and later resumes may start elsewhere
    run_name = str(raw.get("name", "run"))
    root = Path(str(raw.get("log", {}).get("dir", "runs")))
    sweep_dir = Path(sweep_dir) if sweep_dir is not None else _new_sweep_dir(root / run_name.replace("/", "-"))
    make_run_dir(sweep_dir)
    runs = [mf.RunEntry(dir=grids.run_dir_name(p, s), point=p, seed=s) for p in grids.points(axes) for s in seeds]
    manifest = mf.Manifest(name=run_name, recipe=str(source), overrides=overrides, grid=axes, seeds=seeds,
                           launcher={"name": name, **merged}, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           runs=runs)
    mf.write(sweep_dir, manifest)
    return sweep_dir, manifest


def make_launcher_config_check(name: str, settings: Mapping[str, Any]) -> None:
    from intarsia.sweeps.launchers import launcher_config

    launcher_config(name, dict(settings))


def run(sweep_dir: Path, manifest: mf.Manifest, *, resume: bool = False, settings: Mapping[str, Any] | None = None,
        launcher: str | None = None, progress: bool = True) -> mf.Manifest:
    """Run every run of ``manifest`` that has not finished; returns the manifest with each run's final state.
    One failing run does not stop the others."""
    sweep_dir = Path(sweep_dir)
    lock = RunDirLock(sweep_dir)
    try:
        lock.acquire()
    except RunDirBusyError:
        raise ConfigError(f"sweep {str(sweep_dir)!r} is being run by another process; wait for it or stop it") from None
    try:
        if launcher or settings:
            extra = {k: v for k, v in (settings or {}).items() if v is not None and v != ()}
            manifest.launcher = {**({} if launcher and launcher != manifest.launcher.get("name") else manifest.launcher),
                                 **extra, "name": launcher or manifest.launcher.get("name", "local")}
        launcher_settings = {k: v for k, v in manifest.launcher.items() if k != "name"}
        runner = make_launcher(manifest.launcher.get("name", "local"), launcher_settings, sweep_dir)
        queue = _queue(sweep_dir, manifest, runner, resume)
        mf.write(sweep_dir, manifest)
        with _Progress(manifest, enabled=progress) as bar:
            try:
                _loop(sweep_dir, manifest, runner, queue, bar)
            except BaseException:
                runner.close()
                for entry in manifest.runs:
                    if entry.state == "running" and mf.disk_state(sweep_dir / entry.dir) != "done":
                        entry.state, entry.error = "failed", "interrupted"
                mf.write(sweep_dir, manifest)
                raise
        return manifest
    finally:
        lock.release()


def _queue(sweep_dir: Path, manifest: mf.Manifest, runner, resume: bool) -> list[Task]:
    """Tasks for every run not done; on a resume, what each run folder holds decides how it restarts."""
    queue = []
    for index, entry in enumerate(manifest.runs):
        run_dir = sweep_dir / entry.dir
        state = mf.disk_state(run_dir)
        if state == "done":
            entry.state, entry.error = "done", ""
            continue
        if resume and entry.state == "running" and runner.attach(index, entry.job_id):
            continue  # still queued or running on the cluster: follow it
        entry.state = "pending"
        queue.append(Task(index=index, argv=_argv(manifest, entry, run_dir, state), run_dir=run_dir))
    return queue


def _argv(manifest: mf.Manifest, entry: mf.RunEntry, run_dir: Path, state: str) -> list[str]:
    if state == "checkpointed":
        return ["resume", str(run_dir.resolve())]
    ckpts = run_dir / "checkpoints"
    if ckpts.is_dir() and not any(ckpts.iterdir()):
        ckpts.rmdir()  # an empty store from a killed first attempt would make `run` refuse the folder
    point = [f"{k}={v}" for k, v in entry.point.items()]
    return ["run", manifest.recipe, *manifest.overrides, *point, f"seed={entry.seed}", "--run-dir", str(run_dir.resolve())]


def _loop(sweep_dir: Path, manifest: mf.Manifest, runner, queue: list[Task], bar) -> None:
    while queue or runner.active():
        ready = [t for t in queue if _free(t.run_dir)]
        waiting = [t for t in queue if t not in ready]
        started = runner.start(ready)
        queue[:] = [t for t in ready if t not in started] + waiting
        for task in started:
            entry = manifest.runs[task.index]
            entry.state, entry.error, entry.attempts = "running", "", entry.attempts + 1
            entry.job_id = runner.job_id(task)
        changed = bool(started)
        for index in runner.finished():
            entry = manifest.runs[index]
            run_dir = sweep_dir / entry.dir
            if mf.disk_state(run_dir) == "done":
                entry.state, entry.error = "done", ""
            else:
                entry.state, entry.error = "failed", _last_line(run_dir / LOG_NAME)
            bar.finished(entry)
            changed = True
        if changed:
            mf.write(sweep_dir, manifest)
            bar.update()
        time.sleep(POLL_S)


_busy_since: dict[Path, float] = {}


def _free(run_dir: Path) -> bool:
    """Whether no process holds the run folder (a killed sweep's run may take a moment to die)."""
    if not (run_dir / ".intarsia.lock").exists():
        return True
    try:
        RunDirLock(run_dir).acquire().release()
        _busy_since.pop(run_dir, None)
        return True
    except RunDirBusyError:
        first = _busy_since.setdefault(run_dir, time.monotonic())
        if time.monotonic() - first > BUSY_WAIT_S:
            raise ConfigError(f"run folder {str(run_dir)!r} is still in use by another process after {BUSY_WAIT_S:.0f} s;"
                              " stop it and resume the sweep again") from None
        return False


def _last_line(log: Path) -> str:
    """The line that says why a run failed: the ``error: …`` line, else the log's last line."""
    try:
        lines = [ln.strip() for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        return f"no log at {log}"
    errors = [ln for ln in lines if ln.startswith("error:")]
    return (errors or lines or ["ended without a report and without output"])[-1][:300]


def _new_sweep_dir(parent: Path) -> Path:
    make_run_dir(parent)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path, n = parent / f"sweep-{stamp}", 1
    while True:
        try:
            path.mkdir()
            return path
        except FileExistsError:
            n += 1
            path = parent / f"sweep-{stamp}-{n}"


class _Progress:
    """A rich line ``sweep NAME ━━━━ 5/8  done 4 · running 2 · failed 1`` on a terminal; elsewhere (logs, CI,
    INTARSIA_NO_PROGRESS) one plain line per finished run."""

    def __init__(self, manifest: mf.Manifest, enabled: bool = True):
        self.manifest = manifest
        from rich.console import Console

        self.console = Console(stderr=True)
        self.live = enabled and self.console.is_terminal and not os.environ.get("INTARSIA_NO_PROGRESS")
        self.quiet = not enabled

    def _stats(self) -> str:
        c = self.manifest.counts()
        return (f"[green]done {c['done']}[/green] · [cyan]running {c['running']}[/cyan] · "
                f"[red]failed {c['failed']}[/red] · pending {c['pending']}")

    def __enter__(self) -> _Progress:
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("[bold]sweep {task.description}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), console=self.console)
            self.bar.__enter__()
            self.task = self.bar.add_task(self.manifest.name, total=len(self.manifest.runs), stats=self._stats())
            self.update()
        return self

    def update(self) -> None:
        if self.live:
            c = self.manifest.counts()
            self.bar.update(self.task, completed=c["done"] + c["failed"], stats=self._stats())

    def finished(self, entry: mf.RunEntry) -> None:
        if self.quiet:
            return
        c = self.manifest.counts()
        text = f"{entry.dir}: {entry.state}" + (f" ({entry.error})" if entry.error else "")
        line = (f"[{c['done']}/{len(self.manifest.runs)} done, {c['running']} running, {c['failed']} failed] {text}")
        if self.live:
            self.bar.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        if self.live:
            self.bar.__exit__(*exc)
