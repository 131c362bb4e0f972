"""Checks of user data that read the voxels, not only the header, and name the file and the fix.

A header check passes a truncated ``.nii.gz`` (gzip fails only when the voxels are decompressed) and a slice
with NaN pixels; training then dies minutes later, deep in a transform chain, without the file's name. These
checks load every image with MONAI's own reader (:class:`monai.transforms.LoadImage`: nibabel for NIfTI, ITK
for DICOM/MHA/NRRD), the reader the bundles train with, and check what a model relies on: a readable,
non-empty array of the right dimensionality, finite values and a value range the model was built for. A
bundle calls :func:`check_datalist` on its training and validation lists before the first epoch, so a bad
file costs seconds, not a run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ImageSummary", "check_image_file", "check_datalist", "load_checked_datalist", "check_data_loader",
    "check_kspace_file", "check_crop_size", "check_slice_size",
]  # fmt: skip

logger = logging.getLogger(__name__)

#: a datalist check shows a progress bar from this many files on
PROGRESS_FROM = 64


@dataclass(frozen=True)
class ImageSummary:
    """What :func:`check_image_file` found: the array's shape and its finite value range."""

    path: str
    shape: tuple[int, ...]
    minimum: float
    maximum: float


#: the DICOM Modality tag as MONAI's ITK reader names it in the image's meta data
MODALITY_TAG = "0008|0060"


