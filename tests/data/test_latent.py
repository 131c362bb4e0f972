from __future__ import annotations

import pytest
import torch
from monai.data import DataLoader, MetaTensor

from monai_genmed.data import LatentDataset, sample_with_latent_meta


def test_latents_are_seeded_and_leave_the_global_generator_alone():
    torch.manual_seed(0)
    state = torch.get_rng_state()
    a, b = LatentDataset(6, 4, seed=1), LatentDataset(6, 4, seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    torch.testing.assert_close(a.latents, b.latents)
    assert not torch.allclose(LatentDataset(6, 4, seed=2).latents, a.latents)
    item = a[3]
    assert item["latent"].shape == (4,) and item["latent_meta_dict"]["filename_or_obj"] == "sample_0003"
    batch = next(iter(DataLoader(a, batch_size=4)))
    assert batch["latent"].shape == (4, 4) and batch["latent_meta_dict"]["filename_or_obj"][1] == "sample_0001"


def test_a_fitted_gaussian_colours_the_draws():
    mean = torch.tensor([1.0, -2.0])
    covariance = torch.tensor([[4.0, 1.2], [1.2, 1.0]])
    latents = LatentDataset(20000, 2, seed=0, mean=mean, covariance=covariance).latents
    torch.testing.assert_close(latents.mean(0), mean, atol=0.05, rtol=0)
    torch.testing.assert_close(torch.cov(latents.T), covariance, atol=0.1, rtol=0)


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError, match="covariance"):
        LatentDataset(2, 3, covariance=torch.eye(2))
    with pytest.raises(ValueError):
        LatentDataset(0, 3)


def test_a_decoded_sample_takes_its_latents_file_name_for_the_saver():
    item = LatentDataset(2, latent_dim=3, seed=0, prefix="sample")[1]
    out = sample_with_latent_meta({**item, "pred": torch.ones(1, 4, 4)})
    assert isinstance(out["pred"], MetaTensor) and torch.equal(out["pred"].as_tensor(), torch.ones(1, 4, 4))
    assert out["pred"].meta["filename_or_obj"] == "sample_0001"
    assert out["pred"].meta["original_channel_dim"] == "no_channel"
    assert out["latent"] is item["latent"] and "original_channel_dim" not in item["latent_meta_dict"]  # not modified
