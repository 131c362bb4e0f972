from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.metrics import PSNRMetric, SSIMMetric

from monai_genmed.metrics import (
    HFENMetric,
    MaskedPSNRMetric,
    MaskedSSIMMetric,
    NMSEMetric,
    compute_hf_energy_ratio,
    compute_hfen,
    compute_nmse,
    compute_psnr,
    compute_ssim,
)


def batched(*images: np.ndarray) -> np.ndarray:
    """Stack images into a B, 1, spatial... batch."""
    return np.stack(images)[:, None]


# ---------------------------------------------------------------- NMSE


def test_nmse_hand_computed():
    y = np.array([[[[3.0, 4.0]]]])  # ||y||^2 = 25
    y_pred = np.array([[[[3.0, 1.0]]]])  # ||y_pred - y||^2 = 9
    np.testing.assert_allclose(compute_nmse(y_pred, y), [9 / 25])
    np.testing.assert_allclose(compute_nmse(y_pred, y, squared=False), [3 / 5])


def test_nmse_batch_of_two_is_per_sample(image_pair):
    (p1, t1), (p2, t2) = image_pair((17, 20), seed=1), image_pair((17, 20), seed=2, noise=0.2)
    values = compute_nmse(batched(p1, p2), batched(t1, t2))
    assert values.shape == (2,)
    np.testing.assert_allclose(values, [np.sum((p - t) ** 2) / np.sum(t**2) for p, t in ((p1, t1), (p2, t2))])
    assert values[1] > values[0]  # more noise, larger error


@pytest.mark.parametrize("squared", [True, False])
def test_nmse_metric_accumulates(image_pair, squared):
    batches = [batched(*image_pair((16, 19), seed=s)) for s in range(3)]
    metric = NMSEMetric(squared=squared)
    expected = []
    for p, t in batches:
        metric(torch.as_tensor(p), torch.as_tensor(t))
        expected.append(compute_nmse(p, t, squared=squared))
    assert metric.aggregate().item() == pytest.approx(float(np.mean(expected)), rel=1e-6)


def test_nmse_rejects_all_zero_reference():
    with pytest.raises(ValueError, match=r"all zeros in batch sample\(s\) \[1\]"):
        compute_nmse(np.ones((2, 1, 4, 4)), np.stack([np.ones((1, 4, 4)), np.zeros((1, 4, 4))]))


# ---------------------------------------------------------------- PSNR


def test_psnr_hand_computed():
    y = np.zeros((1, 1, 2, 2))
    y_pred = np.array([[[[0.1, 0.0], [0.0, 0.0]]]])  # MSE = 0.01 / 4
    np.testing.assert_allclose(compute_psnr(y_pred, y, data_range=1.0), [10 * np.log10(400)])
    np.testing.assert_allclose(compute_psnr(y_pred, y, data_range=2.0), [10 * np.log10(1600)])
    mask = np.array([[[[1, 1], [0, 0]]]])  # MSE over 2 voxels = 0.01 / 2
    np.testing.assert_allclose(compute_psnr(y_pred, y, data_range=1.0, mask=mask), [10 * np.log10(200)])


def test_psnr_matches_monai_and_skimage(image_pair):
    skimage_metrics = pytest.importorskip("skimage.metrics")
    y_pred, y = image_pair((23, 31))
    expected = skimage_metrics.peak_signal_noise_ratio(y, y_pred, data_range=1.0)
    np.testing.assert_allclose(compute_psnr(y_pred[None, None], y[None, None], 1.0), [expected], rtol=1e-10)
    monai_value = PSNRMetric(max_val=1.0)(torch.as_tensor(y_pred[None, None]), torch.as_tensor(y[None, None]))
    assert monai_value.item() == pytest.approx(expected, rel=1e-10)


def test_psnr_exact_match_is_inf():
    y = np.ones((1, 1, 5, 5))
    assert np.isinf(compute_psnr(y, y, 1.0)[0])


