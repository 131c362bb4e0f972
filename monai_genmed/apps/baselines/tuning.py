"""Scoring and grid-search tuning of the classical reconstructions, on validation slices only.

A baseline is only as good as its regularisation weight, and a weight picked on the test slices flatters it.
:func:`tune_cs_method` picks it by grid search on slices the caller holds out for validation, the same role the
validation split plays when a learned model is trained; the caller guarantees that these slices are not
the ones reported on (a different subject, or at least a different slice, with the same mask type and
sampling fraction as the test).
"""

from __future__ import annotations

import itertools
import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from monai_genmed.apps.baselines.base import CSReconstructor
from monai_genmed.metrics import compute_psnr, compute_ssim

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_GRIDS", "CSSlice", "image_psnr", "image_ssim", "evaluate_cs_method", "tune_cs_method"]

#: One slice for tuning or evaluation: ``(kspace_masked, mask, target, region)``, where ``target`` is the fully
#: sampled magnitude image in [0, 1] and ``region`` an optional boolean mask (e.g. the head) to score within;
#: a fifth entry, the slice's noise standard deviation, is passed on to noise-adaptive reconstructions
#: (:attr:`~monai_genmed.apps.baselines.base.CSReconstructor.uses_noise_level`).
CSSlice = tuple[np.ndarray, np.ndarray, np.ndarray, "np.ndarray | None"]

#: Grids for :func:`tune_cs_method`, by class name, for images in [0, 1], log-spaced. Measured on a Colin27 T1
#: slice with Rician noise at SNR 30 (``benchmarks/tune_cs_baselines.py``), 1D Gaussian masks at 10/30/50 %:
#: the best TV weight was 1e-3 / 2e-3 / 2.5e-4 (5e-4 with ``real_valued``), the best L1-wavelet weight
#: 3e-5 / 3e-4 / 1e-4 (1e-5 / 1e-4 / 1e-5 with ``real_valued``, where little regularisation is best), and the best
#: BM3D starting level (16 iterations) 0.4 / 0.2 / anything from 0.05 to 0.4 (within 0.05 dB). The grids reach
#: past those on both sides where the score still changes; on the bundle's 2D validation slices (2 subjects, 30 %)
#: L1-wavelet chose 3e-3, the old grid's end, so the grid now reaches 3e-2.
DEFAULT_GRIDS: dict[str, dict[str, list[Any]]] = {
    "TotalVariationCS": {"lamda": [6.25e-5, 1.25e-4, 2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3, 8e-3]},
    "L1WaveletCS": {"lamda": [3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]},
    "BM3DCS": {"sigma0": [0.05, 0.1, 0.2, 0.4, 0.8]},
    # with the noise level known: weight = lamda + noise_factor x noise sigma (sigma ~ 0.01-0.035 here). On the varied
    # brain data the factor hardly matters (0.003-0.0125: within 0.005 dB on 8 validation slices, both masks)
    "TotalVariationCSNoise": {"lamda": [1.25e-4, 5e-4, 2e-3], "noise_factor": [0.0125, 0.05, 0.2]},
    # with the noise level known (noise_factor): last level = factor x noise sigma. On the varied brain data
    # (3 validation slices, sigma0 0.4) the best factor was 0.5 at 1D Gaussian 30 % (0.35 / 0.5 / 0.7: 38.82 / 38.83 /
    # 38.76 dB) and 0.125 or lower at 2D Poisson 20 % (0.125 / 0.25 / 0.5 / 0.7: 41.81 / 41.51 / 40.95 / 40.60 dB)
    "BM3DCSNoise": {"sigma0": [0.1, 0.4], "noise_factor": [0.0625, 0.125, 0.25, 0.5, 1.0]},
}

_METRICS = ("psnr", "ssim")


def image_psnr(prediction: np.ndarray, target: np.ndarray, region: np.ndarray | None = None) -> float:
    """PSNR in dB with data range 1, over the whole slice or within ``region``
    (:func:`monai_genmed.metrics.compute_psnr`)."""
    pred, ref = (np.asarray(x, np.float64)[None, None] for x in (prediction, target))
    mask = None if region is None else np.asarray(region, bool)[None, None]
    return float(compute_psnr(pred, ref, data_range=1.0, mask=mask)[0])


def image_ssim(prediction: np.ndarray, target: np.ndarray, region: np.ndarray | None = None) -> float:
    """SSIM (11x11 Gaussian window of sigma 1.5, data range 1; Wang et al. 2004), over the valid map or within
    ``region`` (:func:`monai_genmed.metrics.compute_ssim`)."""
    pred, ref = (np.asarray(x, np.float64)[None, None] for x in (prediction, target))
    mask = None if region is None else np.asarray(region, bool)[None, None]
    return float(compute_ssim(pred, ref, data_range=1.0, mask=mask)[0])


