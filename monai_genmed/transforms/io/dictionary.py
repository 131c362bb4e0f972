"""Dictionary twins of :mod:`.array`."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from typing import Any

from monai.config import KeysCollection
from monai.transforms import MapTransform

from .array import SaveDicomSeries

__all__ = ["SaveDicomSeriesD", "SaveDicomSeriesDict", "SaveDicomSeriesd"]


class SaveDicomSeriesd(MapTransform):
    """Dictionary twin of :class:`~monai_genmed.transforms.io.array.SaveDicomSeries`: writes each key's image as a
    DICOM series (its meta from the MetaTensor, or from ``"<key>_meta_dict"``) and returns the data unchanged."""

    backend = SaveDicomSeries.backend

    def __init__(self, keys: KeysCollection, output_dir: str | os.PathLike, output_postfix: str = "synct",
                 reference: str | None = "auto", series_description: str = "synthetic CT", derivation: str = "",
                 modality: str = "CT", meta_key_postfix: str = "meta_dict",
                 allow_missing_keys: bool = False) -> None:  # fmt: skip
        super().__init__(keys, allow_missing_keys)
        self.saver = SaveDicomSeries(output_dir, output_postfix, reference, series_description, derivation, modality)
        self.meta_key_postfix = meta_key_postfix

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            self.saver(d[key], d.get(f"{key}_{self.meta_key_postfix}"))
        return d


SaveDicomSeriesD = SaveDicomSeriesDict = SaveDicomSeriesd
