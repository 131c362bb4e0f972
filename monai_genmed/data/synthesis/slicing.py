"""Slice geometry: where the pixels of each 2D slice lie in subject space, and which slices to take.

2D slices are stored the way radiology displays them, so ``plt.imshow(array)`` shows them upright: axial slices
with anterior at the top and the patient's right on the image's left, sagittal slices with superior at the top
and anterior on the left, coronal slices with superior at the top and the patient's right on the left. The NIfTI
affine says so exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from monai_genmed.data.synthesis.anatomy import (
    RigidElastic,
    Template,
    sample,
    split_code,
    subject_name,
    to_template_voxels,
)

__all__ = [
    "FULL_FOV_MM",
    "SLICING",
    "Slicing",
    "slice_points",
    "on_slice_grid",
    "subject_voxels",
    "select_slices",
    "slice_stem",
]

#: in-plane field of view (mm) that holds any deformed head, for slice selection and intensity statistics
FULL_FOV_MM = 264

Slicing = Literal["axial", "sagittal", "coronal"]
# slicing -> (axis the slices are taken along, (axis, sign) of image rows, (axis, sign) of image columns)
SLICING: dict[str, tuple[int, tuple[int, int], tuple[int, int]]] = {
    "axial": (2, (1, -1), (0, -1)),  # rows run anterior -> posterior, columns right -> left
    "sagittal": (0, (2, -1), (1, -1)),  # rows run superior -> inferior, columns anterior -> posterior
    "coronal": (1, (2, -1), (0, -1)),  # rows run superior -> inferior, columns right -> left
}


def slice_points(
    template: Template, slicing: str, positions: Sequence[int], spatial_size: tuple[int, int], spacing: float
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Subject-space points (mm) of every pixel of every slice, and each slice's 2D NIfTI affine.

    Slice ``k`` is plane ``k`` of the subject's 1 mm grid along the slicing axis; the in-plane grid is
    ``spatial_size`` pixels of ``spacing`` mm centred on the brain.

    Returns:
        points of shape (3, n_slices, H, W) and one 4x4 affine per slice (pixel (i, j) -> RAS mm).
    """
    axis, (row_axis, row_sign), (col_axis, col_sign) = SLICING[slicing]
    height, width = spatial_size
    first = template.centre_mm.copy()
    first[row_axis] -= row_sign * (height - 1) / 2.0 * spacing
    first[col_axis] -= col_sign * (width - 1) / 2.0 * spacing
    rows = first[row_axis] + row_sign * spacing * np.arange(height)
    cols = first[col_axis] + col_sign * spacing * np.arange(width)
    along = template.affine[axis, axis] * np.asarray(positions, dtype=float) + template.affine[axis, 3]
    points = np.empty((3, len(positions), height, width))
    points[axis] = along[:, None, None]
    points[row_axis] = rows[None, :, None]
    points[col_axis] = cols[None, None, :]
    affines = []
    for position_mm in along:
        affine = np.eye(4)
        affine[:3, 0] = 0.0
        affine[row_axis, 0] = row_sign * spacing
        affine[:3, 1] = 0.0
        affine[col_axis, 1] = col_sign * spacing
        affine[:3, 2] = 0.0
        affine[axis, 2] = abs(template.affine[axis, axis])
        affine[:3, 3] = first
        affine[axis, 3] = position_mm
        affines.append(affine)
    return points, affines


def _linear_upsampling(size: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Coarse sample indices along an axis of ``size`` and the (size, n_coarse) linear interpolation matrix."""
    coarse = np.unique(np.r_[np.arange(0, size, stride), size - 1])
    matrix = np.stack([np.interp(np.arange(size), coarse, unit) for unit in np.eye(len(coarse))], axis=1)
    return coarse, matrix


def on_slice_grid(function: Callable[[np.ndarray], np.ndarray], points: np.ndarray, stride: int = 4) -> np.ndarray:
    """Evaluate a smooth function of slice points (3, n, H, W) on every ``stride``-th pixel and interpolate.

    Coordinate maps (affine + a smooth elastic field on a 24 mm grid) and bias fields vary far too slowly for
    this to matter (the affine part is exact), and it makes them about ``stride**2`` times cheaper.
    """
    rows, row_matrix = _linear_upsampling(points.shape[-2], stride)
    cols, col_matrix = _linear_upsampling(points.shape[-1], stride)
    coarse = function(points[..., rows, :][..., cols])
    lead, height, width = coarse.shape[:-2], row_matrix.shape[0], col_matrix.shape[0]
    # two plain matrix products (one BLAS call each) rather than broadcast batches of small ones
    along_cols = (coarse.reshape(-1, len(cols)) @ col_matrix.T).reshape(*lead, len(rows), width)
    along_rows = row_matrix @ np.moveaxis(along_cols, -2, 0).reshape(len(rows), -1)
    return np.ascontiguousarray(np.moveaxis(along_rows.reshape(height, *lead, width), 0, -2))


def subject_voxels(template: Template, transform: RigidElastic, points: np.ndarray) -> np.ndarray:
    """Template voxel coordinates (3, n, H, W) of subject-space slice points."""
    return on_slice_grid(lambda p: to_template_voxels(transform(p), template), points)


def select_slices(
    template: Template, transform: RigidElastic, slicing: str, count: int, min_brain_fraction: float
) -> list[int]:
    """``count`` slice positions spread evenly over the subject's slices whose brain area is at least
    ``min_brain_fraction`` of the largest one (measured on a 3 mm in-plane grid)."""
    positions = np.arange(template.shape[SLICING[slicing][0]])
    points, _ = slice_points(template, slicing, positions, (FULL_FOV_MM // 3, FULL_FOV_MM // 3), 3.0)
    _, brain, _ = split_code(sample(template.code, subject_voxels(template, transform, points), order=0))
    area = brain.sum(axis=(1, 2))
    keep = np.flatnonzero(area >= max(min_brain_fraction * area.max(), 1))
    lowest, highest = int(keep[0]), int(keep[-1])
    if count > highest - lowest - 1:
        raise ValueError(
            f"slices_per_subject={count} is more than the {highest - lowest - 1} distinct {slicing} slices inside "
            f"the brain (min_brain_fraction={min_brain_fraction}); ask for fewer slices or lower min_brain_fraction."
        )
    # evenly spaced, the two ends (where the brain is smallest) left out
    return [int(p) for p in np.round(np.linspace(lowest, highest, count + 2)[1:-1])]


def slice_stem(split: str, index: int, slicing: str, position: int) -> str:
    """Relative path stem of one slice's files: ``<split>/<subject>/<subject>_<slicing>-<position>``."""
    subject = subject_name(split, index)
    return f"{split}/{subject}/{subject}_{slicing}-{position:03d}"
