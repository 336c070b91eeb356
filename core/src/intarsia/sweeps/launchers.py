"""Where a sweep's runs execute: :class:`LocalLauncher` (a pool of processes on this machine) and
:class:`SlurmLauncher` (SLURM array jobs through ``submitit``). Both run the same command line, ``python -m
intarsia run …`` (or ``resume``), with its output in the run folder's ``run.log``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from intarsia.errors import ConfigError

LOG_NAME = "run.log"


@dataclass
class Task:
    """One attempt at one run: the ``intarsia`` arguments and the run folder."""

    index: int
    """the run's position in the manifest"""
    argv: list[str]
    """arguments after ``python -m intarsia``"""
    run_dir: Path
    """the run folder (``run.log`` goes there)"""


@dataclass
class LocalConfig:
    """The local launcher: runs as child processes of the sweep."""

    workers: int = 1
    """runs at the same time"""


@dataclass
class InProcessConfig:
    """The in-process launcher: the runs one after another in the sweep's own process, through the same
    ``intarsia`` entry (no interpreter start per run: for many short runs; a failing run still stops no other).
    No resume across a killed sweep beyond what the runs' own checkpoints give."""


@dataclass
class SlurmConfig:
    """The SLURM launcher: one array job per batch of runs, submitted with submitit."""

    partition: str | None = None
    """the partition (None: the cluster's default)"""
    time: int = 60
    """time limit per run, in minutes"""
    cpus: int = 1
    """CPUs per run (``--cpus-per-task``)"""
    gpus: int = 0
    """GPUs per run (``--gpus-per-node``)"""
    mem: str | None = None
    """memory per run, like ``8G`` (None: the cluster's default)"""
    account: str | None = None
    """the account to charge (``--account``)"""
    setup: list[str] = field(default_factory=list)
    """shell lines run before each run on the node (``module load …``, ``source venv/bin/activate``)"""
    parallelism: int = 256
    """array tasks running at the same time (``--array=…%N``)"""


def launcher_config(name: str, settings: dict[str, Any]):
    """The typed settings of launcher ``name`` from a ``launcher:`` mapping (unknown keys are an error)."""
    cls = {"local": LocalConfig, "slurm": SlurmConfig, "inprocess": InProcessConfig}.get(name)
    if cls is None:
        raise ConfigError(f"--launcher: unknown launcher {name!r} (choose local, slurm or inprocess)")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(settings) - known - {"name"})
    if unknown:
        raise ConfigError(f"launcher: {name} takes no {', '.join(unknown)} (it takes {', '.join(sorted(known))})")
    values = {k: v for k, v in settings.items() if k in known and v is not None}
    if "setup" in values and isinstance(values["setup"], str):
        values["setup"] = [values["setup"]]
    out = cls(**values)
    for key in ("workers", "time", "cpus", "parallelism"):
        if hasattr(out, key) and int(getattr(out, key)) < 1:
            raise ConfigError(f"launcher.{key}: must be >= 1, got {getattr(out, key)}")
    if getattr(out, "gpus", 0) < 0:
        raise ConfigError(f"launcher.gpus: must be >= 0, got {out.gpus}")
    return out


