"""compare_seed_curves: the summary of repeated trainings is computed from the runs' metrics.csv as documented."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from studies.csmri import compare_seed_curves, seed_curve_files


def write_run(path, values, updates_per_epoch=10):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "iteration", "val_psnr"])
        for epoch, value in enumerate(values, 1):
            writer.writerow([epoch, epoch * updates_per_epoch, value])
    return str(path)


def test_summary_reach_drops_and_spread(tmp_path):
    fast = [write_run(tmp_path / f"on{s}" / "metrics.csv", [26 + s, 28, 29, 30]) for s in (0, 1, 2)]
    slow = [write_run(tmp_path / f"off{s}" / "metrics.csv", [25, 27, 25.8, 28 + s]) for s in (0, 1, 2)]
    out = tmp_path / "out"
    summary = compare_seed_curves(
        {"on": fast, "off": slow}, out, threshold=28.0, drop=0.5, reference={"zero-filled": 25.4}
    )
    on, off = summary["on"], summary["off"]
    assert on["final_mean"] == pytest.approx(30) and on["final_sd"] == 0
    assert on["updates_to_threshold"] == [20, 20, 10]  # the third seed starts at 28
    assert off["updates_to_threshold"] == [40, 40, 40]
    assert on["drops"] == 0 and off["drops"] == 3 and off["validations"] == 9  # 27 -> 25.8 in every seed
    assert off["final_sd"] == pytest.approx(1.0) and off["best_mean"] == pytest.approx(29)
    # spread: SD over seeds per epoch, averaged over epochs (only the first and last epochs differ)
    assert on["mean_seed_sd"] == pytest.approx(np.mean([1, 0, 0, 0])) and off["mean_seed_sd"] == pytest.approx(
        np.mean([0, 0, 0, 1])
    )
    assert (out / "seed_curves.png").stat().st_size > 0
    table = (out / "seed_curves.md").read_text()
    assert "| on | 3 | 30.00 +- 0.00 |" in table and "3 of 9" in table


def test_missing_run_or_column_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere/metrics.csv"):
        compare_seed_curves({"a": [str(tmp_path / "nowhere" / "metrics.csv")]}, tmp_path)
    run = write_run(tmp_path / "r" / "metrics.csv", [1, 2])
    with pytest.raises(ValueError, match="not 'iteration' and 'val_ssim'|val_ssim"):
        compare_seed_curves({"a": [run]}, tmp_path, metric="val_ssim")
    with pytest.raises(ValueError, match="at least one metrics.csv"):
        compare_seed_curves({"a": []}, tmp_path)


def test_seed_curve_files_lists_each_arms_runs_by_seed():
    arms = seed_curve_files("logs/refinement", {"refinement on": "on", "refinement off": "off"}, [0, 2])
    assert arms == {
        "refinement on": ["logs/refinement/on_seed0/metrics.csv", "logs/refinement/on_seed2/metrics.csv"],
        "refinement off": ["logs/refinement/off_seed0/metrics.csv", "logs/refinement/off_seed2/metrics.csv"],
    }
