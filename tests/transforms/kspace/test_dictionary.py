from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import DataLoader, Dataset, MetaTensor
from monai.transforms import Compose

from monai_genmed.transforms.kspace import (
    DataConsistencyd,
    GaussianMask1D,
    ImageToKspaceD,
    ImageToKspaced,
    ImageToKspaceDict,
    KspaceToImaged,
    RandUndersampled,
    Undersampled,
    ZeroFilledReconstructiond,
)
from monai_genmed.utils import KspaceKeys


def test_aliases_exist():
    assert ImageToKspaceD is ImageToKspaced and ImageToKspaceDict is ImageToKspaced


def test_dictionary_fft_keeps_meta_and_writes_output_keys(container, make, affine):
    img = make(container, np.random.default_rng(0).random((1, 12, 14)).astype(np.float32))
    d = ImageToKspaced("image", output_keys="kspace")({"image": img})
    assert d["image"] is img
    d = KspaceToImaged("kspace", output="real", output_keys="recon")(d)
    assert type(d["recon"]) is type(img)
    if isinstance(img, MetaTensor):
        torch.testing.assert_close(d["kspace"].affine, affine)
        torch.testing.assert_close(d["recon"].affine, affine)
    np.testing.assert_allclose(np.asarray(d["recon"]), np.asarray(img), atol=1e-5)


def test_undersampled_writes_mask_and_zero_filled_that_travel_together(container, make):
    img = make(container, np.random.default_rng(1).random((1, 16, 16)).astype(np.float32))
    mask = GaussianMask1D(0.3)((16, 16), seed=0)
    d = Undersampled("image", mask=mask)({"image": img})
    assert {KspaceKeys.KSPACE_MASKED, KspaceKeys.MASK, KspaceKeys.ZERO_FILLED} <= set(d)
    np.testing.assert_array_equal(np.asarray(d[KspaceKeys.MASK])[0], mask)
    if isinstance(img, MetaTensor):
        assert d[KspaceKeys.ZERO_FILLED].meta["filename_or_obj"] == "slice_007.nii.gz"
    again = ZeroFilledReconstructiond()(d)
    np.testing.assert_allclose(
        np.asarray(again[KspaceKeys.ZERO_FILLED]), np.asarray(d[KspaceKeys.ZERO_FILLED]), atol=1e-6
    )
    with pytest.raises(ValueError, match="one key at a time"):
        Undersampled(["image", "label"], mask=mask)


def test_rand_undersampled_set_random_state_reproduces_masks():
    data = [{"image": torch.rand(1, 32, 32)} for _ in range(4)]

    def masks(seed):
        t = RandUndersampled("image", GaussianMask1D(0.25)).set_random_state(seed)
        return [t(x)[KspaceKeys.MASK] for x in data]

    a, b, c = masks(0), masks(0), masks(1)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


def test_pipeline_collates_and_data_consistency_runs_on_the_batch():
    data = [{"image": torch.rand(1, 16, 16)} for _ in range(3)]
    pipeline = Compose([RandUndersampled("image", GaussianMask1D(0.3))]).set_random_state(0)
    batch = next(iter(DataLoader(Dataset(data, pipeline), batch_size=3)))
    assert batch[KspaceKeys.MASK].shape == (3, 1, 16, 16)
    assert batch[KspaceKeys.KSPACE_MASKED].dtype == torch.complex64
    # per-sample correction of a batch through the dictionary transform on each decollated item
    item = {k: v[0] for k, v in batch.items()}
    item["recon"] = torch.zeros(1, 16, 16)
    out = DataConsistencyd("recon", output="real")(item)
    assert out["recon"].shape == (1, 16, 16)
    with pytest.raises(KeyError, match="undersample with Undersampled first"):
        DataConsistencyd("recon")({"recon": torch.zeros(1, 16, 16)})