def test_masked_psnr_ignores_outside_mask(image_pair):
    y_pred, y = image_pair((19, 24))
    mask = np.zeros_like(y, dtype=bool)
    mask[4:15, 5:20] = True
    corrupted = np.where(mask, y_pred, y_pred + 10.0)  # huge error, but only outside the mask
    masked = compute_psnr(corrupted[None, None], y[None, None], 1.0, mask=mask[None, None])
    np.testing.assert_allclose(masked, [10 * np.log10(1.0 / np.mean((y_pred - y)[mask] ** 2))])
    assert compute_psnr(corrupted[None, None], y[None, None], 1.0)[0] < masked[0] - 20


def test_psnr_single_channel_mask_applies_to_every_channel(image_pair):
    (p1, t1), (p2, t2) = image_pair((16, 16), seed=3), image_pair((16, 16), seed=4)
    y_pred, y = np.stack([p1, p2])[None], np.stack([t1, t2])[None]  # one sample, two channels
    mask = np.zeros((1, 1, 16, 16))
    mask[..., 2:9, 3:12] = 1
    full_mask = np.repeat(mask, 2, axis=1)
    expected = 10 * np.log10(1.0 / np.mean((y_pred - y)[full_mask > 0] ** 2))
    np.testing.assert_allclose(compute_psnr(y_pred, y, 1.0, mask=mask), [expected])
    np.testing.assert_allclose(compute_psnr(y_pred, y, 1.0, mask=full_mask), [expected])


# ---------------------------------------------------------------- SSIM


@pytest.mark.parametrize("spatial_shape", [(16, 21), (13, 14, 15)])
def test_ssim_of_constant_images_hand_computed(spatial_shape):
    # constant images: zero variances, so SSIM = luminance term (2ab + c1) / (a^2 + b^2 + c1)
    a, b, c1 = 0.5, 0.25, (0.01 * 1.0) ** 2
    value = compute_ssim(np.full((1, 1, *spatial_shape), a), np.full((1, 1, *spatial_shape), b), data_range=1.0)
    # MONAI's SSIM map is float32: E[x^2] - E[x]^2 leaves ~1e-7 of variance, enough to move SSIM by ~1e-4 in 3D
    np.testing.assert_allclose(value, [(2 * a * b + c1) / (a**2 + b**2 + c1)], atol=5e-4)


def test_ssim_matches_skimage_gaussian_2d(image_pair):
    skimage_metrics = pytest.importorskip("skimage.metrics")
    y_pred, y = image_pair((37, 45))
    expected = skimage_metrics.structural_similarity(
        y_pred, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0
    )
    value = compute_ssim(y_pred[None, None], y[None, None], data_range=1.0)
    assert abs(value[0] - expected) < 1e-4
    # MONAI's SSIMMetric computes the same map; ours only adds checks, masks and sample covariance
    monai_metric = SSIMMetric(spatial_dims=2, data_range=1.0)
    monai_value = monai_metric(torch.as_tensor(y_pred[None, None]), torch.as_tensor(y[None, None]))
    assert monai_value.item() == pytest.approx(value[0], abs=1e-6)


def test_ssim_matches_skimage_gaussian_3d(image_pair):
    skimage_metrics = pytest.importorskip("skimage.metrics")
    y_pred, y = image_pair((17, 19, 21))
    expected = skimage_metrics.structural_similarity(
        y_pred, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0
    )
    assert abs(compute_ssim(y_pred[None, None], y[None, None], data_range=1.0)[0] - expected) < 1e-3


def test_ssim_matches_skimage_default_window(image_pair):
    """Uniform 7-voxel window with sample covariance is skimage's default, the SSIM fastMRI reports."""
    skimage_metrics = pytest.importorskip("skimage.metrics")
    y_pred, y = image_pair((29, 33), noise=0.1)
    expected = skimage_metrics.structural_similarity(y_pred, y, data_range=1.0)
    value = compute_ssim(
        y_pred[None, None], y[None, None], 1.0, kernel_type="uniform", win_size=7, use_sample_covariance=True
    )
    assert abs(value[0] - expected) < 1e-5
    population = compute_ssim(y_pred[None, None], y[None, None], 1.0, kernel_type="uniform", win_size=7)
    assert abs(population[0] - expected) > 1e-4  # the covariance flag is not a no-op


