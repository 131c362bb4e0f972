"""The synthesis subpackage: pinned values of a tiny generation, so that a refactor cannot change the data."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_genmed.data import generate_brain_mr_dataset, generate_head_mr_ct_dataset

TINY = {
    "num_subjects": {"training": 1, "test": 1},
    "slices_per_subject": 2,
    "spatial_size": (33, 40),
    "spacing": 6.0,
    "seed": 3,
}
# (subject, slice, MR at row 16 columns 14, 16, 18, 20, CT there in HU, body-mask pixels, MR noise sigma), as
# generated before data/_synthesis.py became data/synthesis/; tolerances allow for BLAS rounding on other CPUs.
PINNED = [
    ("training-000", 60, [0.65873, 0.47323, 0.50023, 0.55286], [29, 24, 45, 33], 822, 0.021628),
    ("training-000", 100, [0.61814, 0.6354, 0.57705, 0.55096], [19, 42, 47, 29], 769, 0.021628),
    ("test-000", 60, [0.63124, 0.75137, 0.71809, 0.77967], [61, 39, 36, 11], 901, 0.026597),
    ("test-000", 103, [0.76074, 0.3867, 0.80223, 0.68646], [-7, 32, 24, 65], 831, 0.026597),
]


def _items(path: str) -> list[dict]:
    datalist = json.loads(Path(path).read_text())
    return datalist["training"] + datalist["test"]


def test_tiny_head_mr_ct_generation_is_pinned(tmp_path):
    path = generate_head_mr_ct_dataset(tmp_path, **TINY)
    items = _items(path)
    assert len(items) == len(PINNED)
    for item, (subject, position, mr, ct, body, sigma) in zip(items, PINNED):
        array = lambda key: np.asanyarray(nib.load(Path(path).parent / item[key]).dataobj)  # noqa: E731, B023 (used in this iteration)
        assert (item["subject"], item["slice_index"]) == (subject, position)
        np.testing.assert_allclose(array("mr")[16, 14:22:2], mr, atol=2e-5)
        np.testing.assert_allclose(array("ct")[16, 14:22:2], ct, atol=1)
        assert abs(int(array("body_mask").sum()) - body) <= 2
        assert item["mr_noise_sigma"] == np.float64(sigma)


def test_brain_mr_is_the_head_mr_ct_datasets_mr(tmp_path):
    brain = _items(generate_brain_mr_dataset(tmp_path / "brain", **TINY))
    pair = _items(generate_head_mr_ct_dataset(tmp_path / "pair", **TINY))
    for image_item, pair_item in zip(brain, pair, strict=True):
        image = np.asanyarray(nib.load(tmp_path / "brain" / image_item["image"]).dataobj)
        mr = np.asanyarray(nib.load(tmp_path / "pair" / pair_item["mr"]).dataobj)
        np.testing.assert_array_equal(image, mr)
