"""Machinery shared by the synthetic-dataset generators: subject deformations, slice geometry, noise, output folders.

Conventions:

* "Subject space" is a virtual scan of one synthetic subject, on the template's RAS grid (1 mm). A subject is
  the Colin27 head pulled through a random affine + smooth elastic deformation, so ``SubjectDeformation`` maps
  subject-space points (mm) to template voxel coordinates.
* Every random draw comes from ``numpy.random.default_rng([seed, split, index, stream])``: a subject depends only
  on the seed, its split and its index (not on how many other subjects are generated), and each stream (anatomy,
  MR noise, CT texture, misalignment) is independent, so changing the SNR never changes the anatomy.
* 2D slices are stored the way radiology displays them, so ``plt.imshow(array)`` shows them upright: axial
  slices with anterior at the top and the patient's right on the image's left, sagittal slices with superior
  at the top and anterior on the left. The NIfTI affine says so exactly.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import nibabel as nib
import numpy as np
from tqdm import tqdm
from scipy import ndimage as ndi

from monai_genmed.data.colin27 import (
    HeadTissue,
    colin27_brain_mask,
    colin27_tissue_labels,
    load_colin27_t1,
)

try:
    from filelock import FileLock
except ImportError:  # filelock comes with torch; without it, concurrent generation is the caller's business
    FileLock = None

SPLITS = ("training", "validation", "test")
DEFAULT_NUM_SUBJECTS = {"training": 8, "validation": 2, "test": 2}
PARAMETERS_FILE = "generation_parameters.json"
DATALIST_FILE = "datalist.json"
LOCK_FILE = ".monai_genmed.lock"
SOURCE = "Colin27 (mricron-data)"
# in-plane field of view (mm) that holds any deformed head, for slice selection and intensity statistics
_FULL_FOV_MM = 264
FORMAT_VERSION = 1

Slicing = Literal["axial", "sagittal"]
# slicing -> (axis the slices are taken along, (axis, sign) of image rows, (axis, sign) of image columns)
_SLICING: dict[str, tuple[int, tuple[int, int], tuple[int, int]]] = {
    "axial": (2, (1, -1), (0, -1)),  # rows run anterior -> posterior, columns right -> left
    "sagittal": (0, (2, -1), (1, -1)),  # rows run superior -> inferior, columns anterior -> posterior
}


class Stream:
    """Independent random streams of one subject."""

    ANATOMY = 0
    MR_NOISE = 1
    CT_TEXTURE = 2
    MISALIGNMENT = 3


def subject_rng(seed: int, split: str, index: int, stream: int) -> np.random.Generator:
    """The generator of one random stream of one subject (never the global numpy RNG)."""
    return np.random.default_rng([seed, SPLITS.index(split), index, stream])


def subject_name(split: str, index: int) -> str:
    return f"{split}-{index:03d}"


# ---------------------------------------------------------------------------------------------- validation


def check_common_arguments(
    num_subjects: Mapping[str, int] | None,
    slices_per_subject: int,
    spatial_size: Sequence[int],
    slicing: str,
    seed: int,
    spacing: float,
    min_brain_fraction: float,
) -> dict[str, Any]:
    """Validate the arguments every generator shares; returns them normalised to JSON types."""
    counts = dict(DEFAULT_NUM_SUBJECTS if num_subjects is None else num_subjects)
    unknown = set(counts) - set(SPLITS)
    if unknown:
        raise ValueError(f"num_subjects has unknown split(s) {sorted(unknown)}; use keys from {SPLITS}.")
    for split, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f"num_subjects[{split!r}] must be a non-negative integer, got {count!r}.")
    counts = {split: int(counts.get(split, 0)) for split in SPLITS}
    if sum(counts.values()) == 0:
        raise ValueError(f"num_subjects asks for no subject at all ({counts}); ask for at least one.")
    if isinstance(slices_per_subject, bool) or not isinstance(slices_per_subject, (int, np.integer)):
        raise ValueError(f"slices_per_subject must be a positive integer, got {slices_per_subject!r}.")
    if slices_per_subject < 1:
        raise ValueError(f"slices_per_subject must be a positive integer, got {slices_per_subject!r}.")
    size = tuple(int(s) for s in spatial_size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"spatial_size must be two positive integers (height, width), got {spatial_size!r}.")
    if slicing not in _SLICING:
        raise ValueError(f"slicing must be one of {sorted(_SLICING)}, got {slicing!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    if not spacing > 0:
        raise ValueError(f"spacing must be a positive pixel size in mm, got {spacing!r}.")
    if not 0.0 <= min_brain_fraction < 1.0:
        raise ValueError(f"min_brain_fraction must lie in [0, 1), got {min_brain_fraction!r}.")
    return {
        "num_subjects": counts,
        "slices_per_subject": int(slices_per_subject),
        "spatial_size": list(size),
        "slicing": slicing,
        "seed": int(seed),
        "spacing": float(spacing),
        "min_brain_fraction": float(min_brain_fraction),
    }


def normalise_snr(snr: float | None, name: str = "snr") -> float | None:
    """``None`` or infinity mean noise-free (returned as ``None``); anything else must be a positive number."""
    if snr is None:
        return None
    if isinstance(snr, bool) or not isinstance(snr, (int, float, np.floating, np.integer)) or math.isnan(snr):
        raise ValueError(f"{name} must be a positive number, or None/inf for no noise; got {snr!r}.")
    if snr <= 0:
        raise ValueError(f"{name} must be positive (mean white-matter signal / noise sigma), got {snr!r}.")
    return None if math.isinf(snr) else float(snr)


# ---------------------------------------------------------------------------------------------- template


@dataclass(frozen=True)
class Template:
    """The Colin27 volumes the generators sample, prepared once per process."""

    t1_coefficients: np.ndarray  # cubic B-spline coefficients of the T1 volume
    # uint8: HeadTissue label, + BRAIN_BIT in the brain mask, + WHITE_MATTER_CORE_BIT in white matter at least
    # 2 mm from any other tissue (the flat region where SNR is measured); sampled nearest-neighbour
    code: np.ndarray
    affine: np.ndarray
    centre_mm: np.ndarray  # centre of the brain's bounding box, RAS mm

    BRAIN_BIT = 16
    WHITE_MATTER_CORE_BIT = 32

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.code.shape  # type: ignore[return-value]


@lru_cache(maxsize=1)
def load_template() -> Template:
    t1, affine = load_colin27_t1()
    brain = colin27_brain_mask()
    box = [np.flatnonzero(brain.any(axis=tuple(a for a in range(3) if a != axis))) for axis in range(3)]
    centre_voxel = np.array([(b[0] + b[-1]) / 2.0 for b in box])
    labels = colin27_tissue_labels()
    white_matter_core = ndi.binary_erosion(labels == HeadTissue.WHITE_MATTER, iterations=2)
    code = labels + Template.BRAIN_BIT * brain + Template.WHITE_MATTER_CORE_BIT * white_matter_core
    return Template(
        t1_coefficients=ndi.spline_filter(t1, order=3, mode="grid-constant"),
        code=code.astype(np.uint8),
        affine=affine,
        centre_mm=affine[:3, :3] @ centre_voxel + affine[:3, 3],
    )


def split_code(code: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tissue labels, brain mask, head mask) from sampled template codes."""
    labels = code % Template.BRAIN_BIT
    return labels, (code & Template.BRAIN_BIT) > 0, labels != HeadTissue.AIR