def test_masked_ssim_is_mean_of_skimage_map_over_cropped_mask(image_pair):
    skimage_metrics = pytest.importorskip("skimage.metrics")
    y_pred, y = image_pair((33, 40))
    mask = np.zeros(y.shape, dtype=bool)
    mask[2:25, 8:38] = True  # reaches into the 5-voxel border that the valid window cannot centre on
    _, ssim_map = skimage_metrics.structural_similarity(
        y_pred, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, full=True
    )
    expected = ssim_map[5:-5, 5:-5][mask[5:-5, 5:-5]].mean()
    value = compute_ssim(y_pred[None, None], y[None, None], 1.0, mask=mask[None, None])
    assert abs(value[0] - expected) < 1e-4


def test_masked_ssim_hand_computed_on_constant_region():
    # left half constant (0.5 vs 0.25), right half noise; a mask whose windows stay in the left half
    rng = np.random.default_rng(0)
    y_pred, y = rng.random((1, 1, 16, 32)), rng.random((1, 1, 16, 32))
    y_pred[..., :16], y[..., :16] = 0.5, 0.25
    mask = np.zeros_like(y)
    mask[..., :11] = 1  # centres up to column 10, windows up to column 15
    c1 = 1e-4
    np.testing.assert_allclose(compute_ssim(y_pred, y, 1.0, mask=mask), [(0.25 + c1) / (0.3125 + c1)], rtol=1e-5)
    assert compute_ssim(y_pred, y, 1.0)[0] < 0.5  # the noisy half pulls the unmasked value down


# ---------------------------------------------------------------- input types and batches


@pytest.mark.parametrize(
    "metric, kwargs",
    [
        (compute_nmse, {}),
        (compute_nmse, {"squared": False}),
        (compute_psnr, {"data_range": 1.0}),
        (compute_ssim, {"data_range": 1.0}),
    ],
)
@pytest.mark.parametrize("spatial_shape", [(16, 17), (13, 12, 11)])
def test_numpy_torch_and_metatensor_agree(image_pair, metric, kwargs, spatial_shape):
    (p1, t1), (p2, t2) = image_pair(spatial_shape, seed=5), image_pair(spatial_shape, seed=6, noise=0.1)
    y_pred, y = batched(p1, p2), batched(t1, t2)
    from_numpy = metric(y_pred, y, **kwargs)
    from_torch = metric(torch.as_tensor(y_pred), torch.as_tensor(y), **kwargs)
    from_meta = metric(MetaTensor(y_pred), MetaTensor(y), **kwargs)
    assert isinstance(from_numpy, np.ndarray) and from_numpy.dtype == np.float64 and from_numpy.shape == (2,)
    assert type(from_torch) is torch.Tensor and from_torch.shape == (2,)
    assert type(from_meta) is torch.Tensor
    np.testing.assert_allclose(from_torch.numpy(), from_numpy, rtol=1e-6)
    np.testing.assert_allclose(from_meta.numpy(), from_numpy, rtol=1e-6)
    assert from_numpy[0] != from_numpy[1]


def test_batch_value_equals_single_sample_values(image_pair):
    (p1, t1), (p2, t2) = image_pair((21, 18), seed=7), image_pair((21, 18), seed=8)
    mask = np.zeros((2, 1, 21, 18))
    mask[0, :, 3:18, 2:16], mask[1, :, 6:15, 6:14] = 1, 1
    for metric in (compute_psnr, compute_ssim):
        pair = metric(batched(p1, p2), batched(t1, t2), 1.0, mask=mask)
        single = [metric(p[None, None], t[None, None], 1.0, mask=m[None]) for p, t, m in zip((p1, p2), (t1, t2), mask)]
        np.testing.assert_allclose(pair, np.concatenate(single), rtol=1e-6)


# ---------------------------------------------------------------- cumulative metric classes


