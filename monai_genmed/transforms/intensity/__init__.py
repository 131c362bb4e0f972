from __future__ import annotations

from .array import ScaleByPercentile, ScaleHounsfield, UnscaleHounsfield, percentile_scale_factor
from .dictionary import (
    ScaleByPercentiled,
    ScaleByPercentileD,
    ScaleByPercentileDict,
    ScaleHounsfieldd,
    ScaleHounsfieldD,
    ScaleHounsfieldDict,
    UndoScaleByPercentiled,
    UndoScaleByPercentileD,
    UndoScaleByPercentileDict,
    UnscaleHounsfieldd,
    UnscaleHounsfieldD,
    UnscaleHounsfieldDict,
)

__all__ = [
    "ScaleByPercentile",
    "ScaleHounsfield",
    "UnscaleHounsfield",
    "percentile_scale_factor",
    "ScaleByPercentiled",
    "ScaleByPercentileD",
    "ScaleByPercentileDict",
    "ScaleHounsfieldd",
    "ScaleHounsfieldD",
    "ScaleHounsfieldDict",
    "UndoScaleByPercentiled",
    "UndoScaleByPercentileD",
    "UndoScaleByPercentileDict",
    "UnscaleHounsfieldd",
    "UnscaleHounsfieldD",
    "UnscaleHounsfieldDict",
]
