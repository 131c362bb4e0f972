"""Synthetic-CT metrics in Hounsfield units, as the SynthRAD2023 challenge scores MR-to-CT and CBCT-to-CT models.

SynthRAD2023 (`Huijben et al. 2024 <https://doi.org/10.1016/j.media.2024.103276>`_, evaluation code at
https://github.com/SynthRAD2023/metrics) scores a synthetic CT against the planning CT inside the patient's body
mask with:

- MAE in HU over the mask voxels, on the unclipped images;
- PSNR with both images clipped to ``[-1024, 3000]`` HU and a data range of 4024 HU, the MSE taken over the
  mask voxels;
- SSIM with both images clipped to ``[-1024, 3000]`` HU, the voxels outside the mask set to -1024, both shifted
  by +1024 so that they lie in ``[0, 4024]``, skimage's default SSIM (7-voxel uniform window, sample covariance)
  with a data range of 4024, and the SSIM map averaged over the mask voxels away from the 3-voxel border.

Inputs must be in HU: undo the intensity scaling of the network output (e.g. in the evaluator's postprocessing)
before scoring.
"""

from __future__ import annotations

from typing import Any

import torch
from monai.config import NdarrayOrTensor
from monai.metrics import MAEMetric
from monai.utils import MetricReduction

from .reconstruction import MaskedPSNRMetric, MaskedRegressionMixin, MaskedSSIMMetric, compute_psnr, compute_ssim
from .utils import masked_mean, prepare_image_pair, prepare_mask, to_output

__all__ = [
    "SYNTHRAD_HU_RANGE",
    "SYNTHRAD_DATA_RANGE",
    "compute_hounsfield_mae",
    "compute_synthrad_psnr",
    "compute_synthrad_ssim",
    "HounsfieldMAEMetric",
    "SynthRADPSNRMetric",
    "SynthRADSSIMMetric",
]

SYNTHRAD_HU_RANGE = (-1024.0, 3000.0)
"""The HU window SynthRAD2023 clips CT to before PSNR and SSIM: air to dense cortical bone and dental fillings."""

SYNTHRAD_DATA_RANGE = SYNTHRAD_HU_RANGE[1] - SYNTHRAD_HU_RANGE[0]
"""4024 HU, the data range of SynthRAD2023's PSNR and SSIM."""

# skimage's default SSIM, which SynthRAD2023 calls without arguments
_SYNTHRAD_SSIM_WINDOW = {"kernel_type": "uniform", "win_size": 7, "use_sample_covariance": True}


#: a CT in HU spans hundreds of HU (air -1000, soft tissue 0-100, bone > 300); one that varies only inside
#: [-SCALED_LIMIT, SCALED_LIMIT] is a network-scaled image ([0, 1] or [-1, 1]), whose HU scores are meaningless
SCALED_LIMIT = 2.0


def _check_hounsfield(*images: tuple[str, torch.Tensor]) -> None:
    for name, image in images:
        low, high = float(image.min()), float(image.max())
        if high > low and max(abs(low), abs(high)) <= SCALED_LIMIT:
            raise ValueError(
                f"{name} lies in [{low:.3g}, {high:.3g}]: these metrics take CT in Hounsfield units (air -1000, bone "
                "above 300), and an image scaled to [0, 1] or [-1, 1] gives meaningless scores. Undo the scaling "
                "first (e.g. monai_genmed.transforms.intensity.UnscaleHounsfield with the training hu_window)."
            )


def compute_hounsfield_mae(
    y_pred: NdarrayOrTensor, y: NdarrayOrTensor, mask: NdarrayOrTensor | None = None
) -> NdarrayOrTensor:
    """Mean absolute error in HU of each sample over the voxels of a body mask, as SynthRAD2023 scores it.

    The images are not clipped (SynthRAD2023 clips only for PSNR and SSIM), so errors in metal or beyond 3000 HU
    count in full.

    Args:
        y_pred: synthetic CT in HU, batch-first and channel-first ``B, C, H, W[, D]``.
        y: reference CT in HU, same shape.
        mask: optional ``B, C`` or ``B, 1`` body mask of the same spatial shape; voxels where ``mask > 0`` count.
            ``None`` counts every voxel.

    Returns:
        MAE in HU, shape ``(B,)``: a float64 numpy array when ``y_pred`` is numpy, else a tensor.

    Raises:
        ValueError: on mismatched shapes, NaN/inf values or an empty mask.
    """
    pred_t, target_t = prepare_image_pair(y_pred, y)
    _check_hounsfield(("y_pred", pred_t), ("y", target_t))
    mask_t = None if mask is None else prepare_mask(mask, pred_t)
    return to_output(masked_mean((pred_t - target_t).abs(), mask_t), y_pred)


def _clip_to_synthrad_range(y_pred: NdarrayOrTensor, y: NdarrayOrTensor) -> tuple[torch.Tensor, torch.Tensor]:
    # check before clipping: clamping would silently turn an inf into 3000 HU
    pred_t, target_t = prepare_image_pair(y_pred, y)
    _check_hounsfield(("y_pred", pred_t), ("y", target_t))
    return pred_t.clamp(*SYNTHRAD_HU_RANGE), target_t.clamp(*SYNTHRAD_HU_RANGE)


