"""Atomic writers: the old file survives a failed write, and no temporary file is left behind; killed writers'
temporaries are cleaned up; a folder lock keeps two runs apart."""

from __future__ import annotations

import csv
import json
import os

import pytest

import monai_genmed.utils.io as io_module
from monai_genmed.utils import (
    FolderLock,
    FolderLockedError,
    atomic_path,
    remove_stale_temporaries,
    write_csv_atomic,
    write_json_atomic,
)


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "manifest.json"
    write_json_atomic(target, {"a": 1})
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(target) as tmp, open(tmp, "w") as f:
            f.write('{"a": ')  # half a file, then the writer dies
            raise RuntimeError("disk full")
    assert json.loads(target.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_atomic_path_keeps_the_suffix_writers_need_and_creates_the_folder(tmp_path):
    target = tmp_path / "new" / "figure.png"
    with atomic_path(target, ".png") as tmp:
        assert tmp.endswith(".png") and tmp != str(target)
        open(tmp, "wb").write(b"png")
    assert target.read_bytes() == b"png"


def test_csv_has_every_column_in_order_of_first_appearance(tmp_path):
    target = tmp_path / "rows.csv"
    write_csv_atomic(target, [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.4, "psnr": 30.0}])
    with open(target, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "loss", "psnr"]
    assert rows[0]["psnr"] == "" and rows[1]["psnr"] == "30.0"
    write_json_atomic(tmp_path / "x.json", {"b": 2, "a": 1}, sort_keys=True, indent=1)
    assert (tmp_path / "x.json").read_text().endswith("}\n") and json.loads((tmp_path / "x.json").read_text()) == {
        "a": 1,
        "b": 2,
    }


def test_stale_temporaries_of_dead_writers_go_and_those_of_live_ones_stay(tmp_path):
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = [f"checkpoint_epoch=3.pt.tmp{dead.pid}", f"metrics.csv.tmp{dead.pid}", f"grid.png.tmp{dead.pid}.png",
                 "tmpab3_x9zq", f"model.pt.tmp{live.pid}", "model.pt", "notes.tmp.txt", "tmp_folder_file"]  # fmt: skip
        for name in names:
            (tmp_path / name).write_bytes(b"x")
        removed = remove_stale_temporaries(tmp_path)
        assert sorted(os.path.basename(p) for p in removed) == sorted(names[:4])
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[4:])  # live writer's file and others kept
    finally:
        live.kill()
        live.wait()
    assert remove_stale_temporaries(tmp_path / "absent") == []


def test_a_folder_lock_refuses_a_second_process_naming_the_holder_and_frees_when_it_dies(tmp_path):
    import subprocess
    import sys
    import time

    holder = subprocess.Popen(
        # io.py needs the standard library only: loading it alone spares the holder torch's import
        [sys.executable, "-c", "import importlib.util as u, sys, time; "
         "s = u.spec_from_file_location('io_', sys.argv[2]); m = u.module_from_spec(s); s.loader.exec_module(m); "
         "m.FolderLock(sys.argv[1]).acquire(); "
         "print('held', flush=True); time.sleep(60)", str(tmp_path), io_module.__file__],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderLockedError, match=f"pid {holder.pid}") as info:
            FolderLock(tmp_path).acquire("this training")
        assert str(tmp_path) in str(info.value) and "this training in another folder" in str(info.value)
    finally:
        holder.kill()  # SIGKILL: no clean-up runs in the holder, the operating system drops its lock
        holder.wait()
    deadline = time.time() + 10
    lock = FolderLock(tmp_path)
    while True:
        try:
            lock.acquire()
            break
        except FolderLockedError:
            assert time.time() < deadline
            time.sleep(0.05)
    assert lock.held and (tmp_path / ".lock").read_text().startswith(f"pid {os.getpid()}")
    lock.release()
    assert (tmp_path / ".lock").read_text() == ""


def test_a_second_folder_lock_in_the_same_process_takes_it_over(tmp_path):
    first, second = FolderLock(tmp_path), FolderLock(tmp_path)
    first.acquire()
    second.acquire()  # a notebook that builds a new trainer for the same folder after the first one failed
    assert second.held and not first.held
    second.release()
