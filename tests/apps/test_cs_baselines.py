from __future__ import annotations

import functools

import numpy as np
import pytest

from monai_genmed.apps.baselines import (
    BM3DCS,
    DEFAULT_GRIDS,
    CSReconstructor,
    L1WaveletCS,
    TotalVariationCS,
    ZeroFilledRecon,
    conjugate_symmetric_fill,
    image_psnr,
    image_ssim,
    tune_cs_method,
    tv_operator_norm_sq,
)
from monai_genmed.transforms.kspace.functional import image_to_kspace

sp = pytest.importorskip("sigpy")

# few iterations: the phantoms are tiny, and BM3D costs ~1 s a call whatever the size
FAST_METHODS = {
    "tv": functools.partial(TotalVariationCS, max_iter=100),
    "wavelet": functools.partial(L1WaveletCS, lamda=3e-3, max_iter=50),
    "bm3d": functools.partial(BM3DCS, n_iter=2, sigma0=0.2, sigma_end=0.05),
}


@pytest.mark.parametrize("shape", [(32, 32), (33, 48), (1, 17)])
def test_sigpy_fft_is_our_centred_orthonormal_fft(shape):
    rng = np.random.default_rng(0)
    image = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    ours = image_to_kspace(image[None])[0]
    np.testing.assert_allclose(sp.fft(image, center=True), ours, atol=1e-5)
    np.testing.assert_allclose(sp.ifft(ours, center=True), image, atol=1e-5)


@pytest.mark.parametrize("shape", [(32, 32), (33, 40)])
def test_tv_step_bound_equals_power_iteration(shape):
    mask = np.zeros(shape, np.float32)
    mask[:, ::3] = 1
    G = sp.linop.FiniteDifference(shape)
    A = sp.linop.Vstack([sp.linop.Multiply(shape, mask) * sp.linop.FFT(shape, center=True), G])
    # power iteration starts from sigpy's global numpy RNG (so its result depended on the tests run before it) and
    # approaches the largest eigenvalue from below: seed it, and check the bound is tight from above
    np.random.seed(0)
    power = sp.app.MaxEig(A.N, dtype=np.complex64, max_iter=2000, show_pbar=False).run()
    bound = tv_operator_norm_sq(mask)
    assert power <= bound * (1 + 1e-4) and bound == pytest.approx(power, rel=1e-3)


@pytest.mark.parametrize("real_valued", [False, True], ids=["complex", "real"])
@pytest.mark.parametrize("method", list(FAST_METHODS))
def test_method_beats_zero_filled_on_phantom(cs_problem, method, real_valued):
    kspace, mask, target = cs_problem
    recon = FAST_METHODS[method](real_valued=real_valued)
    out = recon(kspace, mask)
    assert out.shape == target.shape and out.dtype == np.float32
    zero_filled = ZeroFilledRecon(real_valued=real_valued)(kspace, mask)
    assert image_psnr(out, target) > image_psnr(zero_filled, target) + 1.0


def test_real_valued_prior_helps_a_real_object(cs_problem):
    kspace, mask, target = cs_problem
    complex_psnr = image_psnr(TotalVariationCS(max_iter=100)(kspace, mask), target)
    assert image_psnr(TotalVariationCS(max_iter=100, real_valued=True)(kspace, mask), target) > complex_psnr


@pytest.mark.parametrize("shape", [(32, 32), (33, 40), (31, 31)])
def test_conjugate_symmetric_fill_recovers_mirrored_samples(shape):
    rng = np.random.default_rng(1)
    image = rng.random(shape).astype(np.float32)
    full = image_to_kspace(image[None])[0]
    mask = (rng.random(shape) < 0.3).astype(np.float32)
    filled, filled_mask = conjugate_symmetric_fill(full * mask, mask)
    assert filled_mask.sum() > mask.sum()
    np.testing.assert_array_equal(filled_mask >= mask, True)
    np.testing.assert_allclose(filled, full * filled_mask, atol=1e-5)


