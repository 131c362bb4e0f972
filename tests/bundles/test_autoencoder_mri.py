"""The autoencoder_mri bundle through monai.bundle on tiny data: train, resume, figures, reconstruct, sample, verify,
export."""

from __future__ import annotations

import csv
import glob
import json

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import run

NAME = "autoencoder_mri"
TINY_NET = {"channels": [4, 8], "strides": [2, 2], "device_name": "cpu"}
TINY = {
    **TINY_NET,
    "spatial_size": [64, 64],
    "num_subjects": {"training": 1, "validation": 1, "test": 1},
    "slices_per_subject": 4,
    "batch_size": 2,
    "num_figure_samples": 4,
    # four training slices and two epochs cannot beat the mean image: the guard is tested in the catalogue
    "divergence_patience": 100,
}


def configs(repo_root, *names):
    shared = {"brain": "configs/brain_mr_64.json", "training": "configs/training.json",
              "train": "configs/autoencoder.json", "reconstruct": "configs/autoencoder.json",
              "sample": "configs/sampling.json", "loader": "configs/inference_loader.json"}  # fmt: skip
    return [
        str(repo_root / shared[n]) if n in shared else str(repo_root / "bundles" / NAME / "configs" / n) for n in names
    ]


@pytest.fixture(scope="module")
def trained(repo_root, tmp_path_factory):
    root = tmp_path_factory.mktemp(NAME)
    run(
        config_file=configs(repo_root, "brain", "training", "train", "common.json", "train.json"),
        bundle_root=str(root),
        epochs=2,
        **TINY,
    )
    return root


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_training_writes_model_checkpoint_metrics_and_the_latent_figures(trained):
    saved = torch.load(trained / "models" / "model.pt", weights_only=True)
    assert "latent.weight" in saved["model"] and saved["model"]["latent.weight"].shape[0] == 20  # the 20-d code
    assert saved["run_fingerprint"]["latent_size"] == 20
    assert (trained / "models" / "checkpoints" / "checkpoint_epoch=2.pt").is_file()
    rows = read_csv(trained / "logs" / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"] and float(rows[-1]["val_mse"]) > 0
    figures = sorted(p.name for p in (trained / "logs" / "figures").iterdir())
    assert figures == [
        "fitted_samples.png",
        "interpolation.png",
        "latent_pca.png",
        "prior_samples.png",
        "reconstructions.png",
    ]
    assert glob.glob(str(trained / "logs" / "tensorboard" / "events.out.tfevents.*"))


def test_training_resumes_where_it_stopped(repo_root, trained):
    run(
        config_file=configs(repo_root, "brain", "training", "train", "common.json", "train.json"),
        bundle_root=str(trained),
        epochs=3,
        **TINY,
    )
    rows = read_csv(trained / "logs" / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert int(rows[-1]["iteration"]) == 3 * int(rows[0]["iteration"])


@pytest.fixture(scope="module")
def test_slice(trained):
    dataset = trained / "data" / "brain_mr"
    return dataset / json.loads((dataset / "datalist.json").read_text())["test"][0]["image"]


@pytest.mark.parametrize("ext", [".nii.gz", ".png"])
def test_inference_reconstructs_a_slice(repo_root, trained, test_slice, tmp_path, ext):
    run(config_file=configs(repo_root, "brain", "reconstruct", "common.json", "loader", "inference.json"),
        bundle_root=str(trained), input_path=str(test_slice), output_dir=str(tmp_path), output_ext=ext,
        **TINY_NET)  # fmt: skip
    (written,) = tmp_path.iterdir()
    assert written.name == test_slice.name.replace(".nii.gz", "_recon" + ext)
    if ext == ".nii.gz":
        image = nib.load(written)
        assert image.shape == (64, 64) and np.isfinite(image.get_fdata()).all()
        assert 0 <= image.get_fdata().min() and image.get_fdata().max() <= 1


def test_sampling_decodes_prior_draws(repo_root, trained, tmp_path):
    run(config_file=configs(repo_root, "brain", "sample", "common.json", "sample.json"), bundle_root=str(trained),
        output_dir=str(tmp_path), num_samples=3, **TINY_NET)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "sample_0000.nii.gz",
        "sample_0001.nii.gz",
        "sample_0002.nii.gz",
        "samples.png",
    ]


def test_verify_metadata_net_in_out_and_export(
    repo_root, trained, tmp_path, verify_and_export, assert_export_matches_eager
):
    config = configs(repo_root, "brain", "reconstruct", "common.json", "loader", "inference.json")
    scripted = verify_and_export(repo_root / "bundles" / NAME / "configs" / "metadata.json", config,
                                 trained / "models" / "model.pt", tmp_path, bundle_root=str(trained),
                                 **TINY_NET)  # fmt: skip
    x = torch.rand(2, 1, 64, 64)
    assert scripted(x).shape == x.shape
    assert_export_matches_eager(
        scripted, config, trained / "models" / "model.pt", x, bundle_root=str(trained), **TINY_NET
    )
