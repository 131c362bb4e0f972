"""Intensity transforms: percentile scaling that can be undone (for reconstruction and synthesis outputs)."""

from __future__ import annotations

import torch
from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms import Transform
from monai.utils import TransformBackends, convert_to_tensor

__all__ = ["percentile_scale_factor", "ScaleByPercentile"]


def percentile_scale_factor(img: NdarrayOrTensor, percentile: float = 99.5) -> float:
    """``1 / p``, where ``p`` is the ``percentile`` of ``|img|``: what maps that percentile to 1.

    Raises:
        ValueError: for an empty, all-zero or non-finite image.
    """
    x = convert_to_tensor(img, track_meta=False)
    x = x.abs() if torch.is_complex(x) else x.float().abs()
    if x.numel() == 0 or not torch.isfinite(x).all():
        raise ValueError("cannot scale an empty image or one with NaN/inf values; check the input file.")
    p = float(torch.quantile(x.flatten().double(), percentile / 100.0))
    if p <= 0:
        raise ValueError(f"the {percentile}th percentile of the image is {p}: the image is (almost) all zeros.")
    return 1.0 / p


class ScaleByPercentile(Transform):
    """Multiply by ``factor`` (default: the one that maps the ``percentile`` of the image itself to 1).

    Unlike MONAI's ``ScaleIntensityRangePercentiles`` it is a pure scaling (no shift), so it commutes with the
    Fourier transform: the same factor can be applied to an image and its k-space, and divided out afterwards.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, percentile: float = 99.5) -> None:
        if not 0 < percentile <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {percentile}.")
        self.percentile = percentile

    def __call__(self, img: NdarrayOrTensor, factor: float | None = None) -> NdarrayOrTensor:
        factor = percentile_scale_factor(img, self.percentile) if factor is None else factor
        return img * factor
