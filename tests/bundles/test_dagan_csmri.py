"""The dagan_csmri bundle end to end through monai.bundle, on tiny data: train, resume, infer, verify, export.

As MONAI's model zoo does in its CI: the real configs run with small overrides, then verify_metadata,
verify_net_in_out and ckpt_export.
"""

from __future__ import annotations

import csv
import glob
import os

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ckpt_export, run, verify_metadata, verify_net_in_out

from monai_genmed.transforms.kspace import image_to_kspace

from .conftest import csmri_configs, undersampled_slice

TINY = {
    "spatial_size": [32, 32],
    "num_subjects": {"training": 1, "validation": 1, "test": 1},
    "slices_per_subject": 4,
    "batch_size": 2,
    "num_workers": 0,
    "generator_channels": [8, 16, 32],
    "generator_up_channels": [32, 16, 8],
    "discriminator_channels": [8, 16],
    "discriminator_head_channels": [16, 8],
    "discriminator_residual_channels": 4,
    "device_name": "cpu",
    # two training slices cannot teach a model to beat zero-filled: the divergence guard is tested on its own
    "divergence_patience": 100,
}
# the tiny training's network and weights (inference.json's default ckpt_path is the shipped file of the mask)
TINY_NET = {**{k: TINY[k] for k in ("spatial_size", "generator_channels", "generator_up_channels", "device_name")},
            "ckpt_path": "$@bundle_root + '/models/model.pt'"}  # fmt: skip


def configs(bundle, *names):
    """The bundle's layered configs: ``configs/csmri.json`` and its ``common.json``, then ``names`` (shared part
    first)."""
    return csmri_configs(bundle, *names)


@pytest.fixture(scope="module")
def bundle(repo_root):
    return repo_root / "bundles" / "dagan_csmri"


