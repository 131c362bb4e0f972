from __future__ import annotations

import filecmp
import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from monai.data import load_decathlon_datalist
from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged

from monai_genmed.data import generate_brain_mr_dataset, load_colin27_t1

KEYS = ("image", "brain_mask", "head_mask")


def _items(datalist_path: str) -> list[dict]:
    datalist = json.loads(Path(datalist_path).read_text())
    return [item for split in ("training", "validation", "test") for item in datalist[split]]


def _array(datalist_path: str, relative: str) -> np.ndarray:
    return np.asanyarray(nib.load(Path(datalist_path).parent / relative).dataobj)


def test_datalist_layout_and_metadata(brain_mr):
    datalist = json.loads(Path(brain_mr).read_text())
    assert datalist["snr"] == 30.0 and datalist["noise"] == "rician" and datalist["seed"] == 7
    assert datalist["source"] == "Colin27 (mricron-data)"
    assert datalist["spatial_size"] == [45, 64] and datalist["slicing"] == "axial"
    assert [len(datalist[s]) for s in ("training", "validation", "test")] == [3, 3, 0]
    subjects = {item["subject"] for item in _items(brain_mr)}
    assert subjects == {"training-000", "validation-000"}


def test_slices_are_2d_nifti_with_spacing_and_position(brain_mr):
    _, template_affine = load_colin27_t1()
    for item in _items(brain_mr):
        image = nib.load(Path(brain_mr).parent / item["image"])
        assert image.shape == (45, 64) and image.get_data_dtype() == np.float32
        np.testing.assert_allclose(nib.affines.voxel_sizes(image.affine)[:2], 4.0)
        # the slice sits at its index along the template's z axis; stored upright (anterior first, then left)
        assert image.affine[2, 3] == pytest.approx(template_affine[2, 3] + item["slice_index"])
        assert nib.aff2axcodes(image.affine) == ("P", "L", "S")
        for key in ("brain_mask", "head_mask"):
            mask = nib.load(Path(brain_mr).parent / item[key])
            assert mask.get_data_dtype() == np.uint8
            np.testing.assert_array_equal(mask.affine, image.affine)


def test_values_and_masks(brain_mr):
    for item in _items(brain_mr):
        image = _array(brain_mr, item["image"])
        brain, head = _array(brain_mr, item["brain_mask"]), _array(brain_mr, item["head_mask"])
        assert 0.0 <= image.min() and image.max() <= 1.0
        assert set(np.unique(brain)) <= {0, 1} and set(np.unique(head)) <= {0, 1}
        assert brain.sum() > 20 and not np.any(brain & (1 - head))
        # tissue is far brighter than air
        assert image[head == 1].mean() > 5 * image[head == 0].mean()


def test_monai_loads_the_datalist(brain_mr):
    items = load_decathlon_datalist(brain_mr, is_segmentation=False, data_list_key="validation")
    assert all(os.path.isabs(item[key]) for item in items for key in KEYS)
    sample = Compose([LoadImaged(KEYS), EnsureChannelFirstd(KEYS)])(items[0])
    assert sample["image"].shape == (1, 45, 64)
    np.testing.assert_allclose(sample["image"].pixdim[:2], 4.0)


def test_rician_noise_hits_the_asked_snr(brain_mr, brain_mr_clean):
    """SNR = mean white-matter signal / sigma, measured on the flat white matter of the written files."""
    for noisy_item, clean_item in zip(_items(brain_mr), _items(brain_mr_clean)):
        noisy, clean = _array(brain_mr, noisy_item["image"]), _array(brain_mr_clean, clean_item["image"])
        brain, head = _array(brain_mr, noisy_item["brain_mask"]), _array(brain_mr, noisy_item["head_mask"])
        white_matter = (brain == 1) & (clean > np.percentile(clean[brain == 1], 70))
        sigma = np.std(noisy[white_matter] - clean[white_matter])
        assert clean[white_matter].mean() / sigma == pytest.approx(30.0, rel=0.15)
        assert sigma == pytest.approx(noisy_item["noise_sigma"], rel=0.15)
        # Rician in air: Rayleigh-distributed magnitude with mean sigma * sqrt(pi / 2)
        air = (head == 0) & (clean == 0)
        assert noisy[air].mean() == pytest.approx(noisy_item["noise_sigma"] * math.sqrt(math.pi / 2), rel=0.15)
        assert np.all(clean[air] == 0)


