"""The Python API to runs: ``intarsia.run`` starts one (the twin of ``intarsia run``), ``intarsia.load`` opens
a finished (or interrupted) run folder and rebuilds its trained agent::

    import intarsia
    run = intarsia.load("runs/tiny/20261207-101500")
    run.report["metrics"], run.metrics.tail()          # report.json, logs/metrics.csv as a DataFrame
    env, policy = run.env(), run.policy                 # the run's env and its agent, newest checkpoint
    action, state = policy.act(obs[None], None, explore=False)

Importing this module is cheap; torch and lightning are imported when a policy is first built.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from intarsia.errors import ConfigError, IntarsiaError


def run(source: str | Mapping | Any, overrides: Iterable[str] | None = None, *, run_dir: str | Path | None = None,
        **options: Any) -> Run:
    """Run a recipe name, a YAML file or a config mapping, as ``intarsia run`` does, and return the run.

    ``overrides`` are ``key.path=value`` strings (as on the command line); keyword ``options`` are the same
    with the top-level key as the keyword (``steps=500``, ``policy={"lr": 1e-3}`` merges into ``policy``)."""
    from intarsia.runner.api import run_config

    items = list(overrides or []) + _dotted(options)
    report = run_config(source, items, run_dir=run_dir)
    return Run(report["run_dir"])


def load(run_dir: str | Path) -> Run:
    """Open a run folder (one holding ``config.yaml``); nothing is built until asked for."""
    path = Path(run_dir)
    if not (path / "config.yaml").is_file():
        children = sorted(p.parent.name for p in path.glob("*/config.yaml")) if path.is_dir() else []
        hint = f" (its sub-runs: {', '.join(children)})" if children else ""
        raise ConfigError(f"{str(path)!r} is not a run directory (no config.yaml){hint}")
    return Run(path)


class Run:
    """A run folder: its config, report, metrics, env and trained policy (each read or built on first use)."""

    def __init__(self, path: str | Path):
        self.dir = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.dir)!r}, status={self.status!r})"

    @cached_property
    def _prepared(self):
        from intarsia.runner.api import prepare

        return prepare(str(self.dir / "config.yaml"))

    @property
    def config(self) -> Any:
        """The resolved config dataclass (``TrainConfig`` for the train job), every default filled in."""
        return self._prepared[2]

    @property
    def raw_config(self) -> Any:
        """``config.yaml`` as an omegaconf ``DictConfig``."""
        return self._prepared[0]

    @property
    def job(self) -> str:
        return self._prepared[1]

    @property
    def report(self) -> dict:
        """``report.json`` (empty while the run has not finished)."""
        path = self.dir / "report.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    @property
    def status(self) -> str:
        """``finished``, ``failed``, ``running`` or ``interrupted`` (see :mod:`intarsia.runner.status`)."""
        from intarsia.runner.status import read_status

        return read_status(self.dir)["status"]

    @property
    def metrics(self):
        """``logs/metrics.csv`` as a pandas DataFrame, one row per logged step (empty when nothing was logged)."""
        import pandas as pd

        path = self.dir / "logs" / "metrics.csv"
        if not path.is_file() or path.stat().st_size == 0:
            return pd.DataFrame()
        return pd.read_csv(path)

    def _train_config(self):
        cfg = self.config
        if not hasattr(cfg, "env") or not hasattr(cfg, "policy"):
            subs = sorted(p.parent.name for p in self.dir.glob("*/checkpoints/latest.json"))
            hint = (f"; its agents are in sub-runs: intarsia.load({str(self.dir / subs[0])!r})" if subs else "")
            raise IntarsiaError(f"the {self.job!r} run in {str(self.dir)!r} has no env and policy of its own{hint}")
        return cfg

    def env(self, render_mode: str | None = None, **overrides: Any):
        """A fresh env as the run configured it, with ``overrides`` of its config fields (``max_steps=50``)
        and optionally a gymnasium ``render_mode`` (``"rgb_array"`` for videos)."""
        from intarsia.build import build, make_spec

        cfg = self._train_config()
        spec = cfg.env
        if overrides:
            import dataclasses

            fields = dataclasses.asdict(spec.config) if spec.config is not None else {}
            spec = make_spec("envs", {"name": spec.name, **fields, **overrides}, path="env")
        extra = {"render_mode": render_mode} if render_mode is not None else {}
        return build("envs", spec, **extra)

    def env_spec(self):
        """The :class:`~intarsia.interfaces.EnvSpec` the policy was built with in training."""
        from intarsia.compose import term_name
        from intarsia.interfaces import EnvSpec

        cfg = self._train_config()
        env = self.env()
        try:
            max_steps = getattr(getattr(env, "spec", None), "max_episode_steps", None)
            terms = tuple(["extrinsic"] + [term_name(s) for s in cfg.rewards])
            return EnvSpec(env.observation_space, env.action_space, int(getattr(cfg, "num_envs", 1)), terms, max_steps)
        finally:
            env.close()

    @cached_property
    def policy(self):
        """The trained policy: built from the config on the CPU, loaded from the newest complete checkpoint
        (falling back past a damaged one), its networks in eval mode."""
        return self.load_policy()

    def load_policy(self, accelerator: str = "cpu"):
        """:attr:`policy` on another accelerator (``"cuda"``); a fresh object on each call."""
        from intarsia.build import build

        cfg = self._train_config()
        from lightning.fabric import Fabric

        from intarsia.runner.quiet import quiet_third_party

        quiet_third_party()

        fabric = Fabric(accelerator=accelerator, devices=1, strategy="auto", precision="32-true")
        policy = build("policies", cfg.policy, env_spec=self.env_spec(), fabric=fabric)
        state = self.checkpoint()
        try:
            policy.load_state_dict(state["policy"])
        except (RuntimeError, KeyError, ValueError, TypeError) as exc:
            from intarsia.runner.fabric import one_line

            raise IntarsiaError(f"the checkpoint at step {state['step']} in {self.dir / 'checkpoints'} does not fit "
                                f"its config ({one_line(exc)})") from None
        _eval_mode(policy)
        policy.intarsia_step = int(state["step"])
        return policy

    def checkpoint(self) -> dict:
        """The newest loadable checkpoint's payload (rank 0's), plus ``step``."""
        from intarsia.runner import checkpoint as ckpt

        folder = self.dir / "checkpoints"
        steps, _note = ckpt.candidates(folder)
        if not steps:
            raise IntarsiaError(f"{str(self.dir)!r} has no checkpoint yet (nothing in {folder})")
        errors = []
        for step in steps:
            try:
                state = ckpt.load(folder, step, 0, 1)
            except IntarsiaError as exc:
                errors.append(str(exc))
                continue
            if "policy" not in state:
                raise IntarsiaError(f"the checkpoint at step {step} in {folder} holds no policy")
            return {**state, "step": int(state.get("step", step))}
        raise IntarsiaError(errors[0])


def _eval_mode(policy: Any) -> None:
    """``policy.eval()`` when it has one, else eval mode for every torch module it holds."""
    if callable(getattr(policy, "eval", None)):
        policy.eval()
        return
    import torch

    for value in vars(policy).values():
        if isinstance(value, torch.nn.Module):
            value.eval()


def _dotted(options: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``{"policy": {"lr": 0.1}, "steps": 5}`` -> ``["policy.lr=0.1", "steps=5"]`` (values as YAML)."""
    import yaml

    out = []
    for key, value in options.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out += _dotted(value, f"{name}.")
        else:
            text = yaml.safe_dump(value, default_flow_style=True, width=10**9).strip()
            out.append(f"{name}={text.removesuffix('...').strip()}")
    return out