@pytest.mark.parametrize("metric_cls, kwargs", [(MaskedPSNRMetric, {}), (MaskedSSIMMetric, {"spatial_dims": 2})])
def test_masked_metric_accumulates_and_reduces(image_pair, metric_cls, kwargs):
    pairs = [image_pair((18, 20), seed=s, noise=0.02 * (s + 1)) for s in range(3)]
    masks = np.zeros((3, 1, 18, 20))
    for i in range(3):
        masks[i, :, 2 + i : 16, 3 : 17 - i] = 1
    y_pred, y = torch.as_tensor(batched(*[p for p, _ in pairs])), torch.as_tensor(batched(*[t for _, t in pairs]))
    function = compute_psnr if metric_cls is MaskedPSNRMetric else compute_ssim
    expected = function(y_pred, y, 1.0, mask=masks)

    metric = metric_cls(data_range=1.0, get_not_nans=True, **kwargs)
    first = metric(y_pred[:2], y[:2], mask=masks[:2])  # iteration 1: two samples
    metric(y_pred[2:], y[2:], mask=torch.as_tensor(masks[2:]))  # iteration 2: one sample
    assert first.shape == (2, 1)
    value, not_nans = metric.aggregate()
    assert value.item() == pytest.approx(expected.mean().item(), rel=1e-6)
    assert not_nans.item() == 3
    np.testing.assert_allclose(metric.aggregate(reduction="none")[0].flatten(), expected, rtol=1e-6)
    assert metric.aggregate(reduction="sum")[0].item() == pytest.approx(expected.sum().item(), rel=1e-6)

    metric.reset()  # a list of channel-first samples with a list of masks gives the same values
    metric([*y_pred], [*y], mask=[torch.as_tensor(m) for m in masks])
    np.testing.assert_allclose(metric.get_buffer().flatten(), expected, rtol=1e-6)


def test_masked_metric_classes_extend_monai():
    psnr, ssim = MaskedPSNRMetric(data_range=2.0), MaskedSSIMMetric(spatial_dims=3, data_range=2.0)
    assert isinstance(psnr, PSNRMetric) and psnr.data_range == 2.0
    assert isinstance(ssim, SSIMMetric) and ssim.kernel_size == (11, 11, 11)


def test_masked_metric_without_mask_is_plain_metric(image_pair):
    y_pred, y = (torch.as_tensor(a[None, None]) for a in image_pair((20, 20)))
    assert MaskedPSNRMetric(1.0)(y_pred, y).item() == pytest.approx(compute_psnr(y_pred, y, 1.0).item())


# ---------------------------------------------------------------- clear errors


@pytest.mark.parametrize("data_range", [0, -1.0, float("nan"), float("inf")])
def test_non_positive_data_range_is_rejected(data_range):
    images = np.ones((1, 1, 16, 16))
    for call in (
        lambda: compute_psnr(images, images, data_range),
        lambda: compute_ssim(images, images, data_range),
        lambda: MaskedPSNRMetric(data_range),
        lambda: MaskedSSIMMetric(2, data_range),
    ):
        with pytest.raises(ValueError, match="data_range must be finite and positive"):
            call()


@pytest.mark.parametrize("data_range", [None, "1.0", True])
def test_non_numeric_data_range_is_rejected(data_range):
    with pytest.raises(TypeError, match="data_range"):
        compute_psnr(np.ones((1, 1, 4, 4)), np.ones((1, 1, 4, 4)), data_range)


def metric_calls(y_pred, y):
    """The reconstruction metrics, each bound to one input pair."""
    return [lambda: compute_nmse(y_pred, y), lambda: compute_psnr(y_pred, y, 1.0), lambda: compute_ssim(y_pred, y, 1.0)]


