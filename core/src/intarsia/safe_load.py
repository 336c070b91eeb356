"""Loading torch files that someone else may have made: tensors, numbers, strings and containers only
(and saving them so that a killed job never leaves half a file).

Every checkpoint and model loader goes through :func:`load_torch_file`, so a damaged, truncated or hostile
file ends as one line naming it. torch's own message for a file its safe unpickler refuses suggests
retrying with ``weights_only=False``, which would run whatever code the file names: that advice never
reaches the user.
"""

from __future__ import annotations

import errno
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
    if isinstance(exc, OSError) and exc.errno == errno.EINVAL:
        # torch seeks back from the end of the file for the zip directory; a short file makes that seek fail
        return "the file is truncated or damaged (it ends too soon)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if type(exc).__name__ == "UnpicklingError" or "weights_only" in str(exc):
        return "it holds objects other than tensors, numbers, strings and containers (refused, never unpickled)"
    if isinstance(exc, (EOFError, zipfile.BadZipFile)) or "PytorchStreamReader failed" in str(exc):
        return f"the file is truncated or damaged ({type(exc).__name__})"
    first = " ".join(str(exc).split()).split(". ")[0][:200]  # torch's messages run to many lines
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def save_torch_file(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save(obj)`` to ``path`` atomically: through an exclusively created temporary file beside it
    (``mkstemp``, renamed over ``path``), so readers see the old or the new file and a killed job leaves no
    half file under the real name (its ``.tmp<pid>`` leftover is swept like the checkpoints')."""
    import io

    import torch

    from intarsia.runner.run_dir import write_new_file

    buf = io.BytesIO()
    torch.save(obj, buf)
    write_new_file(Path(path), buf.getvalue())
