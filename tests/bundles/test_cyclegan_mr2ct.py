"""The cyclegan_mr2ct bundle end to end through monai.bundle on tiny data: CycleGAN and paired training, resume,
inference on a volume, evaluation, verify_metadata, verify_net_in_out and ckpt_export."""

from __future__ import annotations

import csv
import json
import shutil

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ckpt_export, run, verify_metadata, verify_net_in_out
from monai.transforms import LoadImage
from monai.utils import optional_import

from monai_genmed.networks.nets import ResNetGenerator
from monai_genmed.transforms.io import dicom_series_files, new_uid, read_dicom_header, write_dicom_series

pydicom, has_pydicom = optional_import("pydicom")

NET = {"spatial_size": [32, 32], "generator_channels": 8, "generator_res_blocks": 1, "device_name": "cpu"}
TINY = {**NET, "num_subjects": {"training": 1, "validation": 1, "test": 2}, "slices_per_subject": 4,
        "discriminator_channels": 8, "num_workers": 0}  # fmt: skip


@pytest.fixture(scope="module")
def bundle(repo_root):
    return repo_root / "bundles" / "cyclegan_mr2ct"


def configs(bundle, name):
    shared = {"train": "training.json", "inference": "inference_loader.json"}.get(name.split("_")[0].split(".")[0])
    shared = [str(bundle.parents[1] / "configs" / shared)] if shared else []
    return [str(bundle / "configs" / "common.json"), *shared, str(bundle / "configs" / name)]


@pytest.fixture(scope="module")
def trained(bundle, tmp_path_factory):
    root = tmp_path_factory.mktemp("cyclegan_bundle")
    run(config_file=configs(bundle, "train.json"), logging_file=str(bundle / "configs" / "logging.conf"),
        bundle_root=str(root), epochs=2, **TINY)  # fmt: skip
    return root


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_cyclegan_trains_with_validation_mae_and_the_lookup_in_the_metrics(trained):
    metrics = rows(trained / "logs" / "metrics.csv")
    assert [r["epoch"] for r in metrics] == ["1", "2"]
    for key in (
        "val_mae",
        "val_psnr",
        "val_ssim",
        "train_g_cycle_a",
        "train_d_adversarial_b",
        "baseline_lookup_val_mae",
    ):
        assert float(metrics[-1][key]) == float(metrics[-1][key])  # present and a number
    assert float(metrics[-1]["val_mae"]) > 0
    saved = torch.load(trained / "models" / "model.pt", weights_only=True)
    assert saved["run_fingerprint"]["generator_channels"] == 8 and "model" in saved
    assert sorted(p.name for p in (trained / "logs" / "images").iterdir()) == ["epoch_0001.png", "epoch_0002.png"]


def test_cyclegan_resumes_from_the_saved_iteration_with_its_pools(bundle, trained):
    before = torch.load(trained / "models" / "checkpoints" / "checkpoint_epoch=2.pt", weights_only=True)
    pools = before["objective"]
    assert len(pools["pool_b"]["images"]) == 8  # 2 epochs x 4 training slices, all stored (pool of 50)
    run(config_file=configs(bundle, "train.json"), bundle_root=str(trained), epochs=3, **TINY)
    metrics = rows(trained / "logs" / "metrics.csv")
    assert [r["epoch"] for r in metrics] == ["1", "2", "3"]
    after = torch.load(trained / "models" / "checkpoints" / "checkpoint_epoch=3.pt", weights_only=True)
    assert after["trainer"]["iteration"] == before["trainer"]["iteration"] + 4
    stored = after["objective"]["pool_b"]["images"]
    assert len(stored) == 12 and all(torch.equal(a, b) for a, b in zip(stored[:8], pools["pool_b"]["images"]))