@pytest.mark.parametrize("real_valued", [False, True], ids=["complex", "real"])
def test_bm3d_output_agrees_with_every_measured_sample(make_cs_problem, real_valued):
    kspace, mask, _ = make_cs_problem((33, 40), 0.3)
    recon = BM3DCS(n_iter=1, sigma0=0.2, sigma_end=0.2, real_valued=real_valued)
    complex_image = recon.reconstruct(kspace, mask)
    recon_kspace = image_to_kspace(complex_image[None])[0]
    np.testing.assert_allclose(recon_kspace[mask > 0], kspace[mask > 0], atol=1e-5)
    # and denoising did change the unmeasured samples
    assert np.abs(recon_kspace[mask == 0]).max() > 1e-3


def test_bm3d_sigma_schedule_is_geometric():
    schedule = BM3DCS(n_iter=4, sigma0=0.08, sigma_end=0.01).sigma_schedule()
    np.testing.assert_allclose(schedule, [0.08, 0.04, 0.02, 0.01])


def test_bm3d_with_noise_factor_ends_at_the_slice_noise_level(make_cs_problem):
    bm3d = BM3DCS(n_iter=3, sigma0=0.2, noise_factor=1.5, sigma_floor=0.004)
    assert bm3d.uses_noise_level and not BM3DCS().uses_noise_level
    np.testing.assert_allclose(bm3d.sigma_schedule(0.02), [0.2, np.sqrt(0.2 * 0.03), 0.03])
    assert bm3d.sigma_schedule(0.0)[-1] == pytest.approx(0.004)  # a noise-free slice: the floor
    assert bm3d.params == {"n_iter": 3, "sigma0": 0.2, "noise_factor": 1.5, "sigma_floor": 0.004, "real_valued": False}
    kspace, mask, _ = make_cs_problem((24, 24), 0.4)
    for bad in (None, float("nan"), -0.01):
        with pytest.raises(ValueError, match="noise_sigma >= 0"):
            bm3d(kspace, mask, noise_sigma=bad)
    # the noise level steers the result: a clean slice keeps more detail than one declared noisy
    quiet = BM3DCS(n_iter=2, sigma0=0.01, noise_factor=1.0)  # one iteration would use sigma0 only
    assert np.abs(quiet(kspace, mask, noise_sigma=0.0) - quiet(kspace, mask, noise_sigma=0.3)).max() > 1e-3


def test_tv_with_noise_factor_weights_each_slice_by_its_noise(make_cs_problem):
    tv = TotalVariationCS(lamda=1e-3, noise_factor=0.1, max_iter=30)
    assert tv.uses_noise_level and not TotalVariationCS().uses_noise_level
    assert tv.slice_lamda(0.0) == pytest.approx(1e-3) and tv.slice_lamda(0.02) == pytest.approx(3e-3)
    assert tv.params == {
        "lamda": 1e-3,
        "noise_factor": 0.1,
        "max_iter": 30,
        "sigma": "sqrt(weight)",
        "real_valued": False,
    }
    kspace, mask, target = make_cs_problem((32, 32), 0.4)
    with pytest.raises(ValueError, match="noise_sigma >= 0"):
        tv(kspace, mask)
    # the weight follows the declared noise: equal to the fixed-weight solver at that weight, smoother when noisier
    np.testing.assert_allclose(
        tv(kspace, mask, noise_sigma=0.02), TotalVariationCS(lamda=3e-3, max_iter=30)(kspace, mask), atol=1e-6
    )
    tv_of = lambda x: np.abs(np.diff(x, axis=0)).sum() + np.abs(np.diff(x, axis=1)).sum()  # noqa: E731
    assert tv_of(tv(kspace, mask, noise_sigma=0.5)) < tv_of(tv(kspace, mask, noise_sigma=0.0))


