"""Building blocks of the synthetic-dataset generators (:mod:`monai_genmed.data.brain_mr`, ``head_mr_ct``).

One concern a module, from the ground up:

* :mod:`.anatomy`: the Colin27 :class:`Template`, seeded random streams (:func:`subject_rng`, :class:`Stream`),
  random deformations (:class:`SmoothField`, :class:`RigidElastic`, :func:`random_subject_transform`,
  :func:`random_misalignment`) and :func:`sample`, which reads the template at deformed points;
* :mod:`.slicing`: slice geometry (:data:`SLICING`, :func:`slice_points`), :func:`select_slices` and
  :func:`on_slice_grid`, which evaluates smooth maps cheaply on a slice's pixels;
* :mod:`.mr`: MR contrast and noise (:class:`MRContrast`, :func:`random_bias_field`, :func:`rician`,
  :func:`synthesize_mr`);
* :mod:`.subject`: one :class:`Subject` composed from the above (:func:`synthesize_subject`);
* :mod:`.dataset`: dataset folders (:func:`build_dataset`, :func:`prepare_output_dir`, :func:`write_record`,
  :func:`write_slices`, :func:`write_nifti`, the lock file and the argument checks).

A new generator composes these: see :func:`monai_genmed.data.generate_head_mr_ct_dataset`, which adds a CT to
the brain MR's subjects with its own random streams.
"""

from __future__ import annotations

from .anatomy import (
    OOD_SPLIT,
    SPLITS,
    RigidElastic,
    SmoothField,
    Stream,
    Template,
    load_template,
    random_misalignment,
    random_subject_transform,
    rotation_matrix,
    sample,
    split_code,
    subject_name,
    subject_rng,
    template_box_mm,
    to_template_voxels,
)
from .dataset import (
    DATALIST_FILE,
    DEFAULT_NUM_SUBJECTS,
    FORMAT_VERSION,
    LOCK_FILE,
    PARAMETERS_FILE,
    SOURCE,
    build_dataset,
    check_common_arguments,
    common_metadata,
    prepare_output_dir,
    write_nifti,
    write_record,
    write_slices,
)
from .mr import MRContrast, MRSlices, normalise_snr, random_bias_field, rician, synthesize_mr
from .slicing import (
    FULL_FOV_MM,
    SLICING,
    Slicing,
    on_slice_grid,
    select_slices,
    slice_points,
    slice_stem,
    subject_voxels,
)
from .subject import Subject, synthesize_subject

__all__ = [
    "DATALIST_FILE",
    "DEFAULT_NUM_SUBJECTS",
    "FORMAT_VERSION",
    "FULL_FOV_MM",
    "LOCK_FILE",
    "PARAMETERS_FILE",
    "SLICING",
    "SOURCE",
    "SPLITS",
    "OOD_SPLIT",
    "MRContrast",
    "MRSlices",
    "RigidElastic",
    "Slicing",
    "SmoothField",
    "Stream",
    "Subject",
    "Template",
    "build_dataset",
    "check_common_arguments",
    "common_metadata",
    "load_template",
    "normalise_snr",
    "on_slice_grid",
    "prepare_output_dir",
    "random_bias_field",
    "random_misalignment",
    "random_subject_transform",
    "rician",
    "rotation_matrix",
    "sample",
    "select_slices",
    "slice_points",
    "slice_stem",
    "split_code",
    "subject_name",
    "subject_rng",
    "subject_voxels",
    "synthesize_mr",
    "synthesize_subject",
    "template_box_mm",
    "to_template_voxels",
    "write_nifti",
    "write_record",
    "write_slices",
]
