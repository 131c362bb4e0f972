from __future__ import annotations

import math

import pytest
import torch
from ignite.engine import Engine
from matplotlib.image import imread
from monai.data import DataLoader
from monai.engines import SupervisedEvaluator

from monai_genmed.data import LatentDataset
from monai_genmed.engines import PrepareBatchKeys
from monai_genmed.handlers.latent_figures import (
    LatentFigures,
    SampleGridSaver,
    encode_images,
    fit_gaussian,
    image_grid,
    latent_pca,
)
from monai_genmed.networks.nets import ConvAutoEncoder


def test_pca_finds_the_axes_and_their_share_of_the_variance():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(500, generator=g), torch.randn(500, generator=g)
    e1, e2 = torch.tensor([1.0, 1.0, 0.0]) / math.sqrt(2), torch.tensor([0.0, 0.0, 1.0])
    codes = 3 * a[:, None] * e1 + b[:, None] * e2 + 5.0  # variances 9 and 1 along e1, e2
    projected, axes, mean, ratio = latent_pca(codes)
    assert abs(float(axes[0].double() @ e1.double())) == pytest.approx(1.0, abs=1e-3)
    assert ratio.tolist() == pytest.approx([0.9, 0.1], abs=0.02)
    assert projected.shape == (500, 2) and mean.tolist() == pytest.approx([5.0, 5.0, 5.0], abs=0.3)
    fitted_mean, covariance = fit_gaussian(codes)
    assert covariance.shape == (3, 3) and float(covariance[2, 2]) == pytest.approx(1.0, abs=0.15)


def test_image_grid_tiles_images_row_by_row():
    images = torch.stack([torch.full((1, 4, 4), v) for v in (0.0, 0.5, 1.0)])
    grid = image_grid(images, ncols=2, pad=1)
    assert grid.shape == (2 * 5 - 1, 2 * 5 - 1)
    assert grid[0, 0] == 0.0 and grid[0, 5] == 0.5 and grid[5, 0] == 1.0 and grid[5, 5] == 1.0  # padding is white


@pytest.fixture
def slices():
    g = torch.Generator().manual_seed(0)
    return [{"image": torch.rand(1, 16, 16, generator=g), "slice_index": 10 + 3 * i} for i in range(6)]


def test_latent_figures_write_every_picture_at_the_end_of_training(slices, tmp_path):
    torch.manual_seed(0)
    ae = ConvAutoEncoder(2, (1, 16, 16), 1, latent_size=3, channels=(4, 8), strides=(2, 2))
    figures = LatentFigures(ae, DataLoader(slices, batch_size=4), str(tmp_path), num_samples=5, interpolation_steps=4)
    trainer = Engine(lambda engine, batch: None)
    figures.attach(trainer)
    ae.train()
    trainer.run([0], max_epochs=1)
    assert set(figures.written) == set(LatentFigures.FIGURES)
    for path in figures.written.values():
        assert imread(path).ndim == 3  # a readable PNG
    assert ae.training  # the network is back in its mode
    assert figures.codes["codes"].shape == (6, 3)
    assert figures.codes["slice_index"].tolist() == [10, 13, 16, 19, 22, 25]
    # the codes are the network's (encode_images is what the figures plot)
    torch.testing.assert_close(
        encode_images(lambda x: ae.eval().encode_forward(x), DataLoader(slices, batch_size=6))["codes"],
        figures.codes["codes"],
    )


def test_networks_without_encode_and_decode_need_functions(slices, tmp_path):
    with pytest.raises(TypeError, match="encode_fn"):
        LatentFigures(torch.nn.Identity(), DataLoader(slices), str(tmp_path))
    with pytest.raises(ValueError, match="unknown figures"):
        LatentFigures(
            ConvAutoEncoder(2, (1, 16, 16), 1, 3, (4,), (2,)), DataLoader(slices), str(tmp_path), figures=["tsne"]
        )


def test_sample_grid_of_a_generator_run_on_fixed_latents(tmp_path):
    generator = torch.nn.Sequential(torch.nn.Linear(4, 64), torch.nn.Sigmoid(), torch.nn.Unflatten(1, (1, 8, 8)))
    saver = SampleGridSaver(str(tmp_path), max_samples=6, ncols=3)
    evaluator = SupervisedEvaluator(
        device="cpu",
        val_data_loader=DataLoader(LatentDataset(10, 4, seed=0), batch_size=4),
        network=generator,
        prepare_batch=PrepareBatchKeys(input_key="latent", target_key=None),
        val_handlers=[saver],
        decollate=False,
    )
    evaluator.run(3)  # as MONAI's ValidationHandler runs it after the trainer's third epoch
    assert [p.split("/")[-1] for p in saver.written] == ["samples_epoch_0003.png"]
    assert sum(len(x) for x in saver._images) == 6
    height, width = imread(saver.written[0]).shape[:2]
    assert width > height  # two rows of three
