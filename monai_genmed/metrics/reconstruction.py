"""Image-quality metrics for reconstruction: NMSE, PSNR and SSIM, optionally restricted to a mask.

The definitions follow the papers that the DAGAN and fastMRI results are reported with:

- NMSE as in fastMRI, `Zbontar et al. 2018 <https://arxiv.org/abs/1811.08839>`_:
  ``||y_pred - y||^2 / ||y||^2``; DAGAN's released code, `Yang et al. 2018
  <https://doi.org/10.1109/TMI.2017.2785879>`_ (https://github.com/nebulaV/DAGAN), reports the unsquared ratio
  ``||y_pred - y|| / ||y||`` instead (``squared=False``).
- PSNR ``10 log10(data_range^2 / MSE)`` with an explicit data range. fastMRI takes ``max(y)`` of each volume;
  that guess makes scores depend on each image's brightest voxel, so here the range is always given.
- SSIM of `Wang et al. 2004 <https://doi.org/10.1109/TIP.2003.819861>`_ with MONAI's
  :py:func:`monai.metrics.regression.compute_ssim_and_cs` computing the SSIM map.
- HFEN, the high-frequency error norm of `Ravishankar and Bresler 2011 <https://doi.org/10.1109/TMI.2010.2090538>`_:
  ``||LoG(y_pred) - LoG(y)|| / ||LoG(y)||`` with a 15-voxel Laplacian-of-Gaussian of sigma 1.5. It scores edges
  and fine texture, which PSNR and SSIM weigh little; beside it the high-frequency energy ratio
  ``||LoG(y_pred)|| / ||LoG(y)||`` says whether a reconstruction is blurrier (< 1) or busier (> 1) than the reference.

Each metric comes three ways: a ``compute_*`` function on numpy arrays or torch tensors returning one value per
sample; a :py:class:`monai.metrics.CumulativeIterationMetric` (``reduction``, ``get_not_nans``) for MONAI
evaluators; and an Ignite handler in :py:mod:`monai_genmed.handlers.metrics` for bundle configs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from monai.config import NdarrayOrTensor
from monai.metrics import PSNRMetric, SSIMMetric
from monai.metrics.regression import KernelType, RegressionMetric, compute_ssim_and_cs
from monai.utils import MetricReduction, ensure_tuple_rep, look_up_option

from .utils import ensure_data_range, masked_mean, prepare_image_pair, prepare_mask, to_output

__all__ = [
    "compute_nmse",
    "compute_psnr",
    "compute_ssim",
    "compute_hfen",
    "compute_hf_energy_ratio",
    "compute_high_frequency_scores",
    "log_kernel",
    "NMSEMetric",
    "HFENMetric",
    "MaskedRegressionMixin",
    "MaskedPSNRMetric",
    "MaskedSSIMMetric",
]


def compute_nmse(y_pred: NdarrayOrTensor, y: NdarrayOrTensor, squared: bool = True) -> NdarrayOrTensor:
    """Normalised mean squared error of each sample, over all its channels and voxels.

    ``squared=True`` is fastMRI's NMSE (`Zbontar et al. 2018 <https://arxiv.org/abs/1811.08839>`_, Sec. 6.1):
    ``||y_pred - y||_2^2 / ||y||_2^2``. ``squared=False`` is the ratio of norms
    ``||y_pred - y||_2 / ||y||_2`` that DAGAN's released code reports (`Yang et al. 2018
    <https://doi.org/10.1109/TMI.2017.2785879>`_); it is the square root of the former.

    Args:
        y_pred: predicted images, batch-first and channel-first ``B, C, H, W[, D]``.
        y: reference images, same shape.
        squared: fastMRI's squared ratio (default) or DAGAN's unsquared one.

    Returns:
        Shape ``(B,)``: a float64 numpy array when ``y_pred`` is numpy, else a tensor.

    Raises:
        ValueError: on mismatched shapes, NaN/inf values, or a reference sample that is all zeros.
    """
    pred_t, target_t = prepare_image_pair(y_pred, y)
    error = (pred_t - target_t).flatten(1).pow(2).sum(1)
    energy = target_t.flatten(1).pow(2).sum(1)
    zero = torch.nonzero(energy == 0).flatten().tolist()
    if zero:
        raise ValueError(f"y is all zeros in batch sample(s) {zero}; NMSE divides by ||y||, so it is undefined there.")
    ratio = error / energy
    return to_output(ratio if squared else ratio.sqrt(), y_pred)


def compute_psnr(
    y_pred: NdarrayOrTensor, y: NdarrayOrTensor, data_range: float, mask: NdarrayOrTensor | None = None
) -> NdarrayOrTensor:
    """Peak signal-to-noise ratio of each sample, ``10 log10(data_range^2 / MSE)``, optionally inside a mask.

    With a mask the MSE averages only the voxels the mask selects (e.g. a head mask, so that the empty
    background does not inflate the score); without one it averages every voxel of every channel. An exact
    match gives ``inf``, as in :py:class:`monai.metrics.PSNRMetric`.

    Args:
        y_pred: predicted images, batch-first and channel-first ``B, C, H, W[, D]``.
        y: reference images, same shape.
        data_range: the span of intensities the images may take, e.g. ``1.0`` for images in ``[0, 1]``. It is
            required: fastMRI's default, ``max(y)`` of each volume, makes scores incomparable across images.
        mask: optional ``B, C`` or ``B, 1`` (shared by all channels) mask of the same spatial shape; voxels where
            ``mask > 0`` count.

    Returns:
        PSNR in dB, shape ``(B,)``: a float64 numpy array when ``y_pred`` is numpy, else a tensor.

    Raises:
        ValueError: on mismatched shapes, NaN/inf values, non-positive ``data_range`` or an empty mask.
    """
    data_range = ensure_data_range(data_range)
    pred_t, target_t = prepare_image_pair(y_pred, y)
    mask_t = None if mask is None else prepare_mask(mask, pred_t)
    mse = masked_mean((pred_t - target_t).pow(2), mask_t)
    return to_output(20 * math.log10(data_range) - 10 * torch.log10(mse), y_pred)


def _ssim_window(
    spatial_dims: int, win_size: int | Sequence[int], kernel_sigma: float | Sequence[float]
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Check and expand the SSIM window to one size and one sigma per spatial axis."""
    if spatial_dims not in (2, 3):
        raise ValueError(f"SSIM is implemented for 2D and 3D images, got spatial_dims={spatial_dims}.")
    sizes = tuple(int(s) for s in ensure_tuple_rep(win_size, spatial_dims))
    sigmas = tuple(float(s) for s in ensure_tuple_rep(kernel_sigma, spatial_dims))
    if any(s < 3 or s % 2 == 0 for s in sizes):
        raise ValueError(f"win_size must be odd and at least 3 so that the window has a centre voxel, got {sizes}.")
    if any(s <= 0 for s in sigmas):
        raise ValueError(f"kernel_sigma must be positive, got {sigmas}.")
    return sizes, sigmas


