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

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from monai_genmed.data import synthesis as syn
from monai_genmed.data.synthesis.acquisition import (
    Acquisition,
    draw_acquisition,
    random_bias,
    synthesize_varied_mr,
)
from monai_genmed.data.synthesis.contrast import CONTRAST_FAMILIES, TissueContrast

__all__ = ["generate_brain_mr_dataset", "CONTRAST_FAMILIES", "RECOMMENDED_OOD_CONTRAST"]

#: the contrast family this package holds out for the out-of-distribution test split: dark CSF with grey matter
#: brighter than white matter is a combination no other tissue family has
RECOMMENDED_OOD_CONTRAST = "flair"

GENERATOR = "monai_genmed.data.brain_mr"


def generate_brain_mr_dataset(
    output_dir: str | Path,
    num_subjects: Mapping[str, int] | None = None,
    slices_per_subject: int = 24,
    spatial_size: Sequence[int] = (256, 256),
    slicing: str = "axial",
    snr: float | Sequence[float] | None = 30.0,
    seed: int = 0,
    spacing: float = 1.0,
    min_brain_fraction: float = 0.25,
    overwrite: bool = False,
    *,
    contrasts: str | Sequence[str] | None = None,
    ood_contrast: str | None = None,
    resolution_mm: float | Sequence[float] | None = None,
    zoom: float | Sequence[float] | None = None,
    bias_field: float | Sequence[float] | None = None,
    orientations: Sequence[str] | None = None,
    noise_free_fraction: float = 0.0,
    zero_background_fraction: float = 0.0,
    write_clean: bool = False,
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

    **Varied training data (opt-in).** The keyword-only options below randomise what a reconstruction network
    could otherwise learn by heart; with all of them at their defaults the dataset is the plain T1 one above,
    byte for byte. Setting any of them switches to the varied pipeline of
    :func:`monai_genmed.data.synthesis.acquisition.synthesize_varied_mr`: each subject draws a contrast family
    (``contrasts``, tissue levels in :mod:`monai_genmed.data.synthesis.contrast`), an SNR, an acquisition
    resolution, a zoom and a bias strength, each uniformly from its range, from the subject's own
    ``Stream.CONTRAST`` and ``Stream.ACQUISITION`` generators (the anatomy is the plain dataset's for the same
    seed). SNR is then ``mean brain signal / sigma`` (white matter is not the reference tissue in every
    contrast), measured after the resolution limit. Files are named by family (``..._<family>.nii.gz``) and
    each item also records ``"contrast"``, ``"snr"`` (``inf`` when noise-free, a number in every item so MONAI's
    ``DataLoader`` collates them), ``"resolution_mm"``,
    ``"spacing"``, ``"zero_background"`` and ``"slicing"``; the metadata add ``"contrasts"`` (the
    in-distribution families) and ``"ood_contrast"``.

    **Out-of-distribution test split.** ``ood_contrast`` adds a "test_ood" list of subjects (default as many
    as "test") rendered in that family only, which training, validation and test never use. This package holds
    out ``"flair"`` (:data:`RECOMMENDED_OOD_CONTRAST`): dark CSF with grey matter brighter than white matter is
    a combination no training family has, while the T2*-EPI-like family, closest to many real scans, stays in
    training. The random intensity maps may by chance resemble any contrast; they are not a tissue family.

    A bundle config calls it in one expression, e.g.
    ``"$monai_genmed.data.generate_brain_mr_dataset(@data_dir, contrasts='random', ood_contrast='flair',
    snr=(15, 80), resolution_mm=(1, 2.5), zoom=(0.85, 1.15), orientations=('axial', 'sagittal', 'coronal'),
    noise_free_fraction=0.2, zero_background_fraction=0.2)"``, then reads each list with
    ``monai.data.load_decathlon_datalist(path, data_list_key="test_ood")``.

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
        slicing: "axial" (planes along the last axis of the RAS volume), "sagittal" (along the first) or
            "coronal" (along the second; superior up, the patient's right on the left).
        snr: white-matter signal-to-noise ratio of the Rician noise (30 is typical of a clinical 3T T1); None or
            ``float("inf")`` for noise-free images.
        seed: non-negative integer; the same seed gives byte-identical files.
        spacing: in-plane pixel size in mm (1 mm is the template's resolution).
        min_brain_fraction: slices are drawn where the brain area is at least this fraction of its maximum.
        overwrite: replace a dataset made with other arguments in ``output_dir``.
        contrasts: contrast families of training, validation and test: None (plain T1), "random" (every family
            of :data:`CONTRAST_FAMILIES` except ``ood_contrast``), or a list of names from it: "t1", "t2",
            "pd", "flair", "t2star_epi" (tissue-class contrasts), "monotone", "nonmonotone" (random smooth
            intensity maps of the T1). One family is drawn per subject.
        ood_contrast: family of the "test_ood" split (e.g. "flair"); it may not be in ``contrasts``. None: no
            such split. ``num_subjects["test_ood"]`` sets its size.
        resolution_mm: in-plane acquisition resolution, a number or a (low, high) range drawn per subject (e.g.
            ``(1, 2.5)``): k-space is cut to ``|k| <= 1 / (2 resolution)`` per axis and zero-filled up to the
            grid, as a scanner reconstructs a low-resolution scan (Gibbs ringing included). A resolution finer
            than the pixel size changes nothing. None: the pixel size.
        zoom: a number or a (low, high) range drawn per subject; the pixel size becomes ``spacing / zoom``, so
            the head fills more (zoom > 1, cropped) or less of the ``spatial_size`` field of view. None: 1.
        bias_field: standard deviation of the log receive bias (a number or a range per subject); None: 0.1,
            the plain dataset's strength.
        orientations: slice orientations, e.g. ``("axial", "sagittal", "coronal")``; each subject's
            ``slices_per_subject`` slices are shared among them as evenly as possible (the first get the rest).
            Use either this or ``slicing``.
        noise_free_fraction: probability that a subject is noise-free (its SNR draw is then ignored).
        zero_background_fraction: probability that a subject's images are exactly 0 outside the head mask.
        write_clean: also write each slice without noise (``..._<family>_clean.nii.gz``, item key ``"clean"``):
            the same band-limited, bias-weighted, zero-background image before the Rician noise; equal to
            ``"image"`` on noise-free subjects. Every other file is the same as without it (the noise has its own
            generator), so a dataset made again with it is the noise-free twin of one made without: what a
            reconstruction could at best reach on noisy targets (``python -m studies.csmri.noise_free_oracle``). Varied
            options only.

    With the varied options, ``snr`` may also be a (low, high) range drawn per subject, e.g. ``(15, 80)``.

    Returns:
        Path of ``datalist.json``.
    """
    varied = _varied_options(
        snr,
        contrasts,
        ood_contrast,
        resolution_mm,
        zoom,
        bias_field,
        orientations,
        slicing,
        slices_per_subject,
        noise_free_fraction,
        zero_background_fraction,
    )
    if not isinstance(write_clean, (bool, np.bool_)):
        raise TypeError(f"write_clean must be True or False, got {write_clean!r}.")
    if write_clean and not varied:
        raise ValueError(
            "write_clean needs the varied pipeline (e.g. contrasts='random' or snr=(15, 80)); the plain "
            "T1 dataset has no noise-free twin."
        )
    counts = None if num_subjects is None else dict(num_subjects)
    ood_count = None if counts is None else counts.pop(syn.OOD_SPLIT, None)
    if ood_count is not None and varied.get("ood_contrast") is None:
        raise ValueError(
            f"num_subjects[{syn.OOD_SPLIT!r}] asks for an out-of-distribution split; pass "
            "ood_contrast (e.g. ood_contrast='flair') too, or drop that key."
        )
    parameters = syn.check_common_arguments(
        counts, slices_per_subject, spatial_size, slicing, seed, spacing, min_brain_fraction
    )
    size = tuple(parameters["spatial_size"])
    if varied:
        if varied["ood_contrast"] is not None:
            if ood_count is None:
                ood_count = parameters["num_subjects"]["test"]
            if isinstance(ood_count, bool) or not isinstance(ood_count, (int, np.integer)) or ood_count < 0:
                raise ValueError(f"num_subjects[{syn.OOD_SPLIT!r}] must be a non-negative integer, got {ood_count!r}.")
            parameters["num_subjects"][syn.OOD_SPLIT] = int(ood_count)
        parameters.update(varied)
        if write_clean:  # only when set, so datasets made before the option keep their recorded parameters
            parameters["write_clean"] = True
        return _generate_varied(output_dir, parameters, overwrite, size)
    parameters["snr"] = snr = syn.normalise_snr(snr)

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


def _range(name: str, value: Any, example: str, default: float | None, lowest: float = 0.0) -> list[float] | None:
    """A number or a (low, high) range, as a JSON list [low, high]; None gives ``default`` (or None)."""
    if value is None:
        return None if default is None else [default, default]
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        bounds = [float(value), float(value)]
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        bounds = [float(v) if not isinstance(v, bool) else math.nan for v in value]
    else:
        raise ValueError(f"{name} must be a number or a (low, high) range, e.g. {name}={example}; got {value!r}.")
    if not all(math.isfinite(b) and b > lowest for b in bounds):
        raise ValueError(f"{name} must be finite and above {lowest}, e.g. {name}={example}; got {value!r}.")
    if bounds[0] > bounds[1]:
        raise ValueError(f"{name}={tuple(value)!r} is reversed; pass (low, high), e.g. {name}={example}.")
    return bounds


def _varied_options(
    snr: Any,
    contrasts: Any,
    ood_contrast: Any,
    resolution_mm: Any,
    zoom: Any,
    bias_field: Any,
    orientations: Any,
    slicing: str,
    slices_per_subject: int,
    noise_free_fraction: float,
    zero_background_fraction: float,
) -> dict[str, Any]:
    """The varied options, checked and normalised to JSON types; empty when none is set (the plain dataset)."""
    snr_is_range = isinstance(snr, Sequence) and not isinstance(snr, str)
    if not (
        snr_is_range
        or contrasts is not None
        or ood_contrast is not None
        or resolution_mm is not None
        or zoom is not None
        or bias_field is not None
        or orientations is not None
        or noise_free_fraction
        or zero_background_fraction
    ):
        return {}
    if ood_contrast is not None and ood_contrast not in CONTRAST_FAMILIES:
        raise ValueError(
            f"ood_contrast={ood_contrast!r} is no contrast family; use one of {CONTRAST_FAMILIES}, "
            f"e.g. ood_contrast={RECOMMENDED_OOD_CONTRAST!r}."
        )
    if contrasts is None:
        families = ["t1"]
    elif contrasts == "random":
        families = [family for family in CONTRAST_FAMILIES if family != ood_contrast]
    elif isinstance(contrasts, str) or not isinstance(contrasts, Sequence) or not contrasts:
        raise ValueError(
            f"contrasts must be None, 'random' or a non-empty list of families from {CONTRAST_FAMILIES}, "
            f"got {contrasts!r}."
        )
    else:
        families = list(dict.fromkeys(contrasts))
        unknown = [family for family in families if family not in CONTRAST_FAMILIES]
        if unknown:
            raise ValueError(
                f"contrasts has unknown famil{'y' if len(unknown) == 1 else 'ies'} {unknown}; use names "
                f"from {CONTRAST_FAMILIES}, or contrasts='random' for all of them."
            )
    if ood_contrast in families:
        raise ValueError(
            f"ood_contrast={ood_contrast!r} is also in contrasts {families}, so the out-of-distribution "
            f"split would not be out of distribution; drop it from contrasts, or pass contrasts='random', "
            "which leaves ood_contrast out."
        )
    if orientations is None:
        orientations = [slicing]
    else:
        if slicing != "axial":
            raise ValueError(
                f"pass either slicing={slicing!r} or orientations={orientations!r}, not both; "
                "orientations=('axial', 'sagittal', 'coronal') takes slices in all three."
            )
        if isinstance(orientations, str) or not isinstance(orientations, Sequence) or not orientations:
            raise ValueError(f"orientations must be a non-empty list from {sorted(syn.SLICING)}, got {orientations!r}.")
        orientations = list(dict.fromkeys(orientations))
        unknown = [name for name in orientations if name not in syn.SLICING]
        if unknown:
            raise ValueError(f"orientations has unknown name(s) {unknown}; use names from {sorted(syn.SLICING)}.")
        if isinstance(slices_per_subject, int) and 0 < slices_per_subject < len(orientations):
            raise ValueError(
                f"slices_per_subject={slices_per_subject} cannot be shared among {len(orientations)} "
                f"orientations; ask for at least {len(orientations)} slices."
            )
    for name, fraction in (
        ("noise_free_fraction", noise_free_fraction),
        ("zero_background_fraction", zero_background_fraction),
    ):
        if (
            isinstance(fraction, bool)
            or not isinstance(fraction, (int, float, np.integer, np.floating))
            or not (0.0 <= fraction <= 1.0)
        ):
            raise ValueError(f"{name} must be a probability in [0, 1], e.g. {name}=0.2; got {fraction!r}.")
    if snr is None or (not snr_is_range and syn.normalise_snr(snr) is None):
        snr_range = None
    else:
        snr_range = _range("snr", snr, "(15, 80)", None)
    return {
        "snr": snr_range,
        "contrasts": families,
        "ood_contrast": ood_contrast,
        "resolution_mm": _range("resolution_mm", resolution_mm, "(1, 2.5)", None),
        "zoom": _range("zoom", zoom, "(0.85, 1.15)", 1.0),
        "bias_field": _range("bias_field", bias_field, "(0.05, 0.2)", 0.1, lowest=-1e-12),
        "orientations": orientations,
        "noise_free_fraction": float(noise_free_fraction),
        "zero_background_fraction": float(zero_background_fraction),
    }


def _slice_counts(total: int, orientations: Sequence[str]) -> list[int]:
    share, rest = divmod(total, len(orientations))
    return [share + (n < rest) for n in range(len(orientations))]


def _generate_varied(output_dir: str | Path, parameters: dict[str, Any], overwrite: bool, size: tuple) -> str:
    """The varied dataset: per subject a contrast family and an acquisition, then its slices per orientation."""
    seed, families, ood = parameters["seed"], parameters["contrasts"], parameters["ood_contrast"]
    orientations = parameters["orientations"]
    counts = _slice_counts(parameters["slices_per_subject"], orientations)

    def write_subject(root: Path, split: str, index: int) -> list[dict]:
        template = syn.load_template()
        transform = syn.random_subject_transform(syn.subject_rng(seed, split, index, syn.Stream.ANATOMY), template)
        contrast_rng = syn.subject_rng(seed, split, index, syn.Stream.CONTRAST)
        drawn = families[int(contrast_rng.integers(len(families)))]
        contrast = TissueContrast(ood if split == syn.OOD_SPLIT else drawn, contrast_rng)
        acquisition_rng = syn.subject_rng(seed, split, index, syn.Stream.ACQUISITION)
        acquisition: Acquisition = draw_acquisition(
            acquisition_rng,
            parameters["snr"],
            parameters["resolution_mm"],
            parameters["zoom"],
            parameters["bias_field"],
            parameters["spacing"],
            parameters["noise_free_fraction"],
            parameters["zero_background_fraction"],
        )
        bias = random_bias(acquisition_rng, template, acquisition)
        noise_rng = syn.subject_rng(seed, split, index, syn.Stream.MR_NOISE)
        extra = {
            "contrast": contrast.family,
            "snr": math.inf if acquisition.snr is None else round(acquisition.snr, 3),  # a number, so batches collate
            "resolution_mm": round(acquisition.resolution_mm, 4),
            "spacing": round(acquisition.spacing, 4),
            "zero_background": acquisition.zero_background,
        }
        items = []
        for orientation, count in zip(orientations, counts):
            positions = syn.select_slices(template, transform, orientation, count, parameters["min_brain_fraction"])
            points, affines = syn.slice_points(template, orientation, positions, size, acquisition.spacing)
            mr = synthesize_varied_mr(
                template, transform, contrast, acquisition, bias, noise_rng, orientation, positions, points
            )
            subject = syn.Subject(template, transform, positions, points, affines, mr)
            volumes = {
                "image": (contrast.family, mr.image),
                "brain_mask": ("brainmask", mr.brain_mask),
                "head_mask": ("headmask", mr.head_mask),
            }
            if parameters.get("write_clean"):
                volumes["clean"] = (f"{contrast.family}_clean", mr.clean)
            items += syn.write_slices(
                root,
                split,
                index,
                orientation,
                subject,
                volumes,
                {"noise_sigma": round(mr.noise_sigma, 6), **extra, "slicing": orientation},
            )
        return items

    metadata = {
        "name": "monai_genmed synthetic brain MR, varied contrast and acquisition",
        "description": "2D MR slices of deformed Colin27 heads in random contrasts, resolutions, SNR and bias",
        "modality": {"0": "MR"},
        **syn.common_metadata(None, seed, size, parameters["spacing"], "+".join(orientations)),
        "snr": parameters["snr"],
        "noise": "none" if parameters["snr"] is None else "rician",
        **{
            key: parameters[key]
            for key in (
                "contrasts",
                "ood_contrast",
                "resolution_mm",
                "zoom",
                "bias_field",
                "orientations",
                "noise_free_fraction",
                "zero_background_fraction",
            )
        },
    }
    return syn.build_dataset(output_dir, GENERATOR, parameters, overwrite, write_subject, metadata)
