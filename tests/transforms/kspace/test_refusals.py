"""Inputs the k-space transforms cannot use are refused with the input named and the fix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_genmed.transforms.kspace import (
    DataConsistency,
    DataConsistencyd,
    ImageToKspace,
    LoadKspace,
    Undersample,
    Undersampled,
    save_kspace,
)
from monai_genmed.transforms.kspace import functional as F


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_fft_names_the_dtype_and_the_fix(dtype):
    with pytest.raises(TypeError, match=rf"{dtype}.*float32"):
        F.image_to_kspace(torch.rand(1, 16, 16).to(dtype))
    with pytest.raises(TypeError, match="float32"):
        ImageToKspace()(torch.rand(1, 16, 16).to(dtype))


def test_empty_fft_input_is_named():
    with pytest.raises(ValueError, match=r"empty tensor of shape \(1, 0, 16\).*axis 1"):
        F.kspace_to_image(torch.zeros(1, 0, 16, dtype=torch.complex64))


def test_the_functional_layer_propagates_nan_as_documented():
    image = torch.rand(1, 8, 8)
    image[0, 3, 3] = float("nan")
    assert torch.isnan(F.image_to_kspace(image)).all()  # every sample sees the NaN; transforms refuse it first


@pytest.mark.parametrize(
    "mask", [np.full((16, 16), 0.5), np.where(np.eye(16) > 0, 255, 0), np.where(np.eye(16) > 0, np.nan, 1)]
)
def test_undersampling_refuses_a_mask_that_is_not_binary(mask):
    image = np.random.default_rng(0).random((1, 16, 16)).astype(np.float32)
    with pytest.raises(ValueError, match="binary sampling mask|non-finite values"):
        Undersample(mask)(image)
    with pytest.raises(ValueError, match="binary sampling mask|non-finite values"):
        Undersampled("image", mask=mask)({"image": image})


def test_data_consistency_refuses_nan_k_space_and_a_soft_mask():
    image = torch.rand(1, 16, 16)
    kspace = F.image_to_kspace(image)
    mask = torch.zeros(16, 16)
    mask[:, ::2] = 1
    bad = kspace.clone()
    bad[0, 0, 0] = complex(float("nan"), 0)
    with pytest.raises(ValueError, match="non-finite values .* measured k-space"):
        DataConsistency()(image, bad, mask)
    with pytest.raises(ValueError, match="binary sampling mask"):
        DataConsistencyd("image")({"image": image, "kspace_masked": kspace, "mask": mask * 0.5})
    good = DataConsistency()(image, kspace, mask)  # a valid input still works
    torch.testing.assert_close(good, image, atol=1e-5, rtol=1e-5)


def test_a_truncated_npz_names_the_file(tmp_path):
    path = tmp_path / "scan.npz"
    save_kspace(path, np.fft.fft2(np.random.default_rng(0).random((16, 16))).astype(np.complex64))
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(ValueError, match=r"scan\.npz.*truncated"):
        LoadKspace()(path)


@pytest.mark.parametrize(
    "mask, phrase", [(np.zeros((16, 16)), "the mask is all zero"), (np.full((16, 16), 3), "not binary")]
)
def test_a_stored_mask_that_samples_nothing_or_is_not_binary_is_refused(tmp_path, mask, phrase):
    path = tmp_path / "scan.npz"
    kspace = np.fft.fft2(np.random.default_rng(0).random((16, 16))).astype(np.complex64)
    np.savez(path, kspace=kspace, mask=mask)
    with pytest.raises(ValueError, match=phrase):
        LoadKspace()(path)


def test_a_truncated_mask_file_names_the_file(tmp_path):
    from monai_genmed.transforms.kspace import load_undersampling_mask, save_undersampling_mask

    path = tmp_path / "mask.npz"
    mask = np.zeros((16, 16), np.float32)
    mask[:, ::2] = 1
    save_undersampling_mask(path, mask)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(ValueError, match=r"mask\.npz.*truncated"):
        load_undersampling_mask(path)
    with pytest.raises(ValueError, match=r"mask\.npz"):
        Undersample(path)
