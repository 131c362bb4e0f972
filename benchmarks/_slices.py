"""Test slices of the default brain MR dataset, undersampled as the DAGAN bundle's default (1D Gaussian 30 %),
shared by the reconstruction benchmarks."""

from __future__ import annotations

import json
import os

import numpy as np
import torch
from monai.transforms import EnsureChannelFirst, LoadImage

from monai_genmed.data import default_undersampling_mask, generate_brain_mr_dataset
from monai_genmed.transforms.kspace import Undersample

__all__ = ["undersampled_test_slices"]


def undersampled_test_slices(data_dir: str, n_slices: int) -> dict[str, torch.Tensor]:
    """``image`` and ``zero_filled`` ``(n, 1, 256, 256)`` float32, ``kspace_masked`` (complex) and ``mask`` alike."""
    datalist = generate_brain_mr_dataset(
        data_dir, num_subjects={"training": 1, "validation": 1, "test": 1}, slices_per_subject=n_slices
    )
    with open(datalist) as f:
        items = json.load(f)["test"][:n_slices]
    loader, channel_first = LoadImage(image_only=True), EnsureChannelFirst(channel_dim="no_channel")
    undersample = Undersample(default_undersampling_mask("gaussian1d", 0.3))
    images = [channel_first(loader(os.path.join(os.path.dirname(datalist), i["image"]))) for i in items]
    outputs = [undersample(image) for image in images]
    kspace, mask, zero_filled = (torch.stack([torch.as_tensor(np.asarray(o[j])) for o in outputs]) for j in range(3))
    image = torch.stack([torch.as_tensor(np.asarray(x), dtype=torch.float32) for x in images])
    return {"image": image, "zero_filled": zero_filled.float(), "kspace_masked": kspace, "mask": mask.float()}
