from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from monai_genmed.apps.feature_encoder import (
    CORRUPTIONS,
    _corrupt,
    augment,
    gaussian_blur,
    kspace_truncation,
    load_slices,
    mix_anatomy,
    motion_ghosting,
    rician_noise,
)


def images(n: int = 4, size: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, size, size, generator=g)


def high_frequency_energy(x: torch.Tensor) -> float:
    return float((x[..., 1:, :] - x[..., :-1, :]).pow(2).mean())


def test_blur_keeps_constants_and_removes_detail_with_sigma():
    flat = torch.full((2, 1, 17, 20), 0.3)
    torch.testing.assert_close(gaussian_blur(flat, 1.5), flat)
    x = images()
    energies = [high_frequency_energy(gaussian_blur(x, s)) for s in (0.5, 1.0, 2.0)]
    assert energies == sorted(energies, reverse=True) and energies[0] < high_frequency_energy(x)


def test_per_image_sigma():
    x = images(2)
    both = gaussian_blur(x, torch.tensor([0.5, 2.0]))
    torch.testing.assert_close(both[1:], gaussian_blur(x[1:], 2.0))


def test_kspace_defects_vanish_at_their_neutral_settings():
    x = images()
    g = torch.Generator().manual_seed(0)
    torch.testing.assert_close(motion_ghosting(x, 0.0, 4.0, g), x, atol=1e-5, rtol=0)
    torch.testing.assert_close(kspace_truncation(x, 1.0), x, atol=1e-5, rtol=0)
    assert high_frequency_energy(kspace_truncation(x, 0.3)) < 0.5 * high_frequency_energy(x)


def test_rician_noise_raises_the_background():
    zeros = torch.zeros(2, 1, 32, 32)
    noisy = rician_noise(zeros, 0.1, torch.Generator().manual_seed(0))
    # the magnitude of complex noise on zero signal is Rayleigh: mean sigma * sqrt(pi / 2)
    assert float(noisy.mean()) == pytest.approx(0.1 * np.sqrt(np.pi / 2), rel=0.05)


def test_mixed_anatomy_completes_each_image_with_one_other():
    x = images(5)
    mixed = mix_anatomy(x, torch.Generator().manual_seed(0))
    for i in range(5):
        own = mixed[i] == x[i]
        assert 0.2 < float(own.float().mean()) < 0.8
        partners = [j for j in range(5) if torch.equal(mixed[i][~own], x[j][~own])]
        assert len(partners) == 1 and partners[0] != i


def test_corruption_labels_and_seeded_augmentation():
    x = images(len(CORRUPTIONS))
    labels = torch.arange(len(CORRUPTIONS))
    out, severity = _corrupt(x, labels, torch.Generator().manual_seed(0))
    changed = (out - x).abs().flatten(1).amax(1) > 1e-3
    assert changed.tolist() == [False] + [True] * (len(CORRUPTIONS) - 1)
    graded = [name not in ("realistic", "mixed_anatomy") for name in CORRUPTIONS]
    assert torch.isfinite(severity).tolist() == graded and bool(((severity >= 0) & (severity <= 1))[graded].all())
    state = torch.random.get_rng_state()
    a = augment(x, torch.Generator().manual_seed(3))
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is untouched
    torch.testing.assert_close(a, augment(x, torch.Generator().manual_seed(3)))


def test_load_slices_ranks_each_subjects_slices(tmp_path):
    items = []
    for subject, positions in (("s0", (40, 10, 25)), ("s1", (7, 9))):
        for p in positions:
            name = f"{subject}_{p}.nii.gz"
            nib.save(nib.Nifti1Image(np.full((48, 48), p / 50, np.float32), np.eye(4)), tmp_path / name)
            items.append({"image": name, "subject": subject, "slice_index": p})
    (tmp_path / "datalist.json").write_text(json.dumps({"training": items}))
    x, level, subjects = load_slices(tmp_path / "datalist.json", "training", spatial_size=16)
    assert x.shape == (5, 1, 16, 16) and type(x) is torch.Tensor
    assert level.tolist() == [1.0, 0.0, 0.5, 0.0, 1.0] and subjects == ["s0"] * 3 + ["s1"] * 2
