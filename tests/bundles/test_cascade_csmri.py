"""The cascade_csmri bundle through monai.bundle on tiny data: train, fine-tune, infer (one file, a folder, with an
uncertainty map), and what a first user meets: where results go and how the input is scaled."""

from __future__ import annotations

import glob
import json

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ckpt_export, run, verify_metadata, verify_net_in_out

from monai_genmed.data import default_undersampling_mask
from monai_genmed.transforms.kspace import image_to_kspace, save_kspace, zero_filled

from .conftest import REPO, csmri_configs, undersampled_slice

TINY = {
    "spatial_size": [32, 32],
    "num_subjects": {"training": 1, "validation": 1, "test": 1},
    "slices_per_subject": 4,
    "batch_size": 2,
    "num_workers": 0,
    "device_name": "cpu",
    "divergence_patience": 100,
    # the shared engine still builds DAGAN's (unused) discriminator for its learning-rate schedule, so that the
    # shipped cascades' training commands draw the same random numbers as when they were run
    "discriminator_channels": [8, 16],
    "discriminator_head_channels": [16, 8],
    "discriminator_residual_channels": 4,
}
TINY_NET = {"spatial_size": [32, 32], "device_name": "cpu"}
TINY_CASCADE = {"cascades": 2, "cascade_channels": 4, "cascade_depth": 3}


def configs(bundle, *names):
    return csmri_configs(bundle, *names)


def read_csv(path):
    import csv

    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def bundle():
    return REPO / "bundles" / "cascade_csmri"


@pytest.fixture(scope="module")
def trained(bundle, tmp_path_factory):
    root = tmp_path_factory.mktemp("cascade_bundle")
    run(config_file=configs(bundle, "train.json", "pixel_loss.json"),
        logging_file=str(bundle / "configs" / "logging.conf"), bundle_root=str(root), epochs=1,
        **TINY, **TINY_CASCADE)  # fmt: skip
    return root


@pytest.fixture(scope="module")
def undersampled_inputs(trained, tmp_path_factory):
    return undersampled_slice(trained, tmp_path_factory.mktemp("inputs"))


def test_train_keeps_the_best_cascade_and_logs_the_pixel_loss(trained):
    saved = torch.load(trained / "models" / "trained" / "model.pt", weights_only=True)
    assert "consistency.1.log_lambda" in saved["model"] and any(k.startswith("blocks.1.") for k in saved["model"])
    rows = read_csv(trained / "logs" / "metrics.csv")
    assert len(rows) == 1 and float(rows[0]["val_psnr"]) > 0 and rows[0]["loss"].startswith("L1")


def test_inference_writes_into_the_documented_folder_not_the_training_logs(bundle, trained, undersampled_inputs):
    """Results go to <bundle_root>/eval/inference as the README says, whichever network layer is listed and in
    whichever order: the layers that choose the network (common.json, small.json) set no output folder, so none can
    send results into the training logs (dagan_csmri's old cascade.json did)."""
    for name in ("common.json", "small.json"):
        assert not {"output_dir", "ckpt_dir"} & set(json.loads((bundle / "configs" / name).read_text())), name
    ckpt = str(trained / "models" / "trained" / "model.pt")
    inference = configs(bundle, "inference.json")
    small = str(bundle / "configs" / "small.json")
    for files in (inference, inference + [small], [*inference[:2], small, *inference[2:]]):
        before = set(glob.glob(str(trained / "logs" / "**"), recursive=True))
        run(config_file=files, bundle_root=str(trained), ckpt_path=ckpt,
            input_path=str(undersampled_inputs["dir"] / "slice.npz"), **TINY_NET, **TINY_CASCADE)  # fmt: skip
        assert (trained / "eval" / "inference" / "slice_recon.nii.gz").is_file(), files
        assert set(glob.glob(str(trained / "logs" / "**"), recursive=True)) == before, files
        (trained / "eval" / "inference" / "slice_recon.nii.gz").unlink()


