from __future__ import annotations

import torch
from monai.data import DataLoader
from monai.engines import SupervisedEvaluator

from monai_genmed.data import LatentDataset
from monai_genmed.engines import PrepareBatchKeys
from monai_genmed.handlers import FrechetDistanceHandler
from monai_genmed.metrics import FrechetDistance


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
