"""Classical compressed-sensing MRI reconstructions, the baselines that learned reconstructions are compared with.

Total variation and L1-wavelet CS (solved by SigPy), BM3D-MRI (plug-and-play with the ``bm3d`` package), the
zero-filled floor, and a grid search of their regularisation on validation slices. They need the
``classical`` extra: ``pip install monai_genmed[classical]``. For MR->CT synthesis: the intensity-to-HU lookup
(no extra needed).
"""

from __future__ import annotations

from .base import CSReconstructor, ZeroFilledRecon, check_cs_inputs, conjugate_symmetric_fill, zero_filled_image
from .bm3d_cs import BM3DCS
from .intensity_to_hu import IntensityToHounsfieldMap, fit_intensity_to_hu, head_mask_from_mr, lookup_mae
from .sparse_cs import L1WaveletCS, TotalVariationCS, tv_operator_norm_sq
from .tuning import DEFAULT_GRIDS, CSSlice, evaluate_cs_method, image_psnr, image_ssim, tune_cs_method

__all__ = [
    "CSReconstructor",
    "ZeroFilledRecon",
    "check_cs_inputs",
    "conjugate_symmetric_fill",
    "zero_filled_image",
    "TotalVariationCS",
    "L1WaveletCS",
    "tv_operator_norm_sq",
    "BM3DCS",
    "IntensityToHounsfieldMap",
    "head_mask_from_mr",
    "fit_intensity_to_hu",
    "lookup_mae",
    "DEFAULT_GRIDS",
    "CSSlice",
    "image_psnr",
    "image_ssim",
    "evaluate_cs_method",
    "tune_cs_method",
]