def test_inference_reconstructs_a_folder_in_one_process(bundle, trained, undersampled_inputs, tmp_path):
    """--input_dir: every k-space file of the folder, one result each, in one run; a folder mixing k-space and
    images, an empty one and both keys at once are refused with the fix."""
    folder = tmp_path / "scans"
    folder.mkdir()
    kspace, mask = undersampled_inputs["kspace"], undersampled_inputs["mask"]
    for name, scale in (("first", 1.0), ("second", 0.5)):
        save_kspace(folder / f"{name}.npz", kspace * scale, mask, undersampled_inputs["affine"])
    common = dict(bundle_root=str(trained), ckpt_path=str(trained / "models" / "trained" / "model.pt"), **TINY_NET,
                  **TINY_CASCADE)  # fmt: skip
    run(
        config_file=configs(bundle, "inference.json"), input_dir=str(folder), output_dir=str(tmp_path / "out"), **common
    )
    first, second = (nib.load(tmp_path / "out" / f"{n}_recon.nii.gz").get_fdata() for n in ("first", "second"))
    np.testing.assert_allclose(second, 0.5 * first, rtol=1e-3, atol=1e-4 * np.abs(first).max())  # scaled back each
    nib.save(nib.Nifti1Image(np.ones((32, 32), np.float32), np.eye(4)), folder / "image.nii.gz")
    empty = tmp_path / "empty"
    empty.mkdir()
    for overrides, words in ((dict(input_dir=str(folder)), ("mixes k-space", "own run")),
                             (dict(input_dir=str(empty)), ("holds no k-space", "--input_path")),
                             (dict(input_dir=str(folder), input_path=str(folder / "first.npz")),
                              ("not both",))):  # fmt: skip
        with pytest.raises(RuntimeError) as info:
            run(
                config_file=configs(bundle, "inference.json"),
                output_dir=str(tmp_path / "bad"),
                **{**common, **overrides},
            )
        chain, error = [], info.value
        while error is not None:
            chain.append(str(error))
            error = error.__cause__
        assert any(all(w in c for w in words) for c in chain), chain


def test_uncertainty_map_is_the_left_right_flip_spread(bundle, trained, undersampled_inputs, tmp_path):
    """--uncertainty True writes <name>_uncertainty.nii.gz beside the result: |recon - mirrored recon| / 2 in the
    input's units, the mirrored recon being the network on the flipped slice (k-space and mask flipped with it)."""
    common = dict(bundle_root=str(trained), ckpt_path=str(trained / "models" / "trained" / "model.pt"),
                  input_path=str(undersampled_inputs["dir"] / "slice.npz"), inference_backend="torch", **TINY_NET,
                  **TINY_CASCADE)  # fmt: skip
    run(config_file=configs(bundle, "inference.json"), output_dir=str(tmp_path / "out"), uncertainty=True, **common)
    recon = nib.load(tmp_path / "out" / "slice_recon.nii.gz")
    spread = nib.load(tmp_path / "out" / "slice_uncertainty.nii.gz")
    assert spread.shape == recon.shape
    np.testing.assert_allclose(spread.affine, recon.affine, atol=1e-6)
    run(config_file=configs(bundle, "inference.json"), output_dir=str(tmp_path / "mirror"),
        ensemble_network="$monai_genmed.networks.nets.FlipEnsemble(@network, flips=[[-1]])", **common)  # fmt: skip
    mirrored = nib.load(tmp_path / "mirror" / "slice_recon.nii.gz").get_fdata()
    expected = np.abs(recon.get_fdata() - mirrored) / 2
    assert spread.get_fdata().max() > 0
    np.testing.assert_allclose(spread.get_fdata(), expected, atol=1e-4 * np.abs(recon.get_fdata()).max())


