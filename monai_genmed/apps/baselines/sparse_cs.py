"""Sparsity-regularised compressed-sensing MRI: total variation and L1-wavelet, solved by SigPy.

Both solve ``min_x 1/2 ||M F x - y||_2^2 + lambda R(x)`` over complex images ``x`` (``F`` the centred
orthonormal FFT, which is SigPy's ``sp.fft(x, center=True)``; ``M`` the mask), as in Lustig et al., "Sparse
MRI", MRM 2007 (https://doi.org/10.1002/mrm.21391), and Block et al., "Undersampled radial MRI with multiple
coils. Iterative image reconstruction using a total variation constraint", MRM 2007
(https://doi.org/10.1002/mrm.21236). SigPy's own apps (``sigpy.mri.app.TotalVariationRecon``,
``sigpy.mri.app.L1WaveletRecon``) run them with one coil of unit sensitivity and the mask as data weights.

The regularisation weights are for images scaled to [0, 1] (k-space scales with the image; multiply
``lamda`` by the scale otherwise). Defaults and grids were measured on a noisy (SNR 30) Colin27 T1 slice with
1D Gaussian masks; see ``benchmarks/tune_cs_baselines.py``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from monai.utils import optional_import

from monai_genmed.apps.baselines.base import CSReconstructor, check_iterations, check_positive

sp, has_sigpy = optional_import("sigpy")
mr, _ = optional_import("sigpy.mri")

__all__ = ["TotalVariationCS", "L1WaveletCS", "tv_operator_norm_sq"]


def _require_sigpy(who: str) -> None:
    if not has_sigpy:
        raise ImportError(f"{who} needs SigPy; install it with `pip install monai_genmed[classical]` (or sigpy).")


def tv_operator_norm_sq(mask: np.ndarray) -> float:
    """Exact ``||[M F; G]||^2`` for SigPy's TV problem, the step bound of its primal-dual solver.

    ``F^H M F`` and ``G^H G`` (circular forward differences, SigPy's ``FiniteDifference``) are both diagonal in
    the Fourier domain, with eigenvalues ``m(k)`` and ``sum_d 4 sin^2(pi k_d / n_d)``; the largest eigenvalue of
    their sum is the largest sum over k-space. SigPy would otherwise estimate it with 30 random power iterations.
    """
    h, w = mask.shape
    ky = 4 * np.sin(np.pi * (np.arange(h) - h // 2) / h) ** 2
    kx = 4 * np.sin(np.pi * (np.arange(w) - w // 2) / w) ** 2
    return float(np.max(mask + ky[:, None] + kx[None, :]))


class _SigPyCS(CSReconstructor):
    """Runs a SigPy ``LinearLeastSquares`` app on one coil of unit sensitivity, the mask as data weights."""

    def __init__(self, lamda: float, max_iter: int, record_objective: bool, real_valued: bool) -> None:
        _require_sigpy(type(self).__name__)
        super().__init__(real_valued)
        self.lamda = check_positive(lamda, "lamda")
        self.max_iter = check_iterations(max_iter)
        self.record_objective = record_objective
        #: objective value before the first and after every iteration of the last call (``record_objective``)
        self.objective_values: list[float] = []

    def make_app(self, y: np.ndarray, mps: np.ndarray, lamda: float, **solver_kwargs: Any) -> Any:
        """The SigPy app for k-space ``y`` (``1, H, W``), coil sensitivities ``mps`` (``1, H, W``) and weight
        ``lamda``."""
        raise NotImplementedError

    def slice_lamda(self, noise_sigma: float | None = None) -> float:
        """The regularisation weight used for a slice (``lamda``; subclasses may adapt it to the noise level)."""
        return self.lamda

    def reconstruct(self, kspace: np.ndarray, mask: np.ndarray, noise_sigma: float | None = None) -> np.ndarray:
        app = self.make_app(
            kspace[None],
            np.ones((1, *kspace.shape), dtype=np.complex64),
            self.slice_lamda(noise_sigma),
            weights=mask,
            max_iter=self.max_iter,
            show_pbar=False,
            save_objective_values=self.record_objective,
        )
        x = app.run()
        self.objective_values = [float(v) for v in app.objective_values] if self.record_objective else []
        return np.asarray(x)


class TotalVariationCS(_SigPyCS):
    """Total-variation compressed sensing: ``min_x 1/2 ||M F x - y||^2 + lamda ||G x||_1``.

    SigPy's ``TotalVariationRecon`` (anisotropic TV of the complex image, circular forward differences),
    solved by the primal-dual hybrid gradient method (Chambolle and Pock 2011,
    https://doi.org/10.1007/s10851-010-0251-1).

    SigPy's default dual step ``sigma = 1`` converges slowly: on a 256x256 T1 slice the objective after 800
    iterations was still 0.2 % above its minimum and PSNR 0.7 dB short of the converged 35.15 dB. The dual
    variable of the TV term is bounded by ``lamda`` while the image is O(1), so the primal and dual steps are
    balanced by ``sigma ~ sqrt(lamda)``, the default here. Measured with it at the tuned weights: after 300
    iterations the objective is within 2e-4 of its 1200-iteration value at 30-50 % sampling (PSNR equal to
    0.01 dB), but 1.5e-3 above it at 10 % (0.13 dB short), hence 500 iterations by default. The primal step
    is then ``tau = 1 / (sigma ||[M F; G]||^2)``, with the norm computed exactly (:func:`tv_operator_norm_sq`).

    Args:
        lamda: TV weight, for images in [0, 1].
        max_iter: primal-dual iterations.
        sigma: dual step; ``None`` for ``sqrt(lamda)``.
        real_valued: see :class:`~monai_genmed.apps.baselines.base.CSReconstructor`.
        record_objective: keep the objective of every iteration in :attr:`objective_values` (slower).
        noise_factor: when given, each slice's weight is ``lamda + noise_factor * noise_sigma`` (``lamda`` then
            removes the aliasing of a clean slice, the second term the noise), and every call must pass the slice's
            ``noise_sigma``; one weight for scans from noise-free to SNR 15 fits none of them well.
    """

    name = "TV-CS"

    def __init__(
        self,
        lamda: float = 2e-3,
        max_iter: int = 500,
        sigma: float | None = None,
        real_valued: bool = False,
        record_objective: bool = False,
        noise_factor: float | None = None,
    ) -> None:
        super().__init__(lamda, max_iter, record_objective, real_valued)
        self.fixed_sigma = None if sigma is None else check_positive(sigma, "sigma")
        self.sigma = math.sqrt(self.lamda) if sigma is None else self.fixed_sigma
        self.noise_factor = None if noise_factor is None else check_positive(noise_factor, "noise_factor")
        self.uses_noise_level = self.noise_factor is not None

    @property
    def params(self) -> dict[str, Any]:
        if self.noise_factor is None:
            return {"lamda": self.lamda, "max_iter": self.max_iter, "sigma": self.sigma, **super().params}
        sigma = self.fixed_sigma if self.fixed_sigma is not None else "sqrt(weight)"
        return {
            "lamda": self.lamda,
            "noise_factor": self.noise_factor,
            "max_iter": self.max_iter,
            "sigma": sigma,
            **super().params,
        }

    def slice_lamda(self, noise_sigma: float | None = None) -> float:
        if self.noise_factor is None:
            return self.lamda
        if noise_sigma is None:
            raise ValueError("this TotalVariationCS was built with noise_factor, so it needs each slice's noise_sigma.")
        return self.lamda + self.noise_factor * float(noise_sigma)

    def make_app(self, y: np.ndarray, mps: np.ndarray, lamda: float, **solver_kwargs: Any) -> Any:
        sigma = math.sqrt(lamda) if self.fixed_sigma is None else self.fixed_sigma  # balanced steps for this weight
        tau = 1.0 / (sigma * tv_operator_norm_sq(solver_kwargs["weights"]))
        return mr.app.TotalVariationRecon(
            y, mps, lamda, solver="PrimalDualHybridGradient", sigma=sigma, tau=tau, **solver_kwargs
        )


class L1WaveletCS(_SigPyCS):
    """L1-wavelet compressed sensing (Lustig et al. 2007): ``min_x 1/2 ||M F x - y||^2 + lamda ||W x||_1``.

    SigPy's ``L1WaveletRecon``: a Daubechies wavelet transform (``db4`` as in Sparse MRI, all levels PyWavelets
    allows), solved by FISTA (Beck and Teboulle 2009, https://doi.org/10.1137/080716542) with the step ``1``,
    the exact inverse Lipschitz constant since ``||M F|| = 1`` for a binary mask.

    Measured on a noisy 256x256 T1 slice (1D Gaussian masks): at the weights that win the tuning at 30-50 %
    sampling (1e-4 to 3e-4) the objective after 200 iterations is within 2.5e-4 of its 800-iteration value and
    PSNR within 0.06 dB. Smaller weights converge slowly (at 1e-5 and 50 %, 1.6e-2 above and 1.3 dB short),
    and at 10 % sampling the prior barely helps: after 800 iterations the weights tried score 23.4-24.3 dB
    against zero filling's 24.2 dB, lower the longer it runs at all but the smallest weight. The iteration
    count is part of the method's settings, as in every published comparison; tune ``max_iter`` with
    ``lamda`` where it matters.

    Args:
        lamda: wavelet-coefficient weight, for images in [0, 1].
        max_iter: FISTA iterations.
        wave_name: PyWavelets wavelet name.
        real_valued: see :class:`~monai_genmed.apps.baselines.base.CSReconstructor`.
        record_objective: keep the objective of every iteration in :attr:`objective_values` (slower).
    """

    name = "L1-wavelet-CS"

    def __init__(
        self,
        lamda: float = 3e-4,
        max_iter: int = 200,
        wave_name: str = "db4",
        real_valued: bool = False,
        record_objective: bool = False,
    ) -> None:
        super().__init__(lamda, max_iter, record_objective, real_valued)
        import pywt

        if wave_name not in pywt.wavelist(kind="discrete"):
            raise ValueError(
                f"wave_name {wave_name!r} is not a discrete PyWavelets wavelet; try 'db4', 'sym8' or 'haar'."
            )
        self.wave_name = wave_name

    @property
    def params(self) -> dict[str, Any]:
        return {"lamda": self.lamda, "max_iter": self.max_iter, "wave_name": self.wave_name, **super().params}

    def make_app(self, y: np.ndarray, mps: np.ndarray, lamda: float, **solver_kwargs: Any) -> Any:
        return mr.app.L1WaveletRecon(
            y, mps, lamda, wave_name=self.wave_name, solver="GradientMethod", alpha=1.0, **solver_kwargs
        )
