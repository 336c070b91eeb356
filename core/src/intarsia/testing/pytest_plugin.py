"""pytest fixtures shipped with intarsia-core (loaded through the ``pytest11`` entry point)."""

from __future__ import annotations

import pytest


@pytest.fixture
def intarsia_host():
    """Factory: ``intarsia_host(plugin, ...)`` -> a :class:`~intarsia.plugins.Host` holding only the core's
    built-in plugin and the given plugins (no installed entry points), installed as the process-wide host
    for the duration of the test."""
    from intarsia.plugins import Host, set_host

    previous = []

    def make(*plugins, builtin: bool = True, strict: bool = True):
        host = Host(plugins, autoload=False, builtin=builtin, strict=strict)
        previous.append(set_host(host))
        return host

    yield make
    if previous:
        set_host(previous[0])


@pytest.fixture
def cpu_fabric():
    """A single-process Lightning Fabric on the CPU."""
    from lightning.fabric import Fabric

    fabric = Fabric(accelerator="cpu", devices=1, strategy="auto", precision="32-true")
    fabric.seed_everything(0, verbose=False)
    return fabric


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running test (runs in `make test-all`)")
