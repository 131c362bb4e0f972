"""DICOM series out: a volume on any grid written as one DICOM file per slice, through ITK's GDCM writer.

A radiotherapy planning system reads a synthetic CT as a CT series in the frame of the MR it was made from:
same patient, study and frame of reference, a new series. The geometry of every slice (ImagePositionPatient,
ImageOrientationPatient, PixelSpacing) is computed from the volume's affine, and GDCM stores the values as int16
with RescaleSlope/RescaleIntercept, so readers (ITK, pydicom's ``apply_modality_lut``) get the HU values back.
DICOM attribute meanings follow PS3.3 (C.7.6.2 Image Plane, C.8.2.1 CT Image).

In: :func:`drop_singleton_slice_axis` reads a 2D slice stored as a ``(H, W, 1)`` volume as the 2D image it is.
"""

from __future__ import annotations

import locale
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from monai.data import MetaTensor
from monai.utils import optional_import

from monai_genmed.utils.io import atomic_path

itk, _ = optional_import("itk")

__all__ = [
    "CT_IMAGE_STORAGE",
    "MR_IMAGE_STORAGE",
    "PATIENT_STUDY_TAGS",
    "dicom_series_files",
    "drop_singleton_slice_axis",
    "new_uid",
    "read_dicom_header",
    "write_dicom_series",
]

#: SOP Class UIDs of CT and MR Image Storage (PS3.4 B.5)
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"

#: tags copied from the reference series, so the result files under the same patient, study and frame of reference
PATIENT_STUDY_TAGS = (
    "0010|0010",  # PatientName
    "0010|0020",  # PatientID
    "0010|0030",  # PatientBirthDate
    "0010|0040",  # PatientSex
    "0010|1010",  # PatientAge
    "0008|0020",  # StudyDate
    "0008|0030",  # StudyTime
    "0008|0050",  # AccessionNumber
    "0008|0090",  # ReferringPhysicianName
    "0008|1030",  # StudyDescription
    "0020|000d",  # StudyInstanceUID
    "0020|0010",  # StudyID
    "0020|0052",  # FrameOfReferenceUID
    "0018|5100",  # PatientPosition
)

# the RAS affine of nibabel and MONAI to DICOM's LPS patient coordinates
_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


@contextmanager
def _locale_kept() -> Iterator[None]:
    """ITK's GDCM IO sets the C library's locale to "C" in every category and leaves it so; the caller's process
    would then decode text as ASCII (``subprocess.run(text=True)`` failed on the next UTF-8 progress bar)."""
    saved = locale.setlocale(locale.LC_ALL)
    try:
        yield
    finally:
        locale.setlocale(locale.LC_ALL, saved)


def new_uid() -> str:
    """A new DICOM UID under the UUID-derived root ``2.25`` (PS3.5 B.2): unique without a registered root."""
    return f"2.25.{uuid.uuid4().int}"


@_locale_kept()
def dicom_series_files(folder: str | os.PathLike) -> list[str]:
    """The files of the first DICOM series in ``folder``, in slice order (ITK's GDCM series reader's order).

    Raises:
        ValueError: ``folder`` holds no DICOM series.
    """
    names = itk.GDCMSeriesFileNames.New()
    names.SetUseSeriesDetails(True)
    names.SetDirectory(str(folder))
    series = list(names.GetSeriesUIDs())
    if not series:
        raise ValueError(f"{str(folder)!r} holds no DICOM series; pass a folder of the series' .dcm files.")
    return [str(f) for f in names.GetFileNames(series[0])]


@_locale_kept()
def read_dicom_header(path: str | os.PathLike) -> dict[str, str]:
    """The attributes of one DICOM file (or of the first file of a series folder) as ITK names them
    (``"gggg|eeee"`` in lower case -> value string), without reading the pixels."""
    path = Path(path)
    file = dicom_series_files(path)[0] if path.is_dir() else str(path)
    io = itk.GDCMImageIO.New()
    io.SetFileName(file)
    io.ReadImageInformation()
    meta = io.GetMetaDataDictionary()
    header = {}
    for key in meta.GetKeys():
        try:
            header[str(key).lower()] = str(meta[key]).strip()
        except (TypeError, RuntimeError, KeyError):  # binary attributes ITK holds in other types
            continue
    return header


