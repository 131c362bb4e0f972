"""MR contrast and noise: receive bias field, contrast gamma, scaling to [0, 1] and Rician noise."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from monai_genmed.data.colin27 import load_colin27_t1
from monai_genmed.data.synthesis.anatomy import (
    RigidElastic,
    SmoothField,
    Template,
    sample,
    split_code,
    template_box_mm,
)
from monai_genmed.data.synthesis.slicing import FULL_FOV_MM, on_slice_grid, slice_points, subject_voxels

__all__ = ["normalise_snr", "random_bias_field", "MRSlices", "MRContrast", "rician", "synthesize_mr"]


def normalise_snr(snr: float | None, name: str = "snr") -> float | None:
    """``None`` or infinity mean noise-free (returned as ``None``); anything else must be a positive number."""
    if snr is None:
        return None
    if isinstance(snr, bool) or not isinstance(snr, (int, float, np.floating, np.integer)) or math.isnan(snr):
        raise ValueError(f"{name} must be a positive number, or None/inf for no noise; got {snr!r}.")
    if snr <= 0:
        raise ValueError(f"{name} must be positive (mean white-matter signal / noise sigma), got {snr!r}.")
    return None if math.isinf(snr) else float(snr)


def random_bias_field(rng: np.random.Generator, template: Template) -> SmoothField:
    """Log of a smooth multiplicative receive-coil bias: about +-10 % (std) varying over 80 mm."""
    return SmoothField(rng, 1, 0.1, 80.0, template_box_mm(template))


@dataclass
class MRSlices:
    """MR slices of one subject: ``image`` with noise, ``clean`` without, masks, and the noise level used."""

    image: np.ndarray
    clean: np.ndarray
    brain_mask: np.ndarray
    head_mask: np.ndarray
    noise_sigma: float
    white_matter_mean: float


class MRContrast:
    """One subject's receive bias field and contrast gamma, and its intensity scale, applied to sampled T1."""

    def __init__(
        self,
        rng: np.random.Generator,
        template: Template,
        transform: RigidElastic,
        slicing: str,
        positions: Sequence[int],
    ):
        self.template = template
        self.transform = transform
        self.bias = random_bias_field(rng, template)
        # contrast between GM, WM and fat varies between scanners and protocols
        self.gamma = float(rng.uniform(0.85, 1.15))
        self.robust_max = 1.0
        # Measured on the whole head at 2 mm in the chosen slices, so that neither the scale nor the noise
        # level depends on the crop (spatial_size) or the pixel size.
        points, _ = slice_points(template, slicing, positions, (FULL_FOV_MM // 2, FULL_FOV_MM // 2), 2.0)
        voxels = subject_voxels(template, transform, points)
        # linear interpolation is plenty for a percentile and a mean, and four times cheaper than cubic
        t1 = self.biased_t1(points, voxels, cubic=False)
        code = sample(template.code, voxels, order=0)
        _, _, head = split_code(code)
        self.robust_max = float(np.percentile(t1[head], 99.5))
        white_matter_core = (code & Template.WHITE_MATTER_CORE_BIT) > 0
        self.white_matter_mean = float(self.scale(t1)[white_matter_core].mean())

    def biased_t1(self, points: np.ndarray, voxels: np.ndarray, cubic: bool = True) -> np.ndarray:
        if cubic:
            t1 = sample(self.template.t1_coefficients, voxels, order=3, prefiltered=True)
        else:
            t1 = sample(load_colin27_t1()[0], voxels, order=1)
        return t1 * np.exp(on_slice_grid(self.bias, points)[0])

    def scale(self, t1: np.ndarray) -> np.ndarray:
        """To [0, 1] by the robust maximum (clipped), then the contrast gamma."""
        return (np.clip(t1 / self.robust_max, 0.0, 1.0) ** self.gamma).astype(np.float32)


def rician(clean: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Magnitude of (image + complex Gaussian noise of standard deviation ``sigma`` per channel)."""
    real = clean + rng.normal(0.0, sigma, size=clean.shape)
    imaginary = rng.normal(0.0, sigma, size=clean.shape)
    return np.hypot(real, imaginary)


def synthesize_mr(
    template: Template,
    transform: RigidElastic,
    anatomy_rng: np.random.Generator,
    noise_rng: np.random.Generator,
    slicing: str,
    positions: Sequence[int],
    points: np.ndarray,
    snr: float | None,
) -> MRSlices:
    """T1 slices of one subject: deformed head, bias field, contrast, scaling to [0, 1], Rician noise.

    ``anatomy_rng`` draws the bias field and the gamma; ``noise_rng`` draws only the noise, with
    ``sigma = mean white-matter signal / snr``.
    """
    contrast = MRContrast(anatomy_rng, template, transform, slicing, positions)
    voxels = subject_voxels(template, transform, points)
    clean = contrast.scale(contrast.biased_t1(points, voxels))
    sigma = 0.0 if snr is None else contrast.white_matter_mean / snr
    image = clean if snr is None else np.clip(rician(clean, sigma, noise_rng), 0.0, 1.0).astype(np.float32)
    _, brain, head = split_code(sample(template.code, voxels, order=0))
    return MRSlices(
        image=image,
        clean=clean,
        brain_mask=brain.astype(np.uint8),
        head_mask=head.astype(np.uint8),
        noise_sigma=float(sigma),
        white_matter_mean=contrast.white_matter_mean,
    )