def test_generator_ema_is_validated_saved_and_restored_on_resume(bundle, tmp_path):
    """generator_ema_momentum > 0: validation and model.pt use the EMA of SynCT's weights, the EMA is in the training
    checkpoint, and a resumed run continues from the saved EMA (not a fresh copy of the raw weights)."""
    import shutil

    momentum, steps = 0.3, 4  # 4 training slices, batch 1: 4 updates per epoch
    ema = {**TINY, "generator_ema_momentum": momentum, "data_root": str(tmp_path / "data")}
    run(config_file=configs(bundle, "train.json"), bundle_root=str(tmp_path / "a"), epochs=1, **ema)
    ckpt = tmp_path / "a" / "models" / "checkpoints" / "checkpoint_epoch=1.pt"
    first = torch.load(ckpt, weights_only=True)
    best = torch.load(tmp_path / "a" / "models" / "model.pt", weights_only=True)["model"]
    assert best.keys() == first["syn_ct_ema"].keys() and all(torch.equal(best[k], first["syn_ct_ema"][k]) for k in best)
    assert any(not torch.equal(first["network_syn_ct"][k], best[k]) for k in best)  # the EMA, not the raw weights
    # a twin run whose saved EMA is zeroed: training is the same, so the EMAs differ by (1 - m)^steps * saved EMA
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    zeroed = {**first, "syn_ct_ema": {k: torch.zeros_like(v) for k, v in first["syn_ct_ema"].items()}}
    torch.save(zeroed, tmp_path / "b" / "models" / "checkpoints" / "checkpoint_epoch=1.pt")
    for r in ("a", "b"):
        run(config_file=configs(bundle, "train.json"), bundle_root=str(tmp_path / r), epochs=2, **ema)
    ends = [
        torch.load(tmp_path / r / "models" / "checkpoints" / "checkpoint_epoch=2.pt", weights_only=True) for r in "ab"
    ]
    for k, saved in first["syn_ct_ema"].items():
        torch.testing.assert_close(ends[0]["network_syn_ct"][k], ends[1]["network_syn_ct"][k])
        torch.testing.assert_close(ends[0]["syn_ct_ema"][k] - ends[1]["syn_ct_ema"][k], (1 - momentum) ** steps * saved)


