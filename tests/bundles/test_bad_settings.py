"""The bad-input catalogue, continued: settings that make a useless model, inputs a model cannot use, and errors
that must name the input and the fix (issue 22, groups 2-4). Runs the real configs through ``monai.bundle`` with
the tiny overrides of :mod:`test_bad_inputs`, whose bundles and ``expect`` it reuses.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import itk
import nibabel as nib
import numpy as np
import pytest
import torch

from monai_genmed.transforms.kspace import save_kspace

from .conftest import REPO, csmri_configs
from .test_bad_inputs import BUNDLES, BundleSpec, _chain, _copy_dataset, _infer, _train, bundle, expect  # noqa: F401 (bundle: the fixture)

BY_NAME = {spec.name: spec for spec in BUNDLES}


# ---- group 3: settings that make a useless model are refused before training ------------------------------------
COMMON_SETTINGS = {
    "learning_rate-0": ({"learning_rate": 0}, "learning_rate=0", "number > 0"),
    "epochs-0": ({"epochs": 0}, "epochs=0", "integer >= 1"),
    "batch_size-0": ({"batch_size": 0}, "batch_size=0", "integer >= 1"),
    "batch_size-string": ({"batch_size": "8"}, "batch_size='8'", "without quotes"),
}
BUNDLE_SETTINGS = {
    "cyclegan_mr2ct": {
        "lambda_cycle--1": ({"lambda_cycle": -1}, "lambda_cycle=-1", "number > 0"),
        "ema-momentum-2": ({"generator_ema_momentum": 2}, "generator_ema_momentum=2", "in [0, 1]"),
        "slicing-inference-cannot-use": ({"slicing": "coronal"}, "slicing='coronal'", "one of 'axial', 'sagittal'"),
        "crop-larger-than-images": ({"train_crop_size": [64, 64]}, "train_crop_size=[64, 64] does not fit", "[32, 32]"),
        "pool_size--1": ({"pool_size": -1}, "pool_size=-1", "integer >= 0"),
    },
    "dagan_csmri": {
        "alpha--1": ({"alpha": -1}, "alpha=-1", "number >= 0"),
        "lr_halving_epochs-0": ({"lr_halving_epochs": 0}, "lr_halving_epochs=0", "integer >= 1"),
        "sampling_fraction-0": ({"sampling_fraction": 0}, "sampling_fraction=0", "in (0, 1]"),
        "refinement-string": ({"refinement": "false"}, "--refinement False"),
    },
    "autoencoder_mri": {"latent_size-0": ({"latent_size": 0}, "latent_size=0", "integer >= 1")},
    "vae_mri": {
        "latent_size-0": ({"latent_size": 0}, "latent_size=0", "integer >= 1"),
        "beta--1": ({"beta": -1}, "beta=-1", "number > 0"),
        "kl_warmup_epochs--1": ({"kl_warmup_epochs": -1}, "kl_warmup_epochs=-1", "integer >= 0"),
    },
    "gan_mri": {
        "passes_per_epoch-0": ({"passes_per_epoch": 0}, "passes_per_epoch=0", "integer >= 1"),
        "gradient_penalty_weight--1": ({"gradient_penalty_weight": -1}, "gradient_penalty_weight=-1", "number >= 0"),
        "latent_size-0": ({"latent_size": 0}, "latent_size=0", "integer >= 1"),
    },
}
SETTING_CASES = [(name, case) for name in BY_NAME for case in [*COMMON_SETTINGS, *BUNDLE_SETTINGS[name]]]


@pytest.mark.parametrize("name, case", SETTING_CASES, ids=[f"{n}-{c}" for n, c in SETTING_CASES])
def test_a_useless_setting_is_refused_before_training(tmp_path, name, case):
    spec = BY_NAME[name]
    overrides, *phrases = {**COMMON_SETTINGS, **BUNDLE_SETTINGS[name]}[case]
    expect(lambda: _train(spec, tmp_path / "run", **overrides), (ValueError,), *phrases)
    assert not list((tmp_path / "run").rglob("*.pt"))  # nothing trained, nothing saved


# ---- group 2: inputs a model cannot use are refused, what users have is accepted ---------------------------------
def _slice(spec: BundleSpec, dataset: Path, key: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    datalist = json.loads((dataset / "datalist.json").read_text())
    image = nib.load(dataset / datalist["test"][0][key or spec.image_key])
    return image.get_fdata().astype(np.float32), image.affine


def _save(array: np.ndarray, affine: np.ndarray, path: Path) -> str:
    nib.save(nib.Nifti1Image(array, affine), path)
    return str(path)


def _dicom_ct(array: np.ndarray, path: Path) -> str:
    """A one-slice DICOM file whose Modality tag says CT."""
    image = itk.image_from_array(np.ascontiguousarray(array.T[None]).astype(np.int16))
    image.GetMetaDataDictionary()["0008|0060"] = "CT"
    itk.imwrite(image, str(path))
    return str(path)


def _input_cases(spec: BundleSpec, dataset: Path, tmp: Path) -> dict[str, tuple[str, dict[str, Any], str]]:
    image, affine = _slice(spec, dataset)
    if spec.name == "cyclegan_mr2ct":
        volume = np.stack([image] * 3, -1)
        ct, _ = _slice(spec, dataset, "ct")
        return {
            "ct-in-hounsfield": (_save(np.stack([ct] * 3, -1), affine, tmp / "ct.nii.gz"), {}, "Hounsfield"),
            "dicom-modality-ct": (_dicom_ct(image * 1000, tmp / "ct.dcm"), {}, "is a CT image (DICOM Modality tag)"),
            "negative-mr": (_save(volume - 0.5, affine, tmp / "zscored.nii.gz"), {}, "no negative values"),
            "constant": (_save(np.ones_like(volume), affine, tmp / "blank.nii.gz"), {}, "holds one value"),
            "4d-two-volumes": (_save(np.stack([volume] * 2, -1), affine, tmp / "two.nii.gz"), {}, "2 along axis 3"),
            "sw_batch_size-0": (_save(volume, affine, tmp / "mr.nii.gz"), {"sw_batch_size": 0}, "sw_batch_size=0"),
        }
    if spec.name == "dagan_csmri":
        kspace = np.fft.fftshift(np.fft.fft2(image)).astype(np.complex64)
        cut = Path(save_kspace(tmp / "cut.npz", kspace))
        cut.write_bytes(cut.read_bytes()[: len(cut.read_bytes()) // 2])
        np.savez(tmp / "nothing.npz", kspace=kspace, mask=np.zeros(image.shape, np.uint8))
        np.savez(tmp / "soft.npz", kspace=kspace, mask=np.full(image.shape, 0.5))
        return {
            "negative": (_save(image - 0.5, affine, tmp / "real_part.nii.gz"), {}, "no negative values"),
            "constant": (_save(np.ones_like(image), affine, tmp / "blank.nii.gz"), {}, "holds one value"),
            "4d": (_save(image[..., None, None].repeat(2, -1), affine, tmp / "echoes.nii.gz"), {}, "along axis 3"),
            "truncated-npz": (str(cut), {}, "cut.npz"),
            "mask-samples-nothing": (str(tmp / "nothing.npz"), {}, "no measured sample"),
            "mask-not-binary": (str(tmp / "soft.npz"), {}, "not binary"),
            "slice_batch_size-0": (
                _save(image, affine, tmp / "zf.nii.gz"),
                {"slice_batch_size": 0},
                "slice_batch_size=0",
            ),
        }
    return {  # autoencoder_mri, vae_mri: slices in the training range
        "values-x1000": (_save(image * 1000, affine, tmp / "x1000.nii.gz"), {}, "outside the"),
        "volume": (_save(np.stack([image] * 3, -1), affine, tmp / "volume.nii.gz"), {}, "has 3 dimensions"),
        "constant": (_save(np.full_like(image, 0.5), affine, tmp / "blank.nii.gz"), {}, "holds one value"),
        "jpg-output": (_save(image, affine, tmp / "ok.nii.gz"), {"output_ext": ".jpg"}, "output_ext='.jpg'"),
    }


INPUT_CASES = {
    "cyclegan_mr2ct": [
        "ct-in-hounsfield",
        "dicom-modality-ct",
        "negative-mr",
        "constant",
        "4d-two-volumes",
        "sw_batch_size-0",
    ],
    "dagan_csmri": [
        "negative",
        "constant",
        "4d",
        "truncated-npz",
        "mask-samples-nothing",
        "mask-not-binary",
        "slice_batch_size-0",
    ],  # fmt: skip
    "autoencoder_mri": ["values-x1000", "volume", "constant", "jpg-output"],
    "vae_mri": ["values-x1000", "volume", "constant", "jpg-output"],
}


INPUT_PAIRS = [(BY_NAME[name], case) for name, cases in INPUT_CASES.items() for case in cases]


@pytest.mark.parametrize(
    "bundle, case", INPUT_PAIRS, indirect=["bundle"], ids=[f"{s.name}-{c}" for s, c in INPUT_PAIRS]
)
def test_an_input_the_model_cannot_use_is_refused(bundle, tmp_path, case):
    spec, root, dataset = bundle
    path, overrides, phrase = _input_cases(spec, dataset, tmp_path)[case]
    expect(lambda: _infer(spec, root, input_path=path, output_dir=str(tmp_path / "out"), **overrides),
           (ValueError,), phrase)  # fmt: skip
    out = tmp_path / "out"
    assert not out.exists() or not list(out.iterdir())  # refused before any output


@pytest.mark.parametrize("bundle", [BY_NAME["cyclegan_mr2ct"]], indirect=True, ids=["cyclegan_mr2ct"])
def test_cyclegan_takes_a_2d_slice_and_a_4d_file_with_one_volume(bundle, tmp_path):
    spec, root, dataset = bundle
    image, affine = _slice(spec, dataset)
    volume = np.stack([image] * 3, -1)
    for name, array in (("volume", volume), ("slice", image), ("one_volume", volume[..., None])):
        _infer(
            spec, root, input_path=_save(array, affine, tmp_path / f"{name}.nii.gz"), output_dir=str(tmp_path / name)
        )
    reference = nib.load(tmp_path / "volume" / "volume_synct.nii.gz").get_fdata()
    slice_ = nib.load(tmp_path / "slice" / "slice_synct.nii.gz").get_fdata()
    one_volume = nib.load(tmp_path / "one_volume" / "one_volume_synct.nii.gz").get_fdata()
    assert slice_.squeeze().shape == image.shape
    assert np.abs(slice_.squeeze() - reference[..., 1]).max() <= 1.0  # the slice network on the same slice (int16 HU)
    assert np.array_equal(one_volume.reshape(reference.shape), reference)


# ---- group 4: messages that name the input and the fix ----------------------------------------------------------
def test_an_output_folder_that_is_a_file_is_refused_first(bundle, tmp_path):
    spec, root, dataset = bundle
    taken = tmp_path / "results"
    taken.write_text("a file where the folder should go")
    inputs = {} if spec.make_input is None else {"input_path": str(spec.make_input(dataset, tmp_path))}
    expect(lambda: _infer(spec, root, output_dir=str(taken), **inputs), (ValueError,), "output_dir=", "is a file")


def test_float_samples_to_jpg_are_refused(tmp_path):
    spec = BY_NAME["gan_mri"]
    # sampling checks its settings before it loads weights: no trained model is needed to refuse them
    for overrides, phrase in (({"output_ext": ".jpg"}, "output_ext='.jpg'"), ({"num_samples": 0}, "num_samples=0")):
        expect(partial(_infer, spec, tmp_path, output_dir=str(tmp_path / "out"), **overrides), (ValueError,), phrase)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


ADVERSARIAL = [spec for spec in BUNDLES if spec.discriminator is not None]


@pytest.mark.parametrize("bundle", ADVERSARIAL, indirect=True, ids=[s.name for s in ADVERSARIAL])
def test_the_training_checkpoint_hint_names_a_key_that_loads(bundle, tmp_path):
    spec, root, dataset = bundle
    training = next(root.glob("models/checkpoints/*.pt"))
    inputs = {} if spec.make_input is None else {"input_path": str(spec.make_input(dataset, tmp_path))}
    with pytest.raises(Exception) as info:
        _infer(spec, root, ckpt_path=str(training), output_dir=str(tmp_path / "out"), **inputs)
    message = "\n".join(str(e) for e in _chain(info.value))
    assert f"--ckpt_key {spec.discriminator}" not in message
    key = message.split("--ckpt_key ")[1].split()[0].rstrip(".")
    _infer(spec, root, ckpt_path=str(training), ckpt_key=key, output_dir=str(tmp_path / "out"), **inputs)
    assert list((tmp_path / "out").iterdir())
    # the hinted key holds the network the model file holds
    model = torch.load(root / "models" / "model.pt", weights_only=True)["model"]
    assert set(torch.load(training, weights_only=True)[key]) == set(model)


RECONSTRUCTING = [BY_NAME[name] for name in ("dagan_csmri", "autoencoder_mri", "vae_mri")]


@pytest.mark.parametrize("bundle", RECONSTRUCTING, indirect=True, ids=[s.name for s in RECONSTRUCTING])
def test_a_slice_saved_with_extra_axes_of_size_1_gives_the_same_result(bundle, tmp_path):
    """A 2D slice exported as (H, W, 1) or (H, W, 1, 1), as many tools write one, is the same slice."""
    spec, root, dataset = bundle
    image, affine = _slice(spec, dataset)
    extra = image[..., None, None] if spec.name == "dagan_csmri" else image[..., None]
    for name, array in (("plain", image), ("extra", extra)):
        _infer(
            spec, root, input_path=_save(array, affine, tmp_path / f"{name}.nii.gz"), output_dir=str(tmp_path / name)
        )
    plain, extra_out = (nib.load(next((tmp_path / n).iterdir())).get_fdata() for n in ("plain", "extra"))
    assert extra_out.shape == plain.shape
    np.testing.assert_allclose(extra_out, plain, atol=1e-5)


def test_a_folder_as_the_weights_file_is_named(tmp_path):
    spec = BY_NAME["gan_mri"]
    (tmp_path / "models").mkdir()
    expect(lambda: _infer(spec, tmp_path, ckpt_path=str(tmp_path / "models"), output_dir=str(tmp_path / "out")),
           (ValueError,), "is a folder", "model.pt")  # fmt: skip


@pytest.mark.parametrize("bundle", [BY_NAME["cyclegan_mr2ct"]], indirect=True, ids=["cyclegan_mr2ct"])
def test_training_ct_scaled_to_0_1_is_refused_before_training(bundle, tmp_path):
    """A CT saved scaled (e.g. to [0, 1]) passed the HU range check and trained a useless synthesis model."""
    spec, _, dataset = bundle
    copy = _copy_dataset(dataset, tmp_path)
    for path in copy.rglob("*_ct.nii.gz"):
        image = nib.load(path)
        nib.save(nib.Nifti1Image(((image.get_fdata() + 1024) / 4024).astype(np.float32), image.affine), path)
    expect(lambda: _train(spec, tmp_path / "run", datalist=str(copy / "datalist.json")), (ValueError,),
           "_ct.nii.gz' spans only", "CT in HU")  # fmt: skip
    assert not list((tmp_path / "run").rglob("*.pt"))  # nothing trained


@pytest.mark.parametrize("name", list(BY_NAME))
@pytest.mark.parametrize("key", ["output_dir", "ckpt_dir"])
def test_training_refuses_a_results_folder_that_is_a_file(tmp_path, name, key):
    """It failed with a bare NotADirectoryError/FileExistsError naming neither the setting nor the fix."""
    taken = tmp_path / "taken"
    taken.write_text("a file where the folder should go")
    expect(lambda: _train(BY_NAME[name], tmp_path / "run", **{key: str(taken)}), (ValueError,), f"{key}=", "is a file")


MAGNITUDE = [BY_NAME[name] for name in ("cyclegan_mr2ct", "dagan_csmri")]


@pytest.mark.parametrize("bundle", MAGNITUDE, indirect=True, ids=[s.name for s in MAGNITUDE])
def test_small_negative_values_from_resampling_are_accepted(bundle, tmp_path):
    """Spline resampling leaves magnitude images with small negative values: they are valid input."""
    spec, root, dataset = bundle
    image, affine = _slice(spec, dataset)
    image[0, 0] = -0.01 * image.max()
    _infer(spec, root, input_path=_save(image, affine, tmp_path / "resampled.nii.gz"), output_dir=str(tmp_path / "out"))
    assert list((tmp_path / "out").iterdir())


# ---- evaluation settings are checked like training and inference settings (issue 22) -----------------------------
EVALUATE_SETTINGS = {
    "dagan_csmri": {
        "tune_slices-0": ({"tune_slices": 0}, "tune_slices=0", "integer >= 1"),
        "test_slices--1": ({"test_slices": -1}, "test_slices=-1", "integer >= 1, or None"),
        "slow_method_slices-0": ({"slow_method_slices": 0}, "slow_method_slices=0", "integer >= 1"),
        "test-subjects-0": ({"num_subjects": {"training": 1, "validation": 1, "test": 0}}, "num_subjects#test=0"),
    },
    "cyclegan_mr2ct": {
        "slices_per_subject-0": ({"slices_per_subject": 0}, "slices_per_subject=0", "integer >= 1"),
        "test-subjects-0": ({"num_subjects": {"training": 1, "validation": 1, "test": 0}}, "num_subjects#test=0"),
        "mr_snr-0": ({"mr_snr": 0}, "mr_snr=0", "number > 0"),
    },
}
EVALUATE_CASES = [(name, case) for name, cases in EVALUATE_SETTINGS.items() for case in cases]


@pytest.mark.parametrize("name, case", EVALUATE_CASES, ids=[f"{n}-{c}" for n, c in EVALUATE_CASES])
def test_a_useless_evaluation_setting_is_refused_first(tmp_path, name, case):
    """evaluate.json ran without check_settings: --tune_slices 0 reached the comparison, --test_slices -1 scored a
    silently shortened test split."""
    from monai.bundle import run

    spec = BY_NAME[name]
    overrides, *phrases = EVALUATE_SETTINGS[name][case]
    # the CS-MRI comparison is the shared configs/csmri_evaluate.json under the bundle's common.json
    files = (
        csmri_configs(REPO / "bundles" / name, "evaluate.json")
        if name == "dagan_csmri"
        else spec.config("evaluate.json")
    )
    expect(lambda: run(config_file=files, bundle_root=str(tmp_path), device_name="cpu", **overrides),
           (ValueError,), "useless or failing evaluation", *phrases)  # fmt: skip
    assert not list(tmp_path.rglob("*.nii.gz")) and not list(tmp_path.rglob("*.csv"))  # refused before data or scores


# ---- dagan_csmri: inputs of another slice size than the model's are refused, not tiled or padded -----------------
def _kspace_of(image: np.ndarray) -> np.ndarray:
    return np.fft.fftshift(np.fft.fft2(image)).astype(np.complex64)


def _slice_size_cases(dataset: Path, tmp: Path) -> dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """``{case: (input file, extra config files, phrases)}`` for the tiny bundle, trained at spatial_size 32x32."""
    spec = BY_NAME["dagan_csmri"]
    image, affine = _slice(spec, dataset)  # 32 x 32
    large = np.pad(image, 8)  # 48 x 48
    small_volume = np.stack([image[8:24, 8:24]] * 3, -1)  # 16 x 16 x 3
    np.savez(tmp / "mask_other_size.npz", kspace=_kspace_of(image), mask=np.ones((16, 16), np.uint8))
    small = _kspace_of(image[8:24, 8:24])
    save_kspace(tmp / "small_cascade.npz", small, np.ones(small.shape, np.float32))
    return {
        "image-larger": (_save(large, affine, tmp / "large.nii.gz"), (),
                         ("large.nii.gz", "(48, 48)", "spatial_size [32, 32]", "Resample, crop or pad",
                          "--spatial_size")),
        "volume-smaller": (_save(small_volume, affine, tmp / "small_volume.nii.gz"), (),
                           ("small_volume.nii.gz", "(16, 16)", "spatial_size [32, 32]", "Resample, crop or pad")),
        "kspace-larger-dagan": (save_kspace(tmp / "large.npz", _kspace_of(large), np.ones(large.shape, np.float32)), (),
                                ("large.npz", "k-space", "(48, 48)", "spatial_size [32, 32]",
                                 "crop the k-space centre")),
        "kspace-smaller-cascade": (str(tmp / "small_cascade.npz"), ("bundles/cascade_csmri/configs/common.json",),
                                   ("small_cascade.npz", "(16, 16)", "spatial_size [32, 32]",
                                    "train with --spatial_size")),
        "kspace-mask-other-size": (str(tmp / "mask_other_size.npz"), (),
                                   ("mask_other_size.npz", "mask of shape (16, 16) does not match k-space",
                                    "leave it out")),
    }  # fmt: skip


SLICE_SIZE_CASES = [
    "image-larger",
    "volume-smaller",
    "kspace-larger-dagan",
    "kspace-smaller-cascade",
    "kspace-mask-other-size",
]


@pytest.mark.parametrize("bundle", [BY_NAME["dagan_csmri"]], indirect=True, ids=["dagan_csmri"])
@pytest.mark.parametrize("case", SLICE_SIZE_CASES)
def test_dagan_refuses_slices_of_another_size_than_the_model(bundle, tmp_path, case):
    """A 48x48 image was tiled into 32x32 windows and a smaller k-space padded, with rc 0: aliasing spans the whole
    field of view, so neither is a reconstruction. The cascade (data consistency inside) is refused the same way:
    nothing shows that a size it was not trained at gives the right image. The check runs before the weights load."""
    spec, root, dataset = bundle
    path, extra, phrases = _slice_size_cases(dataset, tmp_path)[case]
    configs = [*spec.config("inference.json"), *(str(REPO / f) for f in extra)]
    expect(
        lambda: run_config(configs, root, input_path=path, output_dir=str(tmp_path / "out")), (ValueError,), *phrases
    )
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def run_config(configs: list[str], root: Path, **overrides: Any) -> None:
    from monai.bundle import run

    run(config_file=configs, bundle_root=str(root), **{**BY_NAME["dagan_csmri"].infer, **overrides})


@pytest.mark.parametrize("bundle", [BY_NAME["dagan_csmri"]], indirect=True, ids=["dagan_csmri"])
def test_dagan_reconstructs_a_volume_of_the_model_slice_size_slice_by_slice(bundle, tmp_path):
    """What the size check must let through: a 3D volume of spatial_size slices, each reconstructed on its own."""
    spec, root, dataset = bundle
    image, affine = _slice(spec, dataset)
    volume = np.stack([image, image[::-1], image[:, ::-1]], -1)
    _infer(spec, root, input_path=_save(volume, affine, tmp_path / "volume.nii.gz"), output_dir=str(tmp_path / "vol"))
    _infer(
        spec, root, input_path=_save(image[:, ::-1], affine, tmp_path / "one.nii.gz"), output_dir=str(tmp_path / "one")
    )
    out = nib.load(tmp_path / "vol" / "volume_recon.nii.gz").get_fdata()
    assert out.shape == volume.shape
    # slice 2 alone (its own percentile scaling) is close to slice 2 of the volume (the volume's scaling)
    one = nib.load(tmp_path / "one" / "one_recon.nii.gz").get_fdata().squeeze()
    assert np.corrcoef(one.ravel(), out[..., 2].ravel())[0, 1] > 0.99


@pytest.mark.parametrize("bundle", [BY_NAME["dagan_csmri"]], indirect=True, ids=["dagan_csmri"])
def test_a_near_empty_input_is_named_with_the_fix(bundle, tmp_path):
    """'the 99.5th percentile of the image is 0' named neither the file nor what to do."""
    spec, root, dataset = bundle
    image, affine = _slice(spec, dataset)
    empty = np.zeros_like(image)
    empty[10, 10] = 1.0  # one pixel of signal: not constant, but the 99.5th percentile is 0
    path = _save(empty, affine, tmp_path / "nearly_blank.nii.gz")
    expect(lambda: _infer(spec, root, input_path=str(path), output_dir=str(tmp_path / "out")), (ValueError,),
           "nearly_blank", "99.5th percentile", "right file", "--intensity_percentile 100")  # fmt: skip
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
