from __future__ import annotations

import numpy as np
import pytest

from monai_genmed.data.masks import (
    DAGAN_FRACTIONS,
    DAGAN_MASK_TYPES,
    MASK_SEED,
    default_mask_path,
    default_undersampling_mask,
)
from monai_genmed.transforms.kspace import get_mask_func, load_undersampling_mask


@pytest.mark.parametrize("mask_type", DAGAN_MASK_TYPES)
@pytest.mark.parametrize("fraction", DAGAN_FRACTIONS)
def test_every_mask_of_the_dagan_grid_ships_with_the_asked_fraction(mask_type, fraction):
    mask = load_undersampling_mask(default_mask_path(mask_type, fraction))
    assert mask.shape == (256, 256)
    kept = mask.any(axis=0).mean() if mask_type.endswith("1d") else mask.mean()
    assert abs(kept - fraction) <= 0.01


@pytest.mark.parametrize("mask_type", ["gaussian1d", "gaussian2d"])
def test_shipped_masks_match_the_mask_code(mask_type):
    # fails when a mask function changes without regenerating the files (python -m monai_genmed.data.masks)
    shipped = default_undersampling_mask(mask_type, 0.3)
    np.testing.assert_array_equal(shipped, get_mask_func(mask_type, 0.3)((256, 256), seed=MASK_SEED))


def test_other_sizes_are_generated_deterministically():
    a = default_undersampling_mask("gaussian1d", 0.2, (64, 48))
    b = default_undersampling_mask("gaussian1d", 0.2, (64, 48))
    assert a.shape == (64, 48)
    np.testing.assert_array_equal(a, b)
