"""Image-quality metrics for reconstruction and synthesis: NMSE, masked PSNR/SSIM, HFEN, MAE in HU, SynthRAD2023 scores.

Each comes as a ``compute_*`` function (numpy or torch in, one value per sample out) and as a MONAI
``CumulativeIterationMetric``; the Ignite handlers for bundle configs live in :py:mod:`monai_genmed.handlers`.
"""

from __future__ import annotations

from .reconstruction import (
    HFENMetric,
    MaskedPSNRMetric,
    MaskedRegressionMixin,
    MaskedSSIMMetric,
    NMSEMetric,
    compute_hf_energy_ratio,
    compute_hfen,
    compute_high_frequency_scores,
    compute_nmse,
    compute_psnr,
    compute_ssim,
)
from .synthetic_ct import (
    SYNTHRAD_DATA_RANGE,
    SYNTHRAD_HU_RANGE,
    HounsfieldMAEMetric,
    SynthRADPSNRMetric,
    SynthRADSSIMMetric,
    compute_hounsfield_mae,
    compute_synthrad_psnr,
    compute_synthrad_ssim,
)

__all__ = [
    "compute_hfen",
    "compute_hf_energy_ratio",
    "compute_high_frequency_scores",
    "HFENMetric",
    "compute_nmse",
    "compute_psnr",
    "compute_ssim",
    "compute_hounsfield_mae",
    "compute_synthrad_psnr",
    "compute_synthrad_ssim",
    "NMSEMetric",
    "MaskedRegressionMixin",
    "MaskedPSNRMetric",
    "MaskedSSIMMetric",
    "HounsfieldMAEMetric",
    "SynthRADPSNRMetric",
    "SynthRADSSIMMetric",
    "SYNTHRAD_HU_RANGE",
    "SYNTHRAD_DATA_RANGE",
]

from .generative import (
    MS_SSIM_64_KERNEL_SIZE,
    MS_SSIM_64_WEIGHTS,
    FrechetDistance,
    compute_frechet_distance,
    load_feature_extractor,
    ms_ssim_diversity,
)

__all__ += [
    "FrechetDistance",
    "compute_frechet_distance",
    "load_feature_extractor",
    "ms_ssim_diversity",
    "MS_SSIM_64_WEIGHTS",
    "MS_SSIM_64_KERNEL_SIZE",
]
