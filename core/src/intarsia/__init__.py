"""intarsia: research methods as plugins that compose. Importing this package is cheap (no torch)."""

from __future__ import annotations

from .hookspecs import hookimpl, hookspec

__version__ = "0.1.0"
__all__ = ["hookimpl", "hookspec", "sweep", "__version__"]


def __getattr__(name: str):
    if name == "sweep":  # imported on first use: `import intarsia` stays cheap
        from .sweeps import sweep

        return sweep
    raise AttributeError(f"module 'intarsia' has no attribute {name!r}")