#: report metrics shown as a run's headline, in order of preference (else the report's first metric)
HEADLINE = ("eval_success", "success_rate", "eval_return", "return_mean")


def list_runs(root: str | Path = "runs") -> list[dict]:
    """Every run folder under ``root`` (a folder holding ``config.yaml``; sub-runs of a pipeline included),
    newest first: ``run`` (path relative to ``root``), ``recipe``, ``status``, ``error``, ``steps``,
    ``metric``/``value`` (the headline) and ``when``."""
    import time

    from intarsia.runner import checkpoint as ckpt
    from intarsia.runner.status import read_status

    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{str(root)!r} is not a folder of runs")
    rows = []
    for cfg in root.rglob("config.yaml"):
        folder = cfg.parent
        status = read_status(folder)
        report = {}
        if (folder / "report.json").is_file():
            try:
                report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                report = {}
        steps = report.get("steps", status.get("steps"))
        if steps is None:
            marker = ckpt.latest(folder / "checkpoints")
            steps = marker["step"] if marker else None
        metric, value = headline(report)
        rows.append({"run": str(folder.relative_to(root)) if folder != root else ".",
                     "recipe": str(report.get("recipe") or _recipe_of(cfg)), "status": status["status"],
                     "error": status.get("error", ""), "steps": steps, "metric": metric, "value": value,
                     "when": time.strftime("%Y-%m-%d %H:%M", time.localtime(cfg.stat().st_mtime)),
                     "_mtime": cfg.stat().st_mtime})
    rows.sort(key=lambda r: (-r.pop("_mtime"), r["run"]))
    return rows


def headline(report: Mapping[str, Any]) -> tuple[str, float | None]:
    """The metric a run is summed up by: the first of :data:`HEADLINE` in ``report["metrics"]``, else its
    first number (a pipeline's report puts its headline first)."""
    metrics = report.get("metrics")
    if not isinstance(metrics, Mapping) or not metrics:
        metrics = {k: v for k, v in report.items() if k not in ("schema", "steps", "seconds", "seed", "world_size")}
    numbers = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    for key in HEADLINE:
        if key in numbers:
            return key, float(numbers[key])
    for key, value in numbers.items():
        if key != "episodes":
            return key, float(value)
    return "", None


def _recipe_of(config_file: Path) -> str:
    import yaml

    try:
        data = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return ""
    return str(data.get("recipe") or data.get("name") or "") if isinstance(data, dict) else ""