def test_verify_net_in_out_and_export_match_eager(bundle, trained, tmp_path, assert_export_matches_eager):
    """verify_net_in_out (the measured k-space and mask as extra forward arguments, at metadata.json's 256x256) and
    ckpt_export, which scripts the cascade (FFTs and data consistency included): the TorchScript module reconstructs
    a slice as the eager network does, keeps the measured samples and still refuses k-space of another size."""
    ckpt, files = trained / "models" / "trained" / "model.pt", configs(bundle, "inference.json")
    meta = str(bundle / "configs" / "metadata.json")
    mask = torch.as_tensor(np.asarray(default_undersampling_mask("poisson2d", 0.2, (256, 256)), np.float32))
    kspace = image_to_kspace(torch.rand(1, 1, 256, 256), channel_dim=1) * mask
    extra = {"kspace_masked": kspace, "mask": mask}
    verify_net_in_out(net_id="network_def", meta_file=meta, config_file=files, device="cpu", extra_forward_args=extra,
                      **TINY_NET, **TINY_CASCADE)  # fmt: skip
    exported = tmp_path / "model.ts"
    ckpt_export(net_id="network_def", filepath=str(exported), ckpt_file=str(ckpt), meta_file=meta, config_file=files,
                key_in_ckpt="model", **TINY_NET, **TINY_CASCADE)  # fmt: skip
    scripted = torch.jit.load(str(exported))
    zf = zero_filled(kspace, channel_dim=1)
    recon = assert_export_matches_eager(scripted, files, ckpt, zf, kspace, mask, **TINY_NET, **TINY_CASCADE)
    m = mask.bool()
    torch.testing.assert_close(image_to_kspace(recon, channel_dim=1)[..., m], kspace[..., m], rtol=0, atol=1e-4)
    with pytest.raises(Exception, match="does not fit images"):
        scripted(zf, kspace[..., :128], mask)


