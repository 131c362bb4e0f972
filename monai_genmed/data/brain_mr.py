"""A default 2D brain MR dataset, made on the fly from the embedded Colin27 head: no download.

Each synthetic subject is the Colin27 T1 head (Holmes et al. 1998) under its own random affine + smooth
elastic deformation, receive-coil bias field and contrast, so subjects differ in pose, size, shape and
intensity. Slices are scaled to [0, 1] and carry Rician noise at a white-matter SNR that matches clinical
3T T1 scans (30 by default). Noise matters for compressed-sensing work: on a noise-free template the classical
total-variation baseline looks far better than on real scans (see ``docs/data.md``).

Example:

    >>> from monai.data import load_decathlon_datalist
    >>> from monai_genmed.data import generate_brain_mr_dataset
    >>> path = generate_brain_mr_dataset("./data_cache/brain_mr")  # doctest: +SKIP
    >>> training = load_decathlon_datalist(path, data_list_key="training")  # doctest: +SKIP

Command line: ``python -m monai_genmed.data brain_mr --output_dir ./data_cache/brain_mr --snr 30``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from monai_genmed.data import synthesis as syn

__all__ = ["generate_brain_mr_dataset"]

GENERATOR = "monai_genmed.data.brain_mr"


def generate_brain_mr_dataset(
    output_dir: str | Path,
    num_subjects: Mapping[str, int] | None = None,
    slices_per_subject: int = 24,
    spatial_size: Sequence[int] = (256, 256),
    slicing: str = "axial",
    snr: float | None = 30.0,
    seed: int = 0,
    spacing: float = 1.0,
    min_brain_fraction: float = 0.25,
    overwrite: bool = False,
) -> str:
    """Write a 2D T1 brain MR dataset of synthetic subjects and its MONAI datalist.

    Per subject (all draws from its own seeded generator, never numpy's global one): a random pose (rotation
    up to 6 degrees about each axis, translation up to 4 mm), per-axis scale 0.92-1.08, shear, a smooth
    elastic warp (2.5 mm std on a 24 mm grid), a smooth multiplicative bias field (about 10 % std) and a
    contrast gamma in [0.85, 1.15]. ``slices_per_subject`` slices are spread evenly over the slices whose brain
    area is at least ``min_brain_fraction`` of the largest. Each slice is scaled to [0, 1] by the subject's
    99.5th percentile of head voxels (clipped), then gets Rician noise: the magnitude of (image + complex
    Gaussian noise) with ``sigma = mean white-matter signal / snr``.

    Files (gzip NIfTI, one 2D slice each, affine in RAS mm with the pixel size and the slice position):
    ``<split>/<subject>/<subject>_<slicing>-<k>_t1.nii.gz`` (float32 in [0, 1]), ``..._brainmask.nii.gz``
    (uint8, from the brain extraction ``ch2bet``) and ``..._headmask.nii.gz`` (uint8, head vs air). Arrays are
    stored upright for ``plt.imshow``: axial with anterior up and the patient's right on the left, sagittal with
    superior up and anterior on the left.

    ``datalist.json`` holds "training", "validation" and "test" lists of ``{"image", "brain_mask",
    "head_mask", "subject", "slice_index", "noise_sigma"}`` (paths relative to the datalist, which
    :func:`monai.data.load_decathlon_datalist` resolves) and the metadata "snr", "noise", "seed", "source",
    "spatial_size", "spacing", "slicing".

    Calling again with the same arguments returns at once (``generation_parameters.json`` records them).
    A folder holding a dataset made with other arguments raises ``ValueError`` unless ``overwrite=True``,
    which deletes that dataset first; a non-empty folder without a dataset of ours always raises.

    Args:
        output_dir: folder to write into (created if missing).
        num_subjects: subjects per split; default ``{"training": 8, "validation": 2, "test": 2}``. Subject
            ``i`` of a split depends only on ``seed``, the split and ``i``.
        slices_per_subject: 2D slices taken from each subject.
        spatial_size: (height, width) of every slice in pixels; the head (about 180 x 220 mm) is padded with
            air or cropped around the brain's centre.
        slicing: "axial" (planes along the last axis of the RAS volume) or "sagittal" (along the first).
        snr: white-matter signal-to-noise ratio of the Rician noise (30 is typical of a clinical 3T T1); None or
            ``float("inf")`` for noise-free images.
        seed: non-negative integer; the same seed gives byte-identical files.
        spacing: in-plane pixel size in mm (1 mm is the template's resolution).
        min_brain_fraction: slices are drawn where the brain area is at least this fraction of its maximum.
        overwrite: replace a dataset made with other arguments in ``output_dir``.

    Returns:
        Path of ``datalist.json``.
    """
    parameters = syn.check_common_arguments(
        num_subjects, slices_per_subject, spatial_size, slicing, seed, spacing, min_brain_fraction
    )
    parameters["snr"] = snr = syn.normalise_snr(snr)
    size = tuple(parameters["spatial_size"])

    def write_subject(root: Path, split: str, index: int) -> list[dict]:
        subject = syn.synthesize_subject(
            seed, split, index, slicing, slices_per_subject, size, spacing, min_brain_fraction, snr
        )
        volumes = {
            "image": ("t1", subject.mr.image),
            "brain_mask": ("brainmask", subject.mr.brain_mask),
            "head_mask": ("headmask", subject.mr.head_mask),
        }
        return syn.write_slices(
            root, split, index, slicing, subject, volumes, {"noise_sigma": round(subject.mr.noise_sigma, 6)}
        )

    metadata = {
        "name": "monai_genmed synthetic brain MR",
        "description": "2D T1 slices of deformed Colin27 heads with bias field and Rician noise",
        "modality": {"0": "T1"},
        **syn.common_metadata(snr, seed, size, spacing, slicing),
    }
    return syn.build_dataset(output_dir, GENERATOR, parameters, overwrite, write_subject, metadata)
