"""A default paired head MR / CT dataset for MR-to-CT synthesis, made from the embedded Colin27 head.

The MR is the same synthetic T1 as :func:`monai_genmed.data.generate_brain_mr_dataset` (deformed Colin27, bias
field, Rician noise). The CT is built from the head's own tissues (:func:`monai_genmed.data.colin27_tissue_labels`)
in Hounsfield units, with the published ranges of each tissue:

=====================  ============  ==========================================================
tissue                 HU            how it is found in the T1
=====================  ============  ==========================================================
air (outside, cavities) -1000        outside the head; thick very dark regions (sinuses, mastoid)
fat                     -60 .. -110  bright in T1 outside the skull (scalp, orbit)
soft tissue             +10 .. +50   muscle, skin, eyes, vessels
CSF                     +8 .. +15    dark in T1 inside the skull
grey matter             +35 .. +40   brain, mid T1
white matter            +27          brain, bright T1
diploe (marrow)         +300 .. +500 enclosed by the skull's tables, brighter than them in T1
cortical bone           +1000 .. +1800 dark in T1 between the intracranial space and the skin
=====================  ============  ==========================================================

HU inside brain tissue follows T1 continuously, so partial volume between CSF, GM and WM carries over; the
volume is smoothed by a 0.5 mm Gaussian (partial volume at tissue borders), each slice gets a smooth texture
of tissue-dependent amplitude (largest in bone) and correlated quantum noise (``ct_noise_hu``, about 10-20 HU
on clinical head CT). A ``misalignment`` knob moves the CT against the MR by a random rigid + elastic
transform, to mimic the residual registration error of real paired data (SynthRAD2023, Thummerer et al.,
https://doi.org/10.1002/mp.16529).

Command line: ``python -m monai_genmed.data head_mr_ct --output_dir ./data_cache/head_mr_ct``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from monai_genmed.data import synthesis as syn
from monai_genmed.data.colin27 import HeadTissue, colin27_tissue_labels, load_colin27_t1

__all__ = ["generate_head_mr_ct_dataset", "colin27_hounsfield", "HU_RANGE"]

GENERATOR = "monai_genmed.data.head_mr_ct"

#: the 12-bit range of clinical CT in HU, which the CT slices stay in
HU_RANGE = (-1024, 3071)

# Smooth texture amplitude (HU, standard deviation) per tissue: trabecular bone varies most, brain least.
_TEXTURE_HU = {
    HeadTissue.SOFT_TISSUE: 8.0,
    HeadTissue.FAT: 10.0,
    HeadTissue.CSF: 2.0,
    HeadTissue.GREY_MATTER: 2.5,
    HeadTissue.WHITE_MATTER: 2.0,
    HeadTissue.CORTICAL_BONE: 150.0,
    HeadTissue.MARROW: 60.0,
}
_TEXTURE_MM = 1.5  # correlation length of the texture
_NOISE_MM = 0.7  # correlation length of the quantum noise (the reconstruction kernel's blur)


@lru_cache(maxsize=1)
def colin27_hounsfield() -> np.ndarray:
    """The Colin27 head in Hounsfield units (float32, same grid as :func:`load_colin27_t1`), before texture/noise.

    Within a tissue, HU follows the T1 intensity: darker cortical bone is denser, brain HU runs
    continuously through CSF (8), grey matter (40) and white matter (27), brighter fat is purer fat.
    """
    t1, _ = load_colin27_t1()
    labels = colin27_tissue_labels()
    hu = np.full(t1.shape, -1000.0, dtype=np.float32)

    def assign(tissues: Sequence[HeadTissue], t1_points: Sequence[float], hu_points: Sequence[float]) -> None:
        where = np.isin(labels, tissues)
        hu[where] = np.interp(t1[where], t1_points, hu_points)

    assign([HeadTissue.SOFT_TISSUE], [30.0, 70.0, 110.0], [10.0, 35.0, 50.0])
    assign([HeadTissue.FAT], [125.0, 200.0], [-60.0, -110.0])
    assign([HeadTissue.CSF, HeadTissue.GREY_MATTER, HeadTissue.WHITE_MATTER], [29.0, 84.0, 109.0], [8.0, 40.0, 27.0])
    assign([HeadTissue.CORTICAL_BONE], [10.0, 38.0], [1800.0, 1000.0])
    assign([HeadTissue.MARROW], [38.0, 80.0], [500.0, 300.0])
    # partial volume at every tissue border, as a 1 mm CT voxel sees it
    hu = ndi.gaussian_filter(hu, 0.5, mode="nearest")
    hu.flags.writeable = False
    return hu


def _correlated_noise(rng: np.random.Generator, shape: tuple[int, ...], correlation_px: float) -> np.ndarray:
    """Gaussian noise smoothed in-plane by a Gaussian of ``correlation_px``, rescaled to unit variance."""
    white = rng.standard_normal(shape)
    smooth = ndi.gaussian_filter(white, (0, correlation_px, correlation_px), mode="wrap")
    # the 2D kernel is separable, so its L2 norm (the standard deviation it leaves) is the 1D norm squared
    impulse = np.zeros(2 * math.ceil(4 * correlation_px) + 3)
    impulse[len(impulse) // 2] = 1.0
    kernel_norm = np.sum(ndi.gaussian_filter1d(impulse, correlation_px) ** 2)
    return smooth / kernel_norm


def synthesize_ct(
    subject: syn.Subject,
    texture_rng: np.random.Generator,
    misalignment_rng: np.random.Generator,
    misalignment: float,
    ct_noise_hu: float,
    spacing: float,
) -> tuple[np.ndarray, np.ndarray]:
    """CT slices (int16 HU) and body masks (uint8) of a subject, in the CT's (possibly misaligned) frame."""
    template = subject.template
    move = syn.random_misalignment(misalignment_rng, template, misalignment)
    voxels = syn.on_slice_grid(lambda p: syn.to_template_voxels(subject.transform(move(p)), template), subject.points)
    hu = syn.sample(colin27_hounsfield(), voxels, order=1, outside=-1000.0)
    labels, _, body = syn.split_code(syn.sample(template.code, voxels, order=0))
    amplitude = np.zeros(len(HeadTissue), dtype=np.float32)
    for tissue, value in _TEXTURE_HU.items():
        amplitude[tissue] = value
    hu += amplitude[labels] * _correlated_noise(texture_rng, hu.shape, _TEXTURE_MM / spacing)
    if ct_noise_hu > 0:
        hu += ct_noise_hu * _correlated_noise(texture_rng, hu.shape, _NOISE_MM / spacing)
    ct = np.clip(np.round(hu), *HU_RANGE).astype(np.int16)
    return ct, body.astype(np.uint8)


