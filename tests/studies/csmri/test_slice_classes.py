"""slice_class_margins: per-class mean and worst-slice margins from a per_slice.csv and the datalist's facts."""

from __future__ import annotations

import csv
import json

import pytest

from studies.csmri import margin_tables, slice_class_margins, slice_classes


def test_margins_per_class_and_worst_slice(tmp_path):
    items = [
        {"image": "t/a.nii.gz", "slicing": "axial", "contrast": "t1", "zero_background": False, "snr": 30.0},
        {"image": "t/b.nii.gz", "slicing": "coronal", "contrast": "t1", "zero_background": True, "snr": float("inf")},
        {"image": "t/c.nii.gz", "slicing": "coronal", "contrast": "t2", "zero_background": False, "snr": 20.0},
    ]
    (tmp_path / "datalist.json").write_text(json.dumps({"test": items}))
    psnr = {
        "Cascade + DC (model.pt)": [36.0, 30.0, 35.0],
        "TV-CS (SigPy TotalVariationRecon)": [33.0, 31.0, 34.0],
        "BM3D-MRI (x)": [35.0, None, None],
    }  # BM3D scored on a subset
    with open(tmp_path / "per_slice.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["mask_type", "sampling_fraction", "method", "slice", "psnr", "psnr_head"])
        for method, values in psnr.items():
            for name, v in zip("abc", values):
                if v is not None:
                    w.writerow(["gaussian1d", 0.3, method, f"{name}.nii.gz", v, v - 2])
    rows = slice_class_margins(tmp_path / "per_slice.csv", tmp_path / "datalist.json", "test", "Cascade + DC", "TV-CS",
                               output_path=tmp_path / "margins.md")  # fmt: skip
    by = {(r["class"], r["value"]): r for r in rows}
    assert by[("all slices", "")]["n"] == 3 and by[("all slices", "")]["psnr_margin"] == pytest.approx(1.0)  # 3, -1, 1
    assert by[("all slices", "")]["psnr_worst"] == -1.0 and by[("all slices", "")]["psnr_worst_slice"] == "b.nii.gz"
    assert by[("slicing", "coronal")]["n"] == 2 and by[("slicing", "coronal")]["psnr_margin"] == 0.0
    assert by[("background", "exactly zero")]["psnr_worst"] == -1.0 and by[("noise", "noise-free")]["n"] == 1
    assert by[("contrast", "t1")]["psnr_head_margin"] == pytest.approx(1.0)
    assert "| gaussian1d | 30% | slicing | coronal | 2 |" in (tmp_path / "margins.md").read_text()
    subset = slice_class_margins(
        tmp_path / "per_slice.csv", tmp_path / "datalist.json", "test", "Cascade + DC", "BM3D-MRI"
    )
    assert subset[0]["n"] == 1 and subset[0]["psnr_margin"] == 1.0  # only the slices both methods scored
    # a comparison that zeroed every test background says so for all its slices
    zeroed = slice_class_margins(tmp_path / "per_slice.csv", tmp_path / "datalist.json", "test", "Cascade + DC",
                                 "TV-CS", override_facts={"background": "exactly zero (set for the test)"})  # fmt: skip
    backgrounds = {r["value"]: r["n"] for r in zeroed if r["class"] == "background"}
    assert backgrounds == {"exactly zero (set for the test)": 3}
    with pytest.raises(ValueError, match="matches nothing"):
        slice_class_margins(tmp_path / "per_slice.csv", tmp_path / "datalist.json", "test", "DAGAN", "TV-CS")


def test_margin_tables_pair_each_run_method_with_each_run_reference(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(slice_classes, "slice_class_margins", lambda *args, **kwargs: calls.append((args, kwargs)))
    methods = {"": "Cascade + DC", "_flip": "Cascade + DC, flip ensemble", "_gone": "not run"}
    learned = [{"name": "Cascade + DC"}, {"name": "Cascade + DC, flip ensemble"}]
    tables = margin_tables("out", "d.json", "test", methods, learned, ["bm3d", "tv"], override_facts={"b": "0"})
    assert len(tables) == 4
    assert [args[3:] for args, _ in calls] == [
        ("Cascade + DC", "TV-CS", "out/margins_tv.md"),
        ("Cascade + DC", "BM3D-MRI", "out/margins_bm3d.md"),
        ("Cascade + DC, flip ensemble", "TV-CS", "out/margins_tv_flip.md"),
        ("Cascade + DC, flip ensemble", "BM3D-MRI", "out/margins_bm3d_flip.md"),
    ]
    assert all(args[:3] == ("out/per_slice.csv", "d.json", "test") and kw == {"override_facts": {"b": "0"}}
               for args, kw in calls)  # fmt: skip
    assert margin_tables("out", "d.json", "test", methods, learned, []) == []
