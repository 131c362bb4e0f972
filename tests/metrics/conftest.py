from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter


@pytest.fixture
def image_pair():
    """Make a smooth reference image in [0, 1] and a noisy prediction of it, float64, without batch/channel axes."""

    def make(shape: tuple[int, ...], seed: int = 0, noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        target = gaussian_filter(rng.random(shape), sigma=2.0)
        target = (target - target.min()) / (target.max() - target.min())
        return target + noise * rng.standard_normal(shape), target

    return make
