"""Intensity transforms that can be undone: percentile scaling (reconstruction) and Hounsfield windowing (synthesis).

They take numpy arrays, torch tensors or MetaTensors and return the same type (a MetaTensor keeps its meta).
Unlike MONAI 1.x, which turns numpy input into a MetaTensor when meta tracking is on, numpy stays numpy here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms import Transform
from monai.utils import TransformBackends, convert_to_dst_type, convert_to_numpy, convert_to_tensor

from .functional import outside_head_mask

__all__ = ["percentile_scale_factor", "ScaleByPercentile", "ScaleHounsfield", "UnscaleHounsfield", "FillOutsideHead"]


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
        raise ValueError(
            f"the {percentile:g}th percentile of the image's magnitude is {p:g}: the image is (almost) all zeros "
            f"(fewer than {100 - percentile:g} % of its pixels hold signal), so scaling by it is impossible. Check "
            "that the right file was given (not a blank or masked-out series); if the anatomy really fills so little "
            "of it, crop the image to the anatomy or scale by a higher percentile (e.g. 100: --intensity_percentile "
            "100 in inference)."
        )
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


def _interval(value: Sequence[float], name: str) -> tuple[float, float]:
    bounds = tuple(float(v) for v in value)
    if len(bounds) != 2 or not bounds[0] < bounds[1]:
        raise ValueError(f"{name} must be (low, high) with low < high, got {tuple(value)}.")
    return bounds  # type: ignore[return-value]


class _HounsfieldMap(Transform):
    """The affine map between a Hounsfield window and a network range, in either direction."""

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self,
        hu_window: Sequence[float] = (-1024.0, 3000.0),
        output_range: Sequence[float] = (-1.0, 1.0),
        clip: bool = True,
    ) -> None:
        self.hu_window = _interval(hu_window, "hu_window")
        self.output_range = _interval(output_range, "output_range")
        self.clip = clip

    def _map(self, img: NdarrayOrTensor, source: tuple[float, float], dest: tuple[float, float]) -> NdarrayOrTensor:
        x = convert_to_tensor(img, track_meta=False)
        if not (x.is_floating_point() and x.dtype in (torch.float32, torch.float64)):
            x = x.float()  # integer CT (int16) and half precision compute in float32
        if self.clip:
            x = x.clamp(*source)
        # each direction is the other's algebraic inverse, so a round trip loses only floating-point rounding;
        # multiplying before dividing maps the window's ends exactly onto the range's ends, and as every step
        # rounds monotonically, clipped values stay inside the range
        out = (x - source[0]) * (dest[1] - dest[0]) / (source[1] - source[0]) + dest[0]
        result, *_ = convert_to_dst_type(out, img, dtype=out.dtype)
        return result


class ScaleHounsfield(_HounsfieldMap):
    """Map CT values in Hounsfield units linearly from ``hu_window`` to ``output_range`` (e.g. a tanh output's).

    ``low HU -> low``, ``high HU -> high``; with ``clip`` values outside the window are clipped to it first
    (air below -1024 HU, metal above the window), which is the one irreversible step. :class:`UnscaleHounsfield`
    with the same arguments, or :meth:`inverse`, maps network outputs back to HU: for values inside the window
    the round trip is exact up to float32 rounding (within 1e-3 HU). The default window is air to 3000 HU, most of
    the 12-bit CT range (``monai_genmed.data.HU_RANGE`` is ``(-1024, 3071)``).

    The output is float32 (float64 input stays float64), of the input's type: numpy in, numpy out; torch in,
    torch out; a MetaTensor keeps its meta.

    Args:
        hu_window: ``(low, high)`` in HU, ``low < high``.
        output_range: ``(low, high)`` the window maps to (``(-1, 1)`` for a tanh generator).
        clip: clip to ``hu_window`` before scaling.
    """

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Scale ``img`` (HU) to ``output_range``."""
        return self._map(img, self.hu_window, self.output_range)

    def inverse(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Map ``img`` from ``output_range`` back to HU (clipped to ``output_range`` first with ``clip``)."""
        return self._map(img, self.output_range, self.hu_window)


class UnscaleHounsfield(_HounsfieldMap):
    """The inverse of :class:`ScaleHounsfield`: map ``output_range`` linearly back to ``hu_window`` in HU.

    Use it on a synthetic CT from the network, with the arguments that scaled the training CT. With ``clip``
    the input is clipped to ``output_range`` first, so the result stays inside the window.

    Args:
        hu_window: ``(low, high)`` in HU, ``low < high``.
        output_range: ``(low, high)`` of the network's output.
        clip: clip to ``output_range`` before mapping back.
    """

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Map ``img`` from ``output_range`` to HU."""
        return self._map(img, self.output_range, self.hu_window)


class FillOutsideHead(Transform):
    """Set an image to ``value`` outside the head that an MR shows (:func:`outside_head_mask`), e.g. a synthetic CT
    to air (-1000 HU) where a generator trained on slices inside the head has never seen air around it.

    Args:
        value: what the image becomes outside the head (-1000 for a CT in HU, 0 for its uncertainty).
        threshold, radius, slice_axis: as :func:`outside_head_mask` (``slice_axis`` counts spatial axes, after the
            channel).
        reference_range: the values of the MR that mean 0 and 1 of the scale ``threshold`` is given in (e.g. the
            network range (-1, 1) when the MR was mapped there).

    ``__call__(img, reference)``: ``img`` and the MR ``reference`` channel-first with the same spatial shape (the
    first channel of ``reference`` is used). Returns ``img``'s type (a MetaTensor keeps its meta).
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, value: float = -1000.0, threshold: float = 0.08, radius: int = 4, slice_axis: int | None = -1,
                 reference_range: Sequence[float] = (0.0, 1.0)) -> None:  # fmt: skip
        self.value = float(value)
        self.threshold, self.radius, self.slice_axis = float(threshold), radius, slice_axis
        self.reference_range = _interval(reference_range, "reference_range")

    def mask(self, reference: NdarrayOrTensor) -> np.ndarray:
        """The outside of the head in ``reference`` (channel-first), without the channel axis."""
        low, high = self.reference_range
        mr = (convert_to_numpy(reference, dtype=np.float32)[0] - low) / (high - low)
        return outside_head_mask(mr, self.threshold, self.radius, self.slice_axis)

    def __call__(self, img: NdarrayOrTensor, reference: NdarrayOrTensor) -> NdarrayOrTensor:
        if tuple(img.shape[1:]) != tuple(reference.shape[1:]):
            raise ValueError(f"the image {tuple(img.shape)} and the MR {tuple(reference.shape)} it is masked by "
                             "differ in spatial shape; mask before undoing the resampling, where both share the "
                             "network's grid.")  # fmt: skip
        return self.fill(img, self.mask(reference))

    def fill(self, img: NdarrayOrTensor, outside: np.ndarray) -> NdarrayOrTensor:
        """``img`` (channel-first) with every channel set to ``value`` where ``outside`` (spatial) is True."""
        x = convert_to_tensor(img, track_meta=False)
        outside_t = torch.as_tensor(outside, device=x.device)[None]
        out = torch.where(outside_t, torch.as_tensor(self.value, dtype=x.dtype, device=x.device), x)
        result, *_ = convert_to_dst_type(out, img, dtype=out.dtype)
        return result