def write_dicom_series(
    volume: np.ndarray,
    affine: np.ndarray,
    output_dir: str | os.PathLike,
    reference: Mapping[str, str] | None = None,
    modality: str = "CT",
    series_description: str = "synthetic CT",
    rescale_intercept: float = -1024.0,
    rescale_slope: float = 1.0,
    window: tuple[float, float] = (40.0, 400.0),
    derivation: str = "",
) -> list[str]:
    """Write ``volume`` (``x, y, z`` array axes, values in HU) as a DICOM series, one file per slice along ``z``.

    Args:
        volume: 3D array of the values to store (HU for a CT); rounded and stored as int16 through
            ``rescale_slope``/``rescale_intercept`` (values outside what int16 holds are clipped).
        affine: 4x4 voxel-to-world matrix in RAS (nibabel's and MONAI's convention); converted to DICOM's LPS.
        output_dir: folder for the files ``IM0001.dcm``, ``IM0002.dcm``, ... (created; each file is written
            under a temporary name and moved into place; ``IM*.dcm`` files of an earlier series there are removed).
        reference: a header from :func:`read_dicom_header` of the series the volume was made from; its patient,
            study and frame-of-reference attributes (:data:`PATIENT_STUDY_TAGS`) are copied and its series number
            plus 1000 becomes the new series number. ``None``: a new study and frame of reference.
        modality: the Modality attribute; ``"MR"`` writes MR Image Storage, anything else CT Image Storage.
        series_description: SeriesDescription of the new series.
        rescale_intercept, rescale_slope: stored value = (value - intercept) / slope.
        window: default (center, width) for viewers.
        derivation: DerivationDescription (what made the image).

    Returns:
        The written file paths, in slice order.
    """
    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise ValueError(f"write_dicom_series needs a 3D volume (x, y, z), got shape {volume.shape}.")
    lps = _RAS_TO_LPS @ np.asarray(affine, dtype=np.float64)
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    if np.any(spacing <= 0):
        raise ValueError(
            f"the affine has a zero-length axis (spacing {spacing.tolist()}); pass the volume's real affine."
        )
    directions = lps[:3, :3] / spacing
    # GDCM stores (value - intercept) / slope as int16 itself; it is given the values on their own scale, rounded to
    # what int16 storage can hold
    values = np.clip(np.rint((volume.astype(np.float64) - rescale_intercept) / rescale_slope), -32768, 32767)
    values = values * rescale_slope + rescale_intercept

    reference = dict(reference or {})
    tags = {tag: reference[tag] for tag in PATIENT_STUDY_TAGS if reference.get(tag)}
    tags.setdefault("0020|000d", new_uid())
    tags.setdefault("0020|0052", new_uid())
    try:
        series_number = int(float(reference.get("0020|0011", "0"))) + 1000
    except ValueError:
        series_number = 1000
    series_uid = new_uid()
    tags.update(
        {
            "0008|0016": MR_IMAGE_STORAGE if modality == "MR" else CT_IMAGE_STORAGE,
            "0008|0060": modality,
            "0008|0008": "DERIVED\\SECONDARY",
            "0008|103e": series_description,
            "0020|000e": series_uid,
            "0020|0011": str(series_number),
            "0008|2111": derivation,
            "0028|1052": f"{rescale_intercept:g}",
            "0028|1053": f"{rescale_slope:g}",
            "0028|1054": "HU" if modality == "CT" else "US",
            "0028|1050": f"{window[0]:g}",
            "0028|1051": f"{window[1]:g}",
            "0020|0037": "\\".join(f"{v:.6f}" for v in (*directions[:, 0], *directions[:, 1])),
            # PixelSpacing is (between rows, between columns): rows advance along array axis y, columns along x
            "0028|0030": f"{spacing[1]:.6f}\\{spacing[0]:.6f}",
            "0018|0050": f"{spacing[2]:.6f}",
            "0018|0088": f"{spacing[2]:.6f}",
            # the stored pixel type GDCM converts the float buffer to: signed 16 bit
            "0028|0100": "16",
            "0028|0101": "16",
            "0028|0102": "15",
            "0028|0103": "1",
        }
    )
    normal = np.cross(directions[:, 0], directions[:, 1])
    os.makedirs(output_dir, exist_ok=True)
    for stale in Path(output_dir).glob("IM*.dcm"):  # an earlier series with more slices would mix into this one
        stale.unlink()
    files = []
    for k in range(values.shape[2]):
        image = itk.image_from_array(
            np.ascontiguousarray(values[:, :, k].T, dtype=np.float32)
        )  # ITK's numpy view is (y, x)
        image.SetSpacing([float(spacing[0]), float(spacing[1])])
        position = lps[:3, :3] @ np.array([0.0, 0.0, float(k)]) + lps[:3, 3]
        meta = image.GetMetaDataDictionary()
        for tag, value in tags.items():
            meta[tag] = str(value)
        meta["0008|0018"] = new_uid()
        meta["0020|0013"] = str(k + 1)
        meta["0020|0032"] = "\\".join(f"{v:.6f}" for v in position)
        meta["0020|1041"] = f"{float(position @ normal):.6f}"
        io = itk.GDCMImageIO.New()
        io.KeepOriginalUIDOn()  # the UIDs above, not new ones per file (which would split the series)
        path = os.path.join(str(output_dir), f"IM{k + 1:04d}.dcm")
        with atomic_path(path, ".dcm") as tmp, _locale_kept():
            itk.ImageFileWriter.New(Input=image, FileName=tmp, ImageIO=io).Update()
        files.append(path)
    return files


def drop_singleton_slice_axis(image: MetaTensor) -> MetaTensor:
    """A 2D slice that a file stores as a ``(H, W, 1)`` volume, as the ``(H, W)`` image it is; others unchanged.

    MONAI's ``LoadImage`` gives such a file three spatial axes; a 2D network needs two. The ``spatial_shape`` in
    the meta data is cut to two as well, so a saver writes the result back as a 2D image.

    Args:
        image: a loaded image without a channel axis (a ``LoadImaged`` output, before ``EnsureChannelFirstd``).
    """
    if image.ndim == 3 and image.shape[-1] == 1:
        return MetaTensor(image[..., 0], meta=dict(image.meta, spatial_shape=image.meta["spatial_shape"][:2]))
    return image