def test_tune_passes_each_slice_noise_level_to_a_noise_adaptive_method(fully_sampled_slices):
    seen = []

    class _NoiseAware(_ScaledTruth):
        uses_noise_level = True

        def reconstruct(self, kspace, mask, noise_sigma=None):
            seen.append(noise_sigma)
            return super().reconstruct(kspace, mask)

    slices = [(*item, noise) for item, noise in zip(fully_sampled_slices, (0.01, 0.0))]
    best, _ = tune_cs_method(_NoiseAware, {"scale": [0.9, 1.0]}, slices)
    assert best == {"scale": 1.0} and seen == [0.01, 0.0, 0.01, 0.0]
    with pytest.raises(ValueError, match="fifth entry, its noise_sigma"):
        tune_cs_method(_NoiseAware, {"scale": [1.0]}, fully_sampled_slices)


def test_tv_default_dual_step_converges(make_cs_problem):
    kspace, mask, _ = make_cs_problem((48, 48), 0.35)
    short, long = (
        TotalVariationCS(max_iter=150, record_objective=True),
        TotalVariationCS(max_iter=600, record_objective=True),
    )
    short(kspace, mask)
    long(kspace, mask)
    assert len(short.objective_values) == 151
    # within 2 % of the 4x longer run's objective, which itself fell by two orders of magnitude
    assert short.objective_values[-1] <= 1.02 * long.objective_values[-1]
    assert long.objective_values[-1] < 1e-2 * long.objective_values[0]
    sigpy_default = TotalVariationCS(max_iter=150, sigma=1.0, record_objective=True)
    sigpy_default(kspace, mask)
    assert sigpy_default.objective_values[-1] > short.objective_values[-1]


def test_params_and_names_describe_the_run():
    tv = TotalVariationCS(lamda=1e-3, max_iter=10)
    assert tv.params == {"lamda": 1e-3, "max_iter": 10, "sigma": pytest.approx(1e-3**0.5), "real_valued": False}
    assert L1WaveletCS(wave_name="haar").params["wave_name"] == "haar"
    assert BM3DCS(n_iter=3, real_valued=True).params == {
        "n_iter": 3,
        "sigma0": 0.2,
        "sigma_end": 0.02,
        "real_valued": True,
    }
    names = {m().name for m in (TotalVariationCS, L1WaveletCS, BM3DCS, ZeroFilledRecon)}
    assert len(names) == 4
    assert set(DEFAULT_GRIDS) == {"TotalVariationCS", "TotalVariationCSNoise", "L1WaveletCS", "BM3DCS", "BM3DCSNoise"}


class _ScaledTruth(CSReconstructor):
    """A toy 'reconstruction': the fully sampled image times ``scale``, so scale 1 is the best."""

    name = "scaled"

    def __init__(self, scale: float, offset: float = 0.0) -> None:
        super().__init__()
        self.scale, self.offset = scale, offset

    def reconstruct(self, kspace, mask):
        from monai_genmed.apps.baselines import zero_filled_image

        return zero_filled_image(kspace) * self.scale + self.offset


@pytest.fixture
def fully_sampled_slices():
    rng = np.random.default_rng(2)
    slices = []
    for shape in [(16, 16), (17, 20)]:
        image = rng.random(shape).astype(np.float32)
        mask = np.ones(shape, np.float32)
        slices.append((image_to_kspace(image[None])[0], mask, image, None))
    return slices


def test_tune_picks_the_best_setting(fully_sampled_slices, caplog):
    grid = {"scale": [0.5, 0.9, 1.0, 1.2], "offset": [0.0, 0.1]}
    with caplog.at_level("INFO", logger="monai_genmed.apps.baselines.tuning"):
        best, table = tune_cs_method(_ScaledTruth, grid, fully_sampled_slices)
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("tuning ")]
    assert len(progress) == 8 and progress[0].startswith("tuning 1/8: {'scale': 0.5, 'offset': 0.0} -> psnr")
    assert best == {"scale": 1.0, "offset": 0.0}
    assert [(r["scale"], r["offset"]) for r in table] == [(s, o) for s in grid["scale"] for o in grid["offset"]]
    assert table[4]["psnr"] > 100  # exact up to float32 FFT round-off
    best_ssim, _ = tune_cs_method(_ScaledTruth, grid, fully_sampled_slices, metric="ssim")
    assert best_ssim == {"scale": 1.0, "offset": 0.0}


