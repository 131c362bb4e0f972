"""The air around a head set to a value (a synthetic CT to -1000 HU), a skull cut by the field of view left alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from monai_genmed.transforms.intensity import FillOutsideHead, FillOutsideHeadd, outside_head_mask


def _head(shape=(41, 37), centre=(20, 18), radii=(14, 12), skull=2) -> np.ndarray:
    """An MR slice: air (0.01) around an ellipse of tissue (0.8) with a dark skull ring (0.02) under a bright scalp
    (as T1 shows cortical bone and fat) and an air cavity inside."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    r = np.sqrt(((yy - centre[0]) / radii[0]) ** 2 + ((xx - centre[1]) / radii[1]) ** 2)
    mr = np.full(shape, 0.01, np.float32)
    mr[r < 1] = 0.8
    mr[(r < 1 - 1.5 / min(radii)) & (r > 1 - (1.5 + skull) / min(radii))] = 0.02
    mr[centre[0] - 3 : centre[0] + 3, centre[1] - 3 : centre[1] + 3] = 0.0  # an air cavity inside the head
    return mr


def test_the_air_around_the_head_is_outside_and_dark_parts_inside_are_not():
    mr = _head()
    outside = outside_head_mask(mr, threshold=0.08, radius=2)
    assert outside[0, 0] and outside[-1, -1] and outside[20, 0]  # the air around it
    assert not outside[17:23, 15:21].any()  # the cavity inside the head
    assert not outside[20, 18 + 9 : 18 + 11].any()  # the skull ring
    assert (mr[20, 18 + 9 : 18 + 11] < 0.08).all()
    assert not outside[mr > 0.5].any()


def test_a_skull_cut_by_the_field_of_view_stays_inside():
    crop = _head((61, 55), (30, 27), (34, 31))[6:54, 4:50]  # the head fills the slice; the skull reaches the edges
    assert outside_head_mask(crop, radius=2).sum() == 0
    assert outside_head_mask(crop, radius=0).sum() > 0  # without the opening, the cut skull would count as air


def test_slice_by_slice_along_an_axis_equals_each_slice():
    volume = np.stack([_head(), _head(radii=(12, 10)), np.full((41, 37), 0.8, np.float32)], -1)
    outside = outside_head_mask(volume, radius=2, slice_axis=-1)
    for k in range(3):
        np.testing.assert_array_equal(outside[..., k], outside_head_mask(volume[..., k], radius=2))
    assert not outside[..., 2].any()


@pytest.mark.parametrize("kind", ["numpy", "torch", "metatensor"])
def test_fill_sets_the_outside_only_and_keeps_the_container(kind):
    mr = _head()[None] * 2 - 1  # the network range (-1, 1)
    sct = np.full_like(mr, 700.0)
    img = {
        "numpy": sct,
        "torch": torch.from_numpy(sct),
        "metatensor": MetaTensor(torch.from_numpy(sct), meta={"x": 1}),
    }[kind]
    out = FillOutsideHead(-1000.0, radius=2, reference_range=(-1, 1))(img, mr)
    assert type(out) is type(img)
    outside = outside_head_mask(_head(), radius=2)
    values = np.asarray(out)
    assert np.all(values[0][outside] == -1000) and np.all(values[0][~outside] == 700)
    if kind == "metatensor":
        assert out.meta["x"] == 1


def test_dictionary_fills_each_key_with_its_value_and_can_be_switched_off():
    mr = _head()[None]
    data = {"mr": mr, "pred": np.full_like(mr, 700.0), "uncertainty": np.full_like(mr, 50.0)}
    out = FillOutsideHeadd(["pred", "uncertainty"], "mr", values=[-1000, 0], radius=2)(data)
    outside = outside_head_mask(mr[0], radius=2)
    assert np.all(out["pred"][0][outside] == -1000) and np.all(out["uncertainty"][0][outside] == 0)
    assert np.all(out["pred"][0][~outside] == 700)
    off = FillOutsideHeadd(["pred"], "mr", enabled=False)(data)
    np.testing.assert_array_equal(off["pred"], data["pred"])
    with pytest.raises(TypeError, match="--mask_outside_head False"):
        FillOutsideHeadd(["pred"], "mr", enabled="false")
    with pytest.raises(ValueError, match="spatial shape"):
        FillOutsideHead()(np.zeros((1, 5, 5)), np.zeros((1, 6, 5)))
