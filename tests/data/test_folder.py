from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from monai_genmed.data import datalist_from_folder, first_subjects


def _nifti(path, shape=(17, 20), value=1.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.full(shape, value, dtype=np.float32), np.eye(4)), path)


def test_single_key_lists_every_image_sorted(tmp_path):
    for name in ("b.nii.gz", "a.nii", "c.nii.gz"):
        _nifti(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    items = datalist_from_folder(tmp_path)
    assert [item["image"] for item in items] == [str(tmp_path / n) for n in ("a.nii", "b.nii.gz", "c.nii.gz")]
    assert datalist_from_folder(tmp_path, pattern="*.nii.gz")[0]["image"].endswith("b.nii.gz")


def test_several_keys_pair_images_by_name(tmp_path):
    for case in ("case01", "case02"):
        _nifti(tmp_path / "mr" / f"{case}.nii.gz")
        _nifti(tmp_path / "ct" / f"{case}.nii")
    items = datalist_from_folder(tmp_path, keys=("mr", "ct"))
    assert [(i["mr"].split("/")[-1], i["ct"].split("/")[-1]) for i in items] == [
        ("case01.nii.gz", "case01.nii"),
        ("case02.nii.gz", "case02.nii"),
    ]
    _nifti(tmp_path / "mr" / "case03.nii.gz")
    with pytest.raises(ValueError, match="case03"):
        datalist_from_folder(tmp_path, keys=("mr", "ct"))


def test_itk_formats_and_dicom_series_load_with_monai(tmp_path):
    itk = pytest.importorskip("itk")
    from monai.transforms import LoadImage

    image = itk.image_from_array(np.arange(15 * 21, dtype=np.int16).reshape(15, 21))
    image.SetSpacing([0.5, 0.7])
    itk.imwrite(image, str(tmp_path / "a.mha"))
    itk.imwrite(image, str(tmp_path / "b.nrrd"))
    (tmp_path / "c").mkdir()
    itk.imwrite(image, str(tmp_path / "c" / "slice000.dcm"))
    items = datalist_from_folder(tmp_path)
    assert [i["image"].split("/")[-1] for i in items] == ["a.mha", "b.nrrd", "c"]
    for item in items:
        loaded = LoadImage(image_only=True)(item["image"])
        assert loaded.shape[:2] == (21, 15)  # ITK reader: x first, like nibabel
    (tmp_path / "d.mha").write_bytes(b"ObjectType = Image\nNDims = banana\n")
    with pytest.raises(ValueError, match="d.mha"):
        datalist_from_folder(tmp_path)


def test_missing_empty_and_corrupt(tmp_path):
    with pytest.raises(FileNotFoundError):
        datalist_from_folder(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="holds no image"):
        datalist_from_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="ct"):
        _nifti(tmp_path / "mr" / "x.nii.gz")
        datalist_from_folder(tmp_path, keys=("mr", "ct"))
    _nifti(tmp_path / "good.nii.gz")
    (tmp_path / "broken.nii.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ValueError, match="broken.nii.gz"):
        datalist_from_folder(tmp_path)
    assert len(datalist_from_folder(tmp_path, check=False)) == 2
    (tmp_path / "broken.nii.gz").unlink()
    _nifti(tmp_path / "short.nii", shape=(30, 30))
    data = (tmp_path / "short.nii").read_bytes()
    (tmp_path / "short.nii").write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(ValueError, match="short.nii"):
        datalist_from_folder(tmp_path)
    with pytest.raises(ValueError, match="keys"):
        datalist_from_folder(tmp_path, keys="image")


def test_first_subjects_keeps_every_slice_of_the_first_sorted_subjects_in_order():
    datalist = [{"subject": s, "slice": i} for i, s in enumerate(["s2", "s0", "s1", "s0", "s2"])]
    assert first_subjects(datalist, 2) == [datalist[1], datalist[2], datalist[3]]
    assert first_subjects(datalist, 9) == datalist
    mr = [{"mr_subject": "b"}, {"mr_subject": "a"}]
    assert first_subjects(mr, 1, key="mr_subject") == [{"mr_subject": "a"}]
