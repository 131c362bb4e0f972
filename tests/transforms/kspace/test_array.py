from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from monai_genmed.transforms.kspace import (
    DataConsistency,
    GaussianMask1D,
    GaussianMask2D,
    ImageToKspace,
    KspaceToImage,
    RandUndersample,
    Undersample,
    ZeroFilledReconstruction,
    save_undersampling_mask,
)


def geometry(shape):
    return {"spatial_dims": len(shape) - 1, "kspace_spatial_dims": 2}


def assert_same_container(out, ref, affine=None):
    assert type(out) is type(ref)
    if isinstance(ref, MetaTensor):
        torch.testing.assert_close(out.affine, affine)
        assert out.meta["filename_or_obj"] == "slice_007.nii.gz"


@pytest.mark.parametrize("layout", ["complex", "channels"])
def test_fft_transforms_round_trip_keep_type_and_meta(container, image_shape, layout, make, affine):
    img = make(container, np.random.default_rng(0).random(image_shape).astype(np.float32))
    k = ImageToKspace(layout=layout, **geometry(image_shape))(img)
    assert_same_container(k, img, affine)
    assert k.shape[0] == (2 if layout == "channels" else 1)
    back = KspaceToImage(layout=layout, output="real", **geometry(image_shape))(k)
    assert_same_container(back, img, affine)
    np.testing.assert_allclose(np.asarray(back), np.asarray(img), atol=1e-5)


def test_undersample_with_full_mask_gives_input_back(container, image_shape, make, affine):
    img = make(container, np.random.default_rng(1).random(image_shape).astype(np.float32))
    kspace, mask, zero_filled = Undersample(np.ones(image_shape[1:3]), **geometry(image_shape))(img)
    for out in (kspace, mask, zero_filled):
        assert_same_container(out, img, affine)
    assert mask.shape == (1, *image_shape[1:3])
    np.testing.assert_allclose(np.asarray(zero_filled), np.asarray(img), atol=1e-5)


def test_undersample_from_kspace_equals_from_image(image_shape):
    img = torch.rand(image_shape)
    mask = GaussianMask1D(0.3)(image_shape[1:3], seed=0)
    from_image = Undersample(mask, **geometry(image_shape))(img)
    k = ImageToKspace(**geometry(image_shape))(img)
    from_kspace = Undersample(mask, input_domain="kspace", **geometry(image_shape))(k)
    for a, b in zip(from_image, from_kspace):
        torch.testing.assert_close(a, b)
    # unmeasured samples are exactly zero, measured ones are untouched
    kspace_masked = from_image[0]
    assert torch.all(kspace_masked[0][torch.from_numpy(mask) == 0] == 0)
    torch.testing.assert_close(kspace_masked[0][torch.from_numpy(mask) == 1], k[0][torch.from_numpy(mask) == 1])


def test_zero_filled_of_undersampled_kspace_matches_undersample_output():
    img = torch.rand(1, 16, 16)
    kspace, _, zero_filled = Undersample(GaussianMask2D(0.25)((16, 16), seed=2))(img)
    torch.testing.assert_close(ZeroFilledReconstruction()(kspace), zero_filled)
    assert not torch.allclose(zero_filled, img, atol=1e-3)  # aliasing: a 25 % mask changes the image


def test_mask_from_file_and_mask_mismatch(tmp_path):
    mask = GaussianMask1D(0.3)((16, 16), seed=0)
    path = save_undersampling_mask(tmp_path / "m.npz", mask)
    _, m, _ = Undersample(str(path))(torch.rand(1, 16, 16))
    np.testing.assert_array_equal(m[0].numpy(), mask)
    with pytest.raises(ValueError, match="does not fit"):
        Undersample(mask)(torch.rand(1, 16, 20))
    with pytest.raises(ValueError, match="needs a mask"):
        Undersample()(torch.rand(1, 16, 16))


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="channel-first"):
        ImageToKspace()(torch.rand(16, 16))
    nan_image = torch.rand(1, 8, 8)
    nan_image[0, 2, 3] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        Undersample(np.ones((8, 8)))(nan_image)


def test_rand_undersample_is_seeded_by_its_own_state(container, make, affine):
    img = make(container, np.random.default_rng(2).random((1, 32, 32)).astype(np.float32))
    t1 = RandUndersample(GaussianMask1D(0.25))
    t1.set_random_state(5)
    t2 = RandUndersample(GaussianMask1D(0.25))
    t2.set_random_state(5)
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    masks1 = [np.asarray(t1(img)[1]) for _ in range(3)]
    masks2 = [np.asarray(t2(img)[1]) for _ in range(3)]
    for a, b in zip(masks1, masks2):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(masks1[0], masks1[1])  # a new mask per call
    np.testing.assert_array_equal(state, np.random.get_state()[1])  # global RNG untouched
    assert_same_container(t1(img)[2], img, affine)


def test_rand_undersample_prob_zero_passes_fully_sampled():
    img = torch.rand(1, 16, 16)
    t = RandUndersample(GaussianMask1D(0.25), prob=0.0)
    _, mask, zero_filled = t(img)
    assert mask.sum() == 16 * 16
    torch.testing.assert_close(zero_filled, img, atol=1e-5, rtol=1e-5)


def test_data_consistency_transform_restores_measured_kspace(container, image_shape, make):
    rng = np.random.default_rng(3)
    target = make(container, rng.random(image_shape).astype(np.float32))
    mask = GaussianMask2D(0.3)(image_shape[1:3], seed=1)
    kspace, m, zero_filled = Undersample(mask, **geometry(image_shape))(target)
    recon = make(container, rng.random(image_shape).astype(np.float32))
    out = DataConsistency(output="complex", **geometry(image_shape))(recon, kspace, m)
    k_out = ImageToKspace(**geometry(image_shape))(out)
    mb = mask.reshape(mask.shape + (1,) * (len(image_shape) - 3))
    np.testing.assert_allclose(np.asarray(k_out) * mb, np.asarray(kspace), atol=1e-5)
    # the correction helps: closer to the target than the reconstruction it started from
    err = lambda x: np.linalg.norm(np.abs(np.asarray(x)) - np.asarray(target))  # noqa: E731
    assert err(out) < err(recon)
