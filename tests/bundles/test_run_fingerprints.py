"""The run fingerprints of gan_mri, ddpm_mri and the autoencoders are the same dicts as before their settings became a
config dict.

A checkpoint stores its ``run_fingerprint`` and a resume compares it with the configured one, so a run started
before the change must find the same keys and values: each case builds the fingerprint from the bundle's configs
and compares it with what the expression it replaced gives, ``$dict(@fingerprint, key=@key, ...)`` (the arguments
below, in the order that expression listed them).
"""

from __future__ import annotations

import pytest
from monai.bundle import ConfigParser

#: the arguments after ``@fingerprint`` of each bundle's former ``run_fingerprint`` expression
FORMER_ARGUMENTS = {
    "gan_mri": (
        "gan_loss_name", "n_critic", "learning_rate", "g_learning_rate", "d_learning_rate", "batch_size",
        "num_subjects", "discriminator_channels", "discriminator_norm", "spectral_norm", "minibatch_std_group",
        "instance_noise", "weight_penalty", "r1_gamma", "r1_every", "augment_policy", "augment_probability",
        "unroll_steps", "unroll_learning_rate", "diversity_weight", "diversity_pool", "generator_ema_momentum",
        "head_start_steps", "snr", "seed",
    ),
    "ddpm_mri": ("learning_rate", "batch_size", "ema_momentum", "passes_per_epoch", "snr", "seed"),
    "autoencoder_mri": ("**@loss_fingerprint", "image_size", "snr", "learning_rate", "batch_size", "seed"),
}  # fmt: skip
FORMER_ARGUMENTS["vae_mri"] = FORMER_ARGUMENTS["autoencoder_mri"]  # both train through configs/autoencoder.json


def former_expression(name: str) -> str:
    arguments = (a if a.startswith("**") else f"{a}=@{a}" for a in FORMER_ARGUMENTS[name])
    return "$dict(@fingerprint, " + ", ".join(arguments) + ")"


def parser(repo_root, name: str, **overrides) -> ConfigParser:
    shared = ["configs/brain_mr_64.json", "configs/training.json"]
    shared += ["configs/autoencoder.json"] if name in ("autoencoder_mri", "vae_mri") else []
    files = [*shared, f"bundles/{name}/configs/common.json", f"bundles/{name}/configs/train.json"]
    config = ConfigParser()
    config.read_config([str(repo_root / f) for f in files])
    for key, value in overrides.items():  # as `monai.bundle run --key value` sets them
        config[key] = value
    config["former_run_fingerprint"] = former_expression(name)
    return config


@pytest.mark.parametrize(
    "name, overrides",
    [
        ("gan_mri", {}),
        ("gan_mri", {"gan_loss_name": "wasserstein_gp"}),
        ("gan_mri", {"gan_loss_name": "wasserstein", "r1_gamma": 1.0}),
        ("gan_mri", {"diversity_weight": 2.0}),
        ("gan_mri", {"unroll_steps": 5, "augment_probability": 0}),
        ("gan_mri", {"generator_ema_momentum": 0.0, "num_subjects": {"training": 4, "validation": 1, "test": 1}}),
        ("gan_mri", {"select_diversity_margin": 0.05, "latent_size": 8}),
        ("ddpm_mri", {}),
        ("ddpm_mri", {"learning_rate": 1e-4, "ema_momentum": 0.01, "unet_channels": [8, 8, 8]}),
        ("autoencoder_mri", {}),
        ("vae_mri", {}),
        ("vae_mri", {"learning_rate": 1e-3, "spatial_size": [32, 32]}),
    ],
)
def test_run_fingerprint_keeps_its_keys_and_values(repo_root, name, overrides):
    config = parser(repo_root, name, **overrides)
    fingerprint = config.get_parsed_content("run_fingerprint")
    former = config.get_parsed_content("former_run_fingerprint")
    assert list(fingerprint.items()) == list(former.items())
    for key, value in overrides.items():
        if key in fingerprint:
            assert fingerprint[key] == value


def test_the_diversity_margin_of_model_selection_stays_out_of_the_gan_fingerprint(repo_root):
    """Choosing which epoch's model is kept does not change the run: a run resumes with another margin."""
    default = parser(repo_root, "gan_mri").get_parsed_content("run_fingerprint")
    margin = parser(repo_root, "gan_mri", select_diversity_margin=0.05).get_parsed_content("run_fingerprint")
    assert margin == default and not any("diversity_margin" in key for key in margin)
