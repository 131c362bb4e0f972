from __future__ import annotations

from .array import FillOutsideHead, ScaleByPercentile, ScaleHounsfield, UnscaleHounsfield, percentile_scale_factor
from .dictionary import (
    FillOutsideHeadD,
    FillOutsideHeadd,
    FillOutsideHeadDict,
    ScaleByPercentileD,
    ScaleByPercentiled,
    ScaleByPercentileDict,
    ScaleHounsfieldD,
    ScaleHounsfieldd,
    ScaleHounsfieldDict,
    UndoScaleByPercentileD,
    UndoScaleByPercentiled,
    UndoScaleByPercentileDict,
    UnscaleHounsfieldD,
    UnscaleHounsfieldd,
    UnscaleHounsfieldDict,
)
from .functional import outside_head_mask

__all__ = [
    "FillOutsideHead",
    "FillOutsideHeadd",
    "FillOutsideHeadD",
    "FillOutsideHeadDict",
    "outside_head_mask",
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