@pytest.fixture(scope="module")
def trained(bundle, tmp_path_factory):
    root = tmp_path_factory.mktemp("dagan_bundle")
    run(
        config_file=configs(bundle, "train.json"),
        logging_file=str(bundle / "configs" / "logging.conf"),
        bundle_root=str(root),
        epochs=2,
        **TINY,
    )
    return root


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_train_writes_checkpoints_metrics_images_and_tensorboard(trained):
    assert (trained / "models" / "model.pt").is_file()
    assert (trained / "models" / "checkpoints" / "checkpoint_epoch=2.pt").is_file()
    rows = read_csv(trained / "logs" / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert float(rows[-1]["val_nmse"]) > 0 and float(rows[-1]["val_psnr"]) > 0
    # no VGG16 weights here: the metrics file must say the perceptual term was not used
    assert rows[0]["gamma_effective"] == "0.0" and rows[0]["perceptual_loss"].startswith("off")
    assert sorted(os.listdir(trained / "logs" / "images")) == ["epoch_0001.png", "epoch_0002.png"]
    assert glob.glob(str(trained / "logs" / "tensorboard" / "events.out.tfevents.*"))
    saved = torch.load(trained / "models" / "model.pt", weights_only=True)
    # MONAI's nested checkpoint: the generator's weights under "model" (inference, MONAI Label, ckpt_export with
    # key_in_ckpt="model"), beside the settings that define the model
    assert "output_conv.weight" in saved["model"]
    assert saved["run_fingerprint"] == {
        "generator_channels": [8, 16, 32],
        "generator_up_channels": [32, 16, 8],
        "refinement": True,
        "mask_type": "gaussian1d",
        "sampling_fraction": 0.3,
    }


def test_train_resumes_where_it_stopped(bundle, trained):
    run(config_file=configs(bundle, "train.json"), bundle_root=str(trained), epochs=3, **TINY)
    rows = read_csv(trained / "logs" / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]  # epochs 1-2 were not trained again
    assert int(rows[-1]["iteration"]) == 3 * int(rows[0]["iteration"])
    assert [p.name for p in (trained / "models" / "checkpoints").iterdir() if p.name != ".lock"] == [
        "checkpoint_epoch=3.pt"
    ]
    saved = torch.load(trained / "models" / "checkpoints" / "checkpoint_epoch=3.pt", weights_only=False)
    # early stopping's patience counter travels with the checkpoint, so a stopped run stays stopped
    assert {"trainer", "early_stop", "best_model", "g_lr_scheduler"} <= set(saved)
    assert saved["early_stop"]["counter"] in (0, 1, 2)


@pytest.fixture(scope="module")
def undersampled_inputs(trained, tmp_path_factory):
    return undersampled_slice(trained, tmp_path_factory.mktemp("inputs"), volume=True)


@pytest.mark.parametrize(
    "name, shape", [("slice.nii.gz", (32, 32)), ("volume.nii.gz", (32, 32, 3)), ("slice.npz", (32, 32))]
)
def test_inference_writes_nifti_with_the_input_affine(bundle, trained, undersampled_inputs, name, shape):
    out_dir = undersampled_inputs["dir"] / "out"
    run(
        config_file=configs(bundle, "inference.json"),
        bundle_root=str(trained),
        input_path=str(undersampled_inputs["dir"] / name),
        output_dir=str(out_dir),
        **TINY_NET,
    )
    result = nib.load(out_dir / (name.split(".")[0] + "_recon.nii.gz"))
    assert result.shape == shape
    np.testing.assert_allclose(result.affine, undersampled_inputs["affine"], atol=1e-5)
    assert np.isfinite(result.get_fdata()).all()
    if name.endswith(".npz"):  # data consistency: the measured k-space samples are kept
        k = np.asarray(image_to_kspace(result.get_fdata()[None].astype(np.float32)))[0]
        m = undersampled_inputs["mask"] > 0
        measured = undersampled_inputs["kspace"][m]
        assert np.abs(k[m] - measured).max() < 0.05 * np.abs(measured).max()


def test_inference_without_input_is_a_clear_error(bundle, trained):
    with pytest.raises(RuntimeError) as info:
        run(config_file=configs(bundle, "inference.json"), bundle_root=str(trained), **TINY_NET)
    causes = []
    error = info.value
    while error is not None:  # MONAI wraps the config expression's error; the user sees the whole chain
        causes.append(str(error))
        error = error.__cause__
    assert any("input_path is empty" in c for c in causes)


def test_verify_metadata_net_in_out_and_export(bundle, trained, repo_root, tmp_path, assert_export_matches_eager):
    meta = str(bundle / "configs" / "metadata.json")
    verify_metadata(meta_file=meta, filepath=str(repo_root / "configs" / "bundle" / "meta_schema_20240725.json"))
    verify_net_in_out(
        net_id="network_def",
        meta_file=meta,
        config_file=configs(bundle, "inference.json"),
        device="cpu",
        bundle_root=str(trained),
        **TINY_NET,
    )
    exported = tmp_path / "model.ts"
    ckpt_export(
        net_id="network_def",
        filepath=str(exported),
        ckpt_file=str(trained / "models" / "model.pt"),
        meta_file=meta,
        config_file=configs(bundle, "inference.json"),
        bundle_root=str(trained),
        key_in_ckpt="model",
        **TINY_NET,
    )
    scripted = torch.jit.load(str(exported))
    x = torch.rand(1, 1, 32, 32)
    assert scripted(x).shape == (1, 1, 32, 32)
    assert_export_matches_eager(scripted, configs(bundle, "inference.json"), trained / "models" / "model.pt", x,
                                bundle_root=str(trained), **TINY_NET)  # fmt: skip


def test_configs_share_one_network_definition(bundle):
    """Only common.json defines the networks and their widths: train, inference, evaluate and train_long layer on it."""
    import json

    widths = ("generator_channels", "generator_up_channels", "refinement", "network_def", "generator_def")
    shared = [
        bundle.parents[1] / "configs" / f"csmri_{n}.json" for n in ("train", "inference", "evaluate", "pixel_loss")
    ]
    own = [bundle / "configs" / f"{n}.json" for n in ("train", "inference", "pixel_loss", "dagan_dc", "no_adversarial")]
    for name in shared + own:
        config = json.loads(name.read_text())
        assert not set(widths[:3] + widths[4:]) & set(config), name
    common = json.loads((bundle / "configs" / "common.json").read_text())
    assert common["network_def"] == "@dagan_generator_def"
    long = json.loads((bundle / "configs" / "train_long.json").read_text())
    assert long["generator_channels"] == [64, 128, 256, 512, 512, 512, 512, 512]  # the paper's widths
    assert long["generator_up_channels"] == [512, 1024, 1024, 1024, 256, 128, 64, 64]
    # a train_long model's settings reach inference through the same keys, so its weights load without retyping
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(configs(bundle, "inference.json", "train_long.json"))
    assert parser.get_parsed_content("fingerprint")["generator_channels"] == long["generator_channels"]


@pytest.mark.parametrize(
    "overlays, method",
    [
        (["pixel_loss.json"], "unet_pixel"),
        (["dagan_dc.json"], "dagan_dc"),
        (["dagan_dc.json", "no_adversarial.json"], "no_adversarial"),
    ],  # fmt: skip
)
def test_learned_method_overlays_train_one_epoch(bundle, tmp_path, overlays, method):
    """The U-Net with pixel loss, DAGAN-DC and its twin without the adversarial term each run one short epoch on the
    engine (the cascade: tests/bundles/test_cascade_csmri.py)."""
    tiny = {**TINY, "cascades": 2, "cascade_channels": 4, "cascade_depth": 3, "dagan_dc_cascades": 2}
    run(config_file=configs(bundle, "train.json", *overlays), bundle_root=str(tmp_path), epochs=1, **tiny)
    saved = torch.load(tmp_path / "models" / method / "model.pt", weights_only=True)
    rows = read_csv(tmp_path / "logs" / method / "metrics.csv")
    assert len(rows) == 1 and float(rows[0]["val_psnr"]) > 0
    if method == "unet_pixel":
        assert "output_conv.weight" in saved["model"] and rows[0]["loss"].startswith("L1")
    elif method == "no_adversarial":  # DAGAN's loss without a discriminator: its adversarial term stays 0
        assert rows[0]["loss"].startswith("DAGAN's generator loss") and rows[0]["alpha"] == "15.0"
        assert float(rows[0]["train_g_adversarial"]) == 0 and float(rows[0]["train_g_pixel"]) > 0
        assert not any(k.startswith("train_d_") for k in rows[0]) and "lr_d_optimizer" not in rows[0]
        assert "consistency.1.log_lambda" in saved["model"]
    else:  # DAGAN's U-Net in a cascade of two blocks, each with its data-consistency layer
        assert "consistency.1.log_lambda" in saved["model"]


@pytest.mark.parametrize("overlay, method", [("dagan_dc.json", "dagan_dc"), ("pixel_loss.json", "unet_pixel")])
def test_overlay_inference_writes_into_the_documented_folder_not_the_training_logs(
    bundle, trained, undersampled_inputs, tmp_path, overlay, method
):
    """Inference with DAGAN-DC's overlay (it chooses the network) or the U-Net's writes to <bundle_root>/eval/inference
    as the README says, wherever the overlay is listed: an overlay names its training folders only as
    ``method_folder``, which train.json alone turns into models/<method> and logs/<method>."""
    tiny = {"dagan_dc_cascades": 2}
    run(config_file=configs(bundle, "train.json", overlay), bundle_root=str(tmp_path), epochs=1,
        dataset_dir=str(trained / "data" / "brain_mr"), **TINY, **tiny)  # fmt: skip
    assert (tmp_path / "logs" / method / "metrics.csv").is_file()
    csmri, csmri_inference, loader, common, own = configs(bundle, "inference.json")
    layer = str(bundle / "configs" / overlay)  # after common.json, whose network it replaces
    for files in ([csmri, csmri_inference, loader, common, own, layer], [csmri, csmri_inference, loader, common, layer,
                  own], [csmri, common, layer, csmri_inference, loader, own]):  # fmt: skip
        before = set(glob.glob(str(tmp_path / "logs" / "**"), recursive=True))
        run(config_file=files, bundle_root=str(tmp_path), input_path=str(undersampled_inputs["dir"] / "slice.npz"),
            **{**TINY_NET, **tiny, "ckpt_path": str(tmp_path / "models" / method / "model.pt")})  # fmt: skip
        assert (tmp_path / "eval" / "inference" / "slice_recon.nii.gz").is_file(), files
        assert set(glob.glob(str(tmp_path / "logs" / "**"), recursive=True)) == before, files
        (tmp_path / "eval" / "inference" / "slice_recon.nii.gz").unlink()


def test_evaluate_compares_a_list_of_learned_methods(bundle, trained):
    """evaluate.json scores the learned methods its list names, each with its own network_def and weights."""
    tiny_cascade = {"cascades": 2, "cascade_channels": 4, "cascade_depth": 3}
    run(config_file=csmri_configs(bundle.parent / "cascade_csmri", "train.json", "pixel_loss.json"),
        bundle_root=str(trained), epochs=1, ckpt_dir=str(trained / "models" / "cascade"),
        output_dir=str(trained / "logs" / "cascade"), **TINY, **tiny_cascade)  # fmt: skip
    run(config_file=configs(bundle, "evaluate.json"), bundle_root=str(trained), classical=[], tune_slices=1,
        learned_methods="$[@dagan_method, @cascade_method]", **TINY, **tiny_cascade)  # fmt: skip
    rows = read_csv(trained / "eval" / "results.csv")
    assert [r["method"] for r in rows] == ["zero-filled", "DAGAN (model.pt)", "DAGAN + data consistency (model.pt)",
                                           "Cascade + DC (model.pt)"]  # fmt: skip
    assert [r["real_valued_prior"] for r in rows] == ["-", "yes", "yes", "yes"]
    assert all(float(r["psnr"]) > 0 for r in rows)


def test_inference_keeps_voxels_brighter_than_the_scaling_percentile(bundle, trained, undersampled_inputs, tmp_path):
    """inference.json scales the zero-filled image by its 99.5th percentile; DAGAN's output is clipped below at 0
    only, so voxels brighter than that percentile come out bright instead of cut at it."""
    zf = nib.load(undersampled_inputs["dir"] / "slice.nii.gz")
    image = zf.get_fdata().astype(np.float32)
    image[10, 10:12] = 3 * np.percentile(image, 99.5)  # 2 of 1024 voxels: the percentile stays below them
    nib.save(nib.Nifti1Image(image, zf.affine), tmp_path / "bright.nii.gz")
    run(config_file=configs(bundle, "inference.json"), bundle_root=str(trained),
        input_path=str(tmp_path / "bright.nii.gz"), output_dir=str(tmp_path / "out"), **TINY_NET)  # fmt: skip
    recon = nib.load(tmp_path / "out" / "bright_recon.nii.gz").get_fdata()
    assert recon[10, 10:12].min() > 1.5 * np.percentile(image, 99.5)
    assert recon.min() >= 0