def generate_head_mr_ct_dataset(
    output_dir: str | Path,
    num_subjects: Mapping[str, int] | None = None,
    slices_per_subject: int = 24,
    spatial_size: Sequence[int] = (256, 256),
    slicing: str = "axial",
    misalignment: float = 0.0,
    mr_snr: float | None = 30.0,
    ct_noise_hu: float = 12.0,
    seed: int = 0,
    spacing: float = 1.0,
    min_brain_fraction: float = 0.25,
    overwrite: bool = False,
) -> str:
    """Write paired 2D head MR / CT slices of synthetic subjects and their MONAI datalist.

    Subjects, slice choice, MR and the reuse of a finished folder are those of
    :func:`monai_genmed.data.generate_brain_mr_dataset` (same seed, same subjects and MR). The CT of each
    subject comes from the same deformed head, in HU (see the module docstring), moved by ``misalignment``.

    Files (gzip NIfTI, 2D, affine in RAS mm; arrays upright for ``plt.imshow``):
    ``<split>/<subject>/<subject>_<slicing>-<k>_mr.nii.gz`` (float32 in [0, 1]), ``..._ct.nii.gz`` (int16 HU in
    [-1024, 3071]) and ``..._bodymask.nii.gz`` (uint8, head vs air in the CT's frame). ``datalist.json`` holds
    "training", "validation" and "test" lists of ``{"mr", "ct", "body_mask", "subject", "slice_index"}``
    and the metadata ("misalignment", "seed", "snr", "ct_noise_hu", "source", "spatial_size", "slicing", ...).

    Args:
        output_dir: folder to write into (created if missing).
        num_subjects: subjects per split; default ``{"training": 8, "validation": 2, "test": 2}``.
        slices_per_subject: 2D slices per subject, spread over the slices that hold brain.
        spatial_size: (height, width) in pixels, padded with air or cropped around the brain's centre.
        slicing: "axial", "sagittal" or "coronal".
        misalignment: size of the CT's displacement against the MR, >= 0: rotation up to ``5 * misalignment``
            degrees about each axis, translation up to ``5 * misalignment`` mm along each, plus a smooth elastic
            warp of ``1.5 * misalignment`` mm standard deviation. 0 means perfectly aligned; the direction is
            fixed by the seed, so larger values move the CT further the same way.
        mr_snr: white-matter SNR of the MR's Rician noise; None or inf for a noise-free MR.
        ct_noise_hu: standard deviation of the CT noise in HU (slightly correlated); 0 for none.
        seed: non-negative integer; the same seed gives byte-identical files.
        spacing: in-plane pixel size in mm.
        min_brain_fraction: slices are drawn where the brain area is at least this fraction of its maximum.
        overwrite: replace a dataset made with other arguments in ``output_dir``.

    Returns:
        Path of ``datalist.json``.
    """
    parameters = syn.check_common_arguments(
        num_subjects, slices_per_subject, spatial_size, slicing, seed, spacing, min_brain_fraction
    )
    parameters["mr_snr"] = snr = syn.normalise_snr(mr_snr, "mr_snr")
    for name, value in (("misalignment", misalignment), ("ct_noise_hu", ct_noise_hu)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"{name} must be a non-negative number, got {value!r}.")
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    parameters["misalignment"] = float(misalignment)
    parameters["ct_noise_hu"] = float(ct_noise_hu)
    size = tuple(parameters["spatial_size"])

    def write_subject(root: Path, split: str, index: int) -> list[dict]:
        subject = syn.synthesize_subject(
            seed, split, index, slicing, slices_per_subject, size, spacing, min_brain_fraction, snr
        )
        ct, body = synthesize_ct(
            subject,
            syn.subject_rng(seed, split, index, syn.Stream.CT_TEXTURE),
            syn.subject_rng(seed, split, index, syn.Stream.MISALIGNMENT),
            float(misalignment),
            float(ct_noise_hu),
            spacing,
        )
        volumes = {"mr": ("mr", subject.mr.image), "ct": ("ct", ct), "body_mask": ("bodymask", body)}
        return syn.write_slices(
            root, split, index, slicing, subject, volumes, {"mr_noise_sigma": round(subject.mr.noise_sigma, 6)}
        )

    metadata = {
        "name": "monai_genmed synthetic head MR/CT",
        "description": "paired 2D T1 MR and CT slices of deformed Colin27 heads; CT from the head's tissues in HU",
        "modality": {"0": "MR", "1": "CT"},
        **syn.common_metadata(snr, seed, size, spacing, slicing),
        "misalignment": float(misalignment),
        "ct_noise_hu": float(ct_noise_hu),
        "ct_unit": "HU",
        "ct_range": list(HU_RANGE),
        "body_mask_frame": "ct",
    }
    return syn.build_dataset(output_dir, GENERATOR, parameters, overwrite, write_subject, metadata)