def run_entry(argv: Sequence[str], run_dir: str, cwd: str) -> int:
    """Run ``python -m intarsia ARGV`` with its output in ``run_dir/run.log`` (what a SLURM task executes).
    Raises when the run failed, so the scheduler marks the task failed too."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(run_dir) / LOG_NAME, "ab") as log:
        rc = subprocess.call([sys.executable, "-m", "intarsia", *argv], cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                             env=child_env())
    if rc != 0:
        raise RuntimeError(f"intarsia {' '.join(argv[:2])} exited with {rc} (see {Path(run_dir) / LOG_NAME})")
    return rc


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["INTARSIA_NO_PROGRESS"] = "1"  # the sweep shows one progress line; per-run bars would only fill logs
    return env


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the sweep process dies, so a killed sweep leaves no run holding
    its folder's lock (the run is resumed from its checkpoint by ``intarsia sweep --resume``)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: children may outlive a killed sweep
        pass


class LocalLauncher:
    """Up to ``workers`` runs at once, each a child process of this one."""

    name = "local"

    def __init__(self, config: LocalConfig, sweep_dir: Path):
        self.config = config
        self.cwd = os.getcwd()
        self.procs: dict[int, tuple[subprocess.Popen, Any]] = {}

    def start(self, queue: list[Task]) -> list[Task]:
        """Start as many queued tasks as there are free workers; returns those started."""
        started = []
        while queue and len(self.procs) < self.config.workers:
            task = queue.pop(0)
            task.run_dir.mkdir(parents=True, exist_ok=True)
            log = open(task.run_dir / LOG_NAME, "ab")  # noqa: SIM115 - closed when the process ends
            proc = subprocess.Popen([sys.executable, "-m", "intarsia", *task.argv], cwd=self.cwd, stdout=log,
                                    stderr=subprocess.STDOUT, env=child_env(), preexec_fn=_die_with_parent)
            self.procs[task.index] = (proc, log)
            started.append(task)
        return started

    def job_id(self, task: Task) -> str:
        return f"pid {self.procs[task.index][0].pid}"

    def finished(self) -> list[int]:
        """Indices of the tasks whose process ended since the last call."""
        done = []
        for index, (proc, log) in list(self.procs.items()):
            if proc.poll() is not None:
                log.close()
                del self.procs[index]
                done.append(index)
        return done

    def active(self) -> int:
        return len(self.procs)

    def attach(self, index: int, job_id: str) -> bool:
        return False  # a local run does not outlive its sweep (see _die_with_parent)

    def close(self) -> None:
        for proc, log in self.procs.values():
            proc.terminate()
            proc.wait()
            log.close()
        self.procs.clear()


class SlurmLauncher:
    """Every queued task in one SLURM array job (``submitit``'s ``map_array``); a task is finished once SLURM
    no longer lists it. Jobs keep running when the sweep process dies; ``--resume`` waits for them."""

    name = "slurm"

    def __init__(self, config: SlurmConfig, sweep_dir: Path):
        try:
            import submitit
        except ImportError:
            raise ConfigError("the slurm launcher needs submitit: pip install 'intarsia-core[slurm]'") from None
        self.config = config
        self.cwd = os.getcwd()
        self.folder = Path(sweep_dir) / "slurm"
        self.executor = submitit.SlurmExecutor(folder=self.folder / "%j", python=sys.executable)
        params: dict[str, Any] = {"time": int(config.time), "cpus_per_task": int(config.cpus),
                                  "array_parallelism": int(config.parallelism), "setup": list(config.setup),
                                  "job_name": f"intarsia-{Path(sweep_dir).parent.name}"}
        for key, value in (("partition", config.partition), ("mem", config.mem), ("account", config.account)):
            if value:
                params[key] = str(value)
        if config.gpus:
            params["gpus_per_node"] = int(config.gpus)
        self.executor.update_parameters(**params)
        self.jobs: dict[int, str] = {}

    def start(self, queue: list[Task]) -> list[Task]:
        if not queue:
            return []
        tasks, queue[:] = list(queue), []
        for t in tasks:
            t.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            jobs = self.executor.map_array(run_entry, [t.argv for t in tasks], [str(t.run_dir) for t in tasks],
                                           [self.cwd] * len(tasks))
        except Exception as exc:  # sbatch refused (bad partition or account): one line, nothing submitted
            raise ConfigError(f"sbatch refused the sweep's array job: {str(exc).strip().splitlines()[-1]}") from None
        for task, job in zip(tasks, jobs):
            self.jobs[task.index] = str(job.job_id)
        return tasks

    def job_id(self, task: Task) -> str:
        return self.jobs[task.index]

    def attach(self, index: int, job_id: str) -> bool:
        """Watch a job a killed sweep submitted, if SLURM still lists it."""
        if job_id and job_id in self._listed():
            self.jobs[index] = job_id
            return True
        return False

    def finished(self) -> list[int]:
        if not self.jobs:
            return []
        listed = self._listed()
        done = [i for i, job in self.jobs.items() if job not in listed]
        for i in done:
            del self.jobs[i]
        return done

    def active(self) -> int:
        return len(self.jobs)

    def close(self) -> None:
        """Cancel what is still queued or running (the sweep was interrupted)."""
        if self.jobs:
            subprocess.call(["scancel", *sorted(set(self.jobs.values()))], stderr=subprocess.DEVNULL)
            self.jobs.clear()

    def _listed(self) -> set[str]:
        """The job ids (array tasks one by one) SLURM lists as pending or running for this user."""
        import getpass

        try:
            out = subprocess.run(["squeue", "-h", "-r", "-u", getpass.getuser(), "-o", "%i"], capture_output=True,
                                 text=True, timeout=60, check=True).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            raise ConfigError(f"squeue failed ({exc}); is SLURM reachable from here?") from None
        return {line.strip() for line in out.splitlines() if line.strip()}


class InProcessLauncher:
    """Each run in this process, one at a time, through :func:`intarsia.cli.main` with its output in ``run.log``."""

    name = "inprocess"

    def __init__(self, config: InProcessConfig, sweep_dir: Path):
        self.config = config
        self.ended: list[int] = []

    def start(self, queue: list[Task]) -> list[Task]:
        """Run the first queued task to its end (the driver then reads its folder's state)."""
        if not queue:
            return []
        import contextlib

        from intarsia.cli import main

        task = queue.pop(0)
        task.run_dir.mkdir(parents=True, exist_ok=True)
        quiet = os.environ.get("INTARSIA_NO_PROGRESS")
        os.environ["INTARSIA_NO_PROGRESS"] = "1"
        try:
            with open(task.run_dir / LOG_NAME, "a") as log, contextlib.redirect_stdout(log), \
                    contextlib.redirect_stderr(log):
                try:
                    main(list(task.argv))
                except Exception as exc:  # noqa: BLE001 - a run's crash fails that run, not the sweep
                    print(f"error: {type(exc).__name__}: {exc}")
        finally:
            if quiet is None:
                os.environ.pop("INTARSIA_NO_PROGRESS", None)
            else:
                os.environ["INTARSIA_NO_PROGRESS"] = quiet
        self.ended.append(task.index)
        return [task]

    def job_id(self, task: Task) -> str:
        return "in-process"

    def finished(self) -> list[int]:
        done, self.ended = self.ended, []
        return done

    def active(self) -> int:
        return 0

    def attach(self, index: int, job_id: str) -> bool:
        return False

    def close(self) -> None:
        pass


def make_launcher(name: str, settings: dict[str, Any], sweep_dir: Path):
    config = launcher_config(name, settings)
    cls = {"local": LocalLauncher, "slurm": SlurmLauncher, "inprocess": InProcessLauncher}[name]
    return cls(config, sweep_dir)
