"""intarsia: research methods as plugins that compose. Importing this package is cheap (no torch)."""

from __future__ import annotations

from .hookspecs import hookimpl, hookspec

__version__ = "0.1.0"
__all__ = ["hookimpl", "hookspec", "__version__"]
