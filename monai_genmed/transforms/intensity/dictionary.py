"""Dictionary versions of the intensity transforms."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from monai.config import KeysCollection
from monai.transforms import MapTransform

from monai_genmed.utils.flags import ensure_bool

from .array import FillOutsideHead, ScaleByPercentile, ScaleHounsfield, UnscaleHounsfield, percentile_scale_factor

__all__ = [
    "FillOutsideHeadd",
    "FillOutsideHeadD",
    "FillOutsideHeadDict",
    "ScaleByPercentiled",
    "ScaleByPercentileD",
    "ScaleByPercentileDict",
    "UndoScaleByPercentiled",
    "UndoScaleByPercentileD",
    "UndoScaleByPercentileDict",
    "ScaleHounsfieldd",
    "ScaleHounsfieldD",
    "ScaleHounsfieldDict",
    "UnscaleHounsfieldd",
    "UnscaleHounsfieldD",
    "UnscaleHounsfieldDict",
]


def _source_name(img: Any) -> str | None:
    """The file an image was loaded from, as MONAI's loaders (and LoadKspace) record it in the meta data."""
    meta = getattr(img, "meta", None)
    name = meta.get("filename_or_obj") if isinstance(meta, Mapping) else None
    return str(name) if name else None


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
        try:
            factor = percentile_scale_factor(d[self.reference_key], self.scaler.percentile)
        except ValueError as error:  # the transform sees an array; the user needs to know which file it came from
            source = _source_name(d[self.reference_key])
            if source is None:
                raise
            raise ValueError(f"{source!r}: {error}") from error
        for key in self.key_iterator(d):
            d[key] = self.scaler(d[key], factor)
        d[self.factor_key] = factor
        return d


class UndoScaleByPercentiled(MapTransform):
    """Divide ``keys`` by the factor that :class:`ScaleByPercentiled` stored in ``factor_key``."""

    backend = ScaleByPercentile.backend

    def __init__(
        self, keys: KeysCollection, factor_key: str = "intensity_scale", allow_missing_keys: bool = False
    ) -> None:
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


class _HounsfieldMapd(MapTransform):
    """Applies ``array_transform(hu_window, output_range, clip)`` to every key."""

    array_transform: type[ScaleHounsfield] | type[UnscaleHounsfield]

    def __init__(
        self,
        keys: KeysCollection,
        hu_window: Sequence[float] = (-1024.0, 3000.0),
        output_range: Sequence[float] = (-1.0, 1.0),
        clip: bool = True,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = self.array_transform(hu_window, output_range, clip)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.transform(d[key])
        return d


class ScaleHounsfieldd(_HounsfieldMapd):
    """Dictionary wrapper of :class:`~monai_genmed.transforms.intensity.ScaleHounsfield`: HU -> ``output_range``.

    Args:
        keys: keys of the CT images to scale.
        hu_window, output_range, clip: as :class:`~monai_genmed.transforms.intensity.ScaleHounsfield`.
        allow_missing_keys: do not raise for a missing key.
    """

    backend = ScaleHounsfield.backend
    array_transform = ScaleHounsfield


class UnscaleHounsfieldd(_HounsfieldMapd):
    """Dictionary wrapper of :class:`~monai_genmed.transforms.intensity.UnscaleHounsfield`: ``output_range`` -> HU.

    Args:
        keys: keys of the synthetic CT images to bring back to HU.
        hu_window, output_range, clip: as :class:`~monai_genmed.transforms.intensity.UnscaleHounsfield`.
        allow_missing_keys: do not raise for a missing key.
    """

    backend = UnscaleHounsfield.backend
    array_transform = UnscaleHounsfield


ScaleHounsfieldD = ScaleHounsfieldDict = ScaleHounsfieldd
UnscaleHounsfieldD = UnscaleHounsfieldDict = UnscaleHounsfieldd


class FillOutsideHeadd(MapTransform):
    """Dictionary wrapper of :class:`~monai_genmed.transforms.intensity.FillOutsideHead`: ``keys`` become ``values``
    outside the head that the MR under ``reference_key`` shows.

    Args:
        keys: the images to fill (a synthetic CT, its uncertainty).
        reference_key: the MR, on the images' grid.
        values: one value for every key, or one per key (e.g. ``[-1000, 0]``).
        threshold, radius, slice_axis, reference_range: as :class:`~monai_genmed.transforms.intensity.FillOutsideHead`.
        enabled: False makes it the identity (the bundle's ``--mask_outside_head False``).
        allow_missing_keys: do not raise for a missing key.
    """

    backend = FillOutsideHead.backend

    def __init__(self, keys: KeysCollection, reference_key: str, values: float | Sequence[float] = -1000.0,
                 threshold: float = 0.08, radius: int = 4, slice_axis: int | None = -1,
                 reference_range: Sequence[float] = (0.0, 1.0), enabled: bool = True,
                 allow_missing_keys: bool = False) -> None:  # fmt: skip
        super().__init__(keys, allow_missing_keys)
        values = [values] * len(self.keys) if isinstance(values, (int, float)) else list(values)
        if len(values) != len(self.keys):
            raise ValueError(
                f"values has {len(values)} entries for {len(self.keys)} keys; give one value or one per key."
            )
        self.reference_key = reference_key
        self.fillers = [FillOutsideHead(v, threshold, radius, slice_axis, reference_range) for v in values]
        self.enabled = ensure_bool(enabled, "mask_outside_head")

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        if not self.enabled:
            return d
        outside = None
        for key, filler in self.key_iterator(d, self.fillers):
            outside = filler.mask(d[self.reference_key]) if outside is None else outside  # one mask for every key
            d[key] = filler.fill(d[key], outside)
        return d


FillOutsideHeadD = FillOutsideHeadDict = FillOutsideHeadd