def compute_ssim(
    y_pred: NdarrayOrTensor,
    y: NdarrayOrTensor,
    data_range: float,
    mask: NdarrayOrTensor | None = None,
    spatial_dims: int | None = None,
    kernel_type: KernelType | str = KernelType.GAUSSIAN,
    win_size: int | Sequence[int] = 11,
    kernel_sigma: float | Sequence[float] = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    use_sample_covariance: bool = False,
) -> NdarrayOrTensor:
    """Structural similarity of each sample, the mean of the SSIM map, optionally over the voxels of a mask.

    The SSIM map comes from MONAI's :py:func:`~monai.metrics.regression.compute_ssim_and_cs` (float32, per
    channel), which convolves without padding: the map covers only the voxels whose whole window lies inside the
    image, i.e. it drops ``win_size // 2`` voxels at each end of every spatial axis. skimage's
    ``structural_similarity`` filters with reflective padding and then crops exactly that border before taking the
    mean, so both average the same voxels; with the defaults here (Gaussian window of 11 voxels, sigma 1.5, k1 0.01,
    k2 0.03) the result matches ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=...)``. A mask is cropped by the same border, so mask voxels within
    ``win_size // 2`` of the image edge do not count (SynthRAD2023's evaluation crops its mask the same way).

    ``use_sample_covariance=True`` scales variances by ``N / (N - 1)`` (``N`` voxels in the window) as skimage's
    default does. That is the same as dividing ``c2`` by ``N / (N - 1)``, which is how it is passed to MONAI. With
    ``kernel_type="uniform", win_size=7, use_sample_covariance=True`` this is skimage's default SSIM, the one
    fastMRI (`Zbontar et al. 2018 <https://arxiv.org/abs/1811.08839>`_) and SynthRAD2023 report.

    Args:
        y_pred: predicted images, batch-first and channel-first ``B, C, H, W[, D]``.
        y: reference images, same shape.
        data_range: the span of intensities the images may take (sets the constants ``c1 = (k1 R)^2`` and
            ``c2 = (k2 R)^2``); required, never guessed from the images.
        mask: optional ``B, C`` or ``B, 1`` mask of the images' spatial shape; the SSIM map is averaged where
            ``mask > 0``.
        spatial_dims: 2 or 3; ``None`` reads it from the number of dimensions of ``y_pred``.
        kernel_type: ``"gaussian"`` or ``"uniform"`` window.
        win_size: window size, an odd number per spatial axis or one for all.
        kernel_sigma: standard deviation of the Gaussian window.
        k1: luminance stability constant.
        k2: contrast stability constant.
        use_sample_covariance: unbiased (``N - 1``) instead of population (``N``) variances, as skimage's default.

    Returns:
        SSIM, shape ``(B,)``: a float64 numpy array when ``y_pred`` is numpy, else a tensor.

    Raises:
        ValueError: on mismatched shapes, NaN/inf values, non-positive ``data_range``, an image smaller than the
            window, or a mask with no voxel away from the border.
    """
    data_range = ensure_data_range(data_range)
    pred_t, target_t = prepare_image_pair(y_pred, y, min_ndim=4)
    spatial_dims = pred_t.ndim - 2 if spatial_dims is None else spatial_dims
    if pred_t.ndim != spatial_dims + 2:
        raise ValueError(
            f"spatial_dims={spatial_dims} expects {spatial_dims + 2}D batch-first images (B, C, spatial...), "
            f"got shape {tuple(pred_t.shape)}."
        )
    sizes, sigmas = _ssim_window(spatial_dims, win_size, kernel_sigma)
    if any(s > n for s, n in zip(sizes, pred_t.shape[2:])):
        raise ValueError(f"images of spatial shape {tuple(pred_t.shape[2:])} are smaller than the SSIM window {sizes}.")
    if use_sample_covariance:
        k2 = k2 / math.sqrt(np.prod(sizes) / (np.prod(sizes) - 1))
    ssim_map, _ = compute_ssim_and_cs(
        y_pred=pred_t,
        y=target_t,
        spatial_dims=spatial_dims,
        kernel_size=sizes,
        kernel_sigma=sigmas,
        data_range=data_range,
        kernel_type=look_up_option(kernel_type, KernelType),
        k1=k1,
        k2=k2,
    )
    mask_t = None if mask is None else prepare_mask(mask, pred_t, border=[s // 2 for s in sizes])
    return to_output(masked_mean(ssim_map, mask_t), y_pred)


def log_kernel(spatial_dims: int = 2, size: int = 15, sigma: float = 1.5) -> torch.Tensor:
    """The zero-sum Laplacian-of-Gaussian kernel HFEN filters with (float64, ``size`` voxels per axis).

    ``LoG(r) ~ (|r|^2 - d sigma^2) exp(-|r|^2 / (2 sigma^2))`` with ``d = spatial_dims``, shifted to sum to zero
    (so a constant image has no high-frequency content) and scaled so that its positive lobe sums to one.
    """
    if spatial_dims not in (2, 3):
        raise ValueError(f"HFEN is implemented for 2D and 3D images, got spatial_dims={spatial_dims}.")
    if size < 3 or size % 2 == 0:
        raise ValueError(f"the LoG kernel size must be odd and at least 3, got {size}.")
    if not sigma > 0:
        raise ValueError(f"the LoG sigma must be positive, got {sigma}.")
    axis = torch.arange(size, dtype=torch.float64) - size // 2
    grids = torch.meshgrid(*([axis] * spatial_dims), indexing="ij")
    r2 = sum(g**2 for g in grids)
    kernel = (r2 - spatial_dims * sigma**2) * torch.exp(-r2 / (2 * sigma**2))
    kernel = kernel - kernel.mean()
    return kernel / kernel.clamp(min=0).sum()


def compute_high_frequency_scores(
    y_pred: NdarrayOrTensor,
    y: NdarrayOrTensor,
    mask: NdarrayOrTensor | None = None,
    kernel_size: int = 15,
    kernel_sigma: float = 1.5,
) -> dict[str, NdarrayOrTensor]:
    """HFEN and the high-frequency energy ratio of each sample from one Laplacian-of-Gaussian pass.

    ``"hfen"``: ``||LoG(y_pred) - LoG(y)||_2 / ||LoG(y)||_2``, lower is better (`Ravishankar and Bresler 2011
    <https://doi.org/10.1109/TMI.2010.2090538>`_: 15x15, sigma 1.5). The LoG keeps edges and fine texture, so a
    blurred reconstruction with a good PSNR still scores badly; so does texture in the wrong place.
    ``"hf_ratio"``: ``||LoG(y_pred)||_2 / ||LoG(y)||_2``: 1 is as sharp as the reference, below 1 blurrier, above 1
    busier (noise or invented detail); it says nothing about where the detail is, HFEN does.

    The filter is applied to each channel with reflection padding; with a mask the norms count only the masked
    voxels (the filter still sees the whole image, so edges of the masked region are scored).

    Args:
        y_pred: predicted images, batch-first and channel-first ``B, C, H, W[, D]``.
        y: reference images, same shape.
        mask: optional ``B, C`` or ``B, 1`` mask of the same spatial shape; voxels where ``mask > 0`` count.
        kernel_size: the LoG window in voxels per axis (odd).
        kernel_sigma: the Gaussian's sigma in voxels.

    Returns:
        ``{"hfen": ..., "hf_ratio": ...}``, each of shape ``(B,)``: float64 numpy arrays when ``y_pred`` is numpy,
        else tensors.

    Raises:
        ValueError: on mismatched shapes, NaN/inf values, an empty mask, an image smaller than the kernel, or a
            reference without high-frequency content (a constant image), where both are undefined.
    """
    pred_t, target_t = prepare_image_pair(y_pred, y, min_ndim=4)
    spatial_dims = pred_t.ndim - 2
    kernel = log_kernel(spatial_dims, kernel_size, kernel_sigma).to(pred_t)
    if any(s <= kernel_size // 2 for s in pred_t.shape[2:]):
        raise ValueError(
            f"images of spatial shape {tuple(pred_t.shape[2:])} are too small for the {kernel_size}-voxel LoG kernel "
            f"(each axis must exceed {kernel_size // 2} voxels); pass a smaller kernel_size."
        )
    conv = torch.nn.functional.conv2d if spatial_dims == 2 else torch.nn.functional.conv3d
    pad = [kernel_size // 2] * (2 * spatial_dims)
    # prediction and reference through the filter together: one convolution call
    both = torch.cat([pred_t, target_t]).flatten(0, 1)[:, None]
    filtered = conv(torch.nn.functional.pad(both, pad, mode="reflect"), kernel[None, None]).reshape(2, *pred_t.shape)
    pred_f, target_f = filtered[0], filtered[1]
    if mask is not None:
        mask_t = prepare_mask(mask, pred_t)
        pred_f, target_f = pred_f * mask_t, target_f * mask_t
    energy = target_f.flatten(1).pow(2).sum(1)
    # a constant image filters to rounding residue (the kernel sums to zero only up to eps): treat that as none
    residue = (100 * torch.finfo(target_t.dtype).eps * target_t.flatten(1).abs().amax(1)) ** 2 * target_f[0].numel()
    flat = torch.nonzero(energy <= residue).flatten().tolist()
    if flat:
        raise ValueError(
            f"y has no high-frequency content in batch sample(s) {flat} (constant image); HFEN is undefined there."
        )
    hfen = ((pred_f - target_f).flatten(1).pow(2).sum(1) / energy).sqrt()
    ratio = (pred_f.flatten(1).pow(2).sum(1) / energy).sqrt()
    return {"hfen": to_output(hfen, y_pred), "hf_ratio": to_output(ratio, y_pred)}


def compute_hfen(y_pred: NdarrayOrTensor, y: NdarrayOrTensor, **kwargs: Any) -> NdarrayOrTensor:
    """High-frequency error norm ``||LoG(y_pred) - LoG(y)|| / ||LoG(y)||`` per sample (lower is better); the
    arguments (``mask``, ``kernel_size``, ``kernel_sigma``) and errors of :py:func:`compute_high_frequency_scores`."""
    return compute_high_frequency_scores(y_pred, y, **kwargs)["hfen"]


def compute_hf_energy_ratio(y_pred: NdarrayOrTensor, y: NdarrayOrTensor, **kwargs: Any) -> NdarrayOrTensor:
    """High-frequency energy ratio ``||LoG(y_pred)|| / ||LoG(y)||`` per sample (1: as sharp as the reference); the
    arguments and errors of :py:func:`compute_high_frequency_scores`."""
    return compute_high_frequency_scores(y_pred, y, **kwargs)["hf_ratio"]


class NMSEMetric(RegressionMetric):
    """Normalised mean squared error as a cumulative MONAI metric; see :py:func:`compute_nmse`.

    Lower is better. fastMRI (`Zbontar et al. 2018 <https://arxiv.org/abs/1811.08839>`_) reports the squared
    ratio; DAGAN (`Yang et al. 2018 <https://doi.org/10.1109/TMI.2017.2785879>`_) the unsquared one.

    Args:
        squared: ``||y_pred - y||^2 / ||y||^2`` (default) or ``||y_pred - y|| / ||y||``.
        reduction: how :py:meth:`aggregate` reduces the per-sample values, a
            :py:class:`monai.utils.MetricReduction` (default ``"mean"``).
        get_not_nans: whether :py:meth:`aggregate` also returns the count of not-NaN values.
    """

    def __init__(
        self, squared: bool = True, reduction: MetricReduction | str = MetricReduction.MEAN, get_not_nans: bool = False
    ) -> None:
        super().__init__(reduction=reduction, get_not_nans=get_not_nans)
        self.squared = squared

    def _compute_metric(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return compute_nmse(y_pred, y, squared=self.squared).reshape(-1, 1)  # type: ignore[union-attr]


class HFENMetric(RegressionMetric):
    """High-frequency error norm as a cumulative MONAI metric; see :py:func:`compute_hfen`. Lower is sharper.

    Args:
        kernel_size: the LoG window in voxels per axis (odd; 15 as Ravishankar and Bresler 2011).
        kernel_sigma: the Gaussian's sigma in voxels (1.5).
        reduction: how :py:meth:`aggregate` reduces the per-sample values (default ``"mean"``).
        get_not_nans: whether :py:meth:`aggregate` also returns the count of not-NaN values.
    """

    def __init__(
        self,
        kernel_size: int = 15,
        kernel_sigma: float = 1.5,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        get_not_nans: bool = False,
    ) -> None:
        super().__init__(reduction=reduction, get_not_nans=get_not_nans)
        self.kernel_size, self.kernel_sigma = kernel_size, kernel_sigma

    def _compute_metric(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return compute_hfen(y_pred, y, kernel_size=self.kernel_size, kernel_sigma=self.kernel_sigma).reshape(-1, 1)  # type: ignore[union-attr]


class MaskedRegressionMixin:
    """Lets a MONAI regression metric take an optional mask: ``metric(y_pred, y, mask=mask)``.

    The mask is a batch-first tensor like ``y`` (one channel is enough), or, when ``y_pred`` and ``y`` are lists
    of channel-first tensors, a list of channel-first masks; ``None`` counts every voxel. A subclass implements
    ``_compute_metric(y_pred, y, mask)`` returning one value per sample, shape ``(B,)``.
    """

    def _compute_metric(self, y_pred: torch.Tensor, y: torch.Tensor, mask: Any = None) -> torch.Tensor:
        raise NotImplementedError(f"Subclass {self.__class__.__name__} must implement this method.")

    def _compute_tensor(  # type: ignore[override]
        self, y_pred: torch.Tensor, y: torch.Tensor | None = None, mask: Any = None
    ) -> torch.Tensor:
        if y is None:
            raise ValueError(f"{self.__class__.__name__} compares y_pred with a reference image, pass y.")
        return self._compute_metric(y_pred, y, mask).reshape(-1, 1)

    def _compute_list(  # type: ignore[override]
        self, y_pred: Sequence[torch.Tensor], y: Sequence[torch.Tensor] | None = None, mask: Any = None
    ) -> torch.Tensor:
        if y is None:
            raise ValueError(f"{self.__class__.__name__} compares y_pred with a reference image, pass y.")
        masks = [None] * len(y_pred) if mask is None else list(mask)
        if not len(y_pred) == len(y) == len(masks):
            raise ValueError(
                "y_pred, y and mask must hold the same number of samples, "
                f"got {len(y_pred)}, {len(y)} and {len(masks)}."
            )
        return torch.cat(
            [
                self._compute_tensor(p[None], t[None], None if m is None else m[None])
                for p, t, m in zip(y_pred, y, masks)
            ]
        )


class MaskedPSNRMetric(MaskedRegressionMixin, PSNRMetric):
    """PSNR with a required data range, averaged inside an optional mask; see :py:func:`compute_psnr`.

    Extends :py:class:`monai.metrics.PSNRMetric` (``max_val`` holds ``data_range``) with the mask and input checks.
    Call it as ``metric(y_pred, y, mask=mask)``; without a mask it is the plain PSNR over every voxel.

    Args:
        data_range: the span of intensities the images may take, e.g. ``1.0`` for images in ``[0, 1]``.
        reduction: how :py:meth:`aggregate` reduces the per-sample values (default ``"mean"``).
        get_not_nans: whether :py:meth:`aggregate` also returns the count of not-NaN values.
    """

    def __init__(
        self, data_range: float, reduction: MetricReduction | str = MetricReduction.MEAN, get_not_nans: bool = False
    ) -> None:
        super().__init__(max_val=ensure_data_range(data_range), reduction=reduction, get_not_nans=get_not_nans)

    @property
    def data_range(self) -> float:
        """The span of intensities PSNR is measured against."""
        return float(self.max_val)

    def _compute_metric(self, y_pred: torch.Tensor, y: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return compute_psnr(y_pred, y, self.data_range, mask=mask)  # type: ignore[return-value]


class MaskedSSIMMetric(MaskedRegressionMixin, SSIMMetric):
    """SSIM with a required data range, averaged inside an optional mask; see :py:func:`compute_ssim`.

    Extends :py:class:`monai.metrics.SSIMMetric` (same arguments and defaults: Gaussian window 11, sigma 1.5,
    k1 0.01, k2 0.03, 'valid' border) with the mask, the input checks and skimage's sample covariance. Call it as
    ``metric(y_pred, y, mask=mask)``; without a mask it is the plain SSIM.

    Args:
        spatial_dims: 2 or 3.
        data_range: the span of intensities the images may take, e.g. ``1.0`` for images in ``[0, 1]``.
        kernel_type: ``"gaussian"`` or ``"uniform"`` window.
        win_size: window size, odd, per spatial axis or one for all.
        kernel_sigma: standard deviation of the Gaussian window.
        k1: luminance stability constant.
        k2: contrast stability constant.
        use_sample_covariance: unbiased (``N - 1``) variances, as skimage's default SSIM.
        reduction: how :py:meth:`aggregate` reduces the per-sample values (default ``"mean"``).
        get_not_nans: whether :py:meth:`aggregate` also returns the count of not-NaN values.
    """

    def __init__(
        self,
        spatial_dims: int,
        data_range: float,
        kernel_type: KernelType | str = KernelType.GAUSSIAN,
        win_size: int | Sequence[int] = 11,
        kernel_sigma: float | Sequence[float] = 1.5,
        k1: float = 0.01,
        k2: float = 0.03,
        use_sample_covariance: bool = False,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        get_not_nans: bool = False,
    ) -> None:
        win_size, kernel_sigma = _ssim_window(spatial_dims, win_size, kernel_sigma)
        super().__init__(
            spatial_dims=spatial_dims,
            data_range=ensure_data_range(data_range),
            kernel_type=look_up_option(kernel_type, KernelType),
            win_size=win_size,
            kernel_sigma=kernel_sigma,
            k1=k1,
            k2=k2,
            reduction=reduction,
            get_not_nans=get_not_nans,
        )
        self.use_sample_covariance = use_sample_covariance

    def _compute_metric(self, y_pred: torch.Tensor, y: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return compute_ssim(  # type: ignore[return-value]
            y_pred,
            y,
            self.data_range,
            mask=mask,
            spatial_dims=self.spatial_dims,
            kernel_type=self.kernel_type,
            win_size=self.kernel_size,
            kernel_sigma=self.kernel_sigma,
            k1=self.k1,
            k2=self.k2,
            use_sample_covariance=self.use_sample_covariance,
        )
