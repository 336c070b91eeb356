"""The run directory as a resource: created with a clear error, held by one process at a time, and swept of
the temporary files a killed process left behind.

The lock is ``fcntl.flock`` on ``<run dir>/.intarsia.lock``: the kernel drops it when the holding process
exits for any reason (kill -9 included), so a crash never leaves a directory locked. The file keeps the
holder's pid only to name it in the error a second process gets. Run folders may sit where others can
write (a shared disk), so neither the lock nor a temporary file follows a symlink: a link planted there is
an error, never a way to truncate or overwrite the file it points to.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from pathlib import Path

from intarsia.errors import IntarsiaError

LOCK_NAME = ".intarsia.lock"
_TMP = re.compile(r"\.tmp(\d+)$")  # what atomic_write and checkpoint.save leave behind when killed mid-write


class RunDirBusyError(IntarsiaError):
    """Another process is running in (or resuming) this run directory."""


def make_run_dir(path: Path) -> Path:
    """Create ``path`` (and parents), turning OS errors into one line that names the directory."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test.tmp{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise IntarsiaError(f"cannot use {str(path)!r} as a run directory: {exc.strerror or exc}; "
                            "choose a writable place with --run-dir (or log.dir=…)") from None
    return path


class RunDirLock:
    """An exclusive, non-blocking lock on a run directory, held from ``acquire`` until ``release`` or exit."""

    def __init__(self, path: Path):
        self.file = Path(path) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> RunDirLock:
        try:
            import fcntl
        except ImportError:  # not POSIX: run unlocked rather than not at all
            return self
        try:
            fd = os.open(self.file, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP or self.file.is_symlink():
                raise IntarsiaError(f"{str(self.file)!r} is a symlink: a run directory's lock file must be a plain "
                                    "file (remove the link)") from None
            raise IntarsiaError(f"cannot open the lock file {str(self.file)!r}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                os.close(fd)
                raise IntarsiaError(f"cannot lock {str(self.file)!r}: {exc.strerror or exc} (a filesystem without "
                                    "flock support? choose another --run-dir)") from None
            holder = os.read(fd, 64).decode(errors="replace").strip()
            os.close(fd)
            who = f"process {holder}" if holder else "another process"
            raise RunDirBusyError(f"run directory {str(self.file.parent)!r} is in use by {who} (a run or resume "
                                  "is still going): wait for it to finish, stop it, or choose another --run-dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> RunDirLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete ``*.tmp<PID>`` files of processes that no longer run (in the run dir and its checkpoints/).
    Only call this while holding the run directory's lock."""
    removed = []
    for folder in (path, path / "checkpoints"):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            m = _TMP.search(p.name)
            if m and p.is_file() and not _alive(int(m.group(1))):
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a leftover of ours can only be from before this process wrote anything
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to a temporary name and rename it over ``path`` (readers see the old or the new file).

    The temporary file is created exclusively under an unpredictable name (``mkstemp``: ``O_EXCL``, so a
    file or symlink planted under that name is never opened); its ``.tmp<pid>`` tail lets
    :func:`remove_stale_temporaries` sweep it if the process is killed mid-write."""
    write_new_file(path, text.encode("utf-8"))


def write_new_file(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` by ``data`` through an exclusively created temporary file beside it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{os.getpid()}")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