def test_metadata_and_inference_agree_on_the_input_scaling(bundle):
    """metadata.json states the scaling inference.json applies: the 99.5th percentile of the whole zero-filled image
    (no head mask is known at inference), scaled back afterwards."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(configs(bundle, "inference.json"))
    scaling = parser.get("scale_intensity")
    assert scaling["_target_"].endswith("ScaleByPercentiled") and scaling["reference_key"] == "zero_filled"
    assert "mask_key" not in scaling  # the whole image, not a region of it
    meta = json.loads((bundle / "configs" / "metadata.json").read_text())
    percentile = parser.get_parsed_content("intensity_percentile")
    for text in (meta["network_data_format"]["inputs"]["image"]["scaling"], meta["image_classes"]):
        assert f"{percentile:g}th percentile of the whole" in text, text
    verify_metadata(meta_file=str(bundle / "configs" / "metadata.json"),
                    filepath=str(REPO / "configs" / "bundle" / "meta_schema_20240725.json"))  # fmt: skip


def test_fine_tuning_starts_from_init_weights_with_another_pixel_loss(bundle, tmp_path):
    """--init_weights loads a trained network before the first step (here with a learning rate that underflows to
    0 in float32, so the kept model must equal it: 0 itself is refused as a useless setting), --pixel_loss mse
    switches the pixel-only loss; a missing file is named."""
    tiny_cascade = {"cascades": 2, "cascade_channels": 4, "cascade_depth": 3}
    files = configs(bundle, "train.json", "pixel_loss.json")
    run(config_file=files, bundle_root=str(tmp_path), epochs=1, **TINY, **tiny_cascade)
    start = tmp_path / "models" / "trained" / "model.pt"
    run(config_file=files, bundle_root=str(tmp_path), epochs=1, init_weights=str(start), pixel_loss="mse",
        learning_rate=1e-50, ckpt_dir=str(tmp_path / "ft"), output_dir=str(tmp_path / "ft_logs"),
        **TINY, **tiny_cascade)  # fmt: skip
    before, after = (torch.load(p, weights_only=True)["model"] for p in (start, tmp_path / "ft" / "model.pt"))
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert read_csv(tmp_path / "ft_logs" / "metrics.csv")[0]["loss"].startswith("MSE")
    for bad, words in (
        (dict(init_weights=str(tmp_path / "nope.pt")), ("init_weights", "nope.pt")),
        (dict(init_weights=str(start), cascades=3), ("init_weights", "cascades")),
    ):  # other widths
        with pytest.raises(RuntimeError) as info:
            run(config_file=files, bundle_root=str(tmp_path), epochs=1, ckpt_dir=str(tmp_path / "ft2"),
                **TINY, **{**tiny_cascade, **bad})  # fmt: skip
        chain, error = [], info.value
        while error is not None:
            chain.append(str(error))
            error = error.__cause__
        assert any(all(w in c for w in words) for c in chain), chain


def test_cascade_inference_reconstructs_kspace_slice_by_slice_and_refuses_an_image(
    bundle, tmp_path, undersampled_inputs
):
    """inference.json with the cascade overlay: a 3-slice k-space volume in, each slice through the network with
    its own k-space, the measured samples kept exactly (DC inside); an image input is refused with the fix."""
    tiny_cascade = {"cascades": 2, "cascade_channels": 4, "cascade_depth": 3}
    run(config_file=configs(bundle, "train.json", "pixel_loss.json"), bundle_root=str(tmp_path),
        epochs=1, **TINY, **tiny_cascade)  # fmt: skip
    k2d, mask = undersampled_inputs["kspace"], undersampled_inputs["mask"]
    other = sorted(glob.glob(str(tmp_path / "data" / "brain_mr" / "test" / "**" / "*_t1.nii.gz"), recursive=True))[-1]
    k_other = np.asarray(image_to_kspace(nib.load(other).get_fdata().astype(np.float32)[None]))[0] * mask
    volume = np.stack([k2d, 0.5 * k2d, k_other], -1)  # three different slices, each real-valued as the prior assumes
    save_kspace(tmp_path / "volume.npz", volume, mask, undersampled_inputs["affine"])
    common = dict(bundle_root=str(tmp_path), ckpt_path=str(tmp_path / "models" / "trained" / "model.pt"),
                  output_dir=str(tmp_path / "out"), **TINY_NET, **tiny_cascade)  # fmt: skip
    run(config_file=configs(bundle, "inference.json"), input_path=str(tmp_path / "volume.npz"), **common)
    result = nib.load(tmp_path / "out" / "volume_recon.nii.gz")
    assert result.shape == (32, 32, 3)
    np.testing.assert_allclose(result.affine, undersampled_inputs["affine"], atol=1e-5)
    recon = result.get_fdata().astype(np.float32)
    m = mask > 0
    for i in range(3):  # hard DC with the slice's own measurements (the cascade's last layer), up to intensity scaling
        k = np.asarray(image_to_kspace(recon[..., i][None]))[0]
        measured = volume[..., i][m]
        assert np.abs(k[m] - measured).max() < 0.05 * np.abs(measured).max(), f"slice {i} lost its measurements"
    # the flip self-ensemble: each slice averaged over four flips, its measurements still kept
    run(config_file=configs(bundle, "inference.json"), input_path=str(tmp_path / "volume.npz"),
        **dict(common, output_dir=str(tmp_path / "out_flip")), flip_ensemble=True)  # fmt: skip
    flipped = nib.load(tmp_path / "out_flip" / "volume_recon.nii.gz").get_fdata().astype(np.float32)
    assert flipped.shape == recon.shape and not np.allclose(flipped, recon, atol=1e-4)
    for i in range(3):
        k = np.asarray(image_to_kspace(flipped[..., i][None]))[0]
        assert np.abs(k[m] - volume[..., i][m]).max() < 0.05 * np.abs(volume[..., i][m]).max()
    with pytest.raises(RuntimeError) as info:  # the lower-case word reaches the config as a string
        run(config_file=configs(bundle, "inference.json"), input_path=str(tmp_path / "volume.npz"),
            **dict(common, output_dir=str(tmp_path / "out_bad")), flip_ensemble="true")  # fmt: skip
    assert "flip_ensemble must be True or False" in repr(info.value) + repr(info.value.__cause__)
    with pytest.raises(RuntimeError) as info:
        run(config_file=configs(bundle, "inference.json"),
            input_path=str(undersampled_inputs["dir"] / "slice.nii.gz"), **common)  # fmt: skip
    chain, error = [], info.value
    while error is not None:
        chain.append(str(error))
        error = error.__cause__
    assert any("takes the measured k-space" in c and ".npz" in c for c in chain)
