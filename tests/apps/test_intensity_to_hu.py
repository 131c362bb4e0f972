"""The intensity-to-HU lookup: fitted medians per bin, air outside the head, errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest

from monai_genmed.apps.baselines import IntensityToHounsfieldMap, head_mask_from_mr


def _phantom(size=32):
    """A disc of "tissue" (MR 0.55 -> 40 HU) in a ring of "fat" (MR 0.85 -> -80 HU), in air; values at bin centres."""
    yy, xx = np.mgrid[:size, :size] - size / 2
    r = np.hypot(yy, xx)
    mr = np.where(r < 10, 0.55, np.where(r < 13, 0.85, 0.0)).astype(np.float32)
    ct = np.where(r < 10, 40.0, np.where(r < 13, -80.0, -1000.0)).astype(np.float32)
    return mr, ct, (r < 13).astype(np.uint8)


def test_lookup_learns_each_intensity_and_puts_air_outside():
    mr, ct, body = _phantom()
    lookup = IntensityToHounsfieldMap(num_bins=10).fit([mr], [ct], [body])
    pred = lookup(mr)
    assert np.abs(pred - ct)[body > 0].max() < 1e-3  # a one-to-one intensity map is learnt exactly
    assert (pred[body == 0] == -1000).all()
    # empty bins are interpolated between their filled neighbours (0.55 -> 40 HU and 0.85 -> -80 HU)
    assert lookup(np.full((32, 32), 0.7, np.float32) * (body > 0))[16, 16] == pytest.approx(-20, abs=7)
    restored = IntensityToHounsfieldMap()
    restored.load_state_dict(lookup.state_dict())
    np.testing.assert_array_equal(restored(mr), pred)


def test_head_mask_fills_dark_bone_inside_the_head():
    mr, _, body = _phantom()
    mr[15:17, 15:17] = 0.0  # dark 'bone' inside the head stays in the head
    mask = head_mask_from_mr(mr)
    assert mask[16, 16] and not mask[0, 0]


def test_bad_inputs():
    mr, ct, body = _phantom()
    with pytest.raises(RuntimeError, match="not fitted"):
        IntensityToHounsfieldMap()(mr)
    with pytest.raises(ValueError, match="no training slices"):
        IntensityToHounsfieldMap().fit([], [], [])
    with pytest.raises(ValueError, match="paired with a CT slice"):
        IntensityToHounsfieldMap().fit([mr], [ct[:5]], [body])
    lookup = IntensityToHounsfieldMap().fit([mr], [ct], [body])
    bad = mr.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        lookup(bad)
