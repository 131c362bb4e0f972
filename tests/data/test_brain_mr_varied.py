"""The brain MR generator's opt-in variation: contrasts, acquisition, orientations and the OOD split."""

from __future__ import annotations

import json
import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from monai_genmed.data import generate_brain_mr_dataset
from monai_genmed.data.synthesis import Stream, load_template, random_subject_transform, select_slices, slice_points
from monai_genmed.data.synthesis.acquisition import Acquisition, band_limit, synthesize_varied_mr
from monai_genmed.data.synthesis.anatomy import SmoothField, subject_rng
from monai_genmed.data.synthesis.contrast import CONTRAST_FAMILIES, TissueContrast

TINY = {
    "num_subjects": {"training": 2, "test": 1},
    "slices_per_subject": 3,
    "spatial_size": (40, 48),
    "spacing": 4.0,
    "seed": 5,
}


# the varied settings of the `varied` fixture, which the seeding and clean-twin tests regenerate
VARIED = dict(
    contrasts="random",
    ood_contrast="flair",
    snr=(15, 80),
    resolution_mm=(4, 8),
    zoom=(0.9, 1.1),
    orientations=("axial", "sagittal", "coronal"),
    noise_free_fraction=0.5,
    zero_background_fraction=0.5,
)


def _lists(path: str) -> dict:
    return json.loads(Path(path).read_text())


def _image(path: str, item: dict) -> np.ndarray:
    return np.asanyarray(nib.load(Path(path).parent / item["image"]).dataobj)


def _render(family: str, seed: int, resolution_mm: float = 2.0, snr: float | None = None) -> np.ndarray:
    template = load_template()
    transform = random_subject_transform(subject_rng(0, "training", 0, Stream.ANATOMY), template)
    positions = select_slices(template, transform, "axial", 1, 0.25)
    points, _ = slice_points(template, "axial", positions, (64, 64), 2.0)
    acquisition = Acquisition(snr, resolution_mm, 2.0, 0.0, False)
    bias = SmoothField(np.random.default_rng(0), 1, 0.0, 80.0, np.zeros((2, 3)))
    contrast = TissueContrast(family, np.random.default_rng(seed))
    return synthesize_varied_mr(
        template, transform, contrast, acquisition, bias, np.random.default_rng(seed), "axial", positions, points
    ).image[0]


@pytest.mark.parametrize("family", CONTRAST_FAMILIES)
def test_each_contrast_is_its_own_and_seeded(family):
    image = _render(family, 1)
    assert np.array_equal(image, _render(family, 1))
    if family != "t1":  # t1's only draw is the gamma; every other family differs from the native T1
        assert np.abs(image - _render("t1", 1)).mean() > 0.02
    assert not np.array_equal(image, _render(family, 2))


@pytest.mark.parametrize("family", ["t2", "pd", "flair", "t2star_epi"])
@pytest.mark.parametrize("seed", range(5))
def test_tissue_families_keep_their_brain_tissue_order(family, seed):
    contrast = TissueContrast(family, np.random.default_rng(seed))
    csf, grey, white = contrast(np.array([29.0, 84.0, 109.0]), np.array([3, 4, 5]))  # CSF, GM, WM at their T1
    assert white < grey
    assert csf < white if family == "flair" else csf > grey


def _high_frequency_fraction(image: np.ndarray, spacing: float, cutoff_mm: float) -> float:
    power = np.abs(np.fft.fft2(image)) ** 2
    fy, fx = (np.abs(np.fft.fftfreq(n, d=spacing)) for n in image.shape)
    high = (fy[:, None] > 1 / (2 * cutoff_mm)) | (fx[None, :] > 1 / (2 * cutoff_mm))
    return float(power[high].sum() / power.sum())


def test_lower_resolution_removes_high_k_space_energy():
    fine, coarse = _render("t2", 0, resolution_mm=2.0), _render("t2", 0, resolution_mm=5.0)
    assert _high_frequency_fraction(coarse, 2.0, 5.0) < 0.1 * _high_frequency_fraction(fine, 2.0, 5.0)
    limited, kept = band_limit(np.random.default_rng(0).normal(size=(1, 30, 30)), 1.0, 2.5)
    assert kept == pytest.approx((13 / 30) ** 2) and _high_frequency_fraction(limited[0], 1.0, 2.5) < 1e-20


@pytest.fixture(scope="module")
def varied(tmp_path_factory):
    return generate_brain_mr_dataset(tmp_path_factory.mktemp("varied"), **TINY, **VARIED)


def test_ood_split_shares_no_contrast_with_training(varied):
    datalist = _lists(varied)
    assert datalist["ood_contrast"] == "flair" and "flair" not in datalist["contrasts"]
    assert {item["contrast"] for item in datalist["test_ood"]} == {"flair"}
    for split in ("training", "validation", "test"):
        assert all(item["contrast"] in datalist["contrasts"] for item in datalist[split])
    assert len(datalist["test_ood"]) == len(datalist["test"]) == 3  # as many subjects as "test" by default


