"""The vae_mri bundle through monai.bundle on tiny data: KL warm-up, figures, reconstruct, sample, verify, export."""

from __future__ import annotations

import csv
import json

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import run

NAME = "vae_mri"
TINY_NET = {"channels": [4, 8], "strides": [2, 2], "device_name": "cpu"}
TINY = {
    **TINY_NET,
    "spatial_size": [64, 64],
    "num_subjects": {"training": 1, "validation": 1, "test": 1},
    "slices_per_subject": 4,
    "batch_size": 2,
    "num_figure_samples": 4,
    "kl_warmup_epochs": 4,
    "divergence_patience": 100,
}
SHARED = {"brain": "configs/brain_mr_64.json", "training": "configs/training.json", "train": "configs/autoencoder.json",
          "reconstruct": "configs/autoencoder.json", "sample": "configs/sampling.json",
          "loader": "configs/inference_loader.json"}  # fmt: skip


def configs(repo_root, *names):
    return [
        str(repo_root / SHARED[n]) if n in SHARED else str(repo_root / "bundles" / NAME / "configs" / n) for n in names
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


def test_training_warms_the_kl_weight_up_and_selects_by_the_validation_elbo(trained):
    with open(trained / "logs" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # 2 iterations an epoch, beta from 0 to 1 over 4 epochs: means 1/16 in epoch 1, 5/16 in epoch 2
    assert [float(r["train_g_kl_weight"]) for r in rows] == pytest.approx([1 / 16, 5 / 16])
    assert all(float(r["train_g_kl"]) > 0 and float(r["val_loss"]) > 0 for r in rows)
    saved = torch.load(trained / "models" / "model.pt", weights_only=True)
    assert {"mu.weight", "logvar.weight"} <= set(saved["model"]) and saved["model"]["mu.weight"].shape[0] == 20
    assert len(list((trained / "logs" / "figures").glob("*.png"))) == 5


def test_reconstruction_uses_the_posterior_mean(repo_root, trained, tmp_path):
    dataset = trained / "data" / "brain_mr"
    path = dataset / json.loads((dataset / "datalist.json").read_text())["test"][0]["image"]
    outputs = []
    for i in range(2):
        run(config_file=configs(repo_root, "brain", "reconstruct", "common.json", "loader", "inference.json"),
            bundle_root=str(trained), input_path=str(path), output_dir=str(tmp_path / str(i)), **TINY_NET)  # fmt: skip
        outputs.append(nib.load(next((tmp_path / str(i)).iterdir())).get_fdata())
    assert outputs[0].shape == (64, 64) and np.isfinite(outputs[0]).all()
    np.testing.assert_array_equal(outputs[0], outputs[1])  # no sampling at inference


def test_sampling_decodes_prior_draws(repo_root, trained, tmp_path):
    run(config_file=configs(repo_root, "brain", "sample", "common.json", "sample.json"), bundle_root=str(trained),
        output_dir=str(tmp_path), num_samples=2, output_ext=".png", **TINY_NET)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample_0000.png", "sample_0001.png", "samples.png"]


def test_verify_metadata_net_in_out_and_export(
    repo_root, trained, tmp_path, verify_and_export, assert_export_matches_eager
):
    config = configs(repo_root, "brain", "reconstruct", "common.json", "loader", "inference.json")
    scripted = verify_and_export(repo_root / "bundles" / NAME / "configs" / "metadata.json", config,
                                 trained / "models" / "model.pt", tmp_path, bundle_root=str(trained),
                                 **TINY_NET)  # fmt: skip
    x = torch.rand(2, 1, 64, 64)
    assert scripted(x).shape == x.shape
    # the exported decoder runs on the posterior mean, as eager inference does (no sampling in eval mode)
    assert_export_matches_eager(
        scripted, config, trained / "models" / "model.pt", x, bundle_root=str(trained), **TINY_NET
    )
