"""The ddpm_mri bundle through monai.bundle on tiny data: train with EMA and FD validation, resume exactly, sample with
DDIM (deterministic) and DDPM, verify metadata and the network's input and output, export one denoising step."""

from __future__ import annotations

import csv

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import run

NAME = "ddpm_mri"
TINY_NET = {"unet_channels": [8, 8, 8], "norm_num_groups": 4, "num_head_channels": 8, "num_train_timesteps": 50,
            "device_name": "cpu"}  # fmt: skip
TINY = {
    **TINY_NET,
    "spatial_size": [64, 64],
    "num_subjects": {"training": 1, "validation": 1, "test": 1},
    "slices_per_subject": 4,
    "batch_size": 2,
    "passes_per_epoch": 1,
    "val_interval": 1,
    "val_inference_steps": 2,
    "fd_num_samples": 8,
    "grid_samples": 4,
}


def configs(repo_root, *names):
    return [str(repo_root / "configs" / "brain_mr_64.json" if n == "brain" else
                repo_root / "configs" / "training.json" if n == "training" else
                repo_root / "configs" / "sampling.json" if n == "sample" else
                repo_root / "bundles" / NAME / "configs" / n) for n in names]  # fmt: skip


def train(repo_root, root, **overrides):
    run(
        config_file=configs(repo_root, "brain", "training", "common.json", "train.json"),
        bundle_root=str(root),
        **{**TINY, **overrides},
    )


def sample(repo_root, root, out, **overrides):
    run(config_file=configs(repo_root, "brain", "sample", "common.json", "inference.json"), bundle_root=str(root),
        output_dir=str(out), **{**TINY_NET, "num_samples": 3, "num_inference_steps": 3, **overrides})  # fmt: skip
    return np.stack([nib.load(out / f"sample_{i:04d}.nii.gz").get_fdata() for i in range(3)])


@pytest.fixture(scope="module")
def trained(repo_root, tmp_path_factory):
    root = tmp_path_factory.mktemp(NAME)
    train(repo_root, root, epochs=2)
    return root


