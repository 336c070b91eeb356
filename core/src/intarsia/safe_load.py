"""Loading torch files that someone else may have made: tensors, numbers, strings and containers only.

Every checkpoint and model loader goes through :func:`load_torch_file`, so a damaged, truncated or hostile
file ends as one line naming it. torch's own message for a file its safe unpickler refuses suggests
retrying with ``weights_only=False``, which would run whatever code the file names: that advice never
reaches the user.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

from intarsia.errors import IntarsiaError


class FileLoadError(IntarsiaError):
    """A torch file that does not exist, is damaged, or holds more than plain data."""


def load_torch_file(path: str | os.PathLike, *, what: str = "file", map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``; any failure becomes a one-line :class:`FileLoadError`
    ``"cannot load <what> <path>: <reason>"``."""
    import torch

    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # UnpicklingError, EOFError, RuntimeError, BadZipFile, OSError, ...: all one line
        raise FileLoadError(f"cannot load {what} {str(path)!r}: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if type(exc).__name__ == "UnpicklingError" or "weights_only" in str(exc):
        return "it holds objects other than tensors, numbers, strings and containers (refused, never unpickled)"
    if isinstance(exc, (EOFError, zipfile.BadZipFile)):
        return f"the file is truncated or damaged ({type(exc).__name__})"
    first = " ".join(str(exc).split()).split(". ")[0][:200]  # torch's messages run to many lines
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
