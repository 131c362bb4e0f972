from __future__ import annotations

import pytest
import torch
from monai.networks.nets import VarAutoEncoder

from monai_genmed.networks.nets import ConvAutoEncoder, VarAutoEncoderReconstructor

ARGS = {"spatial_dims": 2, "out_channels": 1, "latent_size": 5, "channels": (4, 8), "strides": (2, 2)}


@pytest.mark.parametrize("size", [16, 20])
def test_conv_autoencoder_has_a_flat_code_of_latent_size(size):
    ae = ConvAutoEncoder(in_shape=(1, size, size), **ARGS)
    x = torch.rand(3, 1, size, size)
    z = ae.encode_forward(x)
    assert z.shape == (3, 5) and ae.latent_dim == 5
    recon = ae(x)
    assert recon.shape == x.shape and 0 <= recon.min() and recon.max() <= 1
    torch.testing.assert_close(ae.decode_forward(z), recon)
    # the decoder reads nothing but z: equal codes, equal images
    torch.testing.assert_close(ae.decode_forward(z[:1].expand(2, -1)), recon[:1].expand(2, -1, -1, -1))


def test_conv_autoencoder_learns_to_reconstruct_through_its_bottleneck():
    torch.manual_seed(0)
    # images on a 2-D manifold (two blob positions): a 5-d code can carry them
    grid = torch.linspace(-1, 1, 16)
    yy, xx = torch.meshgrid(grid, grid, indexing="ij")
    centres = torch.rand(16, 2) * 1.2 - 0.6
    images = torch.exp(-((yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2) / 0.1)[:, None]
    ae = ConvAutoEncoder(in_shape=(1, 16, 16), norm="batch", **ARGS)
    optimizer = torch.optim.Adam(ae.parameters(), lr=1e-2)
    for _ in range(80):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(ae(images), images)
        loss.backward()
        optimizer.step()
    mean_image = torch.nn.functional.mse_loss(images.mean(0, keepdim=True).expand_as(images), images).item()
    assert loss.item() < 0.6 * mean_image, (loss.item(), mean_image)  # the code carries each image's blob


def test_reparameterisation_passes_gradients_to_mu_and_sigma():
    """MONAI's VarAutoEncoder samples z = mu + eps * sigma: dz/dmu = 1, dz/dlogvar = eps * sigma / 2."""
    vae = VarAutoEncoder(in_shape=(1, 16, 16), **ARGS).train()
    mu = torch.randn(4, 5, requires_grad=True)
    logvar = torch.randn(4, 5, requires_grad=True)
    torch.manual_seed(3)
    z = vae.reparameterize(mu, logvar)
    torch.manual_seed(3)
    eps = torch.randn(4, 5)
    torch.testing.assert_close(z, mu + eps * (0.5 * logvar).exp())
    z.sum().backward()
    torch.testing.assert_close(mu.grad, torch.ones(4, 5))
    torch.testing.assert_close(logvar.grad, 0.5 * eps * (0.5 * logvar.detach()).exp())
    assert (logvar.grad != 0).all()


def test_reconstructor_loads_vae_weights_and_returns_the_mean_reconstruction():
    torch.manual_seed(0)
    vae = VarAutoEncoder(in_shape=(1, 16, 16), **ARGS).eval()
    rec = VarAutoEncoderReconstructor(in_shape=(1, 16, 16), **ARGS).eval()
    rec.load_state_dict(vae.state_dict())  # same parameters
    x = torch.rand(2, 1, 16, 16)
    mu, _ = vae.encode_forward(x)
    out = rec(x)
    assert isinstance(out, torch.Tensor)
    torch.testing.assert_close(out, vae.decode_forward(mu))
    torch.testing.assert_close(rec(x), out)  # deterministic, unlike VarAutoEncoder's forward in eval mode
    scripted = torch.jit.script(rec)
    torch.testing.assert_close(scripted(x), out)
    torch.testing.assert_close(torch.jit.script(ConvAutoEncoder(in_shape=(1, 16, 16), **ARGS).eval())(x).shape, x.shape)


def test_in_shape_must_match_spatial_dims():
    with pytest.raises(ValueError, match="in_shape"):
        ConvAutoEncoder(in_shape=(1, 16), **ARGS)
