"""Array transforms that write a volume in a clinic's file format (see :mod:`.functional`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.config import NdarrayOrTensor
from monai.data import MetaTensor
from monai.transforms import Transform
from monai.utils import TransformBackends

from .functional import read_dicom_header, write_dicom_series

__all__ = ["SaveDicomSeries", "dicom_output_wanted"]

_IMAGE_SUFFIXES = (".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".nhdr", ".dcm")


def dicom_output_wanted(output_format: str) -> bool:
    """``True`` for ``"dicom"``, ``False`` for ``"nifti"``; any other value raises naming both choices."""
    choice = str(output_format).lower()
    if choice not in ("dicom", "nifti"):
        raise ValueError(
            f"output_format={output_format!r} is not a format this writes; "
            "pass --output_format nifti or --output_format dicom."
        )
    return choice == "dicom"


def _stem(path: str) -> str:
    name = Path(str(path).rstrip("/\\")).name
    for suffix in _IMAGE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


class SaveDicomSeries(Transform):
    """Write a channel-first 3D image (``(1, x, y, z)``, values in HU) as a DICOM CT series, one file per slice, and
    return the image unchanged (as MONAI's ``SaveImage`` does).

    The series goes to ``output_dir/<input name>_<output_postfix>/IM0001.dcm ...``, the input name taken from the
    image's ``filename_or_obj`` meta. Geometry comes from the image's affine (a MetaTensor's, or ``meta_dict``'s
    ``"affine"``). When the image was read from a DICOM series (``filename_or_obj`` a folder or a ``.dcm`` file)
    and ``reference`` is ``"auto"``, that series' patient, study and frame of reference are copied, so the result is
    a new series of the same study; see :func:`~monai_genmed.transforms.io.functional.write_dicom_series`.

    Args:
        output_dir: the folder that receives the series folder.
        output_postfix: appended to the input name for the series folder.
        reference: ``"auto"``, a DICOM folder or file to copy patient and study from, or ``None`` (a new study).
        series_description: SeriesDescription of the new series.
        derivation: DerivationDescription (what made the image).
        modality: the Modality attribute.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, output_dir: str | os.PathLike, output_postfix: str = "synct", reference: str | None = "auto",
                 series_description: str = "synthetic CT", derivation: str = "",
                 modality: str = "CT") -> None:  # fmt: skip
        self.output_dir = str(output_dir)
        self.output_postfix = output_postfix
        self.reference = reference
        self.series_description = series_description
        self.derivation = derivation
        self.modality = modality
        self.written: list[str] = []

    def _reference_header(self, source: str) -> dict[str, str] | None:
        if self.reference is None:
            return None
        path = source if self.reference == "auto" else str(self.reference)
        if not path or not (os.path.isdir(path) or str(path).lower().endswith(".dcm")):
            if self.reference != "auto":
                raise ValueError(
                    f"reference={self.reference!r} is not a DICOM folder or .dcm file; pass one, 'auto' or None."
                )
            return None
        return read_dicom_header(path)

    def __call__(self, img: NdarrayOrTensor, meta_dict: Mapping[str, Any] | None = None) -> NdarrayOrTensor:
        meta = dict(img.meta) if isinstance(img, MetaTensor) else {}
        meta.update(meta_dict or {})
        affine = img.affine if isinstance(img, MetaTensor) else meta.get("affine")
        if affine is None:
            raise ValueError("SaveDicomSeries needs the image's affine: pass a MetaTensor or meta_dict with 'affine'.")
        array = img.detach().cpu().numpy() if isinstance(img, torch.Tensor) else np.asarray(img)
        if array.ndim != 4 or array.shape[0] != 1:
            raise ValueError(
                f"SaveDicomSeries writes a one-channel 3D image (1, x, y, z), got shape {tuple(array.shape)}."
            )
        source = meta.get("filename_or_obj", "") or ""
        source = str(source[0] if isinstance(source, (list, tuple)) else source)
        folder = os.path.join(self.output_dir, f"{_stem(source) or 'image'}_{self.output_postfix}")
        affine = affine.detach().cpu().numpy() if isinstance(affine, torch.Tensor) else np.asarray(affine)
        self.written = write_dicom_series(array[0], affine, folder, reference=self._reference_header(source),
                                          modality=self.modality, series_description=self.series_description,
                                          derivation=self.derivation)  # fmt: skip
        return img
