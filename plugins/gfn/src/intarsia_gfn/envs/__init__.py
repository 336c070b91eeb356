"""Built-in DAG environments, built from :class:`intarsia_gfn.config.EnvConfig` by name."""

from __future__ import annotations

import dataclasses
import importlib

from intarsia.errors import ConfigError

from ..config import EnvConfig

ENVS = {"hypergrid": "intarsia_gfn.envs.hypergrid:HyperGrid", "bitseq": "intarsia_gfn.envs.bitseq:BitSequence"}
"""env name -> "module:class"; each class lists the rewards it knows by name in ``REWARDS``"""


def env_class(name: str):
    if name not in ENVS:
        raise ConfigError(f"env.name: unknown DAG environment {name!r}; built-in ones are {', '.join(ENVS)}")
    module, attr = ENVS[name].split(":")
    return getattr(importlib.import_module(module), attr)


def make_env(config: EnvConfig, device="cpu"):
    cls = env_class(config.name)
    reward = config.reward if config.reward != "default" else cls.REWARDS[0]
    if reward not in cls.REWARDS:
        raise ConfigError(f"env.reward: unknown {config.name} reward {config.reward!r}; use one of "
                          f"{', '.join(cls.REWARDS)}")
    return cls(dataclasses.replace(config, reward=reward), device=device)
