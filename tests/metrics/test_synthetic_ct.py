from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from monai_genmed.metrics import (
    SYNTHRAD_DATA_RANGE,
    SYNTHRAD_HU_RANGE,
    HounsfieldMAEMetric,
    SynthRADPSNRMetric,
    SynthRADSSIMMetric,
    compute_hounsfield_mae,
    compute_synthrad_psnr,
    compute_synthrad_ssim,
)


def ct_pair(shape: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smooth CT in HU from air to bone (some voxels beyond 3000 HU), a noisy synthetic CT and a body mask."""
    rng = np.random.default_rng(seed)
    ct = gaussian_filter(rng.normal(0.0, 1.0, shape), 1.5)
    ct = -1200.0 + 4600.0 * (ct - ct.min()) / (ct.max() - ct.min())
    sct = ct + rng.normal(0.0, 80.0, shape)
    body = np.zeros(shape, dtype=bool)
    body[tuple(slice(2, n - 3) for n in shape)] = True
    return sct, ct, body


def synthrad_reference_ssim(sct: np.ndarray, ct: np.ndarray, body: np.ndarray) -> float:
    """SynthRAD2023's SSIM procedure, written out from its description with skimage."""
    skimage_metrics = pytest.importorskip("skimage.metrics")
    low, high = SYNTHRAD_HU_RANGE
    ct_s = np.where(body, np.clip(ct, low, high), low) - low
    sct_s = np.where(body, np.clip(sct, low, high), low) - low
    _, ssim_map = skimage_metrics.structural_similarity(ct_s, sct_s, data_range=high - low, full=True)
    inner = tuple(slice(3, -3) for _ in ct.shape)
    return float(ssim_map[inner][body[inner]].mean())


def test_synthrad_constants():
    assert SYNTHRAD_HU_RANGE == (-1024.0, 3000.0) and SYNTHRAD_DATA_RANGE == 4024.0


def test_hounsfield_mae_hand_computed():
    ct = np.array([[[[0.0, 100.0, -1000.0, 2000.0]]]])
    sct = np.array([[[[10.0, 90.0, -1000.0, 3000.0]]]])
    body = np.array([[[[1, 1, 1, 0]]]])
    np.testing.assert_allclose(compute_hounsfield_mae(sct, ct, body), [20.0 / 3.0])
    np.testing.assert_allclose(compute_hounsfield_mae(sct, ct), [1020.0 / 4.0])


def test_hounsfield_mae_is_not_clipped():
    ct, sct = np.full((1, 1, 2, 2), 3000.0), np.full((1, 1, 2, 2), 3500.0)  # both clip to 3000 for PSNR
    np.testing.assert_allclose(compute_hounsfield_mae(sct, ct), [500.0])
    assert np.isinf(compute_synthrad_psnr(sct, ct)[0])


def test_synthrad_psnr_hand_computed():
    ct = np.array([[[[-2000.0, 0.0, 500.0]]]])  # clips to -1024, 0, 500
    sct = np.array([[[[-1024.0, 4024.0, 0.0]]]])  # clips to -1024, 3000, 0
    body = np.array([[[[1, 1, 0]]]])
    mse = (0.0**2 + 3000.0**2) / 2
    np.testing.assert_allclose(compute_synthrad_psnr(sct, ct, body), [10 * np.log10(4024.0**2 / mse)])
    mse_all = (3000.0**2 + 500.0**2) / 3
    np.testing.assert_allclose(compute_synthrad_psnr(sct, ct), [10 * np.log10(4024.0**2 / mse_all)])


def test_synthrad_psnr_matches_skimage_on_mask_voxels():
    skimage_metrics = pytest.importorskip("skimage.metrics")
    sct, ct, body = ct_pair((24, 27))
    low, high = SYNTHRAD_HU_RANGE
    expected = skimage_metrics.peak_signal_noise_ratio(
        np.clip(ct, low, high)[body], np.clip(sct, low, high)[body], data_range=4024
    )
    np.testing.assert_allclose(compute_synthrad_psnr(sct[None, None], ct[None, None], body[None, None]), [expected])


@pytest.mark.parametrize("shape", [(26, 31), (15, 17, 19)])
def test_synthrad_ssim_matches_the_challenge_procedure(shape):
    sct, ct, body = ct_pair(shape)
    expected = synthrad_reference_ssim(sct, ct, body)
    value = compute_synthrad_ssim(sct[None, None], ct[None, None], body[None, None])
    assert abs(value[0] - expected) < 1e-4


def test_synthrad_ssim_ignores_differences_outside_the_body():
    sct, ct, body = ct_pair((24, 24))
    outside = np.where(body, sct, 2500.0)  # a wrong value everywhere outside the body
    value = compute_synthrad_ssim(outside[None, None], ct[None, None], body[None, None])
    np.testing.assert_allclose(value, compute_synthrad_ssim(sct[None, None], ct[None, None], body[None, None]))


@pytest.mark.parametrize("metric", [compute_hounsfield_mae, compute_synthrad_psnr, compute_synthrad_ssim])
def test_numpy_torch_agree_and_batch_gives_two_values(metric):
    (s1, c1, b1), (s2, c2, b2) = ct_pair((16, 18, 17), seed=1), ct_pair((16, 18, 17), seed=2)
    sct, ct, body = np.stack([s1, s2])[:, None], np.stack([c1, c2])[:, None], np.stack([b1, b2])[:, None]
    from_numpy = metric(sct, ct, body)
    from_torch = metric(torch.as_tensor(sct), torch.as_tensor(ct), torch.as_tensor(body))
    assert isinstance(from_numpy, np.ndarray) and from_numpy.shape == (2,)
    assert isinstance(from_torch, torch.Tensor) and from_torch.shape == (2,)
    np.testing.assert_allclose(from_torch.numpy(), from_numpy, rtol=1e-6)
    np.testing.assert_allclose(from_numpy[1], metric(sct[1:], ct[1:], body[1:])[0], rtol=1e-6)


@pytest.mark.parametrize(
    "metric, function",
    [
        (HounsfieldMAEMetric(), compute_hounsfield_mae),
        (SynthRADPSNRMetric(), compute_synthrad_psnr),
        (SynthRADSSIMMetric(spatial_dims=2), compute_synthrad_ssim),
    ],
)
def test_metric_classes_accumulate(metric, function):
    pairs = [ct_pair((20, 22), seed=s) for s in range(3)]
    sct, ct, body = (torch.as_tensor(np.stack([p[i] for p in pairs])[:, None]) for i in range(3))
    metric.reset()
    metric(sct[:1], ct[:1], mask=body[:1])
    metric(sct[1:], ct[1:], mask=body[1:])
    expected = function(sct, ct, body)
    assert metric.aggregate().item() == pytest.approx(expected.mean().item(), rel=1e-6)
    np.testing.assert_allclose(metric.get_buffer().flatten(), expected, rtol=1e-6)


def test_synthrad_ssim_metric_defaults_to_volumes():
    metric = SynthRADSSIMMetric()
    assert metric.spatial_dims == 3 and metric.kernel_size == (7, 7, 7) and metric.data_range == 4024.0
    with pytest.raises(ValueError, match="spatial_dims=3 expects 5D"):
        metric(torch.zeros(1, 1, 16, 16), torch.zeros(1, 1, 16, 16))


def test_inf_is_rejected_before_clipping():
    ct = np.zeros((1, 1, 8, 8))
    sct = ct.copy()
    sct[0, 0, 0, 0] = np.inf  # clipping would turn it into 3000 HU and hide the fault
    for metric in (compute_synthrad_psnr, compute_synthrad_ssim, compute_hounsfield_mae):
        with pytest.raises(ValueError, match="y_pred contains NaN or inf"):
            metric(sct, ct)


def test_empty_body_mask_is_rejected():
    sct, ct, _ = ct_pair((16, 16))
    for metric in (compute_hounsfield_mae, compute_synthrad_psnr, compute_synthrad_ssim):
        with pytest.raises(ValueError, match="mask selects no voxel"):
            metric(sct[None, None], ct[None, None], np.zeros((1, 1, 16, 16)))
