"""Built-in DAG environments, built from :class:`intarsia_gfn.config.EnvConfig`."""

from __future__ import annotations

from intarsia.errors import ConfigError

from ..config import EnvConfig


def make_env(config: EnvConfig, device="cpu"):
    if config.name == "hypergrid":
        from .hypergrid import HyperGrid

        return HyperGrid(config, device=device)
    if config.name == "bitseq":
        from .bitseq import BitSequence

        return BitSequence(config, device=device)
    raise ConfigError(f"env.name: unknown DAG environment {config.name!r}; built-in ones are hypergrid, bitseq")
