"""DICOM CT series out: HU values and world coordinates survive the round trip through ITK (and pydicom where it is
installed), patient and study are copied from the reference series, and every slice file is one series."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import LoadImage
from monai.utils import optional_import

from monai_genmed.transforms.io import (
    CT_IMAGE_STORAGE,
    SaveDicomSeries,
    SaveDicomSeriesd,
    dicom_output_wanted,
    dicom_series_files,
    new_uid,
    read_dicom_header,
    write_dicom_series,
)

pydicom, has_pydicom = optional_import("pydicom")

# an oblique-free but permuted, anisotropic grid in RAS: array x runs anterior, y left, z superior
AFFINE = np.array([[0.0, -1.2, 0.0, 10.0], [0.9, 0.0, 0.0, -20.0], [0.0, 0.0, 2.5, 30.0], [0.0, 0.0, 0.0, 1.0]])
REFERENCE = {"0010|0010": "Phantom^Colin", "0010|0020": "C27", "0020|000d": new_uid(), "0020|0052": new_uid(),
             "0020|0011": "3", "0008|0020": "20260101"}  # fmt: skip


@pytest.fixture
def hounsfield():
    return np.random.default_rng(0).integers(-1024, 2500, (7, 6, 5)).astype(np.float32)


def test_ct_series_round_trips_hu_and_geometry_through_itk(hounsfield, tmp_path):
    files = write_dicom_series(hounsfield, AFFINE, tmp_path / "ct", reference=REFERENCE)
    assert [f.rsplit("/", 1)[1] for f in files] == [f"IM{k:04d}.dcm" for k in range(1, 6)]  # one file a slice
    image = LoadImage(image_only=True, reader="ITKReader")(str(tmp_path / "ct"))
    assert image.shape == hounsfield.shape
    np.testing.assert_array_equal(image.numpy(), hounsfield)  # integer HU stored exactly through int16 + rescale
    np.testing.assert_allclose(image.affine.numpy(), AFFINE, atol=1e-5)
    headers = [read_dicom_header(f) for f in files]
    assert {h["0008|0060"] for h in headers} == {"CT"} and {h["0008|0016"] for h in headers} == {CT_IMAGE_STORAGE}
    assert all(h["0008|0008"].startswith("DERIVED") for h in headers)
    assert len({h["0020|000e"] for h in headers}) == 1 and len({h["0008|0018"] for h in headers}) == 5
    for tag in ("0010|0010", "0010|0020", "0020|000d", "0020|0052", "0008|0020"):  # same patient, study, frame
        assert {h[tag] for h in headers} == {REFERENCE[tag]}, tag
    assert headers[0]["0020|000e"] not in REFERENCE.values() and headers[0]["0020|0011"] == "1003"
    assert float(headers[0]["0028|1052"]) == -1024 and float(headers[0]["0028|1053"]) == 1


@pytest.mark.skipif(not has_pydicom, reason="pydicom is not installed (pip install '.[dicom]')")
def test_ct_series_read_with_pydicom_gives_hu_at_the_nifti_world_coordinates(hounsfield, tmp_path):
    try:
        from pydicom.pixels import apply_modality_lut
    except ImportError:  # pydicom 2
        from pydicom.pixel_data_handlers.util import apply_modality_lut

    files = write_dicom_series(hounsfield, AFFINE, tmp_path / "ct")
    ras_to_lps = np.diag([-1.0, -1.0, 1.0])
    for k, path in enumerate(files):
        ds = pydicom.dcmread(path)
        assert ds.pixel_array.dtype == np.int16 and ds.Modality == "CT" and ds.RescaleType == "HU"
        hu = apply_modality_lut(ds.pixel_array, ds)  # (rows, columns) = (y, x)
        np.testing.assert_array_equal(hu, hounsfield[:, :, k].T)
        row_dir, col_dir = np.array(ds.ImageOrientationPatient[:3]), np.array(ds.ImageOrientationPatient[3:])
        row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
        for i, j in ((0, 0), (6, 0), (3, 5)):  # pixel (column i, row j) of this slice in LPS, per PS3.3 C.7.6.2.1.1
            dicom_world = (
                np.array(ds.ImagePositionPatient, float) + i * col_spacing * row_dir + j * row_spacing * col_dir
            )
            nifti_world = ras_to_lps @ (AFFINE @ [i, j, k, 1])[:3]
            np.testing.assert_allclose(dicom_world, nifti_world, atol=1e-4)


def test_save_transform_names_the_series_after_the_input_and_keeps_the_image(hounsfield, tmp_path):
    source = tmp_path / "mr_series"
    write_dicom_series(np.ones((7, 6, 5)), AFFINE, source, reference=REFERENCE, modality="MR", rescale_intercept=0,
                       rescale_slope=0.001)  # fmt: skip
    image = MetaTensor(torch.from_numpy(hounsfield)[None], affine=torch.from_numpy(AFFINE),
                       meta={"filename_or_obj": str(source)})  # fmt: skip
    out = SaveDicomSeriesd("pred", output_dir=tmp_path / "out")({"pred": image})
    assert out["pred"] is image
    files = dicom_series_files(tmp_path / "out" / "mr_series_synct")
    header = read_dicom_header(files[0])
    assert header["0010|0010"] == REFERENCE["0010|0010"] and header["0020|000d"] == REFERENCE["0020|000d"]  # "auto"
    assert header["0020|000e"] != read_dicom_header(source)["0020|000e"]  # a new series of the MR's study
    # a second, shorter series into the same folder leaves no slice of the first behind
    SaveDicomSeries(tmp_path / "out")(
        MetaTensor(image[..., :2], affine=image.affine, meta={"filename_or_obj": str(source)})
    )
    assert len(dicom_series_files(tmp_path / "out" / "mr_series_synct")) == 2


def test_bad_requests_name_the_fix(tmp_path):
    assert dicom_output_wanted("DICOM") and not dicom_output_wanted("nifti")
    with pytest.raises(ValueError, match="--output_format nifti or --output_format dicom"):
        dicom_output_wanted("png")
    with pytest.raises(ValueError, match="one-channel 3D image"):
        SaveDicomSeries(tmp_path)(MetaTensor(torch.zeros(2, 4, 4, 3), affine=torch.eye(4)))
    with pytest.raises(ValueError, match="holds no DICOM series"):
        dicom_series_files(tmp_path)


def test_writing_a_series_leaves_the_process_locale_as_it_was(hounsfield, tmp_path):
    """GDCM sets the C locale and keeps it; the caller's text decoding (subprocess output, files) must not change."""
    import locale

    before = (locale.setlocale(locale.LC_ALL), locale.getpreferredencoding(False))
    files = write_dicom_series(hounsfield, AFFINE, tmp_path / "ct")
    read_dicom_header(files[0])
    assert (locale.setlocale(locale.LC_ALL), locale.getpreferredencoding(False)) == before
