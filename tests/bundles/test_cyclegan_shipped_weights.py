"""The shipped cyclegan_mr2ct weights (models/model.pt, models/paired_l1_24ep_m0/model.pt): their sha256 and
validation MAE reproduce models/manifest.json within 0.5 HU through the bundle's own verify_shipped config, on a
fresh clone (the two validation subjects are generated alone, as every subject has its own seed), and inference.json
makes a CT from an MR with them."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
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


def test_inference_makes_a_ct_of_a_head_from_the_shipped_generator(bundle, tmp_path):
    """inference.json with its defaults (models/model.pt) on a 128 x 128 x 6 crop of the embedded head (the field of
    view of the training slices; outside it the HU are wrong: docs/clinical_files.md): a CT in HU on the MR's grid,
    soft tissue in the brain, bone in the skull, close to the head's CT, and the flip spread beside it."""
    from monai_genmed.data.colin27 import colin27_brain_mask, colin27_head_mask, load_colin27_t1
    from monai_genmed.data.head_mr_ct import colin27_hounsfield

    t1, affine = load_colin27_t1()
    crop = (slice(26, 154), slice(45, 173), slice(84, 90))
    affine = affine.copy()
    affine[:3, 3] += affine[:3, :3] @ [s.start for s in crop]
    nib.save(nib.Nifti1Image((t1[crop] / t1.max()).astype(np.float32), affine), tmp_path / "mr.nii.gz")
    files = [str(bundle / "configs" / "common.json"), str(bundle.parents[1] / "configs" / "inference_loader.json"),
             str(bundle / "configs" / "inference.json")]  # fmt: skip
    run(config_file=files, bundle_root=str(bundle), input_path=str(tmp_path / "mr.nii.gz"),
        output_dir=str(tmp_path / "out"), device_name="cpu")  # fmt: skip
    result = nib.load(tmp_path / "out" / "mr_synct.nii.gz")
    hu = np.asarray(result.dataobj)
    assert hu.shape == t1[crop].shape and result.get_data_dtype() == np.int16
    np.testing.assert_allclose(result.affine, affine, atol=1e-4)
    head, brain, reference = colin27_head_mask()[crop], colin27_brain_mask()[crop], colin27_hounsfield()[crop]
    assert 0 <= np.median(hu[brain]) <= 80 and np.median(hu[head & (reference > 500)]) > 300  # soft tissue, skull
    assert np.abs(hu - reference)[head].mean() < 100  # the phantom's CT, within the model's MAE
    spread = np.asarray(nib.load(tmp_path / "out" / "mr_synct_uncertainty.nii.gz").dataobj)
    assert spread.shape == hu.shape and spread.min() >= 0 and spread[head].max() > 0
