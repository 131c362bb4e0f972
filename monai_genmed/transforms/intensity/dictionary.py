"""Dictionary versions of the intensity transforms."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from monai.config import KeysCollection
from monai.transforms import MapTransform

from .array import ScaleByPercentile, percentile_scale_factor

__all__ = [
    "ScaleByPercentiled",
    "ScaleByPercentileD",
    "ScaleByPercentileDict",
    "UndoScaleByPercentiled",
    "UndoScaleByPercentileD",
    "UndoScaleByPercentileDict",
]


class ScaleByPercentiled(MapTransform):
    """Scale ``keys`` by one factor computed on ``reference_key`` (default: the first key); store it in ``factor_key``.

    E.g. scale a zero-filled image and its measured k-space together so that data consistency still holds, then
    bring the reconstruction back to the input's units with :class:`UndoScaleByPercentiled`.
    """

    backend = ScaleByPercentile.backend

    def __init__(
        self,
        keys: KeysCollection,
        reference_key: str | None = None,
        percentile: float = 99.5,
        factor_key: str = "intensity_scale",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.reference_key = reference_key or self.keys[0]
        self.scaler = ScaleByPercentile(percentile)
        self.factor_key = factor_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        factor = percentile_scale_factor(d[self.reference_key], self.scaler.percentile)
        for key in self.key_iterator(d):
            d[key] = self.scaler(d[key], factor)
        d[self.factor_key] = factor
        return d


class UndoScaleByPercentiled(MapTransform):
    """Divide ``keys`` by the factor that :class:`ScaleByPercentiled` stored in ``factor_key``."""

    backend = ScaleByPercentile.backend

    def __init__(self, keys: KeysCollection, factor_key: str = "intensity_scale", allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.factor_key = factor_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        if self.factor_key not in d:
            raise KeyError(f"no {self.factor_key!r} in the data: apply ScaleByPercentiled first.")
        factor = float(d[self.factor_key])
        for key in self.key_iterator(d):
            d[key] = d[key] / factor
        return d


ScaleByPercentileD = ScaleByPercentileDict = ScaleByPercentiled
UndoScaleByPercentileD = UndoScaleByPercentileDict = UndoScaleByPercentiled
