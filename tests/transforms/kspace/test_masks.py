from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_genmed.transforms.kspace import masks as M

ALL = sorted(M.MASK_TYPES)
LINE_TYPES = ["gaussian1d", "random1d", "equispaced1d"]


def kept(mask_type: str, mask: np.ndarray, axis: int = -1) -> float:
    if mask_type in LINE_TYPES:
        lines = mask.any(axis=0) if axis in (-1, 1) else mask.any(axis=1)
        return float(lines.mean())
    return M.sampled_fraction(mask)


@pytest.mark.parametrize("mask_type", ALL)
@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.25, 0.5])
def test_mask_keeps_the_asked_fraction(mask_type, fraction):
    shape = (256, 256) if mask_type != "poisson2d" else (96, 101)  # poisson is slower; still >9k points
    mask = M.get_mask_func(mask_type, fraction)(shape, seed=3)
    assert mask.shape == shape and mask.dtype == np.float32
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert abs(kept(mask_type, mask) - fraction) <= 0.01 + 0.5 / (256 if mask_type in LINE_TYPES else 1e9)


@pytest.mark.parametrize("mask_type", ALL)
def test_mask_is_reproducible_and_leaves_global_rngs_alone(mask_type):
    func = M.get_mask_func(mask_type, 0.3)
    np.random.seed(123)
    torch.manual_seed(123)
    np_state, torch_state = np.random.get_state(), torch.get_rng_state()
    a = func((48, 40), seed=7)
    b = func((48, 40), seed=7)
    c = func((48, 40), seed=8)
    np.testing.assert_array_equal(a, b)
    if mask_type != "equispaced1d":  # equispaced masks differ only by their offset, which can coincide
        assert not np.array_equal(a, c)
    assert all(np.array_equal(x, y) for x, y in zip(np_state[1:3], np.random.get_state()[1:3]))
    assert torch.equal(torch_state, torch.get_rng_state())


@pytest.mark.parametrize("mask_type", ALL)
def test_centre_is_fully_sampled(mask_type):
    mask = M.get_mask_func(mask_type, 0.2, center_fraction=0.05)((64, 64), seed=0)
    assert mask[32, 32] == 1
    if mask_type in LINE_TYPES:
        assert mask[:, 31:34].all()  # round(0.05 * 64) = 3 lines around the DC line (index 32)
        np.testing.assert_array_equal(mask, np.broadcast_to(mask[:1], mask.shape))  # constant along readout


def test_line_mask_axis_zero_selects_rows():
    mask = M.GaussianMask1D(0.25, axis=0)((40, 30), seed=0)
    np.testing.assert_array_equal(mask, np.broadcast_to(mask[:, :1], mask.shape))
    assert mask[:, 0].sum() == 10


def test_gaussian_masks_are_denser_in_the_centre():
    mask = M.GaussianMask2D(0.2, center_fraction=0.0)((128, 128), seed=0)
    centre, edge = mask[48:80, 48:80].mean(), mask[:16].mean()
    assert centre > 3 * edge
    lines = M.GaussianMask1D(0.2, center_fraction=0.0)((64, 256), seed=0)[0]
    assert lines[96:160].mean() > 2 * np.concatenate([lines[:32], lines[-32:]]).mean()


def test_poisson_disc_keeps_minimum_distance_at_low_density():
    mask = M.PoissonDiscMask2D(0.05, center_fraction=0.0, slope=0.0)((64, 64), seed=0)
    pts = np.argwhere(mask > 0)
    d = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    # uniform Poisson disc at 5 %: r0 ~ sqrt(0.7 / 0.05) ~ 3.7 px; random sampling would give neighbours at 1 px
    assert np.median(d.min(axis=1)) >= 3.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sampling_fraction": 0.0}, "sampling_fraction"),
        ({"sampling_fraction": -0.1}, "sampling_fraction"),
        ({"sampling_fraction": 1.5}, "sampling_fraction"),
        ({"sampling_fraction": float("nan")}, "sampling_fraction"),
        ({"sampling_fraction": 0.1, "center_fraction": 0.2}, "larger than sampling_fraction"),
    ],
)
@pytest.mark.parametrize("mask_type", ALL)
def test_impossible_requests_raise(mask_type, kwargs, match):
    with pytest.raises(ValueError, match=match):
        M.MASK_TYPES[mask_type](**kwargs)


def test_fraction_too_small_for_size_and_bad_shapes_raise():
    with pytest.raises(ValueError, match="keeps no sample"):
        M.GaussianMask1D(0.01)((16, 16), seed=0)
    with pytest.raises(ValueError, match="two positive in-plane sizes"):
        M.GaussianMask2D(0.1)((16,), seed=0)
    with pytest.raises(ValueError, match="unknown mask type"):
        M.get_mask_func("spiral", 0.1)


@pytest.mark.parametrize("suffix", [".npz", ".npy", ".mat", ".nii.gz"])
def test_mask_file_round_trip(tmp_path, suffix):
    mask = M.GaussianMask2D(0.3)((32, 24), seed=1)
    path = M.save_undersampling_mask(tmp_path / f"mask{suffix}", mask, mask_type="gaussian2d", fraction=0.3)
    np.testing.assert_array_equal(M.load_undersampling_mask(path), mask)
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically, nothing left behind


def test_dagan_style_mat_file_and_bad_files(tmp_path):
    from scipy.io import savemat

    mask = (np.random.default_rng(0).random((16, 16)) < 0.3).astype(np.float64)
    savemat(tmp_path / "GaussianDistribution1DMask_30.mat", {"maskRS1": mask})
    np.testing.assert_array_equal(M.load_undersampling_mask(tmp_path / "GaussianDistribution1DMask_30.mat"), mask)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        M.load_undersampling_mask(tmp_path / "missing.npy")
    np.save(tmp_path / "grey.npy", np.full((8, 8), 0.5))
    with pytest.raises(ValueError, match="only 0 and 1"):
        M.load_undersampling_mask(tmp_path / "grey.npy")
    (tmp_path / "broken.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="could not read"):
        M.load_undersampling_mask(tmp_path / "broken.npz")