def test_shape_mismatch_names_both_shapes():
    for call in metric_calls(np.ones((1, 1, 16, 16)), np.ones((1, 1, 16, 17))):
        with pytest.raises(ValueError, match=r"y_pred \(1, 1, 16, 16\) and y \(1, 1, 16, 17\)"):
            call()


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("which", ["y_pred", "y"])
def test_non_finite_values_are_rejected(bad_value, which):
    good, bad = np.ones((1, 1, 16, 16)), np.ones((1, 1, 16, 16))
    bad[0, 0, 3, 4] = bad_value
    y_pred, y = (bad, good) if which == "y_pred" else (good, bad)
    for call in metric_calls(y_pred, y):
        with pytest.raises(ValueError, match=f"^{which} contains NaN or inf"):
            call()


def test_empty_mask_is_rejected():
    images, mask = np.ones((2, 1, 16, 16)), np.ones((2, 1, 16, 16))
    mask[1] = 0
    with pytest.raises(ValueError, match=r"no voxel in batch sample\(s\) \[1\]"):
        compute_psnr(images, images * 0.5, 1.0, mask=mask)
    with pytest.raises(ValueError, match=r"no voxel in batch sample\(s\) \[1\]"):
        compute_ssim(images, images * 0.5, 1.0, mask=mask)


def test_ssim_mask_only_in_border_is_rejected():
    images, mask = np.ones((1, 1, 16, 16)), np.zeros((1, 1, 16, 16))
    mask[..., :5, :] = 1  # every voxel within the 5-voxel border of the 11-voxel window
    with pytest.raises(ValueError, match="away from the border"):
        compute_ssim(images, images, 1.0, mask=mask)


def test_mask_of_wrong_shape_is_rejected():
    images = np.ones((2, 3, 16, 16))
    with pytest.raises(ValueError, match=r"got mask \(2, 2, 16, 16\)"):
        compute_psnr(images, images, 1.0, mask=np.ones((2, 2, 16, 16)))
    with pytest.raises(ValueError, match=r"got mask \(16, 16\)"):
        compute_psnr(images, images, 1.0, mask=np.ones((16, 16)))


def test_ssim_rejects_bad_geometry():
    with pytest.raises(ValueError, match="smaller than the SSIM window"):
        compute_ssim(np.ones((1, 1, 10, 30)), np.ones((1, 1, 10, 30)), 1.0)
    with pytest.raises(ValueError, match="odd"):
        compute_ssim(np.ones((1, 1, 16, 16)), np.ones((1, 1, 16, 16)), 1.0, win_size=8)
    with pytest.raises(ValueError, match="spatial_dims=3 expects 5D"):
        compute_ssim(np.ones((1, 1, 16, 16)), np.ones((1, 1, 16, 16)), 1.0, spatial_dims=3)
    with pytest.raises(ValueError, match="at least 4 dimensions"):
        compute_ssim(np.ones((1, 16)), np.ones((1, 16)), 1.0)
    with pytest.raises(ValueError, match="2D and 3D"):
        MaskedSSIMMetric(spatial_dims=1, data_range=1.0)


def test_complex_input_is_rejected():
    kspace = np.ones((1, 1, 4, 4), dtype=np.complex64)
    with pytest.raises(TypeError, match="magnitude"):
        compute_nmse(kspace, kspace)


def test_integer_images_are_promoted():
    y = np.array([[[[0, 255]]]], dtype=np.uint8)
    y_pred = np.array([[[[0, 205]]]], dtype=np.uint8)  # no wrap-around in the difference
    np.testing.assert_allclose(compute_psnr(y_pred, y, 255), [10 * math.log10(255**2 / (50**2 / 2))], rtol=1e-6)


# ---------------------------------------------------------------- HFEN


def square(size: int = 48, lo: int = 12, hi: int = 36) -> np.ndarray:
    image = np.zeros((size, size))
    image[lo:hi, lo:hi] = 1.0
    return image


def test_hfen_is_linear_in_a_scaled_prediction():
    # LoG is linear: HFEN(a y, y) = ||(a - 1) LoG(y)|| / ||LoG(y)|| = |a - 1|
    y = batched(square())
    np.testing.assert_allclose(compute_hfen(0.75 * y, y), [0.25], rtol=1e-12)
    np.testing.assert_allclose(compute_hfen(1.5 * y, y), [0.5], rtol=1e-12)
    np.testing.assert_allclose(compute_hfen(y, y), [0.0], atol=1e-15)