def test_same_seed_same_bytes_other_seed_other_images(brain_mr, small, tmp_path):
    again = generate_brain_mr_dataset(tmp_path / "again", snr=30.0, **small)
    for item, item_again in zip(_items(brain_mr), _items(again), strict=True):
        for key in KEYS:
            assert filecmp.cmp(Path(brain_mr).parent / item[key], Path(again).parent / item_again[key], shallow=False)
    other_seed = {**small, "seed": 8, "num_subjects": {"training": 1}}
    other = generate_brain_mr_dataset(tmp_path / "other", snr=30.0, **other_seed)
    seed_7, seed_8 = _items(brain_mr)[0], _items(other)[0]  # subject training-000 of each seed
    assert not np.array_equal(_array(brain_mr, seed_7["image"]), _array(other, seed_8["image"]))


def test_rerun_reuses_and_conflicts_raise(small, tmp_path):
    parameters = {**small, "num_subjects": {"test": 1}, "slices_per_subject": 1}
    path = generate_brain_mr_dataset(tmp_path, **parameters)
    stamp = Path(path).stat().st_mtime_ns
    assert generate_brain_mr_dataset(tmp_path, **parameters) == path
    assert Path(path).stat().st_mtime_ns == stamp  # not written again
    with pytest.raises(ValueError, match="other parameters.*seed"):
        generate_brain_mr_dataset(tmp_path, **{**parameters, "seed": 1})
    generate_brain_mr_dataset(tmp_path, **{**parameters, "seed": 1}, overwrite=True)
    assert json.loads(Path(path).read_text())["seed"] == 1
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        generate_brain_mr_dataset(foreign, **parameters)


def test_sagittal_slices_are_upright(small, tmp_path):
    path = generate_brain_mr_dataset(tmp_path, **{**small, "num_subjects": {"test": 1}}, slicing="sagittal")
    item = _items(path)[0]
    image = nib.load(Path(path).parent / item["image"])
    assert nib.aff2axcodes(image.affine) == ("I", "P", "R")  # rows superior -> inferior, columns anterior -> back
    _, template_affine = load_colin27_t1()
    assert image.affine[0, 3] == pytest.approx(template_affine[0, 3] + item["slice_index"])


@pytest.mark.parametrize(
    "bad",
    [
        {"snr": 0.0},
        {"snr": -3.0},
        {"snr": float("nan")},
        {"slicing": "oblique"},
        {"spatial_size": (64,)},
        {"num_subjects": {"train": 2}},
        {"num_subjects": {"training": 0}},
        {"slices_per_subject": 0},
        {"slices_per_subject": 500},
        {"seed": -1},
        {"spacing": 0.0},
    ],
)
def test_bad_arguments_raise(small, tmp_path, bad):
    with pytest.raises(ValueError):
        generate_brain_mr_dataset(tmp_path, **{**small, **bad})


def test_command_line(tmp_path):
    from monai_genmed.data.__main__ import main

    path = main(
        [
            "brain_mr",
            "--output_dir",
            str(tmp_path),
            "--num_subjects",
            '{"test": 1}',
            "--slices_per_subject",
            "2",
            "--spatial_size",
            "33",
            "32",
            "--spacing",
            "6",
            "--snr",
            "inf",
        ]
    )
    datalist = json.loads(Path(path).read_text())
    assert datalist["noise"] == "none" and datalist["snr"] is None and len(datalist["test"]) == 2
    assert _array(path, datalist["test"][0]["image"]).shape == (33, 32)


def test_concurrent_calls_write_once(small, tmp_path):
    """DDP ranks or test workers asking for the same dataset at once: one writes, the others wait and reuse."""
    parameters = {**small, "num_subjects": {"test": 1}, "slices_per_subject": 2}
    with ThreadPoolExecutor(3) as pool:
        paths = list(pool.map(lambda _: generate_brain_mr_dataset(tmp_path, **parameters), range(3)))
    assert len(set(paths)) == 1
    assert json.loads((tmp_path / "generation_parameters.json").read_text())["complete"]
    assert all((tmp_path / item["image"]).is_file() for item in _items(paths[0]))
