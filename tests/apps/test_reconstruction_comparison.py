from __future__ import annotations

import csv
import os

import numpy as np
import pytest
import torch

from monai_genmed.apps.reconstruction import ReconstructionComparison
from monai_genmed.data import generate_brain_mr_dataset
from monai_genmed.networks.nets import DAGANGenerator, DataConsistentCascade

TINY_DAGAN = {"channels": (4, 8, 16), "up_channels": (16, 8, 4)}
TINY_CASCADE = {"cascades": 2, "channels": 4, "depth": 3}


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("cs_compare")
    datalist = generate_brain_mr_dataset(
        root / "data",
        num_subjects={"training": 1, "validation": 1, "test": 1},
        slices_per_subject=3,
        spatial_size=(32, 32),
        snr=30.0,
        seed=0,
    )
    torch.manual_seed(0)  # the untrained networks' weights are fixed: a test bounds the untrained cascade's PSNR
    torch.save(DAGANGenerator(**TINY_DAGAN).state_dict(), root / "model.pt")
    torch.save({"model": DataConsistentCascade(**TINY_CASCADE).state_dict()}, root / "cascade.pt")
    return root, datalist


def test_comparison_writes_tables_with_every_method_and_the_facts(tiny_dataset):
    root, datalist = tiny_dataset
    learned = [
        {"name": "DAGAN", "network": DAGANGenerator(**TINY_DAGAN), "checkpoint": str(root / "model.pt"),
         "data_consistency": True},
        {"name": "Cascade + DC", "network": DataConsistentCascade(**TINY_CASCADE),
         "checkpoint": str(root / "cascade.pt"), "real_valued_prior": False, "extra_keys": ["kspace_masked", "mask"]},
    ]  # fmt: skip
    comparison = ReconstructionComparison(
        datalist=datalist,
        output_dir=str(root / "eval"),
        settings=[{"mask_type": "gaussian1d", "sampling_fraction": 0.3}],
        learned=learned,
        classical=["tv"],
        grids={"tv": {"lamda": [1e-3, 1e-2]}},
        fixed_params={"tv": {"max_iter": 20}},
        tune_slices=2,
    )
    rows = comparison.run()
    methods = [r["method"] for r in rows]
    assert methods[0] == "zero-filled" and methods[1].startswith("TV-CS")
    assert methods[2].startswith("DAGAN (") and methods[3].startswith("DAGAN + data consistency")
    assert methods[4] == "Cascade + DC (cascade.pt)" and len(methods) == 5
    assert [r["real_valued_prior"] for r in rows] == ["-", "no", "yes", "yes", "no"]  # TV here: real_valued=False
    tv = rows[1]
    assert "validation (2 slices" in tv["tuned_on"] and "max_iter=20" in tv["settings"]
    assert all(r["n_test_slices"] == 3 for r in rows)
    # data consistency can only move the reconstruction towards the measurements
    assert rows[3]["nmse"] <= rows[2]["nmse"] + 1e-9
    # an untrained cascade with hard data consistency is no worse than zero-filled
    assert rows[4]["psnr"] >= rows[0]["psnr"] - 0.5
    for key in ("nmse", "psnr", "ssim", "hfen", "hf_ratio", "psnr_head", "ssim_head", "hfen_head", "hf_ratio_head"):
        assert np.isfinite(tv[key]) and np.isfinite(tv[f"{key}_sd"])
    md = (root / "eval" / "results.md").read_text()
    assert "SNR 30.0" in md and "never on test slices" in md and "| HFEN | HF ratio | PSNR head |" in md
    # zero-filled loses the edges that data consistency restores: its high-frequency error is the largest
    assert rows[0]["hfen"] > rows[3]["hfen"]
    assert 0 < rows[1]["hf_ratio"] < 1.5  # TV: no busier than the reference
    with open(root / "eval" / "per_slice.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 5 * 3
    # one slice shown by every method, next to the reference
    assert set(comparison.examples[("gaussian1d", 0.3)]) == {"target", *methods}
    assert (root / "eval" / "example_gaussian1d_30.png").stat().st_size > 1000


def test_bad_settings_are_clear_errors(tiny_dataset, tmp_path):
    _, datalist = tiny_dataset
    with pytest.raises(ValueError, match="unknown classical methods"):
        ReconstructionComparison(
            datalist, str(tmp_path), [{"mask_type": "gaussian1d", "sampling_fraction": 0.3}], classical=["cg"]
        )
    with pytest.raises(ValueError, match="needs mask_type"):
        ReconstructionComparison(datalist, str(tmp_path), [{"mask_type": "gaussian1d"}])
    with pytest.raises(FileNotFoundError, match="datalist"):
        ReconstructionComparison(
            str(tmp_path / "none.json"), str(tmp_path), [{"mask_type": "gaussian1d", "sampling_fraction": 0.3}]
        )
    with pytest.raises(ValueError, match="learned_methods"):
        ReconstructionComparison(
            datalist, str(tmp_path), [{"mask_type": "gaussian1d", "sampling_fraction": 0.3, "checkpoint": "m.pt"}]
        )
    with pytest.raises(ValueError, match="unknown extra_keys"):
        ReconstructionComparison(datalist, str(tmp_path), [{"mask_type": "gaussian1d", "sampling_fraction": 0.3}],
                                 learned=[{"name": "x", "network": DAGANGenerator(**TINY_DAGAN), "checkpoint": "m.pt",
                                           "extra_keys": ["kspace"]}])  # fmt: skip
    missing = ReconstructionComparison(
        datalist,
        str(tmp_path),
        [{"mask_type": "gaussian1d", "sampling_fraction": 0.3}],
        learned=[{"name": "DAGAN", "network": DAGANGenerator(**TINY_DAGAN), "checkpoint": str(tmp_path / "x.pt")}],
        classical=[],
    )
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        missing.run()


def test_slow_method_scored_on_a_subset_gets_a_like_for_like_table(tiny_dataset, tmp_path):
    _, datalist = tiny_dataset
    comparison = ReconstructionComparison(
        datalist, str(tmp_path), [{"mask_type": "gaussian1d", "sampling_fraction": 0.3}]
    )
    psnr = {"zero-filled": [20.0, 22.0, 30.0], "BM3D-MRI": [25.0, 27.0]}
    for method, values in psnr.items():
        scores = [{"psnr": v, "ssim": v / 100, "hfen": v / 50,
                   "psnr_head": v - 1, "ssim_head": v / 200, "hfen_head": v / 40} for v in values]  # fmt: skip
        for name, s in zip(["a", "b", "c"], scores):
            comparison.per_slice.append(
                {"mask_type": "gaussian1d", "sampling_fraction": 0.3, "method": method, "slice": name, **s}
            )
        comparison.results.add_row({"mask_type": "gaussian1d", "sampling_fraction": 0.3}, method, "-", "-", scores, 0.0)
    md = comparison.markdown((32, 32), 3, 2)
    subset = md.split("On the same test slices as BM3D-MRI (n = 2)")[1]
    # zero-filled's whole-test mean is 24.00 dB, on BM3D's two slices 21.00 dB
    assert "| gaussian1d | 30% | zero-filled | 21.00 | 0.2100 | 0.420 | 20.00 | 0.1050 | 0.525 |" in subset
    assert "| gaussian1d | 30% | BM3D-MRI | 26.00 | 0.2600 | 0.520 | 25.00 | 0.1300 | 0.650 |" in subset
    assert "| zero-filled | - | - | 24.00 ± 5.29 |" in md  # (prior, NMSE, PSNR): the main table keeps every slice


def test_out_of_distribution_split_is_scored_and_named(tmp_path):
    """test_split='test_ood' scores the held-out contrast only and the table says so; tuning splits are refused."""
    datalist = generate_brain_mr_dataset(
        tmp_path / "varied", num_subjects={"training": 1, "validation": 1, "test": 1}, slices_per_subject=2,
        spatial_size=(32, 32), seed=0, contrasts="random", ood_contrast="flair", snr=(15, 80),
    )  # fmt: skip
    common = dict(datalist=datalist, settings=[{"mask_type": "gaussian1d", "sampling_fraction": 0.3}], classical=[])
    comparison = ReconstructionComparison(output_dir=str(tmp_path / "eval_ood"), test_split="test_ood", **common)
    rows = comparison.run()
    assert [r["method"] for r in rows] == ["zero-filled"] and rows[0]["n_test_slices"] == 2
    with open(tmp_path / "eval_ood" / "per_slice.csv") as f:
        slices = [r["slice"] for r in csv.DictReader(f)]
    assert len(slices) == 2 and all("flair" in s for s in slices)
    text = (tmp_path / "eval_ood" / "results.md").read_text()
    assert "split `test_ood`" in text and "flair (held out of training)" in text
    with pytest.raises(ValueError, match="tuned or trained on"):
        ReconstructionComparison(output_dir=str(tmp_path / "x"), test_split="validation", **common)


def test_noise_level_known_bm3d_gets_each_slice_s_datalist_noise(tiny_dataset, tmp_path, monkeypatch):
    """bm3d_noise (and tv_noise) are tuned and scored with the datalist's noise_sigma of every slice they
    reconstruct."""
    import json

    from monai_genmed.apps.baselines import BM3DCS

    _, datalist = tiny_dataset
    seen = []
    real_schedule = BM3DCS.sigma_schedule

    def recording(self, noise_sigma=None):
        seen.append(noise_sigma)
        return real_schedule(self, noise_sigma)

    monkeypatch.setattr(BM3DCS, "sigma_schedule", recording)
    common = dict(settings=[{"mask_type": "gaussian1d", "sampling_fraction": 0.3}],
                  classical=["tv_noise", "bm3d_noise"],
                  grids={"bm3d_noise": {"noise_factor": [1.0]},
                         "tv_noise": {"lamda": [1e-4], "noise_factor": [0.05, 0.2]}},
                  fixed_params={"bm3d_noise": {"n_iter": 1}, "tv_noise": {"max_iter": 20}},
                  tune_slices=2, test_slices=2, slow_method_slices=2,
                  slow_method_tune_slices={"bm3d_noise": 1})  # fmt: skip
    rows = ReconstructionComparison(datalist, str(tmp_path / "eval"), **common).run()
    assert rows[1]["method"].startswith("TV-CS, noise level known") and "noise_factor=" in rows[1]["settings"]
    assert rows[2]["method"].startswith("BM3D-MRI, noise level known") and "noise_factor=1" in rows[2]["settings"]
    with open(datalist) as f:
        listed = json.load(f)
    expected = {item["noise_sigma"] for split in ("validation", "test") for item in listed[split]}
    assert len(seen) == 3 and set(seen) <= expected and all(s > 0 for s in seen)
    for split in ("validation", "test"):
        for item in listed[split]:
            del item["noise_sigma"]
    bare = os.path.join(os.path.dirname(datalist), "datalist_no_noise.json")  # image paths are relative to it
    with open(bare, "w") as f:
        json.dump(listed, f)
    with pytest.raises(ValueError, match="have no 'noise_sigma' entry"):
        ReconstructionComparison(str(bare), str(tmp_path / "eval2"), **common).run()
    # a value that is not a usable noise level is named with the slice, before any reconstruction
    for bad_value in (float("nan"), -0.01, "high"):
        listed["test"][0]["noise_sigma"] = bad_value
        for split in ("validation", "test"):
            for item in listed[split][1 if split == "test" else 0 :]:
                item["noise_sigma"] = 0.01
        with open(bare, "w") as f:
            json.dump(listed, f)
        with pytest.raises(ValueError, match="not a number >= 0"):
            ReconstructionComparison(str(bare), str(tmp_path / "eval3"), **common).run()
    # tuning_table (benchmarks/check_tuning_grid.py) checks the same before it tunes
    del listed["validation"][0]["noise_sigma"]
    with open(bare, "w") as f:
        json.dump(listed, f)
    with pytest.raises(ValueError, match="have no 'noise_sigma' entry"):
        ReconstructionComparison(str(bare), str(tmp_path / "eval4"), **common).tuning_table(
            "bm3d_noise", common["settings"][0], {"noise_factor": [1.0]}
        )


def test_tuning_cache_is_shared_between_runs_and_never_stale(tiny_dataset, tmp_path, monkeypatch):
    """Two runs with one tuning_cache tune once and score with the same settings; another grid tunes again."""
    import monai_genmed.apps.baselines as baselines

    root, datalist = tiny_dataset
    calls = []
    real_tune = baselines.tune_cs_method

    def counting_tune(*args, **kwargs):
        calls.append(args[1])
        return real_tune(*args, **kwargs)

    monkeypatch.setattr(baselines, "tune_cs_method", counting_tune)
    common = dict(datalist=datalist, settings=[{"mask_type": "gaussian1d", "sampling_fraction": 0.3}], classical=["tv"],
                  fixed_params={"tv": {"max_iter": 20}}, tune_slices=2,
                  tuning_cache=str(tmp_path / "tuning.json"))  # fmt: skip
    grid = {"tv": {"lamda": [1e-3, 1e-2]}}
    first = ReconstructionComparison(output_dir=str(tmp_path / "a"), grids=grid, **common).run()
    second = ReconstructionComparison(output_dir=str(tmp_path / "b"), grids=grid, **common).run()
    assert len(calls) == 1 and first[1]["settings"] == second[1]["settings"] and first[1]["psnr"] == second[1]["psnr"]
    ReconstructionComparison(output_dir=str(tmp_path / "c"), grids={"tv": {"lamda": [1e-4]}}, **common).run()
    assert len(calls) == 2 and calls[1] == {"lamda": [1e-4]}


def test_a_rerun_reuses_finished_classical_slices(tiny_dataset, tmp_path, monkeypatch):
    """A second run into the same output_dir reconstructs only the figure's slice again and gives the same rows."""
    from monai_genmed.apps.baselines import TotalVariationCS

    root, datalist = tiny_dataset
    common = dict(datalist=datalist, output_dir=str(tmp_path / "eval"),
                  settings=[{"mask_type": "gaussian1d", "sampling_fraction": 0.3}], classical=["tv"],
                  grids={"tv": {"lamda": [1e-3]}}, fixed_params={"tv": {"max_iter": 20}}, tune_slices=1)  # fmt: skip
    first = ReconstructionComparison(**common).run()
    calls = []
    real_call = TotalVariationCS.__call__
    monkeypatch.setattr(TotalVariationCS, "__call__", lambda self, *a, **k: calls.append(1) or real_call(self, *a, **k))
    second = ReconstructionComparison(**common).run()
    assert len(calls) == 1 + 1  # the one tuning slice (no cache given) and the figure's test slice
    for a, b in zip(first, second):
        assert (
            a["method"] == b["method"]
            and a["psnr"] == pytest.approx(b["psnr"])
            and a["ssim"] == pytest.approx(b["ssim"])
        )
    with open(tmp_path / "eval" / "per_slice.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 2 * 3  # zero-filled and TV, three slices, no duplicates
    # scores from before HFEN existed are not reused with a gap: those slices are reconstructed again
    with open(tmp_path / "eval" / "per_slice.csv", newline="") as f:
        rows = [{k: v for k, v in r.items() if not k.startswith(("hfen", "hf_ratio"))} for r in csv.DictReader(f)]
    with open(tmp_path / "eval" / "per_slice.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    # ... unless asked: rescore_missing=False reuses the other scores and leaves HFEN unscored ("-"), not wrong
    calls.clear()
    kept = ReconstructionComparison(**common, rescore_missing=False).run()
    assert len(calls) == 1 + 1
    tv = [r for r in kept if r["method"].startswith("TV")][0]
    assert tv["psnr"] == pytest.approx(first[1]["psnr"]) and np.isnan(tv["hfen"])
    table = (tmp_path / "eval" / "results.md").read_text()
    tv_line = next(line for line in table.splitlines() if "| TV" in line)
    assert tv_line.split("|")[8].strip() == "-" and "nan" not in table
    # and the default run after it scores those cells (written as nan) instead of keeping the gap
    calls.clear()
    third = ReconstructionComparison(**common).run()
    assert len(calls) == 1 + 3 and all(np.isfinite(r["hfen"]) for r in third)


def test_zero_background_test_scores_the_same_slices_with_a_zero_background(tiny_dataset, tmp_path):
    """zero_background_test=True zeroes the test targets outside the head mask, names it in the table, and a slice
    without a head mask is refused with the fix."""
    import json

    import nibabel as nib

    _, datalist = tiny_dataset
    lists = json.loads(open(datalist).read())
    yy, xx = np.mgrid[:32, :32]
    disk = ((yy - 16) ** 2 + (xx - 16) ** 2 < 12**2).astype(np.uint8)  # the tiny heads fill the slice: a smaller mask
    for i, item in enumerate(lists["test"]):
        item["head_mask"] = str(tmp_path / f"head_{i}.nii.gz")
        nib.save(nib.Nifti1Image(disk, np.eye(4)), item["head_mask"])
    datalist = os.path.join(os.path.dirname(datalist), "datalist_small_heads.json")  # relative paths stay valid
    with open(datalist, "w") as f:
        json.dump(lists, f)
    common = dict(datalist=datalist, settings=[{"mask_type": "gaussian1d", "sampling_fraction": 0.3}], classical=[])
    plain = ReconstructionComparison(output_dir=str(tmp_path / "plain"), **common)
    zeroed = ReconstructionComparison(output_dir=str(tmp_path / "zero"), zero_background_test=True, **common)
    plain_rows, zero_rows = plain.run(), zeroed.run()
    example = zeroed.examples[("gaussian1d", 0.3)]["target"]
    region = [r for _, r, name in zeroed.slices.load("test", None) if name == zeroed.example_slice][0]
    assert np.all(example[~region] == 0) and np.any(plain.examples[("gaussian1d", 0.3)]["target"][~region] != 0)
    assert np.array_equal(example[region], plain.examples[("gaussian1d", 0.3)]["target"][region])
    assert zero_rows[0]["psnr"] != pytest.approx(plain_rows[0]["psnr"])
    assert "Background set to exactly 0" in (tmp_path / "zero" / "results.md").read_text()
    with pytest.raises(TypeError, match="zero_background_test True"):
        ReconstructionComparison(output_dir=str(tmp_path / "x"), zero_background_test="true", **common)
    with pytest.raises(ValueError, match="needs a head mask"):
        ReconstructionComparison(
            output_dir=str(tmp_path / "y"), zero_background_test=True, head_mask_key="none", **common
        ).run()


def test_tuning_table_scores_a_grid_on_the_run_s_own_tuning_slices(tiny_dataset, tmp_path):
    """tuning_table gives the grid search run() does (same slices, same best) and writes nothing."""
    root, datalist = tiny_dataset
    grid = {"lamda": [1e-4, 1e-3, 1e-2]}
    common = dict(datalist=datalist, output_dir=str(tmp_path / "eval"),
                  settings=[{"mask_type": "gaussian1d", "sampling_fraction": 0.3}], classical=["tv"],
                  grids={"tv": grid}, fixed_params={"tv": {"max_iter": 20}}, tune_slices=2,
                  tuning_cache=str(tmp_path / "cache.json"))  # fmt: skip
    comparison = ReconstructionComparison(**common)
    best, table, names = comparison.tuning_table("tv", common["settings"][0], grid)
    assert len(names) == 2 and [row["lamda"] for row in table] == grid["lamda"]
    assert best["lamda"] == max(table, key=lambda r: r["psnr"])["lamda"]
    assert not (tmp_path / "cache.json").exists() and not (tmp_path / "eval").exists()
    ReconstructionComparison(**common).run()
    import json

    cached = list(json.loads((tmp_path / "cache.json").read_text()).values())[0]
    assert cached["best"] == best and cached["slices"] == names
    with pytest.raises(ValueError, match="unknown classical method"):
        comparison.tuning_table("bm4d", common["settings"][0], grid)


def test_a_run_stopped_part_way_keeps_the_earlier_scores_it_had_not_reached(tiny_dataset, tmp_path, monkeypatch):
    """per_slice.csv of a stopped rerun still holds the earlier run's rows of the settings it never reached."""
    from monai_genmed.apps.baselines import TotalVariationCS

    root, datalist = tiny_dataset
    settings = [
        {"mask_type": "gaussian1d", "sampling_fraction": 0.3},
        {"mask_type": "poisson2d", "sampling_fraction": 0.2},
    ]
    common = dict(datalist=datalist, output_dir=str(tmp_path / "eval"), settings=settings, classical=["tv"],
                  grids={"tv": {"lamda": [1e-3]}}, fixed_params={"tv": {"max_iter": 20}}, tune_slices=1)  # fmt: skip
    ReconstructionComparison(**common).run()

    def rows():
        with open(tmp_path / "eval" / "per_slice.csv", newline="") as f:
            return [(r["mask_type"], r["method"]) for r in csv.DictReader(f)]

    before = rows()
    assert before.count(("poisson2d", "TV-CS (SigPy TotalVariationRecon)")) == 3
    real_call = TotalVariationCS.__call__

    def stop_in_poisson(self, kspace, mask, *a, **k):
        if mask.mean() < 0.25:  # the Poisson 20 % setting: the run is killed there
            raise KeyboardInterrupt
        return real_call(self, kspace, mask, *a, **k)

    monkeypatch.setattr(TotalVariationCS, "__call__", stop_in_poisson)
    with pytest.raises(KeyboardInterrupt):
        ReconstructionComparison(**common).run()
    assert sorted(rows()) == sorted(before)  # nothing lost, nothing doubled


def test_runs_one_mask_each_are_joined_by_reuse_from_and_other_data_is_refused(tiny_dataset, tmp_path, monkeypatch):
    """Two runs, one per mask in their own folders with one tuning cache, give a joined run all their classical
    scores (only the figure's slice is reconstructed again); a table of other data (a regenerated dataset) is a
    named error in reuse_from, and in the run's own output_dir it is scored again, not reused."""
    from monai_genmed.apps.baselines import TotalVariationCS

    _, datalist = tiny_dataset
    gaussian, poisson = (
        {"mask_type": "gaussian1d", "sampling_fraction": 0.3},
        {"mask_type": "poisson2d", "sampling_fraction": 0.2},
    )
    common = dict(datalist=datalist, classical=["tv"], grids={"tv": {"lamda": [1e-3, 1e-2]}},
                  fixed_params={"tv": {"max_iter": 20}}, tune_slices=1,
                  tuning_cache=str(tmp_path / "tuning.json"))  # fmt: skip
    one = ReconstructionComparison(output_dir=str(tmp_path / "g"), settings=[gaussian], **common).run()
    two = ReconstructionComparison(output_dir=str(tmp_path / "p"), settings=[poisson], **common).run()
    calls = []
    real_call = TotalVariationCS.__call__
    monkeypatch.setattr(TotalVariationCS, "__call__", lambda self, *a, **k: calls.append(1) or real_call(self, *a, **k))
    joined = ReconstructionComparison(output_dir=str(tmp_path / "all"), settings=[gaussian, poisson],
                                      reuse_from=[str(tmp_path / "g" / "per_slice.csv"), str(tmp_path / "p")],
                                      **common).run()  # fmt: skip
    assert len(calls) == 2  # the figure's slice, per mask; the tuning came from the shared cache
    tv = lambda rows: [r for r in rows if r["method"].startswith("TV")]  # noqa: E731
    for a, b in zip(tv(one) + tv(two), tv(joined)):
        assert (a["mask_type"], a["settings"]) == (b["mask_type"], b["settings"]) and a["psnr"] == pytest.approx(
            b["psnr"]
        )
    with open(tmp_path / "all" / "per_slice.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 2 * 2 * 3  # zero-filled and TV, two masks, three slices each
    # scores of other data: the same file names in a dataset generated again with another seed
    other = generate_brain_mr_dataset(tmp_path / "other_data", num_subjects={"training": 1, "validation": 1, "test": 1},
                                      slices_per_subject=3, spatial_size=(32, 32), snr=30.0, seed=1)  # fmt: skip
    ReconstructionComparison(
        output_dir=str(tmp_path / "other"), settings=[gaussian], **{**common, "datalist": other, "tuning_cache": None}
    ).run()
    with pytest.raises(ValueError, match="reuse_from .*other.* other data"):
        ReconstructionComparison(
            output_dir=str(tmp_path / "x"), settings=[gaussian], reuse_from=[str(tmp_path / "other")], **common
        ).run()
    calls.clear()
    rescored = ReconstructionComparison(output_dir=str(tmp_path / "other"), settings=[gaussian], **common).run()
    assert len(calls) == 3 and tv(rescored)[0]["psnr"] == pytest.approx(tv(one)[0]["psnr"])
    # a truncated table (a copy cut short) is named, not half-used
    cut = tmp_path / "cut" / "per_slice.csv"
    cut.parent.mkdir()
    text = (tmp_path / "g" / "per_slice.csv").read_text()
    cut.write_text(text[: text.rindex(",")])
    with pytest.raises(ValueError, match="reuse_from .*cut.* damaged: line 7 has fewer fields"):
        ReconstructionComparison(
            output_dir=str(tmp_path / "z"), settings=[gaussian], reuse_from=[str(cut)], **common
        ).run()
    with pytest.raises(FileNotFoundError, match="reuse_from .*missing"):
        ReconstructionComparison(
            output_dir=str(tmp_path / "y"), settings=[gaussian], reuse_from=[str(tmp_path / "missing")], **common
        )


def _store_entries(cache: str, first: int, count: int) -> None:
    from monai_genmed.apps.reconstruction.tuning import TuningCache

    tuning_cache = TuningCache(cache)
    for i in range(first, first + count):
        tuning_cache.store({"method": "tv", "run": i}, {"lamda": float(i)})


def test_runs_in_parallel_keep_every_tuning_cache_entry(tmp_path):
    """Processes that store tuned settings into one cache at the same time lose none of them."""
    import json
    from concurrent.futures import ProcessPoolExecutor

    cache = str(tmp_path / "tuning.json")
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_store_entries, [cache] * 4, [0, 30, 60, 90], [30] * 4))
    entries = json.loads(open(cache).read())
    assert sorted(e["best"]["lamda"] for e in entries.values()) == [float(i) for i in range(120)]
