from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from monai.data import load_decathlon_datalist
from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged
from scipy import ndimage as ndi

from monai_genmed.data import HU_RANGE, generate_head_mr_ct_dataset


def _items(datalist_path: str) -> list[dict]:
    datalist = json.loads(Path(datalist_path).read_text())
    return [item for split in ("training", "validation", "test") for item in datalist[split]]


def _array(datalist_path: str, relative: str) -> np.ndarray:
    return np.asanyarray(nib.load(Path(datalist_path).parent / relative).dataobj)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.sum(a & b) / (np.sum(a) + np.sum(b))


def test_metadata_and_monai_loading(head_mr_ct):
    datalist = json.loads(Path(head_mr_ct).read_text())
    assert datalist["misalignment"] == 0.0 and datalist["seed"] == 7 and datalist["snr"] == 30.0
    assert datalist["ct_noise_hu"] == 12.0 and datalist["noise"] == "rician"
    keys = ("mr", "ct", "body_mask")
    items = load_decathlon_datalist(head_mr_ct, is_segmentation=False)
    sample = Compose([LoadImaged(keys), EnsureChannelFirstd(keys)])(items[0])
    assert sample["ct"].shape == sample["mr"].shape == (1, 45, 64)
    np.testing.assert_allclose(sample["ct"].pixdim[:2], 4.0)
    assert {"subject", "slice_index"} <= set(items[0])


def test_ct_is_in_hounsfield_units(head_mr_ct):
    for item in _items(head_mr_ct):
        ct, body = _array(head_mr_ct, item["ct"]), _array(head_mr_ct, item["body_mask"])
        mr = _array(head_mr_ct, item["mr"])
        assert ct.dtype == np.int16 and body.dtype == np.uint8 and mr.dtype == np.float32
        assert HU_RANGE[0] <= ct.min() and ct.max() <= HU_RANGE[1]
        assert 0.0 <= mr.min() and mr.max() <= 1.0
        assert abs(np.median(ct[body == 0]) + 1000) < 15  # air outside the head
        assert np.any(ct[body == 1] > 700)  # skull
        soft = ct[body == 1]
        assert np.median(soft) > -100  # the head is mostly water-like tissue, not air
        assert np.sum((ct > -300) & (body == 0)) < 0.01 * body.size  # no tissue outside the body mask


def test_ct_noise_level_in_air(head_mr_ct):
    ct = np.stack([_array(head_mr_ct, item["ct"]) for item in _items(head_mr_ct)]).astype(float)
    body = np.stack([_array(head_mr_ct, item["body_mask"]) for item in _items(head_mr_ct)])
    far_from_head = ~ndi.binary_dilation(body == 1, iterations=2, structure=np.ones((1, 3, 3)))
    air = ct[far_from_head]
    # the clip at -1024 HU (2 sigma below air) trims the lowest 2 %: compare the upper half-width instead
    assert np.percentile(air, 84) - np.median(air) == pytest.approx(12.0, rel=0.15)


def test_mr_and_alignment_follow_misalignment(brain_mr, head_mr_ct, head_mr_ct_misaligned):
    """Same seed: the MR is the brain-MR dataset's; misalignment moves only the CT and its body mask."""
    dice = {0: [], 1: []}
    for mr_item, ct_item, moved_item in zip(_items(brain_mr), _items(head_mr_ct), _items(head_mr_ct_misaligned)):
        np.testing.assert_array_equal(_array(brain_mr, mr_item["image"]), _array(head_mr_ct, ct_item["mr"]))
        mr_moved = _array(head_mr_ct_misaligned, moved_item["mr"])
        np.testing.assert_array_equal(_array(head_mr_ct, ct_item["mr"]), mr_moved)
        head = _array(brain_mr, mr_item["head_mask"]) == 1
        dice[0].append(_dice(head, _array(head_mr_ct, ct_item["body_mask"]) == 1))
        dice[1].append(_dice(head, _array(head_mr_ct_misaligned, moved_item["body_mask"]) == 1))
        assert not np.array_equal(_array(head_mr_ct, ct_item["ct"]), _array(head_mr_ct_misaligned, moved_item["ct"]))
    assert min(dice[0]) == 1.0  # aligned: the CT's body is exactly the MR's head
    assert np.mean(dice[1]) < 0.98


@pytest.mark.parametrize(
    "bad",
    [
        {"misalignment": -0.5},
        {"misalignment": float("inf")},
        {"ct_noise_hu": -1.0},
        {"mr_snr": 0.0},
        {"slicing": "oblique"},
    ],
)
def test_bad_arguments_raise(small, tmp_path, bad):
    with pytest.raises(ValueError):
        generate_head_mr_ct_dataset(tmp_path, **{**small, **bad})