def _load_image(path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    from monai.transforms import LoadImage  # MONAI's reader: what training will use

    image = LoadImage(image_only=True, ensure_channel_first=False)(str(path))
    return np.asarray(image), dict(getattr(image, "meta", {}) or {})


def _load_array(path: Path) -> np.ndarray:
    return _load_image(path)[0]


def check_image_file(
    path: str | Path,
    name: str = "image",
    spatial_dims: int | Sequence[int] | None = None,
    value_range: Sequence[float | None] | None = None,
    range_hint: str = "",
    nonconstant: bool = False,
    modality: str | None = None,
    squeeze_singleton: bool = False,
    min_span: float | None = None,
    negative_fraction: float | None = None,
) -> ImageSummary:
    """Read a whole image file and check it; raise ``ValueError`` naming the file and the fix.

    Args:
        path: a NIfTI, MHA/MHD, NRRD or DICOM file, or a folder holding one DICOM series.
        name: what the image is in the caller's words (a datalist key such as ``"image"`` or ``"ct"``).
        spatial_dims: accepted numbers of array dimensions (e.g. ``(2, 3)`` for a slice or a volume).
        value_range: ``(low, high)`` the values must lie in (e.g. ``(0, 1)`` for the DAGAN bundle's scaled MR,
            an HU range for CT; ``(0, None)`` for no upper bound); ``None`` checks finiteness only.
        range_hint: how to bring the data into ``value_range``, appended to the error.
        nonconstant: refuse an image whose voxels all hold one value (no anatomy: a model's output from it is
            meaningless, and intensity scaling by a percentile divides by that value or by zero).
        modality: the DICOM Modality the model takes (``"MR"``); a file that carries another Modality tag (a CT
            series given to MR->CT synthesis) is refused. Files without the tag (NIfTI) pass.
        squeeze_singleton: trailing axes of size 1 beyond the second (a 4D NIfTI holding one volume) do not
            count towards ``spatial_dims``, for a caller whose loading drops them.
        negative_fraction: for magnitude images, the deepest negative value allowed as a fraction of the maximum
            (``0.05``: down to -5 % of the maximum, as spline resampling leaves them); a z-scored image or a CT in
            HU goes far deeper and is refused. ``range_hint`` is appended.
        min_span: the least ``max - min`` the values may span (e.g. 10 for a CT in HU, which spans hundreds, so
            that a CT scaled to [0, 1] is refused); ``range_hint`` is appended.

    Returns:
        The image's shape and value range.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: unreadable or truncated, empty, wrong dimensionality, NaN/inf, or values outside ``value_range``.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{name} file {str(p)!r} does not exist; fix the path in the datalist or folder.")
    try:
        array, meta = _load_image(p)
    except Exception as error:  # nibabel, ITK and gzip raise many types; the file name is what the user needs
        raise ValueError(
            f"cannot read {name} file {str(p)!r} ({type(error).__name__}: {error}); it may be truncated or corrupt. "
            "Replace or remove the file."
        ) from error
    if array.size == 0:
        raise ValueError(f"{name} file {str(p)!r} holds an empty array of shape {array.shape}; replace or remove it.")
    if modality is not None and str(meta.get(MODALITY_TAG, modality)).strip().upper() != modality.upper():
        raise ValueError(
            f"{name} file {str(p)!r} is a {str(meta[MODALITY_TAG]).strip()} image (DICOM Modality tag), but this "
            f"model takes {modality} images; pass the {modality} series."
        )
    if spatial_dims is not None:
        allowed = (spatial_dims,) if isinstance(spatial_dims, int) else tuple(spatial_dims)
        ndim = array.ndim
        if squeeze_singleton:
            while ndim > 2 and ndim > min(allowed) and array.shape[ndim - 1] == 1:
                ndim -= 1
        if ndim not in allowed and ndim > max(allowed):
            sizes = [array.shape[axis] for axis in range(max(allowed), ndim)]
            extra = ", ".join(f"{n} along axis {axis}" for axis, n in zip(range(max(allowed), ndim), sizes))
            fix = ("Save the image without its axes of size 1 (numpy.squeeze)." if set(sizes) == {1} else
                   "(Several volumes, echoes or channels?) Pass one, e.g. nibabel.load(path).slicer[..., 0] "
                   "saved as its own file.")  # fmt: skip
            raise ValueError(
                f"{name} file {str(p)!r} has {array.ndim} dimensions (shape {array.shape}): {extra} beyond the "
                f"{' or '.join(map(str, allowed))}-dimensional images this model takes. {fix}"
            )
        if ndim not in allowed:
            raise ValueError(
                f"{name} file {str(p)!r} has {array.ndim} dimensions (shape {array.shape}); this model takes "
                f"{' or '.join(map(str, allowed))}-dimensional images. Remove channel/time dimensions or pick "
                "the right files."
            )
    if np.iscomplexobj(array):
        raise ValueError(f"{name} file {str(p)!r} holds complex values; store magnitude images (np.abs).")
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(array.size - finite.sum())
        raise ValueError(
            f"{name} file {str(p)!r} holds {bad} NaN or infinite value(s) of {array.size}; replace them "
            "(e.g. np.nan_to_num) or remove the file."
        )
    low, high = float(array.min()), float(array.max())
    if value_range is not None:
        lo = -np.inf if value_range[0] is None else float(value_range[0])
        hi = np.inf if value_range[1] is None else float(value_range[1])
        if low < lo or high > hi:
            raise ValueError(
                f"{name} file {str(p)!r} has values in [{low:.4g}, {high:.4g}], outside the [{lo:g}, {hi:g}] this "
                f"model expects.{' ' + range_hint if range_hint else ''}"
            )
    if negative_fraction is not None and low < -negative_fraction * max(high, 0.0):
        raise ValueError(
            f"{name} file {str(p)!r} has values down to {low:.4g} (maximum {high:.4g}): deeper than the "
            f"-{100 * negative_fraction:g} % of the maximum that resampling of a magnitude image leaves."
            f"{' ' + range_hint if range_hint else ''}"
        )
    if min_span is not None and high - low < min_span:
        raise ValueError(
            f"{name} file {str(p)!r} spans only [{low:.4g}, {high:.4g}], less than the {min_span:g} this model expects "
            f"(is it scaled?).{' ' + range_hint if range_hint else ''}"
        )
    if nonconstant and low == high:
        raise ValueError(
            f"{name} file {str(p)!r} holds one value ({low:.4g}) in every voxel: there is no image in it to work "
            "on. Check that the right file was exported (not a blank or masked-out series)."
        )
    return ImageSummary(str(p), tuple(int(n) for n in array.shape), low, high)


def check_datalist(
    datalist: Sequence[Mapping[str, Any]],
    keys: Sequence[str] | str = ("image",),
    name: str = "datalist",
    spatial_dims: int | Sequence[int] | None = None,
    value_range: Mapping[str, Sequence[float]] | Sequence[float] | None = None,
    range_hint: str = "",
    min_items: int = 1,
    min_span: Mapping[str, float] | None = None,
    progress: bool | None = None,
) -> list[dict[str, Any]]:
    """Check every image of a MONAI datalist up front (see :func:`check_image_file`); return the datalist.

    Every file is read once, so a truncated file, a NaN slice or images in the wrong units are found before
    training, with the file's name. All problems are collected and raised together (the first ten named).

    Args:
        datalist: ``[{key: path, ...}, ...]`` as :func:`monai.data.load_decathlon_datalist` returns.
        keys: the image keys to check; other keys (labels of other kinds, numbers) are left alone.
        name: the list's name in messages (``"training datalist"``).
        spatial_dims: accepted numbers of array dimensions.
        value_range: ``(low, high)`` for every key, or ``{key: (low, high)}``.
        range_hint: how to fix values out of range (appended to the error).
        min_items: the fewest items the list may hold (1: an empty list is an error).
        min_span: ``{key: least max - min}`` (see :func:`check_image_file`).
        progress: show a progress bar (default: from :data:`PROGRESS_FROM` files on).

    Raises:
        ValueError: too few items, an item without a key, or any file that fails its check.
    """
    keys = (keys,) if isinstance(keys, str) else tuple(keys)
    items = list(datalist)
    if len(items) < min_items:
        raise ValueError(
            f"the {name} holds {len(items)} item(s); at least {min_items} needed. Check the data folder or datalist "
            "file (is it empty, or is the split key right?)."
        )
    ranges = value_range if isinstance(value_range, Mapping) else {k: value_range for k in keys}
    work = [
        (i, key, item[key]) for i, item in enumerate(items) for key in keys if isinstance(item, Mapping) and key in item
    ]
    missing = [i for i, item in enumerate(items) if not isinstance(item, Mapping) or any(k not in item for k in keys)]
    problems = [
        f"item {i} lacks key(s) {[k for k in keys if not isinstance(items[i], Mapping) or k not in items[i]]}"
        for i in missing
    ]
    show = progress if progress is not None else len(work) >= PROGRESS_FROM
    iterator: Any = work
    if show:
        from tqdm import tqdm

        iterator = tqdm(work, desc=f"checking {name}", unit="file")
    for _, key, path in iterator:
        try:
            check_image_file(path, name=key, spatial_dims=spatial_dims, value_range=ranges.get(key),
                             min_span=(min_span or {}).get(key))  # fmt: skip
        except (ValueError, FileNotFoundError) as error:
            problems.append(str(error))
    if problems:
        shown = "\n  - ".join(problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        hint = f"\n{range_hint}" if range_hint and any("model expects" in p for p in problems) else ""
        raise ValueError(f"{len(problems)} problem(s) in the {name} ({len(items)} items):\n  - {shown}{more}{hint}")
    return [dict(item) for item in items]


def load_checked_datalist(
    datalist_file: str | Path,
    data_list_key: str,
    keys: Sequence[str] | str = ("image",),
    name: str | None = None,
    **checks: Any,
) -> list[dict[str, Any]]:
    """Load one split of a MONAI datalist file and check every image of it (:func:`check_datalist`).

    What a training config needs for each split, as one ``_target_`` block::

        "datalist": {"_target_": "monai_genmed.data.load_checked_datalist", "datalist_file": "@datalist",
                     "data_list_key": "training", "keys": "@image_keys", "spatial_dims": 2}

    Args:
        datalist_file: the datalist JSON (``datalist.json``), read by :func:`monai.data.load_decathlon_datalist`.
        data_list_key: the split to load (``"training"``, ``"validation"``).
        keys: the image keys to check.
        name: the list's name in messages; default ``"<data_list_key> datalist"`` (``"training datalist"``).
        checks: the rest of :func:`check_datalist`'s arguments (``spatial_dims``, ``value_range``, ``range_hint``,
            ``min_span``, ...).

    Returns:
        the split's items, as :func:`check_datalist` returns them.
    """
    from monai.data import load_decathlon_datalist

    items = load_decathlon_datalist(datalist_file, data_list_key=data_list_key)
    return check_datalist(items, keys, name=f"{data_list_key} datalist" if name is None else name, **checks)


def check_data_loader(data_loader: Any, name: str = "training") -> Any:
    """Raise ``ValueError`` when a data loader yields no batch; return it unchanged.

    ``batch_size`` larger than the data with ``drop_last=True`` gives an empty epoch: Ignite warns and the run
    "finishes" having trained nothing. This names the sizes and the fix instead.
    """
    try:
        length = len(data_loader)
    except TypeError:  # an iterable without a length: nothing to check up front
        return data_loader
    if length > 0:
        return data_loader
    dataset = getattr(data_loader, "dataset", None)
    size = len(dataset) if dataset is not None and hasattr(dataset, "__len__") else "unknown"
    batch_size = getattr(data_loader, "batch_size", None)
    drop_last = getattr(data_loader, "drop_last", None)
    raise ValueError(
        f"the {name} data loader yields no batch: {size} item(s), batch_size={batch_size}, drop_last={drop_last}. "
        f"Lower batch_size (e.g. --batch_size {max(1, size if isinstance(size, int) else 1)}) or add data."
    )


def check_kspace_file(path: str | Path, name: str = "input_path") -> tuple[int, ...]:
    """Read a measured k-space file (``.npz`` from :func:`~monai_genmed.transforms.kspace.save_kspace`, or a
    complex ``.npy``) completely and check it; returns the k-space shape. Raises ``ValueError`` naming ``name``."""
    from monai_genmed.transforms.kspace import LoadKspace

    try:
        kspace, _ = LoadKspace()(path)
    except (ValueError, KeyError, FileNotFoundError) as error:
        raise ValueError(f"{name}: {error}") from error
    return tuple(int(n) for n in kspace.shape[1:])


def check_slice_size(path: str | Path, spatial_size: Sequence[int], name: str = "input_path") -> tuple[int, int]:
    """Refuse an input whose slices are not ``spatial_size`` (H, W) for a model that reconstructs whole slices.

    An undersampled slice's aliasing spans its whole field of view: a model trained on ``spatial_size`` slices
    learned that pattern at that size. Tiling a larger image into ``spatial_size`` windows, or padding a smaller
    one, gives windows whose artefacts the model never saw, so the output is not a reconstruction of the input,
    although inference ends without error. Images are read as :func:`check_image_file` reads them (the first two
    axes are the slice; a 3D volume is reconstructed slice by slice along the last), k-space files as
    :class:`~monai_genmed.transforms.kspace.LoadKspace` reads them (which also refuses a mask of another size
    than the k-space). Returns the slice shape.

    Raises:
        ValueError: naming ``name``, the file, both shapes and the fix.
    """
    want = tuple(int(n) for n in spatial_size)
    p = Path(path)
    kspace = p.name.lower().endswith((".npz", ".npy"))
    if kspace:
        shape = check_kspace_file(p, name=f"{name}={str(p)!r}")[:2]
    else:
        shape = tuple(int(n) for n in _load_array(p).shape[:2])
    if shape == want:
        return shape  # type: ignore[return-value]
    size = f'--spatial_size "{list(shape)}"'
    if kspace:
        fix = (
            f"Reconstruct it with a model trained on {shape[0]}x{shape[1]} slices (train with {size}), or bring the "
            f"measurement to {want[0]}x{want[1]} first (crop the k-space centre, or zero-pad it, with its mask, to "
            f"{list(want)}); this model does not resize k-space because padding or tiling gives aliasing it never saw."
        )
    else:
        fix = (
            f"Resample, crop or pad the fully sampled image to {list(want)} before undersampling it, or train a model "
            f"at this size ({size}); this model does not tile or pad the input because undersampling artefacts span "
            "the whole image, so windows of it are not what the model learned."
        )
    what = "k-space" if kspace else "image"
    raise ValueError(
        f"{name} {str(p)!r} is {what} with slices of {shape[0]}x{shape[1]} (in-plane shape {shape}), but this model "
        f"reconstructs slices of spatial_size {list(want)}. {fix}"
    )


def check_crop_size(
    crop_size: Sequence[int] | None, images: Any, name: str = "train_crop_size"
) -> Sequence[int] | None:
    """Refuse a random crop larger than the smallest image it will be applied to; return ``crop_size``.

    MONAI's ``RandSpatialCrop`` returns an image smaller than its ``roi_size`` whole, so a crop too large for the
    data is silently not applied (the run trains on whole images, at another size than asked).

    Args:
        crop_size: the crop's spatial size; ``None`` (or empty) means no crop and passes.
        images: channel-first arrays or tensors (e.g. the items of a cached dataset) the crop will see.
        name: the setting's config key, for the message.

    Raises:
        ValueError: naming the setting, the smallest image size and the largest crop that fits.
    """
    if not crop_size:
        return crop_size
    smallest: list[int] | None = None
    for image in images:
        shape = [int(n) for n in tuple(image.shape)[1:]]
        smallest = shape if smallest is None else [min(a, b) for a, b in zip(smallest, shape)]
    if smallest is None:
        return crop_size
    if len(crop_size) != len(smallest) or any(int(c) > s for c, s in zip(crop_size, smallest)):
        raise ValueError(
            f"{name}={list(crop_size)} does not fit the training images (smallest spatial size {smallest}): a crop "
            f"larger than an image is silently not applied. Pass --{name} with at most {smallest} per axis, or null "
            "for no crop."
        )
    return crop_size
