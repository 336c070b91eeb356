"""intarsia: research methods as plugins that compose. Importing this package is cheap (no torch)."""

from __future__ import annotations

from .hookspecs import hookimpl, hookspec

__version__ = "0.1.0"
__all__ = ["hookimpl", "hookspec", "load", "run", "sweep", "__version__"]


def __getattr__(name: str):
    # imported on first use, so that ``import intarsia`` (and ``intarsia --help``) stays free of torch and lightning
    if name in ("load", "run"):
        from . import runs

        return getattr(runs, name)
    if name == "sweep":
        from .sweeps import sweep

        return sweep
    raise AttributeError(f"module 'intarsia' has no attribute {name!r}")
