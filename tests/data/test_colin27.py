from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from monai_genmed.data import (
    HeadTissue,
    colin27_brain_mask,
    colin27_head_mask,
    colin27_hounsfield,
    colin27_tissue_labels,
    load_colin27_brain,
    load_colin27_t1,
)


def test_t1_and_brain_share_the_1mm_ras_grid():
    t1, affine = load_colin27_t1()
    brain, brain_affine = load_colin27_brain()
    assert t1.shape == brain.shape == (181, 217, 181)
    np.testing.assert_array_equal(affine, brain_affine)
    np.testing.assert_allclose(np.diag(affine)[:3], 1.0)  # 1 mm, RAS (no flips)
    assert t1[0, 0, 0] == 0 and t1.max() > 200
    with pytest.raises(ValueError):
        t1[0, 0, 0] = 1.0  # the cached volume is read-only


def test_masks_nest_inside_the_head():
    head, brain = colin27_head_mask(), colin27_brain_mask()
    assert not np.any(brain & ~head)
    # an adult brain is about 1.1-1.5 litres, the head several litres
    assert 1.1e6 < brain.sum() < 1.8e6 < 3e6 < head.sum() < 6e6


def test_skull_encloses_the_brain_in_the_vault():
    """Remove bone and marrow: the brain must no longer connect to the air outside (the skull is closed)."""
    labels = colin27_tissue_labels()
    brain = colin27_brain_mask()
    for z in (90, 110, 130):
        plane = labels[:, :, z]
        passable = ~np.isin(plane, [HeadTissue.CORTICAL_BONE, HeadTissue.MARROW])
        components, _ = ndi.label(passable)
        outside = components[0, 0]
        assert outside != 0
        assert not np.any(components[brain[:, :, z]] == outside), f"the skull leaks at z={z}"


@pytest.mark.parametrize(
    "tissue, low, high",
    [
        (HeadTissue.AIR, -1000, -999),
        (HeadTissue.FAT, -120, -40),
        (HeadTissue.SOFT_TISSUE, 10, 60),
        (HeadTissue.CSF, 0, 20),
        (HeadTissue.GREY_MATTER, 33, 45),
        (HeadTissue.WHITE_MATTER, 24, 31),
        (HeadTissue.MARROW, 250, 700),
        (HeadTissue.CORTICAL_BONE, 1000, 1800),
    ],
)
def test_hounsfield_of_each_tissue(tissue, low, high):
    labels, hu = colin27_tissue_labels(), colin27_hounsfield()
    # the median of the tissue's core (eroded, away from partial volume at its border)
    core = ndi.binary_erosion(labels == tissue) if tissue != HeadTissue.AIR else labels == tissue
    assert low <= np.median(hu[core]) <= high
