"""The anatomy of the synthetic subjects: the Colin27 template, random deformations and the seeded streams.

"Subject space" is a virtual scan of one synthetic subject, on the template's RAS grid (1 mm). A subject is the
Colin27 head pulled through a random affine + smooth elastic deformation (:class:`RigidElastic`), which maps
subject-space points (mm) to template mm; :func:`to_template_voxels` then gives the voxel coordinates at which
:func:`sample` reads the template.

Every random draw comes from ``numpy.random.default_rng([seed, split, index, stream])`` (:func:`subject_rng`):
a subject depends only on the seed, its split and its index (not on how many other subjects are generated), and
each :class:`Stream` is independent, so changing the SNR never changes the anatomy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage as ndi

from monai_genmed.data.colin27 import HeadTissue, colin27_brain_mask, colin27_tissue_labels, load_colin27_t1

__all__ = [
    "SPLITS",
    "OOD_SPLIT",
    "Stream",
    "subject_rng",
    "subject_name",
    "Template",
    "load_template",
    "split_code",
    "sample",
    "SmoothField",
    "rotation_matrix",
    "template_box_mm",
    "RigidElastic",
    "random_subject_transform",
    "random_misalignment",
    "to_template_voxels",
]

SPLITS = ("training", "validation", "test")
#: the out-of-distribution test split of :func:`monai_genmed.data.generate_brain_mr_dataset` (a contrast family
#: that no other split uses); its random streams are numbered after the three standard splits
OOD_SPLIT = "test_ood"
_SPLIT_NUMBERS = {**{split: number for number, split in enumerate(SPLITS)}, OOD_SPLIT: len(SPLITS)}


class Stream:
    """Independent random streams of one subject."""

    ANATOMY = 0
    MR_NOISE = 1
    CT_TEXTURE = 2
    MISALIGNMENT = 3
    CONTRAST = 4  # contrast family and its tissue levels or intensity map (opt-in options of the brain MR)
    ACQUISITION = 5  # SNR, resolution, zoom, bias strength, noise-free and zero-background draws


def subject_rng(seed: int, split: str, index: int, stream: int) -> np.random.Generator:
    """The generator of one random stream of one subject (never the global numpy RNG)."""
    return np.random.default_rng([seed, _SPLIT_NUMBERS[split], index, stream])


def subject_name(split: str, index: int) -> str:
    """The name of subject ``index`` of ``split`` in file names and datalists, e.g. ``training-003``."""
    return f"{split}-{index:03d}"


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
    """The Colin27 template (cached): T1 spline coefficients, tissue/brain codes, affine and brain centre."""
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
    """Bounding box (2, 3) of the template volume in RAS mm: lower and upper corner."""
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
    return RigidElastic(
        rotation_matrix(5.0 * misalignment * angles), 5.0 * misalignment * translation, template.centre_mm, elastic
    )


def to_template_voxels(points_mm: np.ndarray, template: Template) -> np.ndarray:
    """Template voxel coordinates (3, ...) of RAS points (3, ...) in mm."""
    inverse = np.linalg.inv(template.affine)
    flat = points_mm.reshape(3, -1)
    return (inverse[:3, :3] @ flat + inverse[:3, 3:4]).reshape(points_mm.shape)