def compute_synthrad_psnr(
    y_pred: NdarrayOrTensor, y: NdarrayOrTensor, mask: NdarrayOrTensor | None = None
) -> NdarrayOrTensor:
    """PSNR in dB with SynthRAD2023's convention: clip to ``[-1024, 3000]`` HU, data range 4024, MSE in the mask.

    Args:
        y_pred: synthetic CT in HU, batch-first and channel-first ``B, C, H, W[, D]``.
        y: reference CT in HU, same shape.
        mask: optional ``B, C`` or ``B, 1`` body mask; ``None`` counts every voxel.

    Returns:
        Shape ``(B,)``: a float64 numpy array when ``y_pred`` is numpy, else a tensor.

    Raises:
        ValueError: on mismatched shapes, NaN/inf values or an empty mask.
    """
    pred_t, target_t = _clip_to_synthrad_range(y_pred, y)
    return to_output(compute_psnr(pred_t, target_t, SYNTHRAD_DATA_RANGE, mask=mask), y_pred)  # type: ignore[arg-type]


def compute_synthrad_ssim(
    y_pred: NdarrayOrTensor, y: NdarrayOrTensor, mask: NdarrayOrTensor | None = None, spatial_dims: int | None = None
) -> NdarrayOrTensor:
    """SSIM with SynthRAD2023's convention, averaged over the body mask.

    Both images are clipped to ``[-1024, 3000]`` HU; with a mask, voxels outside it are set to -1024 HU in both
    (so the body outline itself does not count as a structural difference); both are shifted by +1024 HU into
    ``[0, 4024]``, which matters because SSIM's luminance term is not shift-invariant. The SSIM map is skimage's
    default (7-voxel uniform window, sample covariance, k1 0.01, k2 0.03) with data range 4024, and it is averaged
    over the mask voxels at least 3 voxels from the image edge, as SynthRAD2023 crops it.

    Args:
        y_pred: synthetic CT in HU, batch-first and channel-first ``B, C, H, W[, D]`` (at least 7 voxels a side).
        y: reference CT in HU, same shape.
        mask: optional ``B, C`` or ``B, 1`` body mask; ``None`` averages the whole map.
        spatial_dims: 2 (slices) or 3 (volumes, a 7x7x7 window as SynthRAD2023 uses); ``None`` reads it from
            the number of dimensions of ``y_pred``.

    Returns:
        Shape ``(B,)``: a float64 numpy array when ``y_pred`` is numpy, else a tensor.

    Raises:
        ValueError: on mismatched shapes, NaN/inf values, images smaller than the window or an empty mask.
    """
    low = SYNTHRAD_HU_RANGE[0]
    pred_t, target_t = _clip_to_synthrad_range(y_pred, y)
    if mask is not None:
        outside = ~prepare_mask(mask, pred_t)
        pred_t, target_t = pred_t.masked_fill(outside, low), target_t.masked_fill(outside, low)
    values = compute_ssim(
        pred_t - low,
        target_t - low,
        SYNTHRAD_DATA_RANGE,
        mask=mask,
        spatial_dims=spatial_dims,
        **_SYNTHRAD_SSIM_WINDOW,  # type: ignore[arg-type]
    )
    return to_output(values, y_pred)  # type: ignore[arg-type]


class HounsfieldMAEMetric(MaskedRegressionMixin, MAEMetric):
    """MAE in HU inside an optional body mask as a cumulative MONAI metric; see :py:func:`compute_hounsfield_mae`.

    Extends :py:class:`monai.metrics.MAEMetric` with the mask and input checks; call it as
    ``metric(y_pred, y, mask=mask)``. Lower is better.

    Args:
        reduction: how :py:meth:`aggregate` reduces the per-sample values (default ``"mean"``).
        get_not_nans: whether :py:meth:`aggregate` also returns the count of not-NaN values.
    """

    def _compute_metric(self, y_pred: torch.Tensor, y: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return compute_hounsfield_mae(y_pred, y, mask=mask)  # type: ignore[return-value]


class SynthRADPSNRMetric(MaskedPSNRMetric):
    """SynthRAD2023's masked PSNR (clip to ``[-1024, 3000]`` HU, data range 4024) as a cumulative MONAI metric.

    See :py:func:`compute_synthrad_psnr`; call it as ``metric(y_pred, y, mask=mask)`` with images in HU.

    Args:
        reduction: how :py:meth:`aggregate` reduces the per-sample values (default ``"mean"``).
        get_not_nans: whether :py:meth:`aggregate` also returns the count of not-NaN values.
    """

    def __init__(self, reduction: MetricReduction | str = MetricReduction.MEAN, get_not_nans: bool = False) -> None:
        super().__init__(data_range=SYNTHRAD_DATA_RANGE, reduction=reduction, get_not_nans=get_not_nans)

    def _compute_metric(self, y_pred: torch.Tensor, y: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return compute_synthrad_psnr(y_pred, y, mask=mask)  # type: ignore[return-value]


class SynthRADSSIMMetric(MaskedSSIMMetric):
    """SynthRAD2023's masked SSIM as a cumulative MONAI metric; see :py:func:`compute_synthrad_ssim`.

    Call it as ``metric(y_pred, y, mask=mask)`` with images in HU.

    Args:
        spatial_dims: 3 for volumes (SynthRAD2023 scores whole volumes with a 7x7x7 window) or 2 for slices.
        reduction: how :py:meth:`aggregate` reduces the per-sample values (default ``"mean"``).
        get_not_nans: whether :py:meth:`aggregate` also returns the count of not-NaN values.
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        get_not_nans: bool = False,
    ) -> None:
        super().__init__(
            spatial_dims=spatial_dims,
            data_range=SYNTHRAD_DATA_RANGE,
            reduction=reduction,
            get_not_nans=get_not_nans,
            **_SYNTHRAD_SSIM_WINDOW,  # type: ignore[arg-type]
        )

    def _compute_metric(self, y_pred: torch.Tensor, y: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return compute_synthrad_ssim(y_pred, y, mask=mask, spatial_dims=self.spatial_dims)
