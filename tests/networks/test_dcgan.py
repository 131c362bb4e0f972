from __future__ import annotations

import pytest
import torch

from monai_genmed.networks.nets import DCGANDiscriminator, DCGANGenerator


@pytest.mark.parametrize("image_size, channels", [(16, (16, 8)), (32, (16, 8, 4)), (64, (16, 8, 8, 4))])
def test_generator_and_discriminator_shapes(image_size, channels):
    g = DCGANGenerator(latent_dim=7, image_size=image_size, channels=channels)
    z = torch.randn(3, 7)
    images = g(z)
    assert images.shape == (3, 1, image_size, image_size)
    assert 0 <= images.min() and images.max() <= 1  # sigmoid output: [0, 1] magnitudes
    torch.testing.assert_close(g(z[:, :, None, None]), images)  # (B, latent, 1, 1) input too
    d = DCGANDiscriminator(image_size=image_size, channels=channels[::-1])
    assert d(images).shape == (3, 1)


def test_dcgan_initialisation_and_paper_layers():
    torch.manual_seed(0)
    g = DCGANGenerator(latent_dim=100, channels=(64, 32, 16, 8))
    weights = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert abs(weights.std().item() - 0.02) < 0.002  # N(0, 0.02)
    d = DCGANDiscriminator(channels=(8, 16, 32, 64))
    norms = [m for m in d.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 3  # no norm on the first layer, as in the paper


def test_spectral_norm_bounds_every_layer():
    torch.manual_seed(0)
    d = DCGANDiscriminator(image_size=16, channels=(8, 16), norm=None, spectral_norm=True)
    for _ in range(300):  # power iterations run in train mode
        d(torch.rand(2, 1, 16, 16))
    d.eval()
    for m in d.modules():
        if isinstance(m, torch.nn.Conv2d):
            sigma = torch.linalg.matrix_norm(m.weight.flatten(1), ord=2)
            assert sigma.item() == pytest.approx(1.0, abs=0.05)


def test_generator_is_scriptable_for_export():
    g = DCGANGenerator(latent_dim=4, image_size=16, channels=(8, 4)).eval()
    z = torch.randn(2, 4)
    torch.testing.assert_close(torch.jit.script(g)(z), g(z))


def test_wrong_sizes_are_clear_errors():
    with pytest.raises(ValueError, match="4 \\* 2\\*\\*k"):
        DCGANGenerator(image_size=48)
    with pytest.raises(ValueError, match="needs 4 widths"):
        DCGANGenerator(image_size=64, channels=(8, 4))
    with pytest.raises(ValueError, match="resize"):
        DCGANDiscriminator(image_size=16, channels=(8, 4))(torch.rand(1, 1, 32, 32))
