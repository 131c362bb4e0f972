"""Per-subject acquisition of the brain MR generator's opt-in options: SNR, resolution, zoom, bias, background.

:func:`draw_acquisition` draws one subject's settings from its ``Stream.ACQUISITION`` generator, always in the
same order and the same number of draws whatever the options, so that fixing one option never changes another's
draw. :func:`synthesize_varied_mr` renders the subject's slices in a :class:`~.contrast.TissueContrast`, applies
the bias field, limits the k-space extent to the acquisition resolution and adds Rician noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from monai_genmed.data.colin27 import load_colin27_t1
from monai_genmed.data.synthesis.anatomy import RigidElastic, SmoothField, Template, sample, split_code, template_box_mm
from monai_genmed.data.synthesis.contrast import TissueContrast
from monai_genmed.data.synthesis.mr import MRSlices
from monai_genmed.data.synthesis.slicing import FULL_FOV_MM, on_slice_grid, slice_points, subject_voxels

__all__ = ["Acquisition", "draw_acquisition", "random_bias", "band_limit", "synthesize_varied_mr"]

# partial volume at tissue-label borders: an in-plane Gaussian of this standard deviation (mm)
_PARTIAL_VOLUME_MM = 0.5


@dataclass(frozen=True)
class Acquisition:
    """One subject's acquisition: ``snr`` None means noise-free; ``spacing`` is the pixel size after the zoom."""

    snr: float | None
    resolution_mm: float
    spacing: float
    bias_std: float
    zero_background: bool


def draw_acquisition(
    rng: np.random.Generator,
    snr: tuple[float, float] | None,
    resolution_mm: tuple[float, float] | None,
    zoom: tuple[float, float],
    bias_field: tuple[float, float],
    spacing: float,
    noise_free_fraction: float,
    zero_background_fraction: float,
) -> Acquisition:
    """Draw one subject's acquisition: every range uniformly, the two fractions as coin flips.

    ``resolution_mm`` None means the grid's own resolution (the pixel size); the pixel size is
    ``spacing / zoom`` (zoom > 1 magnifies the head and crops more of it).
    """
    # six draws for every subject, whichever options are set, so that fixing one never shifts another
    draws = rng.uniform(size=6)

    def within(bounds: tuple[float, float], u: float) -> float:
        return float(bounds[0] + u * (bounds[1] - bounds[0]))

    snr_value = None if snr is None else within(snr, draws[0])
    pixel = spacing / within(zoom, draws[2])
    resolution = pixel if resolution_mm is None else within(resolution_mm, draws[1])
    bias_std = within(bias_field, draws[3])
    noise_free = bool(draws[4] < noise_free_fraction)
    zero_background = bool(draws[5] < zero_background_fraction)
    return Acquisition(
        snr=None if noise_free else snr_value,
        resolution_mm=max(resolution, pixel),
        spacing=pixel,
        bias_std=bias_std,
        zero_background=zero_background,
    )


def random_bias(rng: np.random.Generator, template: Template, acquisition: Acquisition) -> SmoothField:
    """Log of one subject's smooth receive bias: ``acquisition.bias_std`` standard deviation over 80 mm."""
    return SmoothField(rng, 1, acquisition.bias_std, 80.0, template_box_mm(template))


def band_limit(images: np.ndarray, spacing: float, resolution_mm: float) -> tuple[np.ndarray, float]:
    """Keep only the k-space of a Cartesian acquisition at ``resolution_mm`` (|k| <= 1 / (2 resolution) per axis).

    This is a low-resolution acquisition zero-filled up to the grid, as scanners reconstruct it (with its Gibbs
    ringing). Returns the complex images (..., H, W) and the kept fraction of k-space (1 when the resolution is
    not coarser than the pixel size).
    """
    masks = [np.abs(np.fft.fftfreq(n, d=spacing)) <= 1.0 / (2.0 * resolution_mm) + 1e-9 for n in images.shape[-2:]]
    keep = masks[0][:, None] & masks[1][None, :]
    if keep.all():
        return images.astype(np.complex128), 1.0
    return np.fft.ifft2(np.fft.fft2(images) * keep), float(keep.mean())


