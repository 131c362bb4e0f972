"""Pure functions behind the intensity transforms."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["outside_head_mask"]


def _thick(dark: np.ndarray, radius: int) -> np.ndarray:
    """The dark regions at least ``2 * radius + 1`` pixels wide: the air around a head, not the skull (dark in T1
    too) where a field of view cut through it leaves the skull at the image's edge."""
    if radius == 0:
        return dark
    structure = ndi.generate_binary_structure(dark.ndim, 1)
    opened = ndi.binary_opening(dark, structure, iterations=radius)
    # the opening treats beyond the image as bright and so loses the image's corners (cityblock distance 2 * radius
    # from what the erosion kept); growing back within the dark pixels by radius steps restores them
    return ndi.binary_dilation(opened, structure, iterations=radius, mask=dark)


def _touching_edge(mask: np.ndarray) -> np.ndarray:
    labels, _ = ndi.label(mask)
    faces = [np.take(labels, index, axis=a).ravel() for a in range(mask.ndim) for index in (0, -1)]
    edge = np.unique(np.concatenate(faces))
    return np.isin(labels, edge[edge > 0])


def outside_head_mask(
    mr: np.ndarray, threshold: float = 0.08, radius: int = 4, slice_axis: int | None = -1
) -> np.ndarray:
    """The air around a head in an MR scaled to about [0, 1]: wide dark regions that reach the image's edge.

    A voxel is outside the head when it is below ``threshold`` and belongs to a dark region that survives an
    opening with ``radius`` steps of the 4-neighbourhood (so it is at least ``2 * radius + 1`` pixels wide) and
    touches the edge of its slice. Dark regions inside the head (sinuses, ventricles' dark rims, cortical bone) do
    not touch the edge; a skull cut by a small field of view does, but is thinner than the opening keeps. Unlike
    :func:`monai_genmed.apps.baselines.head_mask_from_mr` (the largest bright part, holes filled) it leaves a head
    that fills the field of view alone.

    Args:
        mr: the MR, values scaled so that tissue is about 1 (the 99.5th percentile of the head) and air about 0.
        threshold: below it a voxel is dark (the intensity-to-HU lookup's head threshold).
        radius: the opening's radius in pixels; 0 keeps every dark region that touches the edge.
        slice_axis: find the air slice by slice along this axis (the axis a 2D network slides along); None finds
            it in the whole array at once (2D input, or 3D regions touching any face).

    Returns:
        bool array of ``mr``'s shape, True outside the head.
    """
    mr = np.asarray(mr, dtype=np.float32)
    if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or radius < 0:
        raise ValueError(f"radius must be an integer number of pixels >= 0, got {radius!r}.")
    if slice_axis is None or mr.ndim == 2:
        return _touching_edge(_thick(mr < threshold, radius))
    slices = np.moveaxis(mr, slice_axis, 0)
    out = np.stack([_touching_edge(_thick(s < threshold, radius)) for s in slices])
    return np.moveaxis(out, 0, slice_axis)
