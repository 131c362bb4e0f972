"""Atomic writers: the old file survives a failed write, and no temporary file is left behind."""

from __future__ import annotations

import csv
import json

import pytest

from monai_genmed.utils import atomic_path, write_csv_atomic, write_json_atomic


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
    assert (tmp_path / "x.json").read_text().endswith("}\n") and json.loads((tmp_path / "x.json").read_text()) == {"a": 1, "b": 2}