def synthesize_varied_mr(
    template: Template,
    transform: RigidElastic,
    contrast: TissueContrast,
    acquisition: Acquisition,
    bias: SmoothField,
    noise_rng: np.random.Generator,
    slicing: str,
    positions: Sequence[int],
    points: np.ndarray,
) -> MRSlices:
    """Slices of one subject in ``contrast`` under ``acquisition``.

    Steps: render the contrast at the deformed head's points (native T1 by cubic interpolation, tissue labels
    nearest), blur by 0.5 mm in-plane (partial volume at label borders), multiply by a smooth bias field
    (``exp`` of ``bias``, from :func:`random_bias`; one field per subject, whatever its orientations), scale to
    [0, 1] by the 99.5th percentile of head voxels (clipped) and apply the gamma; then the acquisition: image
    plus complex Gaussian noise, band-limited to ``resolution_mm``, magnitude, clipped to [0, 1]. The noise is
    set so that the final image's ``mean brain signal / sigma`` equals the SNR (white matter is not the
    reference tissue in every contrast). ``clean`` is the same band-limited image without noise. With
    ``zero_background`` the image is exactly 0 outside the head mask.
    """
    # scale and brain mean on the whole head at 2 mm in the chosen slices, as MRContrast does, so that they
    # depend neither on the crop nor on the pixel size
    coarse_points, _ = slice_points(template, slicing, positions, (FULL_FOV_MM // 2, FULL_FOV_MM // 2), 2.0)
    coarse_voxels = subject_voxels(template, transform, coarse_points)
    labels, brain, head = split_code(sample(template.code, coarse_voxels, order=0))
    signal = contrast(sample(load_colin27_t1()[0], coarse_voxels, order=1), labels)
    signal = signal * np.exp(on_slice_grid(bias, coarse_points)[0])
    robust_max = max(float(np.percentile(signal[head], 99.5)), 1e-6)
    brain_mean = float((np.clip(signal / robust_max, 0.0, 1.0) ** contrast.gamma)[brain].mean())

    voxels = subject_voxels(template, transform, points)
    labels, brain, head = split_code(sample(template.code, voxels, order=0))
    signal = contrast(sample(template.t1_coefficients, voxels, order=3, prefiltered=True), labels)
    if contrast.family != "t1":  # the native T1 has its own partial volume; label borders need one
        blur = _PARTIAL_VOLUME_MM / acquisition.spacing
        signal = ndi.gaussian_filter(signal, (0, blur, blur), mode="nearest")
    signal = signal * np.exp(on_slice_grid(bias, points)[0])
    scaled = np.clip(signal / robust_max, 0.0, 1.0) ** contrast.gamma

    limited, kept = band_limit(scaled, acquisition.spacing, acquisition.resolution_mm)
    clean = np.clip(np.abs(limited), 0.0, 1.0).astype(np.float32)
    sigma = 0.0 if acquisition.snr is None else brain_mean / acquisition.snr
    if acquisition.snr is None:
        image = clean.copy()
    else:
        # white noise before the k-space limit, scaled so that the sigma left after it is the asked one
        noise = noise_rng.normal(0.0, sigma / np.sqrt(kept), size=(2, *scaled.shape))
        noise, _ = band_limit(noise[0] + 1j * noise[1], acquisition.spacing, acquisition.resolution_mm)
        image = np.clip(np.abs(limited + noise), 0.0, 1.0).astype(np.float32)
    if acquisition.zero_background:
        image[~head] = 0.0
        clean[~head] = 0.0
    return MRSlices(
        image=image,
        clean=clean,
        brain_mask=brain.astype(np.uint8),
        head_mask=head.astype(np.uint8),
        noise_sigma=float(sigma),
        white_matter_mean=brain_mean,
    )
