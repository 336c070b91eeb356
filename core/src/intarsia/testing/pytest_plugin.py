"""pytest fixtures shipped with intarsia-core (loaded through the ``pytest11`` entry point)."""

from __future__ import annotations

import pytest


@pytest.fixture
def intarsia_host():
    """Factory: ``intarsia_host(plugin, "r2i", ...)`` -> a :class:`~intarsia.plugins.Host` holding only the
    core's built-in plugin and the given plugins, installed as the process-wide host for the duration of the
    test (so :func:`intarsia.build.build` and the runner see them). Pass your hooks module, and other
    installed plugins by entry-point name (``"r2i"``) to use their components by name; anything else (a
    name nothing installed has, an object without hook implementations) is an error naming it."""
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


SLOW_OPTION = "--intarsia-slow"


def pytest_addoption(parser):
    group = parser.getgroup("intarsia")
    group.addoption(SLOW_OPTION, action="store_true", default=None,
                    help="also run tests marked @pytest.mark.slow (skipped by default; also: INTARSIA_SLOW=1, "
                         "the ini option intarsia_slow = true, or selecting them with -m)")
    parser.addini("intarsia_slow", type="bool", default=False,
                  help="run tests marked @pytest.mark.slow by default (intarsia's test kit skips them otherwise)")


def pytest_configure(config):
    config.addinivalue_line("markers", f"slow: a long-running test, skipped unless run with {SLOW_OPTION} (or -m slow)")


def _run_slow(config) -> bool:
    import os

    if config.getoption(SLOW_OPTION):
        return True
    if os.environ.get("INTARSIA_SLOW", "").lower() in {"1", "true", "yes", "on"}:
        return True
    if "slow" in (config.getoption("markexpr", "") or ""):
        return True  # `-m slow` / `-m "not slow"`: the user's own selection decides
    return bool(config.getini("intarsia_slow"))


def pytest_collection_modifyitems(config, items):
    if _run_slow(config):
        return
    skip = pytest.mark.skip(reason=f"slow: run with {SLOW_OPTION} (or -m slow)")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)
