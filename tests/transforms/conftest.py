from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

AFFINE = torch.diag(torch.tensor([0.9, 0.9, 2.5, 1.0], dtype=torch.float64))


def _make(kind: str, array: np.ndarray):
    if kind == "numpy":
        return array
    if kind == "torch":
        return torch.from_numpy(array)
    return MetaTensor(torch.from_numpy(array), affine=AFFINE, meta={"filename_or_obj": "slice_007.nii.gz"})


@pytest.fixture(params=["numpy", "torch", "metatensor"])
def container(request):
    return request.param


@pytest.fixture
def make():
    """Build an input of the given container kind (numpy, torch, metatensor) from a numpy array."""
    return _make


@pytest.fixture
def affine():
    return AFFINE
