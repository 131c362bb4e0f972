from __future__ import annotations

from .array import SaveDicomSeries, dicom_output_wanted
from .dictionary import SaveDicomSeriesD, SaveDicomSeriesd, SaveDicomSeriesDict
from .functional import (
    CT_IMAGE_STORAGE,
    PATIENT_STUDY_TAGS,
    dicom_series_files,
    drop_singleton_slice_axis,
    new_uid,
    read_dicom_header,
    write_dicom_series,
)

__all__ = [
    "CT_IMAGE_STORAGE",
    "PATIENT_STUDY_TAGS",
    "SaveDicomSeries",
    "SaveDicomSeriesD",
    "SaveDicomSeriesDict",
    "SaveDicomSeriesd",
    "dicom_output_wanted",
    "dicom_series_files",
    "drop_singleton_slice_axis",
    "new_uid",
    "read_dicom_header",
    "write_dicom_series",
]
