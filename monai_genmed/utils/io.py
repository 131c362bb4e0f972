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

__all__ = ["atomic_path", "write_csv_atomic", "write_json_atomic"]


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
