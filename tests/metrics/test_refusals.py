"""Metric inputs that would give a meaningless score are refused with what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

from monai_genmed.metrics import compute_hounsfield_mae, compute_nmse, compute_psnr, compute_synthrad_psnr


def test_a_bare_2d_slice_is_not_scored_row_by_row():
    slice_ = np.random.default_rng(0).random((32, 32))
    for metric in (lambda a, b: compute_psnr(a, b, 1.0), compute_nmse):
        with pytest.raises(ValueError, match=r"\(32, 32\).*no spatial axis.*image\[None, None\]"):
            metric(slice_ * 0.9, slice_)
    assert compute_psnr(slice_[None, None] * 0.9, slice_[None, None], 1.0).shape == (1,)  # the fix works


@pytest.mark.parametrize("low, high", [(0.0, 1.0), (-1.0, 1.0)])
def test_hu_metrics_refuse_network_scaled_images(low, high):
    rng = np.random.default_rng(0)
    scaled = low + (high - low) * rng.random((1, 1, 16, 16))
    for metric in (compute_hounsfield_mae, compute_synthrad_psnr):
        with pytest.raises(ValueError, match="Hounsfield units.*Undo the scaling"):
            metric(scaled, scaled * 0.9)
    hounsfield = -1024 + 4024 * (scaled - low) / (high - low)
    assert np.isfinite(compute_hounsfield_mae(hounsfield, hounsfield * 0.9)).all()  # the same images in HU pass
