"""Thin integrations on top of the package: classical compressed-sensing baselines and reconstruction studies.

SigPy and bm3d (the ``classical`` extra) are imported only when a baseline is built.
"""

from __future__ import annotations

from .baselines import BM3DCS, DEFAULT_GRIDS, L1WaveletCS, TotalVariationCS, ZeroFilledRecon, tune_cs_method
from .reconstruction import ReconstructionComparison

__all__ = [
    "BM3DCS",
    "DEFAULT_GRIDS",
    "L1WaveletCS",
    "ReconstructionComparison",
    "TotalVariationCS",
    "ZeroFilledRecon",
    "tune_cs_method",
]
