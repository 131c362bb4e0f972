"""Input checks and conversions shared by the image-quality metrics.

Every metric in this package takes batch-first, channel-first images (``B, C, H, W[, D]``) as numpy arrays or
torch tensors (``MetaTensor`` included), checks them here once, computes in torch, and hands back one value per
sample in the type of ``y_pred``. Bad input fails here with a message that names the argument and the fix, so a
metric never returns a silent ``nan`` for a malformed batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from monai.config import NdarrayOrTensor
from monai.data import MetaTensor

__all__ = ["ensure_data_range", "to_metric_tensor", "prepare_image_pair", "prepare_mask", "masked_mean", "to_output"]


def ensure_data_range(data_range: Any, name: str = "data_range") -> float:
    """Return ``data_range`` as a float after checking that it is a finite positive number.

    PSNR and SSIM depend on the range of the intensities; guessing it from the reference image (``y.max()``, as
    skimage and fastMRI do when none is given) makes scores from different images incomparable, so every metric
    here asks for it.

    Args:
        data_range: the span of intensities the images may take, e.g. ``1.0`` for images scaled to ``[0, 1]``.
        name: the argument name used in the error message.

    Raises:
        TypeError: when ``data_range`` is not a real number.
        ValueError: when ``data_range`` is not finite and positive.
    """
    if isinstance(data_range, bool) or not isinstance(data_range, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a positive number (e.g. 1.0 for images in [0, 1]), got {data_range!r}.")
    value = float(data_range)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and positive (e.g. 1.0 for images in [0, 1]), got {data_range!r}.")
    return value


def to_metric_tensor(image: Any, name: str, device: torch.device | None = None) -> torch.Tensor:
    """Convert ``image`` to a plain real floating tensor (float64 stays float64, anything else becomes float32).

    Args:
        image: a numpy array, torch tensor or ``MetaTensor``.
        name: the argument name used in error messages.
        device: where to put the tensor; ``None`` keeps a tensor where it is and puts an array on the CPU.

    Raises:
        TypeError: when ``image`` is not an array or tensor, or is complex.
    """
    if isinstance(image, MetaTensor):
        image = image.as_tensor()
    if isinstance(image, np.ndarray):
        # torch.from_numpy refuses non-native byte order, which some NIfTI readers hand back
        image = torch.from_numpy(np.ascontiguousarray(image, dtype=image.dtype.newbyteorder("=")))
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(image).__name__}.")
    if image.is_complex():
        raise TypeError(f"{name} is complex; the image metrics compare real images, pass the magnitude (abs) instead.")
    dtype = torch.float64 if image.dtype == torch.float64 else torch.float32
    return image.to(device=device if device is not None else image.device, dtype=dtype)


def prepare_image_pair(y_pred: Any, y: Any, min_ndim: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Convert prediction and reference to tensors of one dtype and device, and check them.

    Args:
        y_pred: the predicted images, ``B, C, ...``.
        y: the reference images, same shape.
        min_ndim: the fewest dimensions accepted (2 for batch and channel; SSIM asks for 4).

    Returns:
        ``(y_pred, y)`` as real floating tensors on the device of ``y_pred``.

    Raises:
        TypeError: when an input is not a real array or tensor.
        ValueError: on a shape mismatch (both shapes named), too few dimensions, or a NaN/inf value.
    """
    pred_t = to_metric_tensor(y_pred, "y_pred")
    target_t = to_metric_tensor(y, "y", device=pred_t.device)
    if pred_t.shape != target_t.shape:
        raise ValueError(
            f"y_pred and y must have the same shape, got y_pred {tuple(pred_t.shape)} and y {tuple(target_t.shape)}."
        )
    if pred_t.ndim < min_ndim:
        raise ValueError(
            f"expected batch-first, channel-first images with at least {min_ndim} dimensions (B, C, ...), "
            f"got shape {tuple(pred_t.shape)}; add the missing axes, e.g. image[None, None]."
        )
    if pred_t.ndim == 2:  # (B, C) and no spatial axis: a bare 2D slice would be scored row by row
        raise ValueError(
            f"got images of shape {tuple(pred_t.shape)}, read as (B, C) with no spatial axis: a bare 2D slice (H, W) "
            "would be scored row by row. Pass batch-first, channel-first images, e.g. image[None, None] for one slice."
        )
    for name, image in (("y_pred", pred_t), ("y", target_t)):
        if not bool(torch.isfinite(image).all()):
            raise ValueError(f"{name} contains NaN or inf values; metrics are only defined for finite images.")
    dtype = torch.promote_types(pred_t.dtype, target_t.dtype)
    return pred_t.to(dtype), target_t.to(dtype)


def prepare_mask(mask: Any, like: torch.Tensor, border: Sequence[int] | None = None) -> torch.Tensor:
    """Binarise ``mask`` (``mask > 0``, as SynthRAD2023 does) and expand it to the shape of ``like``.

    Args:
        mask: a ``B, C, ...`` array or tensor with the shape of the images, or with a single channel that then
            applies to every channel.
        like: the image tensor the mask selects voxels of.
        border: voxels to drop at both ends of each spatial axis, so that the mask lines up with a map computed
            by a 'valid' convolution (SSIM); ``None`` keeps the full extent.

    Returns:
        A boolean tensor with the shape (less ``border``) and device of ``like``.

    Raises:
        ValueError: when the mask shape fits neither form, or a sample's mask selects no voxel.
    """
    mask_t = to_metric_tensor(mask, "mask", device=like.device) > 0
    image_shape = tuple(like.shape)
    single_channel = (image_shape[0], 1, *image_shape[2:])
    if tuple(mask_t.shape) not in (image_shape, single_channel):
        raise ValueError(
            f"mask must have the image shape {image_shape} or a single channel {single_channel}, "
            f"got mask {tuple(mask_t.shape)}."
        )
    mask_t = mask_t.expand(image_shape)
    if border is not None:
        mask_t = mask_t[(slice(None), slice(None), *(slice(b, s - b) for b, s in zip(border, image_shape[2:])))]
    empty = torch.nonzero(mask_t.flatten(1).sum(1) == 0).flatten().tolist()
    if empty:
        where = f" away from the border ({list(border)} voxels per axis) where SSIM's window fits" if border else ""
        raise ValueError(
            f"mask selects no voxel in batch sample(s) {empty}{where}; a masked metric is undefined there, "
            "leave those samples out or pass a non-empty mask."
        )
    return mask_t


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``values`` over every non-batch axis, counting only voxels where ``mask`` is true.

    Args:
        values: a ``B, ...`` tensor of per-voxel values.
        mask: a boolean tensor of the same shape, or ``None`` to average every voxel.

    Returns:
        A tensor of shape ``(B,)``.
    """
    if mask is None:
        return values.flatten(1).mean(1)
    weights = mask.to(values.dtype)
    return (values * weights).flatten(1).sum(1) / weights.flatten(1).sum(1)


def to_output(values: torch.Tensor, y_pred: Any) -> NdarrayOrTensor:
    """Return per-sample ``values`` as a float64 numpy array when ``y_pred`` was numpy, else as a plain tensor."""
    if isinstance(y_pred, np.ndarray):
        return values.detach().cpu().numpy().astype(np.float64)
    return values
