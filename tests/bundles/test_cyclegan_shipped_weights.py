"""The shipped cyclegan_mr2ct weights (models/model.pt, models/paired_l1_24ep_m0/model.pt): their sha256 and
validation MAE reproduce models/manifest.json within 0.5 HU through the bundle's own verify_shipped config, on a
fresh clone (the two validation subjects are generated alone, as every subject has its own seed)."""

from __future__ import annotations

import json

import pytest
from monai.bundle import run

TWO_VALIDATION_SUBJECTS = {"num_subjects": {"training": 0, "validation": 2, "test": 0}, "device_name": "cpu"}


@pytest.fixture(scope="module")
def bundle(repo_root):
    return repo_root / "bundles" / "cyclegan_mr2ct"


def configs(bundle, *names):
    return [str(bundle / "configs" / n) for n in ("common.json", *names)]


def test_manifest_records_both_shipped_files_with_their_command(bundle):
    manifest = json.loads((bundle / "models" / "manifest.json").read_text())
    assert set(manifest) == {"model.pt", "paired_l1_24ep_m0/model.pt"}
    for name, entry in manifest.items():
        assert (bundle / "models" / entry["file"]).is_file(), name
        assert "monai.bundle run" in entry["command"] and entry["val_mae_hu"]["mean"] > 0
    assert "train_paired_l1.json" in manifest["paired_l1_24ep_m0/model.pt"]["command"]
    assert "train.json" in manifest["model.pt"]["command"]


def test_shipped_weights_reproduce_their_manifest(bundle, tmp_path):
    run(
        config_file=configs(bundle, "verify_shipped.json"),
        dataset_dir=str(tmp_path / "head_mr_ct"),
        **TWO_VALIDATION_SUBJECTS,
    )
