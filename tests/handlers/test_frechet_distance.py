from __future__ import annotations

import pytest
import torch
from monai.data import DataLoader
from monai.engines import SupervisedEvaluator

from monai_genmed.data import LatentDataset
from monai_genmed.engines import PrepareBatchKeys
from monai_genmed.handlers import DiversityGapHandler, FrechetDistanceHandler
from monai_genmed.metrics import FrechetDistance, ms_ssim_diversity


def test_frechet_distance_of_a_validator_run_ranks_generators():
    """The key metric of a GAN validator: FD of all samples of the run, lower for the generator nearer the data."""
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 64), indexing="ij")
    disc = ((xx**2 + yy**2) < 0.6).float()
    real = disc * (0.5 + 0.3 * torch.rand(40, 1, 1, 1, generator=g))  # (40, 1, 64, 64) discs of random brightness

    class Decoder(torch.nn.Module):  # images of a disc whose brightness follows z, plus `noise`
        def __init__(self, noise):
            super().__init__()
            self.noise = noise

        def forward(self, z):
            brightness = 0.5 + 0.3 * torch.sigmoid(z[:, :1])[:, :, None, None]
            return (disc * brightness + self.noise * torch.rand(len(z), 1, 64, 64, generator=g)).clamp(0, 1)

    fd = FrechetDistance()
    scores = []
    for noise in (0.0, 0.5):
        handler = FrechetDistanceHandler(fd, real_images=real)
        evaluator = SupervisedEvaluator(
            device="cpu", val_data_loader=DataLoader(LatentDataset(40, 2, seed=1), batch_size=16),
            network=Decoder(noise), prepare_batch=PrepareBatchKeys(input_key="latent", target_key=None),
            key_val_metric={"val_fd": handler},
            decollate=False,
        )  # fmt: skip
        evaluator.run()
        scores.append(evaluator.state.metrics["val_fd"])
    assert 0 <= scores[0] < scores[1]


def _blobs(brightness_spread: float, count: int = 24, seed: int = 0) -> torch.Tensor:
    """(count, 1, 64, 64) discs at random places; ``brightness_spread`` 0 makes them all alike in brightness."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 64), indexing="ij")
    centres = 0.6 * (torch.rand(count, 2, generator=g) - 0.5)
    discs = ((xx - centres[:, :1, None]) ** 2 + (yy - centres[:, 1:, None]) ** 2 < 0.3).float()[:, None]
    return discs * (0.6 + brightness_spread * (torch.rand(count, 1, 1, 1, generator=g) - 0.5))


def test_diversity_gap_is_zero_for_real_images_and_large_for_a_collapsed_generator():
    real = _blobs(0.6)
    collapsed = real[:1].expand(24, -1, -1, -1)  # one image, repeated
    gaps = {}
    for name, images in (("real", real), ("collapsed", collapsed)):
        evaluator = SupervisedEvaluator(
            device="cpu", val_data_loader=DataLoader(images, batch_size=8),
            network=torch.nn.Identity(), prepare_batch=lambda batch, device, non_blocking: (batch, None),
            key_val_metric={"val_diversity_gap": DiversityGapHandler(real, num_pairs=32)},
            decollate=False,
        )  # fmt: skip
        evaluator.run()
        gaps[name] = evaluator.state.metrics["val_diversity_gap"]
    assert abs(gaps["real"]) < 1e-6  # same images, same pairs: no gap
    real_diversity = ms_ssim_diversity(real, num_pairs=32)
    assert gaps["collapsed"] == pytest.approx(1.0 - real_diversity, abs=1e-4)  # MS-SSIM of identical pairs is 1
    handler = DiversityGapHandler(real, num_pairs=32)
    handler.update(real)
    before = torch.get_rng_state()
    handler.compute()
    assert torch.equal(torch.get_rng_state(), before)  # its own pair draws: a training keeps its trajectory


def test_diversity_gap_refuses_too_few_images():
    with pytest.raises(ValueError, match="at least 2 real_images"):
        DiversityGapHandler(torch.zeros(1, 1, 8, 8))
    handler = DiversityGapHandler(_blobs(0.6))
    handler.update(torch.zeros(1, 1, 64, 64))
    with pytest.raises(ValueError, match="at least 2 generated"):
        handler.compute()
