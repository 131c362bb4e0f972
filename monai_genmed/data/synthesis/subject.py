"""One synthetic subject: deformed head, chosen slices and its MR, composed from the other modules."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monai_genmed.data.synthesis.anatomy import (
    RigidElastic,
    Stream,
    Template,
    load_template,
    random_subject_transform,
    subject_rng,
)
from monai_genmed.data.synthesis.mr import MRSlices, synthesize_mr
from monai_genmed.data.synthesis.slicing import select_slices, slice_points

__all__ = ["Subject", "synthesize_subject"]


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