def test_training_keeps_the_ema_the_noise_draws_and_the_best_fd_model(trained):
    with open(trained / "logs" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"] and all(float(r["val_fd"]) > 0 for r in rows)
    assert all(np.isfinite(float(r["train_g_mse"])) for r in rows)
    checkpoint = torch.load(trained / "models" / "checkpoints" / "checkpoint_epoch=2.pt", weights_only=True)
    assert set(checkpoint["objective"]) == {"noise_generator"}  # timesteps and noise resume exactly
    raw, ema = checkpoint["network_unet"], checkpoint["unet_ema"]
    assert raw.keys() == ema.keys() and any(not torch.equal(raw[k], ema[k]) for k in raw)  # the EMA lags the weights
    model = torch.load(trained / "models" / "model.pt", weights_only=True)
    assert all(k.startswith("network.") for k in model["model"])  # the sampler's file: the (EMA) U-Net's weights
    assert model["run_fingerprint"]["num_train_timesteps"] == 50
    assert (trained / "logs" / "samples").is_dir() and list((trained / "logs" / "samples").glob("*.png"))


def test_a_resumed_run_gives_the_weights_of_an_uninterrupted_one(repo_root, trained, tmp_path):
    dataset = next(p.parent for p in trained.glob("data/*/datalist.json"))
    train(repo_root, tmp_path, dataset_dir=str(dataset), epochs=1)
    torch.manual_seed(99)  # a new process draws other global numbers: the checkpoint must restore them
    train(repo_root, tmp_path, dataset_dir=str(dataset), epochs=2)
    straight = torch.load(trained / "models" / "checkpoints" / "checkpoint_epoch=2.pt", weights_only=True)
    resumed = torch.load(tmp_path / "models" / "checkpoints" / "checkpoint_epoch=2.pt", weights_only=True)
    for key in ("network_unet", "unet_ema"):
        for name, value in straight[key].items():
            assert torch.equal(value, resumed[key][name]), f"{key}.{name} differs after resuming"


def test_ddim_sampling_is_deterministic_and_ddpm_sampling_works(repo_root, trained, tmp_path):
    first = sample(repo_root, trained, tmp_path / "a")
    again = sample(repo_root, trained, tmp_path / "b")
    assert first.shape == (3, 64, 64) and first.min() >= 0.0 and first.max() <= 1.0
    np.testing.assert_array_equal(first, again)  # DDIM (eta 0) is a function of the noise seed
    assert (tmp_path / "a" / "samples.png").is_file()
    ddpm = sample(repo_root, trained, tmp_path / "c", sampler="ddpm", num_inference_steps=50)
    assert ddpm.shape == (3, 64, 64) and not np.array_equal(ddpm, first)


def test_verify_metadata_and_net_in_out(repo_root, trained):
    from monai.bundle import verify_metadata, verify_net_in_out

    meta = repo_root / "bundles" / NAME / "configs" / "metadata.json"
    verify_metadata(meta_file=str(meta), filepath=str(repo_root / "configs" / "bundle" / "meta_schema_20240725.json"))
    verify_net_in_out(net_id="network_def", meta_file=str(meta), device="cpu", bundle_root=str(trained),
                      config_file=configs(repo_root, "brain", "sample", "common.json", "inference.json"),
                      num_inference_steps=2, **TINY_NET)  # fmt: skip


def test_export_traces_one_denoising_step_that_matches_eager(repo_root, tmp_path, assert_export_matches_eager):
    """ckpt_export of export.json's TracedDenoiser on the shipped weights (a tiny 2-epoch U-Net predicts about 1e-5,
    too close to 0 for the tolerance to mean anything; the shipped one about 4): one denoising step with the image and
    the timesteps as inputs (not the sampling loop), equal to the eager U-Net at the traced batch size and a fixed
    timestep, and at another batch size with other timesteps (inputs of the trace, not constants)."""
    from monai.bundle import ckpt_export

    files = configs(repo_root, "brain", "common.json", "export.json")
    ckpt = repo_root / "bundles" / NAME / "models" / "model.pt"
    exported = tmp_path / "denoiser.ts"
    ckpt_export(net_id="export_def", filepath=str(exported), ckpt_file=str(ckpt), key_in_ckpt="model",
                meta_file=str(repo_root / "bundles" / NAME / "configs" / "metadata.json"), config_file=files,
                device_name="cpu")  # fmt: skip
    traced = torch.jit.load(str(exported))
    noise = torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    eps = assert_export_matches_eager(traced, files, ckpt, noise, torch.tensor([500]), module="network")
    assert eps.shape == noise.shape and eps.abs().max() > 1
    steps = assert_export_matches_eager(traced, files, ckpt, torch.cat([noise] * 3), torch.tensor([0, 250, 999]),
                                        module="network")  # fmt: skip
    assert not torch.allclose(steps[0], steps[2], atol=0.1)  # one image, three timesteps: three outputs


def _messages(error: BaseException) -> str:
    seen = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return "\n".join(str(e) for e in seen)


@pytest.mark.parametrize("setting", [{"ema_momentum": 0.0}, {"val_inference_steps": 0}, {"num_train_timesteps": 1},
                                     {"prediction_type": "noise"}, {"unet_channels": [8, 0, 8]}])  # fmt: skip
def test_useless_settings_are_refused_before_training(repo_root, trained, tmp_path, setting):
    dataset = next(p.parent for p in trained.glob("data/*/datalist.json"))
    with pytest.raises(Exception) as info:
        train(repo_root, tmp_path, dataset_dir=str(dataset), epochs=1, **setting)
    assert next(iter(setting)) in _messages(info.value)
    assert not list((tmp_path / "models").rglob("*.pt"))  # nothing trained


def test_sampling_refuses_an_unknown_sampler(repo_root, trained, tmp_path):
    with pytest.raises(Exception) as info:
        sample(repo_root, trained, tmp_path / "out", sampler="euler")
    assert "sampler" in _messages(info.value)