def test_training_crops_mr_and_ct_independently_and_validation_keeps_whole_slices(bundle, trained):
    """train_crop_size: each sample's MR and CT are random windows of their cached slices, drawn independently."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(configs(bundle, "train.json"))
    parser.update({"bundle_root": str(trained), **TINY, "train_crop_size": [16, 16]})
    dataset = parser.get_parsed_content("train#dataset")
    dataset.set_epoch(0)
    offsets = set()
    for i in range(len(dataset)):
        item = dataset[i]
        assert item["mr"].shape[-2:] == (16, 16) and item["ct"].shape[-2:] == (16, 16)
        for key, cache in (("mr", dataset.data_a), ("ct", dataset.data_b)):
            full = [np.asarray(c[key][0]) for c in cache]
            crop = np.asarray(item[key][0])
            hits = [(y, x) for f in (full + [g[:, ::-1] for g in full]) for y in range(17) for x in range(17)
                    if np.array_equal(f[y:y + 16, x:x + 16], crop)]  # fmt: skip
            assert hits, f"the {key} crop is not a window of a training slice"
            offsets.add((key, hits[0]))
    assert len(offsets) > 2  # windows move between samples and between MR and CT
    val = parser.get_parsed_content("validate#dataset")
    assert val[0]["mr"].shape[-2:] == (32, 32)


def test_paired_baseline_trains_on_misaligned_pairs(bundle, tmp_path):
    run(config_file=configs(bundle, "train_paired_l1.json"), bundle_root=str(tmp_path), epochs=1, batch_size=2,
        train_misalignment=0.5, **TINY)  # fmt: skip
    metrics = rows(tmp_path / "logs" / "metrics.csv")
    assert metrics[0]["train_misalignment"] == "0.5" and float(metrics[0]["train_g_total"]) > 0
    assert (tmp_path / "data" / "head_mr_ct_misaligned_0.5" / "datalist.json").is_file()  # trained on moved CT
    assert (tmp_path / "models" / "model.pt").is_file()


def _volume_from_slice(path, out):
    """A 5-slice RAS volume whose every axial slice is the given training-format slice."""
    image = nib.load(path)
    volume = nib.Nifti1Image(np.stack([image.get_fdata().astype(np.float32)] * 5, -1), image.affine)
    canonical = nib.as_closest_canonical(volume)
    assert nib.aff2axcodes(canonical.affine) == ("R", "A", "S")
    nib.save(canonical, out)
    return image.get_fdata().astype(np.float32)


def test_inference_writes_int16_hu_with_the_input_affine_matching_the_slice_network(bundle, trained, tmp_path):
    datalist = json.loads((trained / "data" / "head_mr_ct" / "datalist.json").read_text())
    mr = _volume_from_slice(trained / "data" / "head_mr_ct" / datalist["test"][0]["mr"], tmp_path / "mr.nii.gz")
    run(config_file=configs(bundle, "inference.json"), bundle_root=str(trained),
        input_path=str(tmp_path / "mr.nii.gz"), output_dir=str(tmp_path / "out"), mask_outside_head=False,
        **NET)  # fmt: skip
    result = nib.load(tmp_path / "out" / "mr_synct.nii.gz")
    source = nib.load(tmp_path / "mr.nii.gz")
    assert result.shape == source.shape and result.get_data_dtype() == np.int16
    np.testing.assert_allclose(result.affine, source.affine, atol=1e-5)
    # the same numbers as the network on the training-format slice (orientation and scaling undone exactly)
    net = ResNetGenerator(2, 1, 1, channels=8, num_res_blocks=1)
    net.load_state_dict(torch.load(trained / "models" / "model.pt", weights_only=True)["model"])
    net.eval()
    scale = np.percentile(mr * 5 / 5, 99.5)  # inference scales the volume by its 99.5th percentile
    x = torch.from_numpy(mr / scale * 2 - 1)[None, None]
    with torch.no_grad():
        y = net(x).numpy()[0, 0]
        y_mirrored = torch.flip(net(torch.flip(x, (3,))), (3,)).numpy()[0, 0]  # upright slices: axis 1 is left-right
    slice_affine = nib.load(trained / "data" / "head_mr_ct" / datalist["test"][0]["mr"]).affine

    def in_ras(array):
        return nib.as_closest_canonical(nib.Nifti1Image(np.stack([array] * 5, -1), slice_affine)).get_fdata()

    assert np.abs(result.get_fdata() - in_ras(-1024 + (y + 1) / 2 * 4024)).max() <= 1.0  # int16 rounding
    # the flip-spread uncertainty beside it (on by default): float32 HU on the same grid, the network's own spread
    spread = nib.load(tmp_path / "out" / "mr_synct_uncertainty.nii.gz")
    assert spread.get_data_dtype() == np.float32 and spread.shape == source.shape
    np.testing.assert_allclose(spread.affine, source.affine, atol=1e-5)
    np.testing.assert_allclose(spread.get_fdata(), in_ras(np.abs(y - y_mirrored) / 2 * 2012), atol=0.05)
    assert spread.get_fdata().max() > 0
    # --uncertainty False: one pass, no second file, the same synthetic CT
    run(config_file=configs(bundle, "inference.json"), bundle_root=str(trained), input_path=str(tmp_path / "mr.nii.gz"),
        output_dir=str(tmp_path / "one_pass"), mask_outside_head=False, uncertainty=False, **NET)  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "one_pass").iterdir()) == ["mr_synct.nii.gz"]
    np.testing.assert_array_equal(nib.load(tmp_path / "one_pass" / "mr_synct.nii.gz").get_fdata(), result.get_fdata())


def test_inference_sets_the_air_around_the_head_to_air(bundle, trained, tmp_path):
    """The generator never saw air around a head (training slices lie inside it); the post-processing sets the
    wide dark regions that reach the MR's edge to -1000 HU and their uncertainty to 0, and leaves the head alone."""
    datalist = json.loads((trained / "data" / "head_mr_ct" / "datalist.json").read_text())
    _volume_from_slice(trained / "data" / "head_mr_ct" / datalist["test"][0]["mr"], tmp_path / "slab.nii.gz")
    slab = nib.load(tmp_path / "slab.nii.gz")
    pad = 12  # 12 voxels of air (MR 0) around the slab in-plane: a field of view larger than the head
    padded = np.pad(slab.get_fdata().astype(np.float32), ((pad, pad), (pad, pad), (0, 0)))
    affine = slab.affine.copy()
    affine[:3, 3] -= affine[:3, :2] @ [pad, pad]
    nib.save(nib.Nifti1Image(padded, affine), tmp_path / "mr.nii.gz")
    outputs = {}
    for masked in (True, False):
        run(config_file=configs(bundle, "inference.json"), bundle_root=str(trained),
            input_path=str(tmp_path / "mr.nii.gz"), output_dir=str(tmp_path / str(masked)), mask_outside_head=masked,
            **NET)  # fmt: skip
        outputs[masked] = [
            nib.load(tmp_path / str(masked) / f"mr_synct{p}.nii.gz").get_fdata() for p in ("", "_uncertainty")
        ]
    (sct, spread), (plain, plain_spread) = outputs[True], outputs[False]
    air = np.ones(padded.shape, bool)
    air[pad:-pad, pad:-pad] = False
    assert np.all(sct[air] == -1000) and np.all(spread[air] == 0)
    assert np.abs(plain[air] + 1000).mean() > 10  # what the tiny generator makes of air it never saw
    changed = sct != plain
    assert not changed[~air].mean() > 0.05  # the slab (a crop inside the head) is left (nearly) alone
    np.testing.assert_array_equal(spread[~changed], plain_spread[~changed])