def sample(
    volume: np.ndarray, voxels: np.ndarray, order: int, prefiltered: bool = False, outside: float = 0.0
) -> np.ndarray:
    """Sample ``volume`` at template voxel coordinates ``voxels`` (3, ...); ``outside`` (air) beyond the volume.

    Only points inside the volume (plus the interpolation margin) are interpolated: a padded field of view
    is mostly air.
    """
    flat = voxels.reshape(3, -1)
    upper = np.array(volume.shape, dtype=float)[:, None]
    inside = np.all((flat > -2.0) & (flat < upper + 1.0), axis=0)
    values = np.full(flat.shape[1], outside, dtype=volume.dtype)
    values[inside] = ndi.map_coordinates(
        volume,
        flat[:, inside],
        order=order,
        mode="grid-constant" if order > 1 else "constant",
        cval=outside,
        prefilter=not prefiltered,
    )
    return values.reshape(voxels.shape[1:])


# ---------------------------------------------------------------------------------------------- deformations


class SmoothField:
    """A smooth random vector field: Gaussian values on a coarse control grid, cubic B-spline interpolated.

    The field is evaluated once on a dense grid (a sixth of the control spacing) and then linearly
    interpolated, which costs little even at millions of points and differs from the cubic field by far less
    than a voxel.
    """

    def __init__(
        self, rng: np.random.Generator, channels: int, std: float, control_spacing_mm: float, box_mm: np.ndarray
    ):
        lower, upper = box_mm
        self.dense_mm = control_spacing_mm / 6.0
        self.origin = lower - control_spacing_mm  # one control point of margin on each side
        control_shape = tuple(int(np.ceil((hi - lo) / control_spacing_mm)) + 3 for lo, hi in zip(lower, upper))
        control = rng.normal(0.0, std, size=(channels, *control_shape)) if std > 0 else None
        dense_shape = tuple(int(np.ceil((n - 1) * control_spacing_mm / self.dense_mm)) + 1 for n in control_shape)
        self.dense = np.zeros((channels, *dense_shape), dtype=np.float32)
        if control is not None:
            grid = np.stack(np.meshgrid(*[np.arange(n) for n in dense_shape], indexing="ij"))
            grid = grid * (self.dense_mm / control_spacing_mm)
            for c in range(channels):
                self.dense[c] = ndi.map_coordinates(control[c], grid.reshape(3, -1), order=3, mode="nearest").reshape(
                    dense_shape
                )
        self.is_zero = control is None

    def __call__(self, points_mm: np.ndarray) -> np.ndarray:
        """Field values at points (3, ...) in mm; returns (channels, ...)."""
        if self.is_zero:
            return np.zeros((self.dense.shape[0], *points_mm.shape[1:]), dtype=np.float32)
        coords = (points_mm.reshape(3, -1) - self.origin[:, None]) / self.dense_mm
        values = [ndi.map_coordinates(d, coords, order=1, mode="nearest") for d in self.dense]
        return np.stack(values).reshape(self.dense.shape[0], *points_mm.shape[1:])


