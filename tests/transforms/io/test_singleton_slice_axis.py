from __future__ import annotations

import torch
from monai.data import MetaTensor

from monai_genmed.transforms.io import drop_singleton_slice_axis


def test_a_slice_stored_as_a_one_slice_volume_becomes_2d_with_its_meta():
    volume = MetaTensor(torch.arange(15.0).reshape(5, 3, 1), meta={"spatial_shape": (5, 3, 1), "filename_or_obj": "a"})
    image = drop_singleton_slice_axis(volume)
    assert isinstance(image, MetaTensor) and image.shape == (5, 3) and torch.equal(image, volume[..., 0])
    assert tuple(image.meta["spatial_shape"]) == (5, 3) and image.meta["filename_or_obj"] == "a"


def test_2d_images_and_real_volumes_are_kept():
    for shape in ((5, 3), (5, 3, 2), (1, 5, 1, 1)):
        image = MetaTensor(torch.zeros(shape), meta={"spatial_shape": shape})
        assert drop_singleton_slice_axis(image) is image