def test_hfen_ignores_a_constant_offset_but_not_a_blur():
    # the kernel sums to zero, so a brightness offset costs nothing; a blur of equal MSE costs edges
    from scipy.ndimage import gaussian_filter

    y = square()
    blurred = gaussian_filter(y, 1.5)
    offset = y + np.sqrt(np.mean((blurred - y) ** 2))  # same MSE as the blur
    np.testing.assert_allclose(np.mean((offset - y) ** 2), np.mean((blurred - y) ** 2))
    assert compute_hfen(batched(offset), batched(y))[0] < 1e-10
    assert compute_hfen(batched(blurred), batched(y))[0] > 0.5


def test_hfen_matches_scipy_gaussian_laplace():
    # an independent LoG (scipy's separable one, truncated at the same 7-voxel radius) gives the same ratio
    from scipy.ndimage import gaussian_laplace

    rng = np.random.default_rng(3)
    y = gaussian_laplace(rng.random((40, 44)), 0.8) + square(44, 10, 30)[:40]
    y_pred = y + 0.1 * rng.standard_normal(y.shape)
    log = lambda im: gaussian_laplace(im, 1.5, mode="reflect", truncate=7 / 1.5)  # noqa: E731
    expected = np.linalg.norm(log(y_pred) - log(y)) / np.linalg.norm(log(y))
    np.testing.assert_allclose(compute_hfen(batched(y_pred), batched(y)), [expected], rtol=0.02)


def test_hfen_mask_scores_only_masked_voxels_and_3d_works():
    y = square()
    y_pred = y.copy()
    y_pred[:, :4] += 1.0  # error far from the square
    mask = np.zeros_like(y)
    mask[12:38, 12:38] = 1  # beyond the 7-voxel reach of the LoG from the error at columns 0-3
    assert compute_hfen(batched(y_pred), batched(y))[0] > 0.1
    assert compute_hfen(batched(y_pred), batched(y), mask=batched(mask))[0] < 1e-10
    cube = np.zeros((20, 20, 20))
    cube[5:15, 5:15, 5:15] = 1
    value = HFENMetric(kernel_size=7, kernel_sigma=1.0)(torch.tensor(batched(0.5 * cube)), torch.tensor(batched(cube)))
    np.testing.assert_allclose(value.numpy(), [[0.5]], rtol=1e-6)


def test_hfen_bad_inputs_are_named():
    with pytest.raises(ValueError, match="no high-frequency content"):
        compute_hfen(np.ones((1, 1, 32, 32)), np.ones((1, 1, 32, 32)))
    with pytest.raises(ValueError, match="too small for the 15-voxel LoG kernel"):
        compute_hfen(np.ones((1, 1, 6, 32)), np.ones((1, 1, 6, 32)))
    with pytest.raises(ValueError, match="kernel size must be odd"):
        compute_hfen(batched(square()), batched(square()), kernel_size=4)
    with pytest.raises(ValueError, match="NaN"):
        compute_hfen(batched(square()) * np.nan, batched(square()))


def test_hf_energy_ratio_says_blurrier_or_busier():
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(5)
    y = square()
    np.testing.assert_allclose(compute_hf_energy_ratio(batched(0.5 * y), batched(y)), [0.5], rtol=1e-12)
    np.testing.assert_allclose(compute_hf_energy_ratio(batched(y + 0.3), batched(y)), [1.0], rtol=1e-9)
    assert compute_hf_energy_ratio(batched(gaussian_filter(y, 1.5)), batched(y))[0] < 0.7
    assert compute_hf_energy_ratio(batched(y + 0.2 * rng.standard_normal(y.shape)), batched(y))[0] > 1.1
    with pytest.raises(ValueError, match="no high-frequency content"):
        compute_hf_energy_ratio(np.ones((1, 1, 32, 32)), np.ones((1, 1, 32, 32)))