def rotation_matrix(angles_deg: np.ndarray) -> np.ndarray:
    """Rotation about x, then y, then z (angles in degrees)."""
    ax, ay, az = np.deg2rad(angles_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def template_box_mm(template: Template) -> np.ndarray:
    corners = np.array([[0, 0, 0], [s - 1 for s in template.shape]], dtype=float)
    mm = corners @ template.affine[:3, :3].T + template.affine[:3, 3]
    return np.stack([mm.min(0), mm.max(0)])


@dataclass
class RigidElastic:
    """``x -> centre + matrix @ (x - centre) + translation + elastic(x)``, points as (3, ...) arrays in mm."""

    matrix: np.ndarray
    translation: np.ndarray
    centre: np.ndarray
    elastic: SmoothField

    def __call__(self, points_mm: np.ndarray) -> np.ndarray:
        flat = points_mm.reshape(3, -1)
        moved = self.matrix @ (flat - self.centre[:, None]) + (self.centre + self.translation)[:, None]
        return moved.reshape(points_mm.shape) + self.elastic(points_mm)


def random_subject_transform(rng: np.random.Generator, template: Template) -> RigidElastic:
    """Head pose, size and shape of one synthetic subject: subject mm -> template mm.

    Rotation up to 6 degrees about each axis, per-axis scale 0.92-1.08 (adult head sizes vary about this
    much), shear up to 0.03, translation up to 4 mm, and a smooth elastic warp (2.5 mm standard deviation on a
    24 mm control grid) that reshapes gyri, ventricles and skull without folding.
    """
    rotation = rotation_matrix(rng.uniform(-6.0, 6.0, size=3))
    scale = np.diag(rng.uniform(0.92, 1.08, size=3))
    shear = np.eye(3) + np.triu(rng.uniform(-0.03, 0.03, size=(3, 3)), k=1)
    translation = rng.uniform(-4.0, 4.0, size=3)
    elastic = SmoothField(rng, 3, 2.5, 24.0, template_box_mm(template))
    return RigidElastic(rotation @ scale @ shear, translation, template.centre_mm, elastic)


def random_misalignment(rng: np.random.Generator, template: Template, misalignment: float) -> RigidElastic:
    """A rigid + elastic displacement whose size scales with ``misalignment`` (0 = identity).

    Rotation up to ``5 * misalignment`` degrees about each axis, translation up to ``5 * misalignment`` mm
    along each axis, elastic warp with ``1.5 * misalignment`` mm standard deviation on a 32 mm grid. The
    directions are drawn before scaling, so one seed gives the same direction at every ``misalignment``.
    """
    angles = rng.uniform(-1.0, 1.0, size=3)
    translation = rng.uniform(-1.0, 1.0, size=3)
    elastic = SmoothField(rng, 3, 1.0, 32.0, template_box_mm(template))
    elastic.dense *= 1.5 * misalignment
    elastic.is_zero = elastic.is_zero or misalignment == 0
    return RigidElastic(rotation_matrix(5.0 * misalignment * angles), 5.0 * misalignment * translation,
                        template.centre_mm, elastic)


def to_template_voxels(points_mm: np.ndarray, template: Template) -> np.ndarray:
    inverse = np.linalg.inv(template.affine)
    flat = points_mm.reshape(3, -1)
    return (inverse[:3, :3] @ flat + inverse[:3, 3:4]).reshape(points_mm.shape)


def random_bias_field(rng: np.random.Generator, template: Template) -> SmoothField:
    """Log of a smooth multiplicative receive-coil bias: about +-10 % (std) varying over 80 mm."""
    return SmoothField(rng, 1, 0.1, 80.0, template_box_mm(template))


# ---------------------------------------------------------------------------------------------- slices


def slice_points(
    template: Template, slicing: str, positions: Sequence[int], spatial_size: tuple[int, int], spacing: float
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Subject-space points (mm) of every pixel of every slice, and each slice's 2D NIfTI affine.

    Slice ``k`` is plane ``k`` of the subject's 1 mm grid along the slicing axis; the in-plane grid is
    ``spatial_size`` pixels of ``spacing`` mm centred on the brain.

    Returns:
        points of shape (3, n_slices, H, W) and one 4x4 affine per slice (pixel (i, j) -> RAS mm).
    """
    axis, (row_axis, row_sign), (col_axis, col_sign) = _SLICING[slicing]
    height, width = spatial_size
    first = template.centre_mm.copy()
    first[row_axis] -= row_sign * (height - 1) / 2.0 * spacing
    first[col_axis] -= col_sign * (width - 1) / 2.0 * spacing
    rows = first[row_axis] + row_sign * spacing * np.arange(height)
    cols = first[col_axis] + col_sign * spacing * np.arange(width)
    along = template.affine[axis, axis] * np.asarray(positions, dtype=float) + template.affine[axis, 3]
    points = np.empty((3, len(positions), height, width))
    points[axis] = along[:, None, None]
    points[row_axis] = rows[None, :, None]
    points[col_axis] = cols[None, None, :]
    affines = []
    for position_mm in along:
        affine = np.eye(4)
        affine[:3, 0] = 0.0
        affine[row_axis, 0] = row_sign * spacing
        affine[:3, 1] = 0.0
        affine[col_axis, 1] = col_sign * spacing
        affine[:3, 2] = 0.0
        affine[axis, 2] = abs(template.affine[axis, axis])
        affine[:3, 3] = first
        affine[axis, 3] = position_mm
        affines.append(affine)
    return points, affines


def _linear_upsampling(size: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Coarse sample indices along an axis of ``size`` and the (size, n_coarse) linear interpolation matrix."""
    coarse = np.unique(np.r_[np.arange(0, size, stride), size - 1])
    matrix = np.stack([np.interp(np.arange(size), coarse, unit) for unit in np.eye(len(coarse))], axis=1)
    return coarse, matrix


def on_slice_grid(function: Callable[[np.ndarray], np.ndarray], points: np.ndarray, stride: int = 4) -> np.ndarray:
    """Evaluate a smooth function of slice points (3, n, H, W) on every ``stride``-th pixel and interpolate.

    Coordinate maps (affine + a smooth elastic field on a 24 mm grid) and bias fields vary far too slowly for
    this to matter (the affine part is exact), and it makes them about ``stride**2`` times cheaper.
    """
    rows, row_matrix = _linear_upsampling(points.shape[-2], stride)
    cols, col_matrix = _linear_upsampling(points.shape[-1], stride)
    coarse = function(points[..., rows, :][..., cols])
    lead, height, width = coarse.shape[:-2], row_matrix.shape[0], col_matrix.shape[0]
    # two plain matrix products (one BLAS call each) rather than broadcast batches of small ones
    along_cols = (coarse.reshape(-1, len(cols)) @ col_matrix.T).reshape(*lead, len(rows), width)
    along_rows = row_matrix @ np.moveaxis(along_cols, -2, 0).reshape(len(rows), -1)
    return np.ascontiguousarray(np.moveaxis(along_rows.reshape(height, *lead, width), 0, -2))


def subject_voxels(template: Template, transform: RigidElastic, points: np.ndarray) -> np.ndarray:
    """Template voxel coordinates (3, n, H, W) of subject-space slice points."""
    return on_slice_grid(lambda p: to_template_voxels(transform(p), template), points)


def select_slices(
    template: Template, transform: RigidElastic, slicing: str, count: int, min_brain_fraction: float
) -> list[int]:
    """``count`` slice positions spread evenly over the subject's slices whose brain area is at least
    ``min_brain_fraction`` of the largest one (measured on a 3 mm in-plane grid)."""
    positions = np.arange(template.shape[_SLICING[slicing][0]])
    points, _ = slice_points(template, slicing, positions, (_FULL_FOV_MM // 3, _FULL_FOV_MM // 3), 3.0)
    _, brain, _ = split_code(sample(template.code, subject_voxels(template, transform, points), order=0))
    area = brain.sum(axis=(1, 2))
    keep = np.flatnonzero(area >= max(min_brain_fraction * area.max(), 1))
    lowest, highest = int(keep[0]), int(keep[-1])
    if count > highest - lowest - 1:
        raise ValueError(
            f"slices_per_subject={count} is more than the {highest - lowest - 1} distinct {slicing} slices inside "
            f"the brain (min_brain_fraction={min_brain_fraction}); ask for fewer slices or lower min_brain_fraction."
        )
    # evenly spaced, the two ends (where the brain is smallest) left out
    return [int(p) for p in np.round(np.linspace(lowest, highest, count + 2)[1:-1])]


# ---------------------------------------------------------------------------------------------- MR


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

    def __init__(self, rng: np.random.Generator, template: Template, transform: RigidElastic, slicing: str,
                 positions: Sequence[int]):
        self.template = template
        self.transform = transform
        self.bias = random_bias_field(rng, template)
        # contrast between GM, WM and fat varies between scanners and protocols
        self.gamma = float(rng.uniform(0.85, 1.15))
        self.robust_max = 1.0
        # Measured on the whole head at 2 mm in the chosen slices, so that neither the scale nor the noise
        # level depends on the crop (spatial_size) or the pixel size.
        points, _ = slice_points(template, slicing, positions, (_FULL_FOV_MM // 2, _FULL_FOV_MM // 2), 2.0)
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


@dataclass
class Subject:
    """One synthetic subject's slices: where they lie, how the head was deformed, and its MR."""

    template: Template
    transform: RigidElastic
    positions: list[int]
    points: np.ndarray  # (3, n, H, W) subject-space mm
    affines: list[np.ndarray]
    mr: MRSlices


def synthesize_subject(
    seed: int,
    split: str,
    index: int,
    slicing: str,
    slices_per_subject: int,
    spatial_size: tuple[int, int],
    spacing: float,
    min_brain_fraction: float,
    snr: float | None,
) -> Subject:
    """Deform the head, choose the slices and synthesise the MR of subject ``index`` of ``split``."""
    template = load_template()
    anatomy = subject_rng(seed, split, index, Stream.ANATOMY)
    transform = random_subject_transform(anatomy, template)
    positions = select_slices(template, transform, slicing, slices_per_subject, min_brain_fraction)
    points, affines = slice_points(template, slicing, positions, spatial_size, spacing)
    noise = subject_rng(seed, split, index, Stream.MR_NOISE)
    mr = synthesize_mr(template, transform, anatomy, noise, slicing, positions, points, snr)
    return Subject(template, transform, positions, points, affines, mr)


# ---------------------------------------------------------------------------------------------- output folder


def write_nifti(path: Path, array: np.ndarray, affine: np.ndarray) -> None:
    image = nib.Nifti1Image(array, affine)
    image.header.set_xyzt_units("mm")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(image, path)


def prepare_output_dir(output_dir: str | Path, generator: str, parameters: dict[str, Any], overwrite: bool) -> bool:
    """Make ``output_dir`` ready for a dataset; returns True when it already holds this very dataset.

    A folder holding a complete dataset of the same generator and parameters is reused as is. A folder
    holding another monai_genmed dataset (other parameters, or an interrupted run) is cleared when
    ``overwrite`` is True, or when the run was interrupted with the same parameters; otherwise it is an
    error. A non-empty folder without a dataset of ours is never touched.
    """
    root = Path(output_dir)
    record_path = root / PARAMETERS_FILE
    if record_path.is_file():
        try:
            record = json.loads(record_path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{record_path} is not valid JSON ({error}); delete {root} and generate again.") from None
        same = record.get("generator") == generator and record.get("parameters") == parameters
        if same and record.get("complete") and _listed_files_exist(root):
            return True
        if not same and not overwrite:
            raise ValueError(
                f"{root} already holds a {record.get('generator')} dataset made with other parameters "
                f"({_differences(record.get('parameters', {}), parameters)}); pass another output_dir, or "
                "overwrite=True to replace it."
            )
        for name in (*SPLITS, DATALIST_FILE, PARAMETERS_FILE):
            target = root / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    elif root.is_dir() and any(entry.name != LOCK_FILE for entry in root.iterdir()):
        raise ValueError(
            f"output_dir {root} is not empty and holds no monai_genmed dataset ({PARAMETERS_FILE} is missing); "
            "pass an empty or new folder."
        )
    root.mkdir(parents=True, exist_ok=True)
    write_record(root, generator, parameters, complete=False)
    return False


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    keys = sorted(set(old) | set(new))
    changed = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
    return "; ".join(changed) or "another generator"


def _listed_files_exist(root: Path) -> bool:
    datalist_path = root / DATALIST_FILE
    if not datalist_path.is_file():
        return False
    datalist = json.loads(datalist_path.read_text())
    for split in SPLITS:
        for item in datalist.get(split, []):
            for value in item.values():
                if isinstance(value, str) and value.endswith(".nii.gz") and not (root / value).is_file():
                    return False
    return True


def write_record(root: Path, generator: str, parameters: dict[str, Any], complete: bool) -> None:
    record = {"generator": generator, "format_version": FORMAT_VERSION, "parameters": parameters, "complete": complete}
    (root / PARAMETERS_FILE).write_text(json.dumps(record, indent=2) + "\n")


def build_dataset(
    output_dir: str | Path,
    generator: str,
    parameters: dict[str, Any],
    overwrite: bool,
    write_subject: Callable[[Path, str, int], list[dict[str, Any]]],
    metadata: dict[str, Any],
) -> str:
    """Write every subject with ``write_subject(root, split, index) -> datalist items``, then the datalist.

    ``generation_parameters.json`` is marked complete only after the datalist is written, so an interrupted
    run is redone, never mistaken for a finished one.
    """
    root = Path(output_dir)
    if root.exists() and not root.is_dir():
        raise ValueError(f"output_dir {root} exists and is not a folder; pass a folder path.")
    root.mkdir(parents=True, exist_ok=True)
    path = root / DATALIST_FILE
    # Several processes (DDP ranks, test workers) may ask for the same dataset at once: one writes it, the
    # others wait for the lock and then find it complete.
    with FileLock(str(root / LOCK_FILE)) if FileLock is not None else contextlib.nullcontext():
        if prepare_output_dir(root, generator, parameters, overwrite):
            return str(path)
        items: dict[str, list[dict[str, Any]]] = {split: [] for split in SPLITS}
        work = [(split, index) for split in SPLITS for index in range(parameters["num_subjects"][split])]
        for split, index in tqdm(work, desc=f"writing {generator} subjects to {root}", unit="subject"):
            items[split].extend(write_subject(root, split, index))
        metadata = {**metadata, "numTraining": len(items["training"]), "numTest": len(items["test"])}
        path.write_text(json.dumps({**metadata, **items}, indent=2) + "\n")
        write_record(root, generator, parameters, complete=True)
    return str(path)


def slice_stem(split: str, index: int, slicing: str, position: int) -> str:
    """Relative path stem of one slice's files: ``<split>/<subject>/<subject>_<slicing>-<position>``."""
    subject = subject_name(split, index)
    return f"{split}/{subject}/{subject}_{slicing}-{position:03d}"


def write_slices(
    root: Path, split: str, index: int, slicing: str, subject: Subject, volumes: dict[str, tuple[str, np.ndarray]],
    extra: dict[str, Any],
) -> list[dict[str, Any]]:
    """Write every slice of ``volumes`` (``{key: (file suffix, (n, H, W) array)}``) and return the items."""
    items = []
    for n, (position, affine) in enumerate(zip(subject.positions, subject.affines)):
        stem = slice_stem(split, index, slicing, position)
        item: dict[str, Any] = {}
        for key, (suffix, stack) in volumes.items():
            item[key] = f"{stem}_{suffix}.nii.gz"
            write_nifti(root / item[key], stack[n], affine)
        items.append({**item, "subject": subject_name(split, index), "slice_index": position, **extra})
    return items


def common_metadata(
    snr: float | None, seed: int, spatial_size: tuple[int, int], spacing: float, slicing: str
) -> dict[str, Any]:
    """Datalist metadata every generator writes."""
    return {
        "source": SOURCE,
        "licence": "BSD-3-clause (MRIcron) and the MNI notice for Colin27; see "
        "monai_genmed/data/resources/colin27/LICENSE",
        "reference": "Holmes et al., J Comput Assist Tomogr 1998;22:324-333 (Colin27)",
        "tensorImageSize": "2D",
        "snr": snr,
        "noise": "none" if snr is None else "rician",
        "seed": int(seed),
        "spatial_size": list(spatial_size),
        "spacing": float(spacing),
        "slicing": slicing,
    }
