"""The noise-free oracle: what a reconstruction could reach on a noisy target, and the headroom table."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from monai_genmed.data import generate_brain_mr_dataset
from monai_genmed.transforms.kspace.functional import image_to_kspace, kspace_to_image
from studies.csmri import noise_free_oracle, oracle_headroom, rician_mean


@pytest.mark.parametrize("amplitude", [0.0, 0.01, 0.05])
def test_rician_mean_matches_monte_carlo(amplitude):
    sigma, rng = 0.01, np.random.default_rng(0)
    samples = np.abs(amplitude + sigma * (rng.standard_normal(400_000) + 1j * rng.standard_normal(400_000)))
    assert rician_mean(np.array([amplitude]), sigma)[0] == pytest.approx(samples.mean(), rel=3e-3)
    assert np.array_equal(rician_mean(np.array([0.3]), 0.0), [0.3])
    with pytest.raises(ValueError, match="sigma"):
        rician_mean(np.array([0.3]), -1.0)


def _kspace(image, mask):
    return np.asarray(image_to_kspace(image[None].astype(np.float32)))[0] * mask


@pytest.mark.parametrize("shape", [(32, 32), (31, 36)])
def test_oracle_keeps_measurements_is_exact_without_noise_and_leaves_only_unmeasured_noise(shape):
    rng = np.random.default_rng(1)
    mask = (rng.random(shape) < 0.3).astype(np.float32)
    clean = np.full(shape, 0.5, np.float32) + 0.1 * np.sin(np.arange(shape[1]) / 3.0)[None]
    # noise-free: the oracle is the target
    np.testing.assert_allclose(noise_free_oracle(_kspace(clean, mask), mask, clean, 0.0), clean, atol=1e-5)
    # noisy (high SNR, so the magnitude's noise is about Gaussian with sigma): measured samples kept, and the error is
    # the noise on the samples neither measured nor conjugate to a measured one
    sigma, errors = 0.01, []
    for seed in range(8):
        noise = np.random.default_rng(seed).standard_normal((2, *shape)) * sigma
        target = np.abs(clean + noise[0] + 1j * noise[1]).astype(np.float32)
        y = _kspace(target, mask)
        oracle = noise_free_oracle(y, mask, clean, sigma)
        k = np.asarray(image_to_kspace(oracle[None]))[0]
        np.testing.assert_allclose(k[mask > 0], y[mask > 0], atol=1e-5)
        errors.append(np.mean((oracle - target) ** 2))
    partner = np.abs(
        np.asarray(
            image_to_kspace(np.conj(np.asarray(kspace_to_image(mask[None].astype(np.complex64), output="complex"))))
        )[0]
    )
    unknown = np.mean((mask == 0) & (partner < 0.5))
    assert np.mean(errors) == pytest.approx(sigma**2 * unknown, rel=0.15)


def _write_per_slice(path, datalist_items, mask_type="gaussian1d", fraction="0.3"):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, ["mask_type", "sampling_fraction", "method", "slice", "psnr", "psnr_head"])
        writer.writeheader()
        for n, item in enumerate(datalist_items):
            name = item["image"].split("/")[-1]
            for method, value in (("BM3D-MRI (plug-and-play)", 30.0 + n), ("Cascade + DC (model.pt)", 31.0 + n)):
                writer.writerow({"mask_type": mask_type, "sampling_fraction": fraction, "method": method, "slice": name,
                                 "psnr": value, "psnr_head": value - 2})  # fmt: skip


def test_headroom_table_from_a_twin_dataset_and_a_wrong_twin_is_refused(tmp_path):
    import json

    options = dict(num_subjects={"training": 0, "validation": 0, "test": 2}, slices_per_subject=3,
                   spatial_size=(40, 48), spacing=4.0, seed=5, contrasts="random", snr=(15, 80), resolution_mm=(4, 8),
                   orientations=("axial", "sagittal", "coronal"), noise_free_fraction=0.5)  # fmt: skip
    scored = generate_brain_mr_dataset(tmp_path / "scored", **options)
    twin = generate_brain_mr_dataset(tmp_path / "twin", **options, write_clean=True)
    items = json.loads(open(scored).read())["test"]
    _write_per_slice(tmp_path / "per_slice.csv", items)
    rows = oracle_headroom(tmp_path / "per_slice.csv", scored, twin, "test", "BM3D-MRI", ["Cascade + DC"],
                           tmp_path / "headroom.md")  # fmt: skip
    assert len(rows) == len(items)
    noisy = [r for r in rows if r["noise_sigma"] > 0]
    assert noisy and all(math.isfinite(r["oracle_psnr"]) for r in noisy)
    assert all(math.isinf(r["oracle_psnr"]) for r in rows if r["noise_sigma"] == 0)
    assert rows[0]["Cascade + DC_psnr"] == 31.0 and rows[0]["BM3D-MRI_psnr"] == 30.0
    text = (tmp_path / "headroom.md").read_text()
    assert "share of Cascade + DC" in text and f"| gaussian1d 30% | {len(noisy)} |" in text
    # a datalist whose noise level is broken is named with the slice
    broken = json.loads(open(scored).read())
    broken["test"][0]["noise_sigma"] = float("nan")
    (tmp_path / "scored" / "broken.json").write_text(json.dumps(broken))
    with pytest.raises(ValueError, match=r"has noise_sigma nan.*finite number >= 0"):
        oracle_headroom(tmp_path / "per_slice.csv", tmp_path / "scored" / "broken.json", twin, "test", "BM3D-MRI", [])
    other = generate_brain_mr_dataset(tmp_path / "other", **{**options, "seed": 6}, write_clean=True)
    with pytest.raises(ValueError, match="differs from the scored image|has no noise-free twin"):
        oracle_headroom(tmp_path / "per_slice.csv", scored, other, "test", "BM3D-MRI", ["Cascade + DC"])
