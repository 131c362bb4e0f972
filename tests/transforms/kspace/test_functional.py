from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.networks.blocks.fft_utils_t import fftn_centered_t

from monai_genmed.transforms.kspace import functional as F


@pytest.mark.parametrize("shape", [(1, 16, 16), (2, 17, 23), (1, 12, 15, 5)])
@pytest.mark.parametrize("as_numpy", [False, True])
def test_fft_then_ifft_is_identity(shape, as_numpy):
    rng = np.random.default_rng(0)
    img = rng.standard_normal(shape).astype(np.float32)
    data = img if as_numpy else torch.from_numpy(img)
    spatial_dims = len(shape) - 1
    k = F.image_to_kspace(data, spatial_dims=spatial_dims)
    assert type(k) is type(data)
    back = F.kspace_to_image(k, spatial_dims=spatial_dims, output="complex")
    back = np.asarray(back)
    np.testing.assert_allclose(back.real, img, atol=1e-5)
    np.testing.assert_allclose(back.imag, 0, atol=1e-5)


def test_matches_monai_centred_fft_and_parseval():
    img = torch.randn(1, 16, 21)
    ours = F.image_to_kspace(img, layout="channels")  # [real, imag] channels
    monai_k = fftn_centered_t(img, spatial_dims=2, is_complex=False)  # (..., 2) real/imag last
    torch.testing.assert_close(ours[0], monai_k[0, ..., 0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours[1], monai_k[0, ..., 1], atol=1e-5, rtol=1e-5)
    k = F.image_to_kspace(img)
    torch.testing.assert_close(k.abs().pow(2).sum(), img.pow(2).sum(), rtol=1e-5, atol=1e-4)
    # the DC sample sits at n // 2 and equals sum / sqrt(N)
    torch.testing.assert_close(k[0, 8, 10].real, img.sum() / np.sqrt(16 * 21), rtol=1e-5, atol=1e-5)


def test_channel_layout_round_trip_and_complex_input():
    z = torch.randn(2, 8, 9, dtype=torch.complex64)
    k_complex = F.image_to_kspace(z)
    k_channels = F.image_to_kspace(torch.cat([z.real, z.imag]), layout="channels", input_layout="channels")
    assert k_channels.shape == (4, 8, 9)
    torch.testing.assert_close(torch.complex(k_channels[:2], k_channels[2:]), k_complex)
    with pytest.raises(ValueError, match="even number of channels"):
        F.kspace_to_image(torch.randn(3, 8, 8), layout="channels")


def test_volume_in_plane_fft_is_per_slice():
    vol = torch.randn(1, 8, 10, 4)
    k = F.image_to_kspace(vol, spatial_dims=3, kspace_spatial_dims=2)
    for s in range(4):
        torch.testing.assert_close(k[..., s], F.image_to_kspace(vol[..., s], spatial_dims=2))


def test_zero_filled_of_full_mask_is_input():
    img = torch.rand(1, 16, 15)
    k = F.image_to_kspace(img)
    full = F.apply_mask(k, torch.ones(16, 15), (-2, -1))
    torch.testing.assert_close(F.zero_filled(full), img, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("noise_level", [None, 0.0])
def test_hard_data_consistency_restores_measured_samples(noise_level):
    rng = np.random.default_rng(1)
    target = torch.from_numpy(rng.random((1, 16, 16)).astype(np.float32))
    mask = torch.from_numpy((rng.random((16, 16)) < 0.3).astype(np.float32))
    measured = F.apply_mask(F.image_to_kspace(target), mask, (-2, -1))
    recon = torch.zeros_like(target)
    out = F.data_consistency(recon, measured, mask, output="complex", noise_level=noise_level)
    k_out = F.image_to_kspace(out)
    torch.testing.assert_close(k_out * mask, measured, atol=1e-5, rtol=1e-5)
    # and leaves unmeasured samples to the reconstruction (zeros here)
    assert k_out[0][mask == 0].abs().max() < 1e-5


def test_soft_data_consistency_moves_towards_measurement():
    target = torch.rand(1, 8, 8)
    mask = torch.ones(8, 8)
    measured = F.image_to_kspace(target)
    recon = torch.zeros_like(target)
    out = F.data_consistency(recon, measured, mask, noise_level=1.0, output="real")
    torch.testing.assert_close(out, target / 2, atol=1e-5, rtol=1e-5)  # lam = 1: average of both


def test_data_consistency_is_differentiable_and_batched():
    recon = torch.rand(2, 1, 8, 8, requires_grad=True)
    measured = F.image_to_kspace(torch.rand(2, 1, 8, 8), channel_dim=1)
    mask = (torch.rand(2, 1, 8, 8) > 0.5).float()  # a different mask per sample
    out = F.data_consistency(recon, measured * mask, mask, channel_dim=1)
    out.sum().backward()
    assert recon.grad is not None and recon.grad.abs().sum() > 0


def test_mask_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="does not match"):
        F.apply_mask(torch.zeros(1, 8, 8, dtype=torch.complex64), torch.ones(8, 9), (-2, -1))
    with pytest.raises(ValueError, match="channel axis"):
        F.image_to_kspace(torch.zeros(8, 8), spatial_dims=2)


@pytest.mark.parametrize("n", [16, 17], ids=["even", "odd"])
def test_mirror_index_maps_each_frequency_to_its_negative(n):
    """A real image's k-space indexed by the mirror on both axes is its conjugate: X(-k) = conj(X(k))."""
    image = torch.rand(1, n, n + 3, dtype=torch.float64)
    k = F.image_to_kspace(image)
    mirrored = k.index_select(-2, F.mirror_index(n)).index_select(-1, F.mirror_index(n + 3))
    torch.testing.assert_close(mirrored, k.conj())
    assert int(F.mirror_index(n)[n // 2]) == n // 2  # DC stays put
    assert torch.equal(F.mirror_index(n)[F.mirror_index(n)], torch.arange(n))  # mirroring twice is the identity


def test_conjugate_symmetric_fill_is_one_function_for_numpy_and_batched_torch():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(3, 1, 17, 16, generator=g, dtype=torch.float64)
    full = F.image_to_kspace(images, channel_dim=1)
    mask = (torch.rand(17, 16, generator=g) < 0.3).double()
    filled, union = F.conjugate_symmetric_fill(full * mask, mask)
    assert union.shape == (3, 1, 17, 16) and bool((union >= mask).all()) and union.sum() > 3 * mask.sum()
    torch.testing.assert_close(filled, full * union)  # every implied sample is the true one
    as_numpy, union_np = F.conjugate_symmetric_fill((full * mask)[0, 0].numpy(), mask.numpy())
    assert isinstance(as_numpy, np.ndarray) and isinstance(union_np, np.ndarray)
    np.testing.assert_allclose(as_numpy, filled[0, 0].numpy())


def test_consistent_kspace_replaces_or_moves_the_measured_samples():
    g = torch.Generator().manual_seed(1)
    k = torch.randn(2, 1, 8, 8, dtype=torch.complex64, generator=g)
    y = torch.randn(2, 1, 8, 8, dtype=torch.complex64, generator=g)
    m = (torch.rand(8, 8, generator=g) < 0.5).float()
    hard = F.consistent_kspace(k, y, m)
    torch.testing.assert_close(hard[..., m.bool()], y[..., m.bool()])  # k + (y - k): y to rounding
    assert torch.equal(hard[..., ~m.bool()], k[..., ~m.bool()])
    lam = torch.tensor(3.0, requires_grad=True)
    soft = F.consistent_kspace(k, y, m, lam)
    torch.testing.assert_close(soft[..., m.bool()], ((k + 3 * y) / 4)[..., m.bool()])
    soft.abs().sum().backward()
    assert lam.grad is not None  # a learnt lambda trains through it
