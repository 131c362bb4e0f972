from __future__ import annotations

from .array import ScaleByPercentile, percentile_scale_factor
from .dictionary import (
    ScaleByPercentiled,
    ScaleByPercentileD,
    ScaleByPercentileDict,
    UndoScaleByPercentiled,
    UndoScaleByPercentileD,
    UndoScaleByPercentileDict,
)

__all__ = [
    "ScaleByPercentile",
    "percentile_scale_factor",
    "ScaleByPercentiled",
    "ScaleByPercentileD",
    "ScaleByPercentileDict",
    "UndoScaleByPercentiled",
    "UndoScaleByPercentileD",
    "UndoScaleByPercentileDict",
]
