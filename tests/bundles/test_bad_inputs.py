"""The catalogue of bad inputs and faults every bundle is held to.

Each case is the input or fault, the error type a user gets, and a phrase the message must contain (the file,
the setting or the fix). Cases run through ``monai.bundle.run`` on the real configs with tiny overrides, and are
parametrized over :data:`BUNDLES`: a new bundle adds its :class:`BundleSpec` and inherits every case.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import run

from monai_genmed.handlers import TrainingDivergedError

REPO = Path(__file__).resolve().parents[2]


@dataclass
class BundleSpec:
    """What the catalogue needs to know about a bundle.

    Args:
        name: folder under ``bundles/``.
        train: tiny overrides of ``train.json`` (fast, CPU).
        infer: tiny overrides of ``inference.json`` that match ``train``'s network.
        image_key: datalist key of a training image file to damage.
        changed_setting: a ``train.json`` override that defines another model (resuming with it must fail).
        other_widths: an ``inference.json`` override that builds another width of network.
        make_input: writes a valid inference input from the dataset folder, returns its path; ``None`` for a
            bundle whose inference generates from latents (it has no input file to get wrong).
        discriminator: the training checkpoint's key of a discriminator (loading it as the model must fail);
            ``None`` for a bundle without one.
        dataset_key: the config id of the dataset folder.
        datalist_key: the config id of the datalist file (a user's own data).
        configs_first: shared config files listed before ``train.json``/``inference.json`` (layered configs): a
            name in the bundle's ``configs/``, or a path relative to the repository (``configs/brain_mr_64.json``).
        infer_configs_first: the same for ``inference.json`` when it differs from ``configs_first``.
        trainer_key: the config id of the trainer (its ``max_epochs`` ends a run early, as a kill would).
    """

    name: str
    train: dict[str, Any]
    infer: dict[str, Any]
    image_key: str
    changed_setting: dict[str, Any]
    other_widths: dict[str, Any]
    make_input: Callable[[Path, Path], Path] | None
    discriminator: str | None = "network_discriminator"
    dataset_key: str = "dataset_dir"
    datalist_key: str = "datalist"
    configs_first: tuple[str, ...] = ()
    infer_configs_first: tuple[str, ...] | None = None
    trainer_key: str = "train#trainer"

    def config(self, name: str) -> list[str]:
        folder = REPO / "bundles" / self.name / "configs"
        first = self.configs_first
        if name == "inference.json" and self.infer_configs_first is not None:
            first = self.infer_configs_first
        return [str(REPO / f if "/" in f else folder / f) for f in (*first, name)]


def _dagan_input(dataset: Path, out: Path) -> Path:
    datalist = json.loads((dataset / "datalist.json").read_text())
    return dataset / datalist["test"][0]["image"]  # a fully sampled slice is a valid (trivially undersampled) input


def _test_slice(dataset: Path, out: Path) -> Path:
    datalist = json.loads((dataset / "datalist.json").read_text())
    return dataset / datalist["test"][0]["image"]


def _mr_volume(dataset: Path, out: Path) -> Path:
    """A 3-slice MR volume (the synthesis bundles infer volumes slice by slice) from a test slice."""
    datalist = json.loads((dataset / "datalist.json").read_text())
    image = nib.load(dataset / datalist["test"][0]["mr"])
    path = out / "mr_volume.nii.gz"
    nib.save(nib.Nifti1Image(np.stack([image.get_fdata().astype(np.float32)] * 3, -1), image.affine), path)
    return path


BUNDLES = [
    BundleSpec(
        name="dagan_csmri",
        train={
            "spatial_size": [32, 32],
            "num_subjects": {"training": 1, "validation": 1, "test": 1},
            "slices_per_subject": 4,
            "batch_size": 2,
            "num_workers": 0,
            "epochs": 1,
            "device_name": "cpu",
            "generator_channels": [8, 16, 32],
            "generator_up_channels": [32, 16, 8],
            "discriminator_channels": [8, 16],
            "discriminator_head_channels": [16, 8],
            "discriminator_residual_channels": 4,
            "divergence_patience": 100,
        },
        infer={
            "spatial_size": [32, 32],
            "generator_channels": [8, 16, 32],
            "generator_up_channels": [32, 16, 8],
            "device_name": "cpu",
            "ckpt_path": "$@bundle_root + '/models/model.pt'",  # the tiny training's (the default: a shipped file)
        },
        image_key="image",
        changed_setting={"mask_type": "poisson2d", "sampling_fraction": 0.1},
        other_widths={"generator_channels": [4, 8, 16], "generator_up_channels": [16, 8, 4]},
        make_input=_dagan_input,
        configs_first=("configs/csmri.json", "common.json", "configs/csmri_train.json", "configs/training.json"),
        infer_configs_first=(
            "configs/csmri.json",
            "common.json",
            "configs/csmri_inference.json",
            "configs/inference_loader.json",
        ),
    ),
    BundleSpec(
        name="cyclegan_mr2ct",
        train={
            "spatial_size": [32, 32],
            "num_subjects": {"training": 1, "validation": 1, "test": 1},
            "slices_per_subject": 4,
            "generator_channels": 8,
            "generator_res_blocks": 1,
            "discriminator_channels": 8,
            "epochs": 1,
            "num_workers": 0,
            "device_name": "cpu",
        },
        infer={"spatial_size": [32, 32], "generator_channels": 8, "generator_res_blocks": 1, "device_name": "cpu"},
        image_key="mr",
        changed_setting={"lambda_cycle": 5.0},
        other_widths={"generator_channels": 4},
        make_input=_mr_volume,
        discriminator="network_dis_ct",
        configs_first=("common.json", "configs/training.json"),
        infer_configs_first=("common.json", "configs/inference_loader.json"),
    ),
    *(
        BundleSpec(
            name=name,
            # the guard's patience of 3 lets the tiny 1- and 2-epoch runs through (4 slices cannot beat the mean
            # image in 2 epochs) and stops the 3-epoch run with a learning rate far too high
            train={
                "spatial_size": [64, 64],
                "num_subjects": {"training": 1, "validation": 1, "test": 1},
                "slices_per_subject": 4,
                "batch_size": 2,
                "channels": [4, 8],
                "strides": [2, 2],
                "epochs": 1,
                "num_figure_samples": 4,
                "divergence_patience": 3,
                "device_name": "cpu",
            },
            infer={"channels": [4, 8], "strides": [2, 2], "device_name": "cpu"},
            image_key="image",
            changed_setting={"latent_size": 10},
            other_widths={"channels": [8, 8]},
            make_input=_test_slice,
            discriminator=None,
            configs_first=(
                "configs/brain_mr_64.json",
                "configs/training.json",
                "configs/autoencoder.json",
                "common.json",
            ),
            infer_configs_first=(
                "configs/brain_mr_64.json",
                "configs/autoencoder.json",
                "common.json",
                "configs/inference_loader.json",
            ),
        )
        for name in ("autoencoder_mri", "vae_mri")
    ),
    BundleSpec(
        name="gan_mri",
        train={
            "spatial_size": [64, 64],
            "num_subjects": {"training": 1, "validation": 1, "test": 1},
            "slices_per_subject": 4,
            "batch_size": 2,
            "passes_per_epoch": 1,
            "generator_channels": [16, 8, 8, 4],
            "latent_size": 8,
            "discriminator_channels": [4, 8, 8, 16],
            "fd_num_samples": 8,
            "grid_samples": 4,
            "monitor_log_every": 1,
            "epochs": 1,
            "device_name": "cpu",
        },
        infer={"generator_channels": [16, 8, 8, 4], "latent_size": 8, "num_samples": 2, "device_name": "cpu"},
        image_key="image",
        changed_setting={"latent_size": 4},
        other_widths={"generator_channels": [8, 8, 8, 4]},
        make_input=None,
        configs_first=("configs/brain_mr_64.json", "configs/training.json", "common.json"),
        infer_configs_first=("configs/brain_mr_64.json", "configs/sampling.json", "common.json"),
    ),
]


def _chain(error: BaseException) -> list[BaseException]:
    """The error and its causes: monai.bundle wraps a config expression's error in its own RuntimeError."""
    seen = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen


def expect(fn: Callable[[], Any], types: tuple[type[BaseException], ...], *phrases: str) -> None:
    with pytest.raises(Exception) as info:
        fn()
    chain = _chain(info.value)
    matching = [e for e in chain if isinstance(e, types)]
    assert matching, f"expected {types} in the chain, got {[type(e).__name__ for e in chain]}: {info.value}"
    message = "\n".join(str(e) for e in matching)
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in: {message}"


@pytest.fixture(scope="module", params=BUNDLES, ids=lambda s: s.name)
def bundle(request, tmp_path_factory):
    """A bundle with its tiny dataset and a model trained for one epoch."""
    spec: BundleSpec = request.param
    root = tmp_path_factory.mktemp(spec.name)
    run(config_file=spec.config("train.json"), bundle_root=str(root), **spec.train)
    dataset = next(p.parent for p in root.glob("data/*/datalist.json"))
    return spec, root, dataset


def _train(spec: BundleSpec, root: Path, **overrides: Any) -> None:
    run(config_file=spec.config("train.json"), bundle_root=str(root), **{**spec.train, **overrides})


def _copy_dataset(dataset: Path, tmp_path: Path) -> Path:
    """A copy of the dataset folder (datalist paths are relative), to damage."""
    copy = tmp_path / "data"
    shutil.copytree(dataset, copy)
    return copy


def _first_training_file(spec: BundleSpec, dataset: Path) -> Path:
    datalist = json.loads((dataset / "datalist.json").read_text())
    return dataset / datalist["training"][0][spec.image_key]


def _rewrite(path: Path, change: Callable[[np.ndarray], np.ndarray]) -> None:
    image = nib.load(path)
    nib.save(nib.Nifti1Image(change(image.get_fdata().astype(np.float32)), image.affine), path)


# ---- training: bad data and bad settings ------------------------------------------------------------------------
TRAINING_DATA_FAULTS = {
    "truncated-gzip": (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "truncated or corrupt"),
    "nan-pixels": (
        lambda p: _rewrite(p, lambda a: np.where(np.arange(a.size).reshape(a.shape) % 97 == 0, np.nan, a)),
        "NaN",
    ),
    "values-x1000": (lambda p: _rewrite(p, lambda a: a * 1000.0), "outside the"),
    "missing-file": (lambda p: p.unlink(), "does not exist"),
}


@pytest.mark.parametrize("fault", sorted(TRAINING_DATA_FAULTS))
def test_bad_training_file_is_named_before_training(bundle, tmp_path, fault):
    spec, _, dataset = bundle
    copy = _copy_dataset(dataset, tmp_path)
    bad = _first_training_file(spec, copy)
    damage, phrase = TRAINING_DATA_FAULTS[fault]
    damage(bad)
    # a datalist of the user's own files (the bundle's generator would redo a generated folder with a missing file)
    datalist = str(copy / "datalist.json")
    expect(
        lambda: _train(spec, tmp_path / "run", **{spec.datalist_key: datalist}),
        (ValueError, FileNotFoundError),
        phrase,
        bad.name,
    )
    assert not list((tmp_path / "run").glob("models/checkpoints/*.pt"))  # nothing trained on bad data


def test_empty_training_split_is_an_error(bundle, tmp_path):
    spec, _, dataset = bundle
    copy = _copy_dataset(dataset, tmp_path)
    datalist = json.loads((copy / "datalist.json").read_text())
    datalist["training"] = []
    (copy / "datalist.json").write_text(json.dumps(datalist))
    datalist = str(copy / "datalist.json")
    expect(
        lambda: _train(spec, tmp_path / "run", **{spec.datalist_key: datalist}),
        (ValueError,),
        "training datalist holds 0 item",
    )


def test_batch_larger_than_the_data_is_an_error(bundle, tmp_path):
    spec, _, dataset = bundle
    expect(lambda: _train(spec, tmp_path / "run", batch_size=1000, **{spec.dataset_key: str(dataset)}),
           (ValueError,), "yields no batch", "batch_size=1000", "--batch_size")  # fmt: skip


def test_resume_with_other_model_settings_lists_them(bundle, tmp_path):
    spec, root, _ = bundle
    run_dir = tmp_path / "resume"
    shutil.copytree(root, run_dir)
    key = sorted(spec.changed_setting)[0]
    expect(
        lambda: _train(spec, run_dir, epochs=2, **spec.changed_setting),
        (ValueError,),
        "other settings",
        f"{key}: saved",
    )


def test_learning_rate_far_too_high_does_not_end_successfully(bundle, tmp_path):
    spec, _, dataset = bundle
    expect(lambda: _train(spec, tmp_path / "run", epochs=3, learning_rate=1e6, **{spec.dataset_key: str(dataset)}),
           (TrainingDivergedError, FloatingPointError), "learning rate")  # fmt: skip


# ---- inference: bad inputs and wrong weight files ---------------------------------------------------------------
def _infer(spec: BundleSpec, root: Path, **overrides: Any) -> None:
    run(config_file=spec.config("inference.json"), bundle_root=str(root), **{**spec.infer, **overrides})


def _input_faults(spec: BundleSpec, dataset: Path, tmp: Path) -> dict[str, tuple[Path | str, str]]:
    good = spec.make_input(dataset, tmp)
    truncated, nan, text = tmp / "cut.nii.gz", tmp / "nan.nii.gz", tmp / "notes.txt"
    shutil.copy(good, truncated)
    truncated.write_bytes(truncated.read_bytes()[: len(truncated.read_bytes()) // 2])
    shutil.copy(good, nan)
    _rewrite(nan, lambda a: np.full_like(a, np.nan))
    text.write_text("not an image")
    return {
        "empty": ("", "input_path is empty"),
        "missing": (str(tmp / "gone.nii.gz"), "does not exist"),
        "truncated": (str(truncated), "cut.nii.gz"),
        "nan": (str(nan), "NaN"),
        "not-an-image": (str(text), "is not an image"),
    }


@pytest.mark.parametrize("fault", ["empty", "missing", "truncated", "nan", "not-an-image"])
def test_bad_inference_input_is_named(bundle, tmp_path, fault):
    spec, root, dataset = bundle
    if spec.make_input is None:
        pytest.skip(f"{spec.name} generates from latents: no input file")
    path, phrase = _input_faults(spec, dataset, tmp_path)[fault]
    expect(lambda: _infer(spec, root, input_path=str(path), output_dir=str(tmp_path / "out")),
           (ValueError, FileNotFoundError), phrase)  # fmt: skip
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())  # nothing half-written


def _good_input(spec: BundleSpec, dataset: Path, tmp: Path) -> dict[str, str]:
    """The ``input_path`` override of a valid input; none for a bundle that generates from latents."""
    return {} if spec.make_input is None else {"input_path": str(spec.make_input(dataset, tmp))}


def _weights_faults(spec: BundleSpec, root: Path, tmp: Path) -> dict[str, tuple[Path, dict[str, Any], str]]:
    junk = tmp / "junk.pt"
    junk.write_bytes(b"definitely not a checkpoint")
    training = next(root.glob("models/checkpoints/*.pt"))
    discriminator = tmp / "discriminator.pt"
    if spec.discriminator is not None:
        torch.save({"model": torch.load(training, weights_only=True)[spec.discriminator]}, discriminator)
    model = root / "models" / "model.pt"
    return {
        "junk": (junk, {}, "not a PyTorch weights file"),
        "training-checkpoint": (training, {}, "is a training checkpoint"),
        "discriminator": (discriminator, {}, "another network"),
        "other-widths": (model, spec.other_widths, "trained with other settings"),
        "missing": (tmp / "gone.pt", {}, "does not exist"),
    }


@pytest.mark.parametrize("fault", ["junk", "training-checkpoint", "discriminator", "other-widths", "missing"])
def test_wrong_weight_file_is_named_with_the_fix(bundle, tmp_path, fault):
    spec, root, dataset = bundle
    if fault == "discriminator" and spec.discriminator is None:
        pytest.skip(f"{spec.name} trains no discriminator")
    path, overrides, phrase = _weights_faults(spec, root, tmp_path)[fault]
    expect(lambda: _infer(spec, root, **_good_input(spec, dataset, tmp_path), ckpt_path=str(path),
                          output_dir=str(tmp_path / "out"), **overrides),
           (ValueError, FileNotFoundError), phrase, path.name)  # fmt: skip
    out = tmp_path / "out"
    assert not out.exists() or not list(out.iterdir())  # nothing written from wrong weights


def test_the_training_checkpoint_loads_when_its_key_is_named(bundle, tmp_path):
    """The fix the training-checkpoint message gives works."""
    spec, root, dataset = bundle
    training = next(root.glob("models/checkpoints/*.pt"))
    generator = next(
        k for k in torch.load(training, weights_only=True) if k.startswith("network_") and k != spec.discriminator
    )
    _infer(spec, root, **_good_input(spec, dataset, tmp_path), ckpt_path=str(training), ckpt_key=generator,
           output_dir=str(tmp_path / "out"))  # fmt: skip
    assert list((tmp_path / "out").iterdir())


# ---- a killed run loses nothing and resumes exactly -------------------------------------------------------------
def test_a_resumed_run_gives_the_numbers_of_an_uninterrupted_one(bundle, tmp_path):
    """Killed after epoch 1 and resumed: same shuffles, augmentations and weights as a run that never stopped."""
    spec, _, dataset = bundle
    common = {spec.dataset_key: str(dataset), "epochs": 2}
    _train(spec, tmp_path / "straight", **common)
    # killed after epoch 1: the schedule still spans 2 epochs (a decay to zero depends on it), the trainer stops
    _train(spec, tmp_path / "resumed", **{**common, f"{spec.trainer_key}#max_epochs": 1})
    torch.manual_seed(1234)  # a new process starts from other random states; the checkpoint must restore them
    _train(spec, tmp_path / "resumed", **common)
    straight, resumed = (torch.load(tmp_path / d / "models" / "checkpoints" / "checkpoint_epoch=2.pt",
                                    weights_only=True) for d in ("straight", "resumed"))  # fmt: skip
    networks = [k for k in straight if k.startswith("network_")]
    assert networks
    for key in networks:
        for name, value in straight[key].items():
            assert torch.equal(value, resumed[key][name]), f"{key}.{name} differs after resuming"
    rows = [
        (tmp_path / d / "logs" / "metrics.csv").read_text().splitlines()[-1].split(",") for d in ("straight", "resumed")
    ]
    header = (tmp_path / "straight" / "logs" / "metrics.csv").read_text().splitlines()[0].split(",")
    keep = [i for i, h in enumerate(header) if h != "seconds"]  # wall-clock time differs; no loss or metric may
    assert [rows[0][i] for i in keep] == [rows[1][i] for i in keep]
