"""Data checks read the voxels: truncated gzip, NaN slices and wrong units are found up front, with the file named."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from monai_genmed.data import (
    check_data_loader,
    check_datalist,
    check_image_file,
    check_input_file,
    datalist_from_folder,
    load_checked_datalist,
)


def _nifti(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(array, dtype=np.float32), np.eye(4)), path)
    return path


def _truncated_gz(path, shape=(64, 64)):
    """A .nii.gz whose header is whole but whose compressed voxels stop half way (a copy that was cut off)."""
    rng = np.random.default_rng(0)
    _nifti(path, rng.random(shape))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    nib.load(path)  # the header alone still reads: the old check passed this file
    return path


def test_truncated_gzip_is_named_by_the_folder_check_and_the_input_check(tmp_path):
    _nifti(tmp_path / "good.nii.gz", np.ones((8, 8)))
    bad = _truncated_gz(tmp_path / "cut.nii.gz")
    with pytest.raises(ValueError, match=r"cut\.nii\.gz.*truncated or corrupt"):
        datalist_from_folder(tmp_path)
    with pytest.raises(ValueError, match="cut.nii.gz"):
        check_input_file(bad)


def test_nan_voxels_name_the_file_and_count(tmp_path):
    image = np.ones((9, 11))
    image[2, 3] = np.nan
    image[4, 4] = np.inf
    path = _nifti(tmp_path / "nan.nii.gz", image)
    with pytest.raises(ValueError, match=r"nan\.nii\.gz.* 2 NaN or infinite"):
        check_image_file(path)
    with pytest.raises(ValueError, match="nan.nii.gz"):
        check_input_file(path)


def test_value_range_and_dimensions(tmp_path):
    path = _nifti(tmp_path / "hu.nii.gz", np.linspace(0, 1000, 64).reshape(8, 8))
    with pytest.raises(ValueError, match=r"values in \[0, 1000\], outside the \[0, 1\].*divide"):
        check_image_file(path, value_range=(0, 1), range_hint="divide by the maximum")
    summary = check_image_file(path, spatial_dims=2, value_range=(0, 1000))
    assert summary.shape == (8, 8) and summary.minimum == 0.0 and summary.maximum == 1000.0
    with pytest.raises(ValueError, match="3-dimensional"):
        check_image_file(path, spatial_dims=3)


def test_datalist_check_collects_every_problem(tmp_path):
    good = _nifti(tmp_path / "a.nii.gz", np.full((6, 6), 0.5))
    scaled = _nifti(tmp_path / "b.nii.gz", np.full((6, 6), 700.0))
    cut = _truncated_gz(tmp_path / "c.nii.gz")
    items = [{"image": str(good)}, {"image": str(scaled)}, {"image": str(cut)}, {"label": "x"},
             {"image": str(tmp_path / "gone.nii.gz")}]  # fmt: skip
    with pytest.raises(ValueError) as info:
        check_datalist(items, "image", name="training datalist", value_range=(0, 1), range_hint="Scale to [0, 1].")
    message = str(info.value)
    assert "4 problem(s) in the training datalist" in message
    for phrase in ("b.nii.gz", "c.nii.gz", "item 3 lacks key(s) ['image']", "gone.nii.gz", "Scale to [0, 1]."):
        assert phrase in message
    assert "a.nii.gz" not in message
    assert check_datalist(items[:1], "image", value_range=(0, 1)) == items[:1]
    with pytest.raises(ValueError, match="holds 0 item"):
        check_datalist([], "image", name="validation datalist")


def test_load_checked_datalist_loads_one_split_and_checks_it(tmp_path):
    good = _nifti(tmp_path / "a.nii.gz", np.full((6, 6), 0.5))
    scaled = _nifti(tmp_path / "b.nii.gz", np.full((6, 6), 700.0))
    datalist = tmp_path / "datalist.json"
    datalist.write_text(json.dumps({"training": [{"image": "a.nii.gz"}], "validation": [{"image": "b.nii.gz"}]}))
    assert load_checked_datalist(datalist, "training", "image", value_range=(0, 1)) == [{"image": str(good)}]
    with pytest.raises(ValueError) as info:  # the split names the list, as the configs' expressions did
        load_checked_datalist(datalist, "validation", ["image"], value_range=(0, 1), range_hint="Scale to [0, 1].")
    assert "1 problem(s) in the validation datalist" in str(info.value) and str(scaled) in str(info.value)
    assert "Scale to [0, 1]." in str(info.value)
    with pytest.raises(ValueError, match="in the my list"):
        load_checked_datalist(datalist, "validation", name="my list", value_range=(0, 1))


def test_npy_and_npz_kspace_inputs(tmp_path):
    """Defect 1 of the reliability issue: a valid complex .npy was always rejected."""
    np.save(tmp_path / "k.npy", np.ones((4, 4), np.complex64))  # measured samples: an all-zero k-space holds nothing
    assert check_input_file(tmp_path / "k.npy").endswith("k.npy")
    np.save(tmp_path / "real.npy", np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match=r"real\.npy.*real"):
        check_input_file(tmp_path / "real.npy")
    (tmp_path / "junk.npz").write_bytes(b"PK not a zip")
    with pytest.raises(ValueError, match="junk.npz"):
        check_input_file(tmp_path / "junk.npz")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.txt.*is not an image"):
        check_input_file(tmp_path / "notes.txt")


def test_empty_loader_names_the_sizes_and_the_fix():
    dataset = torch.utils.data.TensorDataset(torch.zeros(3, 1))
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, drop_last=True)
    with pytest.raises(ValueError, match=r"3 item\(s\), batch_size=4, drop_last=True.*--batch_size 3"):
        check_data_loader(loader, "training")
    ok = torch.utils.data.DataLoader(dataset, batch_size=2, drop_last=True)
    assert check_data_loader(ok) is ok
