"""The fixed undersampling masks shipped with the package, as DAGAN ships its ``mask/`` folder.

Training and evaluation of a mask setting use one fixed mask (DAGAN, Yang et al. 2018), so that numbers are
comparable between runs and methods. The 15 masks of the paper's grid (1D Gaussian, 2D Gaussian and 2D
Poisson-disc at 10, 20, 30, 40 and 50 %) are stored for 256 x 256 k-space in ``resources/masks``; other sizes
are generated from the same seed, which gives the same mask every time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from monai_genmed.transforms.kspace.masks import get_mask_func, load_undersampling_mask, save_undersampling_mask

__all__ = [
    "MASKS_DIR",
    "DAGAN_MASK_TYPES",
    "DAGAN_FRACTIONS",
    "MASK_SEED",
    "default_mask_path",
    "default_undersampling_mask",
]

MASKS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resources", "masks")
DAGAN_MASK_TYPES = ("gaussian1d", "gaussian2d", "poisson2d")
DAGAN_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5)
MASK_SEED = 2018  # the year of DAGAN; any fixed value would do


def default_mask_path(mask_type: str, sampling_fraction: float, directory: str = MASKS_DIR) -> str:
    """File name of a shipped 256 x 256 mask, e.g. ``gaussian1d_30.npz``."""
    return os.path.join(directory, f"{mask_type.lower()}_{int(round(sampling_fraction * 100)):02d}.npz")


def default_undersampling_mask(
    mask_type: str = "gaussian1d", sampling_fraction: float = 0.3, shape: Sequence[int] = (256, 256)
) -> np.ndarray:
    """The fixed mask of a setting: the shipped file for 256 x 256, else generated from :data:`MASK_SEED`.

    Args:
        mask_type: ``gaussian1d``, ``gaussian2d``, ``poisson2d``, ``random1d`` or ``equispaced1d``.
        sampling_fraction: kept fraction of k-space, e.g. 0.3.
        shape: in-plane k-space shape.

    Returns:
        float32 mask of ``shape`` with 1 at sampled locations.
    """
    shape = tuple(int(s) for s in shape)
    path = default_mask_path(mask_type, sampling_fraction)
    if shape == (256, 256) and os.path.isfile(path):
        return load_undersampling_mask(path)
    return get_mask_func(mask_type, sampling_fraction)(shape, seed=MASK_SEED)


def write_default_masks(directory: str = MASKS_DIR) -> list[str]:
    """(Re)generate the shipped masks; run ``python -m monai_genmed.data.masks`` after changing a mask function."""
    written = []
    for mask_type in DAGAN_MASK_TYPES:
        for fraction in DAGAN_FRACTIONS:
            mask = get_mask_func(mask_type, fraction)((256, 256), seed=MASK_SEED)
            written.append(
                save_undersampling_mask(
                    default_mask_path(mask_type, fraction, directory),
                    mask,
                    mask_type=mask_type,
                    sampling_fraction=fraction,
                    seed=MASK_SEED,
                )
            )
    return written


if __name__ == "__main__":
    for p in write_default_masks():
        print(p, float(load_undersampling_mask(p).mean()))
