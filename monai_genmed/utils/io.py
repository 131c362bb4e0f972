"""Atomic file writes: a reader (or a run killed half-way) never sees half a file.

Every writer here writes a temporary file beside the target, flushes it to the disk and moves it into place with
:func:`os.replace` (atomic on POSIX and Windows). A write that fails leaves the old file as it was and no temporary
behind; a process killed mid-write (``SIGKILL``, out of memory) leaves a temporary named after its process id, which
:func:`remove_stale_temporaries` deletes once that process is gone. :class:`FolderLock` keeps two runs out of one
output folder.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import re
import socket
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = [
    "FolderLock",
    "FolderLockedError",
    "atomic_path",
    "check_output_dir",
    "check_output_dirs",
    "fsync_folder",
    "remove_stale_temporaries",
    "write_csv_atomic",
    "write_json_atomic",
]

#: ``{target}.tmp{pid}{suffix}``: the temporary names of :func:`atomic_path`
_TEMPORARY = re.compile(r"^(?P<target>.+)\.tmp(?P<pid>\d+)(?P<suffix>(\.[A-Za-z0-9]+)*)$")
#: Ignite's ``DiskSaver(atomic=True)`` temporaries (``tempfile`` names), left by runs of earlier versions
_IGNITE_TEMPORARY = re.compile(r"^tmp[a-z0-9_]{8}$")


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[str]:
    """A temporary path beside ``path`` to write to; moved onto ``path`` when the block ends without error.

    Args:
        path: the file to (re)place; its folder is created.
        suffix: ending of the temporary name, for writers that pick the format from it (``".png"``, ``".nii.gz"``).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}{suffix}"
    try:
        yield tmp
        _fsync_file(tmp)  # the data is on the disk before the name points at it: a crash cannot leave an empty file
        os.replace(tmp, path)
        fsync_folder(folder)  # and the rename itself survives a power cut
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder: str | os.PathLike) -> None:
    """Flush a folder's entries (a rename, a deletion) to the disk; a no-op where folders cannot be opened (Windows)."""
    if sys.platform == "win32":
        return
    fd = os.open(os.fspath(folder), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process writes no temporary of its own before it cleans up
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's live process (or we cannot tell): keep its file
    return True


def remove_stale_temporaries(folder: str | os.PathLike) -> list[str]:
    """Delete the temporaries that killed writers left in ``folder``; return their paths.

    A temporary of :func:`atomic_path` carries its writer's process id and is kept while that process runs (it may
    be writing it now); Ignite's own temporaries (``tmpXXXXXXXX``, left by earlier versions of this package) are
    always removed. Files of any other name are never touched.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return []
    removed = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        match = _TEMPORARY.match(name)
        stale = (match is not None and not _process_alive(int(match["pid"]))) or _IGNITE_TEMPORARY.match(name)
        if stale and os.path.isfile(path):
            try:
                os.remove(path)
            except FileNotFoundError:
                continue
            removed.append(path)
    return removed


class FolderLockedError(RuntimeError):
    """Another live process holds the folder's lock."""


class FolderLock:
    """An exclusive lock on an output folder, held by one process for as long as it runs (or until ``release``).

    The lock is the operating system's on a file ``name`` inside the folder (``fcntl.flock`` on POSIX, ``msvcrt``
    on Windows), so it is released when the process ends in any way, ``SIGKILL`` included: a killed run never
    leaves a folder locked. The file holds the holder's process id, host and start time for the message of the
    run that is refused. A second lock on the same folder in the same process takes it over from the first (one
    process runs one training at a time; a test or a notebook may build several in turn).

    Args:
        folder: the folder to lock (created if needed).
        name: the lock file's name.
    """

    _held: dict[str, FolderLock] = {}  # real path of the lock file -> holder in this process

    def __init__(self, folder: str | os.PathLike, name: str = ".lock") -> None:
        self.folder = os.fspath(folder)
        self.path = os.path.join(self.folder, name)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, what: str = "a run") -> None:
        """Take the lock or raise :class:`FolderLockedError` naming the folder and the process that holds it.

        Args:
            what: what this process is doing, for the refusal's message (``"a training"``).
        """
        if self.held:
            return
        os.makedirs(self.folder, exist_ok=True)
        key = os.path.realpath(self.path)
        earlier = FolderLock._held.pop(key, None)
        if earlier is not None:
            earlier.release()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            holder = os.read(fd, 4096).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise FolderLockedError(
                f"{self.folder!r} is in use by another process ({holder}). Two runs writing into one folder overwrite "
                f"each other's files. Wait for that run to end or stop it, or start {what} in another folder "
                "(in the bundles: --ckpt_dir and --output_dir)."
            )
        started = datetime.datetime.now().isoformat(timespec="seconds")
        record = f"pid {os.getpid()} on {socket.gethostname()}, started {started}: {' '.join(sys.argv)[:300]}"
        os.ftruncate(fd, 0)
        os.write(fd, record.encode())
        self._fd = fd
        FolderLock._held[key] = self

    def release(self) -> None:
        """Give the lock back (the file stays: deleting it would race with a process that opened it)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        FolderLock._held.pop(os.path.realpath(self.path), None)
        try:
            os.ftruncate(fd, 0)
        finally:
            _unlock(fd)
            os.close(fd)

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


if sys.platform == "win32":  # pragma: no cover - CI runs on Linux
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def write_json_atomic(path: str | os.PathLike, data: Any, **dump_kwargs: Any) -> None:
    """``json.dump(data)`` into ``path`` atomically, ending with a newline; ``dump_kwargs`` go to :func:`json.dump`."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, **dump_kwargs)
        f.write("\n")


def write_csv_atomic(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]], restval: Any = "") -> None:
    """``rows`` as a CSV with a header, atomically; the columns are every key in order of first appearance
    (a row without a column gets ``restval``)."""
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, restval=restval)
        writer.writeheader()
        writer.writerows(rows)


def check_output_dir(path: str | os.PathLike, name: str = "output_dir") -> str:
    """Create the folder results go to, or refuse it before any work is done; return the path.

    Without this check a run computes everything and then fails in a writer with ``FileExistsError: 'x/'`` (the
    path is a file) or a bare ``PermissionError``.

    Raises:
        ValueError: naming ``name``, the path, why it cannot hold results, and the fix.
    """
    path = os.fspath(path)
    if not path:
        raise ValueError(f"{name} is empty; pass the folder to write results to, e.g. --{name} results")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{name}={path!r} is a file, not a folder; pass a folder (it is created if missing).")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"cannot create {name}={path!r} ({type(error).__name__}: {error.strerror or error}); pass a folder you can "
            "write to."
        ) from error
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"{name}={path!r} is not writable; pass a folder you can write to.")
    return path


def check_output_dirs(**folders: str | os.PathLike) -> list[str]:
    """:func:`check_output_dir` on each folder, named by its keyword (a config's ``output_dir``, ``ckpt_dir``, ...).

    Example (an item of a training config's ``initialize`` list)::

        {"_target_": "monai_genmed.utils.check_output_dirs", "output_dir": "@output_dir", "ckpt_dir": "@ckpt_dir"}

    Returns:
        the paths, in the order given.
    """
    return [check_output_dir(path, name) for name, path in folders.items()]
