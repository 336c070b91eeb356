"""intarsia: research methods as plugins that compose. Importing this package is cheap (no torch)."""

from __future__ import annotations

from .plugins import hookimpl

__version__ = "0.1.0"
__all__ = ["hookimpl", "__version__"]