def _check_slices(slices: Sequence[CSSlice]) -> None:
    if len(slices) == 0:
        raise ValueError("no slices given; pass a list of (kspace_masked, mask, target, region_or_None) tuples.")
    for i, item in enumerate(slices):
        if len(item) not in (4, 5):
            raise ValueError(
                f"slice {i} has {len(item)} entries; each must be (kspace_masked, mask, target, region) or "
                "(kspace_masked, mask, target, region, noise_sigma)."
            )
        kspace, _, target, region = item[:4]
        if np.shape(target) != np.shape(kspace) or (region is not None and np.shape(region) != np.shape(target)):
            raise ValueError(
                f"slice {i}: target {np.shape(target)} (and region, if given) must have the k-space's shape "
                f"{np.shape(kspace)}."
            )


def evaluate_cs_method(
    reconstructor: Callable[[np.ndarray, np.ndarray], np.ndarray],
    slices: Sequence[CSSlice],
    use_region: bool = False,
) -> dict[str, float]:
    """Reconstruct every slice and score it.

    Args:
        reconstructor: a :class:`~monai_genmed.apps.baselines.base.CSReconstructor` (or any callable with its
            signature).
        slices: ``(kspace_masked, mask, target, region_or_None)`` tuples.
        use_region: score within each slice's region where it has one (else the whole slice).

    Returns:
        mean ``psnr`` and ``ssim``, their standard deviations ``psnr_std`` and ``ssim_std`` over the slices,
        and the mean wall-clock ``seconds`` and CPU ``cpu_seconds`` (all threads of this process) per slice;
        on a shared machine the CPU time is the steadier measure.
    """
    _check_slices(slices)
    psnrs, ssims, seconds, cpu_seconds = [], [], [], []
    for kspace, mask, target, region, *noise in slices:
        extra = (
            {"noise_sigma": noise[0] if noise else None} if getattr(reconstructor, "uses_noise_level", False) else {}
        )
        if extra and extra["noise_sigma"] is None:
            raise ValueError(
                f"{reconstructor!r} adapts to the noise level; give each slice a fifth entry, its noise_sigma."
            )
        start, start_cpu = time.perf_counter(), time.process_time()
        recon = reconstructor(kspace, mask, **extra)
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - start_cpu)
        region = np.asarray(region, bool) if (use_region and region is not None) else None
        psnrs.append(image_psnr(recon, target, region))
        ssims.append(image_ssim(recon, target, region))
    return {
        "psnr": float(np.mean(psnrs)),
        "psnr_std": float(np.std(psnrs)),
        "ssim": float(np.mean(ssims)),
        "ssim_std": float(np.std(ssims)),
        "seconds": float(np.mean(seconds)),
        "cpu_seconds": float(np.mean(cpu_seconds)),
    }


def tune_cs_method(
    method_factory: Callable[..., CSReconstructor],
    grid: Mapping[str, Sequence[Any]],
    slices: Sequence[CSSlice],
    metric: str = "psnr",
    use_region: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Grid search of a reconstruction's settings on validation slices.

    Every combination of ``grid`` is built with ``method_factory(**params)``, run on every slice and scored;
    the best mean score wins (the first in grid order on ties). Pass only validation slices: the caller is
    responsible for the split, and the slices reported on must not be among them. When the winner sits at an
    end of a numeric grid axis with three or more values, a warning says so: the optimum may lie outside.

    Args:
        method_factory: builds a reconstructor from keyword settings, e.g. ``TotalVariationCS`` or
            ``functools.partial(TotalVariationCS, max_iter=500)``.
        grid: setting name -> values to try, e.g. ``DEFAULT_GRIDS["TotalVariationCS"]``.
        slices: validation ``(kspace_masked, mask, target, region_or_None)`` tuples, targets in [0, 1].
        metric: ``"psnr"`` (dB, data range 1) or ``"ssim"``; higher is better.
        use_region: score within each slice's region (e.g. the head) instead of the whole slice.

    Returns:
        ``(best_params, table)``: the winning settings, and one row per combination holding the settings and
        the scores of :func:`evaluate_cs_method`, in grid order.
    """
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {_METRICS}, got {metric!r}.")
    if not grid:
        raise ValueError("grid is empty; give at least one setting with the values to try, e.g. {'lamda': [1e-3]}.")
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"grid[{key!r}] must be a non-empty list of values, got {values!r}.")
    _check_slices(slices)
    names = list(grid)
    table = []
    combos = list(itertools.product(*(grid[k] for k in names)))
    for n, combo in enumerate(combos, 1):
        params = dict(zip(names, combo))
        start = time.perf_counter()
        table.append({**params, **evaluate_cs_method(method_factory(**params), slices, use_region)})
        # a slow method (BM3D: minutes per value) shows its progress
        logger.info(f"tuning {n}/{len(combos)}: {params} -> {metric} {table[-1][metric]:.4g} on {len(slices)} slices "
                    f"({time.perf_counter() - start:.0f} s)")  # fmt: skip
    best = max(range(len(table)), key=lambda i: (table[i][metric], -i))
    best_params = {k: table[best][k] for k in names}
    for key in names:
        values = list(grid[key])
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric and len(values) >= 3 and best_params[key] in (min(values), max(values)):
            warnings.warn(
                f"the best {key}={best_params[key]!r} lies at the end of the grid {values}; extend the grid past it.",
                stacklevel=2,
            )
    return best_params, table
