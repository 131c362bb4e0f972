"""The gan_mri bundle through monai.bundle on tiny data: every GAN loss trains, the monitor and the best-FD model,
a head start for D, sampling, verify, export."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from monai.bundle import run

NAME = "gan_mri"
TINY_NET = {"generator_channels": [16, 8, 8, 4], "latent_size": 8, "device_name": "cpu"}
TINY = {
    **TINY_NET,
    "spatial_size": [64, 64],
    "num_subjects": {"training": 1, "validation": 1, "test": 1},
    "slices_per_subject": 4,
    "batch_size": 2,
    "passes_per_epoch": 1,
    "discriminator_channels": [4, 8, 8, 16],
    "fd_num_samples": 8,
    "grid_samples": 4,
    "monitor_log_every": 1,
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


@pytest.fixture(scope="module")
def trained(repo_root, tmp_path_factory):
    root = tmp_path_factory.mktemp(NAME)
    train(repo_root, root, epochs=2)
    return root


def test_training_writes_the_best_fd_model_sample_grids_monitor_curves_and_metrics(trained):
    saved = torch.load(trained / "models" / "model.pt", weights_only=True)
    assert saved["run_fingerprint"]["latent_size"] == 8 and "net.0.conv.weight" in saved["model"]
    with open(trained / "logs" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"] and all(float(r["val_fd"]) > 0 for r in rows)
    assert {"train_d_real_logit", "train_d_fake_logit", "train_g_adversarial"} <= set(rows[0])
    assert all(-1.0 < float(r["val_diversity_gap"]) < 1.0 for r in rows)  # samples' diversity minus the real's
    assert sorted(p.name for p in (trained / "logs" / "samples").iterdir()) == [
        "samples_epoch_0001.png",
        "samples_epoch_0002.png",
    ]
    assert (trained / "logs" / "gan_curves.png").is_file()
    checkpoint = torch.load(trained / "models" / "checkpoints" / "checkpoint_epoch=2.pt", weights_only=True)
    history = checkpoint["gan_monitor"]["history"]
    assert len(history["epoch"]["gan_fd"]) == 2 and len(history["iteration"]["gan_d_accuracy"]) == 4
    # z draws and D's augmentations resume exactly, and so does the EMA generator that is validated and saved
    assert set(checkpoint["objective"]) == {"latent_generator", "noise_generator", "augment"}
    assert set(checkpoint["generator_ema"]) == set(saved["model"])


@pytest.mark.parametrize("loss", ["minimax", "wasserstein", "wasserstein_gp", "hinge"])
def test_every_gan_loss_trains_with_its_settings(repo_root, trained, tmp_path, loss):
    train(
        repo_root, tmp_path, epochs=1, gan_loss_name=loss, r1_gamma=1.0, dataset_dir=str(trained / "data" / "brain_mr")
    )
    checkpoint = torch.load(tmp_path / "models" / "checkpoints" / "checkpoint_epoch=1.pt", weights_only=True)
    assert checkpoint["run_fingerprint"]["n_critic"] == (5 if loss.startswith("wasserstein") else 1)
    critic = checkpoint["network_discriminator"]
    if loss == "wasserstein":  # weight clipping
        assert max(v.abs().max().item() for v in critic.values()) <= 0.01
    with open(tmp_path / "logs" / "metrics.csv", newline="") as f:
        row = next(csv.DictReader(f))
    # the gradient penalty (WGAN-GP) or R1 (r1_gamma > 0) is logged; the clipped critic has neither
    assert ("train_d_regularizer" in row) == (loss != "wasserstein")


def test_stabilisers_and_a_discriminator_head_start(repo_root, trained, tmp_path):
    train(repo_root, tmp_path, epochs=1, instance_noise=0.1, weight_penalty=1e-3, head_start_steps=3,
          dataset_dir=str(trained / "data" / "brain_mr"))  # fmt: skip
    with open(tmp_path / "logs" / "metrics.csv", newline="") as f:
        row = next(csv.DictReader(f))
    assert float(row["train_d_weight_penalty"]) > 0
    checkpoint = torch.load(tmp_path / "models" / "checkpoints" / "checkpoint_epoch=1.pt", weights_only=True)
    # the head start stepped D 3 times before the 2 iterations of the run (Adam's step counts)
    steps = {k: int(v["step"]) for k, v in checkpoint["optimizer_d_optimizer"]["state"].items()}
    assert set(steps.values()) == {5}


def test_an_adam_unrolled_run_trains_and_fingerprints_its_look_ahead(repo_root, trained, tmp_path):
    train(repo_root, tmp_path, epochs=1, unroll_steps=2, unroll_optimizer="adam",
          dataset_dir=str(trained / "data" / "brain_mr"))  # fmt: skip
    saved = torch.load(tmp_path / "models" / "model.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in saved["model"].values() if v.is_floating_point())
    checkpoint = torch.load(tmp_path / "models" / "checkpoints" / "checkpoint_epoch=1.pt", weights_only=True)
    assert checkpoint["run_fingerprint"]["unroll_optimizer"] == "adam"  # resuming it as an SGD run is refused
    plain = torch.load(trained / "models" / "checkpoints" / "checkpoint_epoch=2.pt", weights_only=True)
    assert "unroll_optimizer" not in plain["run_fingerprint"]  # the default keeps earlier runs' fingerprints


def test_sampling_writes_nifti_samples_and_a_grid(repo_root, trained, tmp_path):
    run(config_file=configs(repo_root, "brain", "sample", "common.json", "inference.json"), bundle_root=str(trained),
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
    meta = repo_root / "bundles" / NAME / "configs" / "metadata.json"
    config = configs(repo_root, "brain", "sample", "common.json", "inference.json")
    overrides = {**TINY_NET, "_meta_#network_data_format#inputs#image#num_channels": 8}
    scripted = verify_and_export(
        meta, config, trained / "models" / "model.pt", tmp_path, bundle_root=str(trained), **overrides
    )
    latent = torch.randn(2, 8)
    assert scripted(latent).shape == (2, 1, 64, 64)
    assert_export_matches_eager(
        scripted, config, trained / "models" / "model.pt", latent, bundle_root=str(trained), **TINY_NET
    )
    assert json.loads(meta.read_text())["network_data_format"]["inputs"]["image"]["num_channels"] == 64  # the default


def test_a_resumed_run_restores_the_ema_generator_and_the_augmentation_exactly(repo_root, trained, tmp_path):
    data = {"dataset_dir": str(trained / "data" / "brain_mr"), "epochs": 2}
    train(repo_root, tmp_path / "straight", **data)
    train(repo_root, tmp_path / "resumed", **data, **{"train#trainer#max_epochs": 1})  # killed after epoch 1
    torch.manual_seed(99)  # another process's random state: the checkpoint must restore everything
    train(repo_root, tmp_path / "resumed", **data)
    straight, resumed = (torch.load(tmp_path / d / "models" / "checkpoints" / "checkpoint_epoch=2.pt",
                                    weights_only=True) for d in ("straight", "resumed"))  # fmt: skip
    for name, value in straight["generator_ema"].items():
        assert torch.equal(value, resumed["generator_ema"][name]), name
    assert torch.equal(straight["objective"]["augment"]["generator"], resumed["objective"]["augment"]["generator"])
    # the EMA copy, not the raw generator, is what is validated and saved as model.pt
    saved = torch.load(tmp_path / "resumed" / "models" / "model.pt", weights_only=True)["model"]
    best_is_ema = all(torch.equal(v, resumed["generator_ema"][k]) for k, v in saved.items())
    best_is_raw = all(torch.equal(v, resumed["network_generator"][k]) for k, v in saved.items())
    assert best_is_ema or not best_is_raw  # the best epoch may be 1; never the raw weights of epoch 2


def test_a_diversity_margin_ranks_the_kept_model_by_fd_among_diverse_epochs(repo_root, trained, tmp_path):
    """``--select_diversity_margin 0.5``: model.pt is the best FD among epochs within 0.5 of the real diversity."""
    train(repo_root, tmp_path, epochs=2, dataset_dir=str(trained / "data" / "brain_mr"), select_diversity_margin=0.5)
    with open(tmp_path / "logs" / "metrics.csv", newline="") as f:
        rows = [(float(r["val_fd"]), float(r["val_diversity_gap"]), int(r["epoch"])) for r in csv.DictReader(f)]
    within = [r for r in rows if r[1] <= 0.5] or rows
    kept_epoch = min(within)[2]
    saved = torch.load(tmp_path / "models" / "model.pt", weights_only=True)["model"]
    checkpoint = torch.load(tmp_path / "models" / "checkpoints" / "checkpoint_epoch=2.pt", weights_only=True)
    last_is_kept = all(torch.equal(v, checkpoint["generator_ema"][k]) for k, v in saved.items())
    assert last_is_kept == (kept_epoch == 2)


@pytest.mark.parametrize(
    "setting, value",
    [("unroll_steps", -1), ("unroll_steps", 1.5), ("r1_gamma", -1.0), ("augment_probability", 1.5),
     ("generator_ema_momentum", 2.0), ("generator_ema_momentum", -0.1), ("diversity_weight", -1.0),
     ("diversity_pool", 0), ("diversity_pool", 2.5), ("select_diversity_margin", -0.1),
     ("unroll_optimizer", "rmsprop")],
)  # fmt: skip
def test_bad_new_settings_are_named_at_the_start(repo_root, trained, tmp_path, setting, value):
    with pytest.raises(Exception) as info:
        train(repo_root, tmp_path, epochs=1, dataset_dir=str(trained / "data" / "brain_mr"), **{setting: value})
    chain, error = [], info.value
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(setting in str(e) for e in chain), [str(e) for e in chain]
    assert not list(tmp_path.glob("models/checkpoints/*.pt"))