def test_inference_reads_a_dicom_mr_series_and_writes_a_ct_series_of_its_study(bundle, trained, tmp_path):
    datalist = json.loads((trained / "data" / "head_mr_ct" / "datalist.json").read_text())
    _volume_from_slice(trained / "data" / "head_mr_ct" / datalist["test"][0]["mr"], tmp_path / "mr.nii.gz")
    source = nib.load(tmp_path / "mr.nii.gz")
    study = {"0010|0010": "Phantom^Colin", "0010|0020": "C27", "0020|000d": new_uid(), "0020|0052": new_uid()}
    write_dicom_series(source.get_fdata(), source.affine, tmp_path / "mr_series", reference=study, modality="MR",
                       rescale_intercept=0, rescale_slope=1e-4)  # fmt: skip
    # a DICOM input writes the DICOM series without being asked, beside the NIfTI
    run(config_file=configs(bundle, "inference.json"), bundle_root=str(trained), input_path=str(tmp_path / "mr_series"),
        output_dir=str(tmp_path / "out"), **NET)  # fmt: skip
    nifti = nib.load(tmp_path / "out" / "mr_series_synct.nii.gz")
    assert nifti.shape == source.shape and nifti.get_data_dtype() == np.int16
    np.testing.assert_allclose(nifti.affine, source.affine, atol=1e-4)
    series = tmp_path / "out" / "mr_series_synct"
    files = dicom_series_files(series)
    assert len(files) == source.shape[2]  # one file a slice
    ct = LoadImage(image_only=True, reader="ITKReader")(str(series))
    np.testing.assert_array_equal(ct.numpy(), nifti.get_fdata())  # HU of every voxel
    np.testing.assert_allclose(ct.affine.numpy(), nifti.affine, atol=1e-4)  # world coordinates of every voxel
    header = read_dicom_header(files[0])
    assert (
        {t: header[t] for t in study} == study
        and header["0008|0060"] == "CT"
        and header["0008|0008"].startswith("DERIVED")
    )
    assert header["0020|000e"] != read_dicom_header(tmp_path / "mr_series")["0020|000e"]
    if has_pydicom:  # a second reader: a few voxels' HU at the world coordinates the NIfTI gives them
        for i, j, k in ((0, 0, 0), (10, 20, 2), (31, 31, 4)):
            ds = pydicom.dcmread(files[k])
            hu = float(ds.pixel_array[j, i]) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
            assert hu == nifti.get_fdata()[i, j, k]
            row_dir, col_dir = (
                np.array(ds.ImageOrientationPatient[:3], float),
                np.array(ds.ImageOrientationPatient[3:], float),
            )
            world = (
                np.array(ds.ImagePositionPatient, float)
                + i * float(ds.PixelSpacing[1]) * row_dir
                + j * float(ds.PixelSpacing[0]) * col_dir
            )
            np.testing.assert_allclose(world * [-1, -1, 1], (nifti.affine @ [i, j, k, 1])[:3], atol=1e-3)  # LPS vs RAS
    # a NIfTI input writes the series when asked
    run(config_file=configs(bundle, "inference.json"), bundle_root=str(trained), input_path=str(tmp_path / "mr.nii.gz"),
        output_dir=str(tmp_path / "out2"), output_format="dicom", **NET)  # fmt: skip
    assert len(dicom_series_files(tmp_path / "out2" / "mr_synct")) == source.shape[2]
    assert (tmp_path / "out2" / "mr_synct.nii.gz").is_file()