def test_varied_items_record_their_draws_and_options_hold(varied):
    datalist = _lists(varied)
    items = datalist["training"] + datalist["test"] + datalist["test_ood"]
    assert {item["slicing"] for item in items} == {"axial", "sagittal", "coronal"}
    for item in items:
        image = _image(varied, item)
        assert image.shape == (40, 48) and 0 <= image.min() and image.max() <= 1
        assert item["snr"] == math.inf or 15 <= item["snr"] <= 80
        assert 4 <= item["resolution_mm"] <= 8 and 4 / 1.1 <= item["spacing"] <= 4 / 0.9
        head = np.asanyarray(nib.load(Path(varied).parent / item["head_mask"]).dataobj)
        if item["zero_background"]:
            assert np.all(image[head == 0] == 0)
        if item["snr"] != math.inf and not item["zero_background"]:
            assert image[head == 0].mean() > 0  # Rician noise in air


def test_varied_datalist_batches_through_monai_dataloader(varied):
    """Every item's metadata is a number or a string (noise-free slices: snr inf), so default_collate batches them."""
    from monai.data import DataLoader, Dataset, load_decathlon_datalist

    items = load_decathlon_datalist(varied, data_list_key="training")
    assert any(item["snr"] == math.inf for item in items), "the fixture should hold a noise-free slice"
    batch = next(iter(DataLoader(Dataset(items), batch_size=len(items))))
    assert len(batch["snr"]) == len(items) and bool(batch["snr"].isinf().any())


def test_varied_dataset_is_seeded(varied, tmp_path):
    options = VARIED
    again = generate_brain_mr_dataset(tmp_path / "again", **TINY, **options)
    other = generate_brain_mr_dataset(tmp_path / "other", **{**TINY, "seed": 6}, **options)
    for a, b in zip(_lists(varied)["training"], _lists(again)["training"], strict=True):
        assert a == b and np.array_equal(_image(varied, a), _image(again, b))
    first, first_other = _lists(varied)["training"][0], _lists(other)["training"][0]
    assert not np.array_equal(_image(varied, first), _image(other, first_other))


def test_write_clean_adds_the_noise_free_twin_and_changes_nothing_else(varied, tmp_path):
    options = VARIED
    twin = generate_brain_mr_dataset(tmp_path / "twin", **TINY, **options, write_clean=True)
    noisy_seen = clean_seen = False
    for split in ("training", "test", "test_ood"):
        for a, b in zip(_lists(varied)[split], _lists(twin)[split], strict=True):
            assert {k: v for k, v in b.items() if k != "clean"} == a and b["clean"].endswith(
                f"_{b['contrast']}_clean.nii.gz"
            )
            image = _image(twin, b)
            assert np.array_equal(image, _image(varied, a))
            clean = np.asanyarray(nib.load(Path(twin).parent / b["clean"]).dataobj)
            head = np.asanyarray(nib.load(Path(twin).parent / b["head_mask"]).dataobj) > 0
            if b["snr"] == math.inf:
                clean_seen = True
                assert np.array_equal(clean, image)
            else:  # the difference is the noise: its SD inside the head is about the recorded sigma
                noisy_seen = True
                sd = float(np.std((image - clean)[head]))
                assert 0.5 * b["noise_sigma"] < sd < 2.0 * b["noise_sigma"], (sd, b["noise_sigma"])
            if b["zero_background"]:
                assert np.all(clean[~head] == 0)
    assert noisy_seen and clean_seen
    with pytest.raises(ValueError, match="write_clean needs the varied pipeline"):
        generate_brain_mr_dataset(tmp_path / "plain", **TINY, write_clean=True)
    with pytest.raises(TypeError, match="write_clean must be True or False"):
        generate_brain_mr_dataset(tmp_path / "bad", **TINY, **options, write_clean="yes")


def test_defaults_are_untouched_by_the_new_options(tmp_path):
    plain = _lists(generate_brain_mr_dataset(tmp_path / "plain", **TINY))
    assert "test_ood" not in plain and "contrast" not in plain["training"][0]
    parameters = json.loads((tmp_path / "plain" / "generation_parameters.json").read_text())["parameters"]
    assert "contrasts" not in parameters


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"snr": (80, 15)}, r"snr=\(80, 15\).*reversed.*snr=\(15, 80\)"),
        ({"contrasts": ["t2", "dwi"]}, r"contrasts has unknown family \['dwi'\].*'random'"),
        ({"contrasts": ["t2", "flair"], "ood_contrast": "flair"}, r"ood_contrast='flair' is also in contrasts.*drop"),
        ({"ood_contrast": "dwi"}, r"ood_contrast='dwi'.*ood_contrast='flair'"),
        ({"resolution_mm": (2.5, 1)}, r"resolution_mm.*reversed"),
        ({"orientations": ("axial", "oblique")}, r"orientations.*oblique"),
        ({"orientations": ("axial",), "slicing": "sagittal"}, r"either slicing"),
        ({"noise_free_fraction": 1.5}, r"noise_free_fraction.*\[0, 1\]"),
        ({"num_subjects": {"test_ood": 1}}, r"pass ood_contrast"),
    ],
)
def test_bad_varied_arguments_name_the_argument_and_the_fix(tmp_path, bad, words):
    with pytest.raises(ValueError, match=words):
        generate_brain_mr_dataset(tmp_path, **{**TINY, **bad})
