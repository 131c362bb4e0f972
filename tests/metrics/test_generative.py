from __future__ import annotations

import logging

import pytest
import torch
import torch.nn as nn
from monai.metrics import MultiScaleSSIMMetric

from monai_genmed.metrics import (
    MS_SSIM_64_KERNEL_SIZE,
    MS_SSIM_64_WEIGHTS,
    FrechetDistance,
    compute_frechet_distance,
    load_feature_extractor,
    ms_ssim_diversity,
)


class TinyExtractor(nn.Module):
    """Mean intensity per quadrant and the global std: 5 features that react to shifts and contrast."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2] // 2, x.shape[3] // 2
        quads = [x[..., :h, :w], x[..., :h, w:], x[..., h:, :w], x[..., h:, w:]]
        feats = torch.stack([q.mean((1, 2, 3)) for q in quads] + [x.std((1, 2, 3))], 1)
        return feats * self.scale


def smooth_images(n: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 1, 4, 4, generator=g)
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = torch.randn(200, 8, generator=torch.Generator().manual_seed(0))
    assert abs(float(compute_frechet_distance(features, features))) < 1e-4


@pytest.mark.parametrize("shift", [0.5, 1.0, 2.0])
def test_frechet_distance_of_a_shifted_set_is_the_squared_shift(shift):
    features = torch.randn(200, 8, generator=torch.Generator().manual_seed(0))
    # same covariance: FD is |mu_a - mu_b|^2 = 8 shift^2
    assert float(compute_frechet_distance(features + shift, features)) == pytest.approx(8 * shift**2, rel=1e-3)


def test_frechet_distance_needs_the_same_features():
    with pytest.raises(ValueError, match="feature lengths differ"):
        compute_frechet_distance(torch.randn(10, 4), torch.randn(10, 5))
    with pytest.raises(ValueError, match="pool spatial feature maps"):
        compute_frechet_distance(torch.randn(10, 4, 2), torch.randn(10, 4, 2))


def test_shipped_encoder_runs_on_tiny_sets():
    fd = FrechetDistance()
    assert fd.name == "FD (monai_genmed brain encoder)"
    real, generated = smooth_images(6, seed=0), smooth_images(5, seed=1)
    value = fd(generated, real)
    assert value.dtype == torch.float64 and torch.isfinite(value) and float(value) > 0
    assert fd.extract(real).shape == (6, 128)


def test_fd_uses_the_reference_and_grows_with_a_shift():
    fd = FrechetDistance(TinyExtractor())
    assert fd.name == "FD (TinyExtractor)"
    with pytest.raises(ValueError, match="set_reference"):
        fd(smooth_images(8))
    real = smooth_images(64, seed=0)
    fd.set_reference(real)
    values = [float(fd(smooth_images(64, seed=1) + s)) for s in (0.0, 0.1, 0.3)]
    assert values == sorted(values) and values[2] > 10 * values[0]


def test_spatial_feature_maps_are_pooled():
    conv = nn.Conv2d(1, 3, 3).eval()
    fd = FrechetDistance(conv, value_range=None)
    assert fd.extract(torch.rand(4, 1, 16, 16)).shape == (4, 3)


def test_out_of_range_images_are_warned_about(caplog):
    fd = FrechetDistance(TinyExtractor())
    with caplog.at_level(logging.WARNING):
        fd.extract(2 * smooth_images(4) - 1)
    assert "(x + 1) / 2" in caplog.text


def test_torchscript_extractor_file(tmp_path):
    net = TinyExtractor().eval()
    path = tmp_path / "extractor.ts"
    torch.jit.save(torch.jit.script(net), path)
    fd = FrechetDistance(path)
    assert fd.name == "FD (extractor.ts)"
    images = smooth_images(4)
    torch.testing.assert_close(fd.extract(images), net(images))


@pytest.mark.parametrize("wrapped", [False, True], ids=["state_dict", "wrapped"])
def test_state_dict_extractor_file(tmp_path, wrapped):
    source = TinyExtractor()
    with torch.no_grad():
        source.scale.copy_(torch.arange(1.0, 6.0))
    path = tmp_path / "weights.pt"
    torch.save({"state_dict": source.state_dict()} if wrapped else source.state_dict(), path)
    fd = FrechetDistance(path, network=TinyExtractor())
    images = smooth_images(4)
    torch.testing.assert_close(fd.extract(images), source(images).detach())


def test_extractor_file_errors_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt.*torch.jit.save"):
        load_feature_extractor(tmp_path / "missing.pt")
    state = tmp_path / "state.pt"
    torch.save(TinyExtractor().state_dict(), state)
    with pytest.raises(ValueError, match="state.pt.*not TorchScript.*network="):
        load_feature_extractor(state)
    scripted = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(TinyExtractor()), scripted)
    with pytest.raises(ValueError, match="scripted.pt.*TorchScript.*drop network="):
        load_feature_extractor(scripted, network=TinyExtractor())
    junk = tmp_path / "junk.pt"
    junk.write_text("not a model")
    with pytest.raises(ValueError, match="junk.pt.*neither a TorchScript file nor a torch state dict"):
        load_feature_extractor(junk)
    with pytest.raises(ValueError, match="state.pt.*do not fit Conv2d"):
        load_feature_extractor(state, network=nn.Conv2d(1, 2, 3))
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(ValueError, match="tensor.pt.*not a state dict"):
        load_feature_extractor(tensor, network=TinyExtractor())


def test_diversity_of_identical_images_is_one():
    images = smooth_images(1).repeat(6, 1, 1, 1)
    assert ms_ssim_diversity(images, num_pairs=10) == pytest.approx(1.0, abs=1e-5)


def test_diversity_of_independent_noise_is_lower_than_of_near_duplicates():
    noise = torch.rand(8, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    base = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    near_duplicates = (base + 0.05 * torch.randn(8, 1, 64, 64, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    assert ms_ssim_diversity(noise, num_pairs=20) < 0.1 < 0.9 < ms_ssim_diversity(near_duplicates, num_pairs=20) < 0.999


def test_diversity_pairs_are_distinct_and_seeded():
    pair = smooth_images(2, seed=3)
    expected = MultiScaleSSIMMetric(spatial_dims=2, kernel_size=MS_SSIM_64_KERNEL_SIZE, weights=MS_SSIM_64_WEIGHTS)(
        pair[:1], pair[1:]
    )
    # with two images every pair is (0, 1) or (1, 0): never an image with itself
    assert ms_ssim_diversity(pair, num_pairs=7) == pytest.approx(float(expected), abs=1e-5)
    images = smooth_images(10, seed=4)
    assert ms_ssim_diversity(images, num_pairs=9, seed=1) == ms_ssim_diversity(images, num_pairs=9, seed=1)


def test_diversity_defaults_fit_64_and_the_error_says_what_fits_32():
    images = smooth_images(4, size=32)
    with pytest.raises(ValueError, match="for 32x32: weights=\\(0.3, 0.7\\), kernel_size=7"):
        ms_ssim_diversity(images)
    assert 0 < ms_ssim_diversity(images, num_pairs=4, weights=(0.3, 0.7), kernel_size=7) < 1