@pytest.mark.skipif(not has_pydicom, reason="pydicom is not installed (pip install '.[dicom]')")
def test_inference_on_pydicoms_mr_test_file_keeps_its_patient_study_and_plane(bundle, trained, tmp_path):
    from pydicom.data import get_testdata_file

    series = tmp_path / "mr_small"
    series.mkdir()
    mr = pydicom.dcmread(shutil.copy(get_testdata_file("MR_small.dcm"), series / "MR_small.dcm"))
    run(config_file=configs(bundle, "inference.json"), bundle_root=str(trained), input_path=str(series),
        output_dir=str(tmp_path / "out"), **NET)  # fmt: skip
    (ct_file,) = dicom_series_files(tmp_path / "out" / "mr_small_synct")
    ct = pydicom.dcmread(ct_file)
    for keyword in ("PatientID", "PatientName", "StudyInstanceUID", "FrameOfReferenceUID", "Rows", "Columns"):
        assert ct.get(keyword) == mr.get(keyword), keyword
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
        np.testing.assert_allclose(np.array(ct.get(keyword), float), np.array(mr.get(keyword), float), atol=1e-4)
    assert ct.Modality == "CT" and ct.SeriesInstanceUID != mr.SeriesInstanceUID and ct.ImageType[0] == "DERIVED"
    nifti = np.squeeze(nib.load(tmp_path / "out" / "mr_small_synct.nii.gz").get_fdata())  # one slice
    hu = ct.pixel_array * float(ct.RescaleSlope) + float(ct.RescaleIntercept)
    np.testing.assert_array_equal(hu, nifti.T)  # rows run along the NIfTI's second axis


def test_evaluate_writes_the_table_with_the_lookup_and_the_trained_model(bundle, trained):
    run(config_file=configs(bundle, "evaluate.json"), bundle_root=str(trained), **TINY)
    table = rows(trained / "eval" / "results.csv")
    methods = {r["method"]: r for r in table}
    assert set(methods) == {"intensity-to-HU lookup", "CycleGAN (default train.json)"}  # untrained runs left out
    assert all(int(r["subjects"]) == 2 for r in table)
    per_subject = rows(trained / "eval" / "per_subject.csv")
    assert len(per_subject) == 4
    for name in ("results.md", "mae_vs_misalignment.png", "examples.png", "t_tests.csv", "validation_curves.png"):
        assert (trained / "eval" / name).is_file()


