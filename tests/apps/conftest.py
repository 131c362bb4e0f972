from __future__ import annotations

import numpy as np
import pytest

from monai_genmed.transforms.kspace.functional import image_to_kspace
from monai_genmed.transforms.kspace.masks import get_mask_func


def piecewise_constant_phantom(h: int, w: int) -> np.ndarray:
    """Two ellipses and a rectangle in [0, 1]: the images TV is made for, with edges in both directions."""
    yy, xx = np.mgrid[:h, :w]
    image = np.zeros((h, w), np.float32)
    image[((yy - h / 2) / (0.4 * h)) ** 2 + ((xx - w / 2) / (0.35 * w)) ** 2 < 1] = 0.5
    image[((yy - h / 2.2) / (0.15 * h)) ** 2 + ((xx - w / 1.8) / (0.1 * w)) ** 2 < 1] = 1.0
    image[int(0.55 * h) : int(0.7 * h), int(0.3 * w) : int(0.45 * w)] = 0.2
    return image


def undersample(image: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(mask * FFT(image), mask)`` with a 1D Gaussian mask."""
    mask = get_mask_func("gaussian1d", fraction)(image.shape, seed=seed)
    return (mask * image_to_kspace(image[None])[0]).astype(np.complex64), mask


@pytest.fixture(params=[(48, 48), (45, 40)], ids=["48x48", "45x40"])
def cs_problem(request) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(kspace_masked, mask, target)`` for a phantom at 35 % 1D Gaussian sampling, even and odd sizes."""
    image = piecewise_constant_phantom(*request.param)
    kspace, mask = undersample(image, 0.35)
    return kspace, mask, image


@pytest.fixture
def make_cs_problem():
    """Factory ``(shape, fraction, seed=0) -> (kspace_masked, mask, target)`` for the phantom."""

    def make(shape: tuple[int, int], fraction: float, seed: int = 0):
        image = piecewise_constant_phantom(*shape)
        return (*undersample(image, fraction, seed), image)

    return make