def test_tune_warns_when_the_best_is_at_the_grid_edge(fully_sampled_slices):
    with pytest.warns(UserWarning, match="end of the grid"):
        best, _ = tune_cs_method(_ScaledTruth, {"scale": [0.25, 0.5, 0.75]}, fully_sampled_slices)
    assert best == {"scale": 0.75}


def test_tune_tv_weight_on_a_toy_problem(make_cs_problem):
    kspace, mask, target = make_cs_problem((32, 32), 0.4)
    factory = functools.partial(TotalVariationCS, max_iter=60)
    best, table = tune_cs_method(factory, {"lamda": [1e-6, 2e-3, 1.0]}, [(kspace, mask, target, None)])
    assert best == {"lamda": 2e-3}
    assert table[1]["psnr"] > max(table[0]["psnr"], table[2]["psnr"]) + 3


def test_region_scores_only_the_region():
    target = np.zeros((24, 24), np.float32)
    pred = target.copy()
    pred[:, :12] = 0.5  # errors only in the left half
    right = np.zeros_like(target, bool)
    right[:, 12:] = True
    assert image_psnr(pred, target, right) == float("inf")
    assert image_psnr(pred, target) == pytest.approx(-10 * np.log10(0.125))
    assert image_ssim(target, target) == pytest.approx(1.0, abs=1e-5)
    assert image_ssim(pred, target, right) > image_ssim(pred, target)


def _good_inputs():
    kspace = np.zeros((16, 16), np.complex64)
    mask = np.zeros((16, 16), np.float32)
    mask[:, ::2] = 1
    return kspace, mask


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda k, m: (k, m[:, :15]), ValueError, "differ"),
        (lambda k, m: (k, m * 0.5), ValueError, "only 0 and 1"),
        (lambda k, m: (np.where(m > 0, np.nan, k).astype(np.complex64), m), ValueError, "NaN"),
        (lambda k, m: (k.real, m), TypeError, "complex k-space"),
        (lambda k, m: (k[None], m[None]), ValueError, "2D"),
        (lambda k, m: (k, m * 0), ValueError, "no k-space location"),
        (lambda k, m: (k, m.astype(np.complex64)), TypeError, "mask"),
    ],
    ids=["shape", "non-binary", "nan", "real-kspace", "3d", "empty-mask", "complex-mask"],
)
def test_bad_inputs_raise_clear_errors(change, error, match):
    kspace, mask = change(*_good_inputs())
    with pytest.raises(error, match=match):
        TotalVariationCS(max_iter=1)(kspace, mask)


@pytest.mark.parametrize(
    "build, error",
    [
        (lambda: TotalVariationCS(lamda=-1.0), ValueError),
        (lambda: TotalVariationCS(lamda="big"), TypeError),
        (lambda: TotalVariationCS(max_iter=0), ValueError),
        (lambda: L1WaveletCS(wave_name="nope"), ValueError),
        (lambda: BM3DCS(sigma0=float("nan")), ValueError),
        (lambda: BM3DCS(n_iter=2.5), ValueError),
    ],
)
def test_bad_settings_raise(build, error):
    with pytest.raises(error):
        build()


def test_tune_rejects_bad_arguments(fully_sampled_slices):
    with pytest.raises(ValueError, match="metric"):
        tune_cs_method(_ScaledTruth, {"scale": [1.0]}, fully_sampled_slices, metric="mse")
    with pytest.raises(ValueError, match="grid"):
        tune_cs_method(_ScaledTruth, {}, fully_sampled_slices)
    with pytest.raises(ValueError, match="non-empty list"):
        tune_cs_method(_ScaledTruth, {"scale": 1.0}, fully_sampled_slices)
    with pytest.raises(ValueError, match="no slices"):
        tune_cs_method(_ScaledTruth, {"scale": [1.0]}, [])
    kspace, mask, target, _ = fully_sampled_slices[0]
    with pytest.raises(ValueError, match="shape"):
        tune_cs_method(_ScaledTruth, {"scale": [1.0]}, [(kspace, mask, target[:8], None)])