def test_evaluate_rebuilds_rows_and_t_tests_from_archived_scores_without_the_weights(bundle, trained, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    run(config_file=configs(bundle, "evaluate.json"), bundle_root=str(trained), eval_dir=str(first), **TINY)
    archived = {"name": "an earlier run", "kind": "unpaired", "misalignment": None,
                "checkpoint": str(tmp_path / "gone.pt"), "scores": str(first / "per_subject.csv"),
                "scores_method": "CycleGAN (default train.json)"}  # fmt: skip
    run(
        config_file=configs(bundle, "evaluate.json"),
        bundle_root=str(trained),
        eval_dir=str(second),
        methods=[archived],
        **TINY,
    )
    before = {r["method"]: r for r in rows(first / "results.csv")}["CycleGAN (default train.json)"]
    after = {r["method"]: r for r in rows(second / "results.csv")}["an earlier run"]
    assert float(after["mae"]) == pytest.approx(float(before["mae"])) and float(after["ssim"]) == pytest.approx(
        float(before["ssim"])
    )
    assert after["source"].startswith("archived scores") and before["source"] == "scored here"
    tests = rows(second / "t_tests.csv")
    assert [(t["a"], t["b"]) for t in tests] == [("an earlier run", "intensity-to-HU lookup")]
    with pytest.raises(Exception) as error:
        run(config_file=configs(bundle, "evaluate.json"), bundle_root=str(trained), eval_dir=str(second),
            methods=[{**archived, "scores_method": "no such method"}], **TINY)  # fmt: skip
    assert "set the method's 'scores_method'" in str(error.value.__cause__ or error.value)


def test_verify_metadata_net_in_out_and_export(bundle, trained, repo_root, tmp_path, assert_export_matches_eager):
    meta = str(bundle / "configs" / "metadata.json")
    verify_metadata(meta_file=meta, filepath=str(repo_root / "configs" / "bundle" / "meta_schema_20240725.json"))
    verify_net_in_out(net_id="network_def", meta_file=meta, config_file=configs(bundle, "inference.json"), device="cpu",
                      bundle_root=str(trained), **NET)  # fmt: skip
    exported = tmp_path / "model.ts"
    ckpt_export(net_id="network_def", filepath=str(exported), ckpt_file=str(trained / "models" / "model.pt"),
                meta_file=meta, config_file=configs(bundle, "inference.json"), bundle_root=str(trained),
                key_in_ckpt="model", **NET)  # fmt: skip
    scripted = torch.jit.load(str(exported))
    mr = torch.rand(1, 1, 32, 32) * 2 - 1
    assert scripted(mr).shape == (1, 1, 32, 32)
    assert_export_matches_eager(scripted, configs(bundle, "inference.json"), trained / "models" / "model.pt", mr,
                                bundle_root=str(trained), **NET)  # fmt: skip


def test_inference_runs_a_3d_generator_through_a_sliding_window(bundle, tmp_path):
    torch.manual_seed(0)
    net = ResNetGenerator(3, 1, 1, channels=4, num_res_blocks=1)
    torch.save(net.state_dict(), tmp_path / "model3d.pt")  # a bare state dict of another user's 3D training
    rng = np.random.default_rng(0)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    nib.save(nib.Nifti1Image(rng.random((20, 18, 12)).astype(np.float32), affine), tmp_path / "mr.nii.gz")
    run(config_file=configs(bundle, "inference.json"), bundle_root=str(tmp_path),
        input_path=str(tmp_path / "mr.nii.gz"), ckpt_path=str(tmp_path / "model3d.pt"),
        output_dir=str(tmp_path / "out"), network_spatial_dims=3,
        roi_size_3d=[16, 16, 16], generator_channels=4, generator_res_blocks=1, device_name="cpu")  # fmt: skip
    result = nib.load(tmp_path / "out" / "mr_synct.nii.gz")
    assert result.shape == (20, 18, 12) and result.get_data_dtype() == np.int16
    np.testing.assert_allclose(result.affine, affine, atol=1e-5)
