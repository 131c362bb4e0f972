"""Atomic file writes: a reader (or a run killed half-way) never sees half a file.

Every writer here writes a temporary file beside the target and moves it into place with :func:`os.replace`
(atomic on POSIX and Windows). A write that fails leaves the old file as it was and no temporary behind.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = ["atomic_path", "check_output_dir", "write_csv_atomic", "write_json_atomic"]


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[str]:
    """A temporary path beside ``path`` to write to; moved onto ``path`` when the block ends without error.

    Args:
        path: the file to (re)place; its folder is created.
        suffix: ending of the temporary name, for writers that pick the format from it (``".png"``, ``".nii.gz"``).
    """
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}{suffix}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json_atomic(path: str | os.PathLike, data: Any, **dump_kwargs: Any) -> None:
    """``json.dump(data)`` into ``path`` atomically, ending with a newline; ``dump_kwargs`` go to :func:`json.dump`."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(data, f, **dump_kwargs)
        f.write("\n")


def write_csv_atomic(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]], restval: Any = "") -> None:
    """``rows`` as a CSV with a header, atomically; the columns are every key in order of first appearance
    (a row without a column gets ``restval``)."""
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
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
