from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from monai_genmed.transforms.intensity import (
    ScaleHounsfield,
    ScaleHounsfieldd,
    UnscaleHounsfield,
    UnscaleHounsfieldd,
)

SHAPES = [(1, 17, 12), (1, 9, 8, 5)]


def _hu(shape, low=-1024.0, high=3000.0, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


def _check_container(out, img) -> None:
    assert type(out) is type(img)
    if isinstance(img, MetaTensor):
        torch.testing.assert_close(out.affine, img.affine)
        assert out.meta["filename_or_obj"] == "slice_007.nii.gz"


@pytest.mark.parametrize("shape", SHAPES, ids=["2d", "3d"])
def test_round_trip_inside_the_window_is_exact(container, make, shape):
    hu = _hu(shape)
    hu.flat[:3] = [-1024.0, 3000.0, 0.0]
    img = make(container, hu)
    scale, unscale = ScaleHounsfield(), UnscaleHounsfield()
    scaled = scale(img)
    _check_container(scaled, img)
    values = np.asarray(scaled)
    assert values.dtype == np.float32 and values.min() >= -1.0 and values.max() <= 1.0
    np.testing.assert_allclose(values.flat[:3], [-1.0, 1.0, -1.0 + 2 * 1024 / 4024], atol=1e-7)
    for back in (unscale(scaled), scale.inverse(scaled)):
        _check_container(back, img)
        np.testing.assert_allclose(np.asarray(back), hu, rtol=0, atol=1e-3)


def test_clip_outside_the_window():
    hu = np.array([[-3000.0, -1024.0, 5000.0, 3000.0]], dtype=np.float32)
    np.testing.assert_array_equal(ScaleHounsfield()(hu), [[-1.0, -1.0, 1.0, 1.0]])
    unclipped = [[-1 - 2 * 1976 / 4024, -1.0, 1 + 2 * 2000 / 4024, 1.0]]
    np.testing.assert_allclose(ScaleHounsfield(clip=False)(hu), unclipped, rtol=1e-6)
    # network outputs past the range come back inside the window with clip, linearly extrapolated without
    np.testing.assert_allclose(UnscaleHounsfield()(np.array([-1.5, 1.2])), [-1024.0, 3000.0])
    np.testing.assert_allclose(UnscaleHounsfield(clip=False)(np.array([-1.5, 1.2])), [-2030.0, 3402.4])


def test_integer_ct_and_other_ranges():
    ct = torch.tensor([[-1000, 0, 40, 1000]], dtype=torch.int16)  # CT files store HU as int16
    scaled = ScaleHounsfield(hu_window=(-1000, 1000), output_range=(0, 1))(ct)
    assert scaled.dtype == torch.float32
    torch.testing.assert_close(scaled, torch.tensor([[0.0, 0.5, 0.52, 1.0]]))
    unscale = UnscaleHounsfield(hu_window=(-1000, 1000), output_range=(0, 1))
    torch.testing.assert_close(unscale(scaled), ct.float(), rtol=0, atol=1e-3)
    back = unscale(scaled.double())
    assert back.dtype == torch.float64  # float64 stays float64


@pytest.mark.parametrize("bad", [(3000, -1024), (0, 0), (0, 1, 2)])
def test_bad_window_raises(bad):
    with pytest.raises(ValueError, match="hu_window.*low < high"):
        ScaleHounsfield(hu_window=bad)
    with pytest.raises(ValueError, match="output_range.*low < high"):
        UnscaleHounsfieldd("ct", output_range=bad)


def test_dictionary_twins_round_trip_and_keep_other_keys(container, make):
    hu = _hu((1, 12, 10), seed=1)
    data = {"ct": make(container, hu), "mr": make(container, hu.copy())}
    scaled = ScaleHounsfieldd("ct", hu_window=(-500, 2000))(data)
    assert scaled["mr"] is data["mr"]
    _check_container(scaled["ct"], data["ct"])
    back = UnscaleHounsfieldd(["ct", "sct"], hu_window=(-500, 2000), allow_missing_keys=True)(scaled)
    _check_container(back["ct"], data["ct"])
    np.testing.assert_allclose(np.asarray(back["ct"]), np.clip(hu, -500, 2000), rtol=0, atol=1e-3)
