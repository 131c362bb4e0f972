"""Datasets and the embedded default data.

The default data need no download: they are made on the fly from the Colin27 head that ships with the
package (``resources/colin27``). :func:`generate_brain_mr_dataset` writes 2D T1 slices of synthetic subjects
with Rician noise, :func:`generate_head_mr_ct_dataset` paired MR / CT slices, both with a MONAI datalist;
:func:`datalist_from_folder` builds the same kind of datalist from a folder of your own images.
"""

from __future__ import annotations

from .brain_mr import generate_brain_mr_dataset
from .checks import (
    ImageSummary,
    check_crop_size,
    check_data_loader,
    check_datalist,
    check_image_file,
    check_kspace_file,
    check_slice_size,
    load_checked_datalist,
)
from .colin27 import (
    COLIN27_DIR,
    HeadTissue,
    colin27_brain_mask,
    colin27_head_mask,
    colin27_tissue_labels,
    load_colin27_brain,
    load_colin27_t1,
)
from .folder import IMAGE_SUFFIXES, check_input_file, datalist_from_folder, first_subjects
from .head_mr_ct import HU_RANGE, colin27_hounsfield, generate_head_mr_ct_dataset
from .latent import LatentDataset, sample_with_latent_meta
from .masks import DAGAN_FRACTIONS, DAGAN_MASK_TYPES, default_mask_path, default_undersampling_mask
from .samplers import distributed_sampler
from .unpaired import UnpairedDataset, unpaired_datalist

__all__ = [
    "COLIN27_DIR",
    "HU_RANGE",
    "IMAGE_SUFFIXES",
    "HeadTissue",
    "colin27_brain_mask",
    "colin27_head_mask",
    "colin27_hounsfield",
    "colin27_tissue_labels",
    "check_input_file",
    "check_crop_size",
    "check_data_loader",
    "check_datalist",
    "check_image_file",
    "check_kspace_file",
    "check_slice_size",
    "ImageSummary",
    "LatentDataset",
    "datalist_from_folder",
    "DAGAN_FRACTIONS",
    "DAGAN_MASK_TYPES",
    "default_mask_path",
    "default_undersampling_mask",
    "distributed_sampler",
    "first_subjects",
    "generate_brain_mr_dataset",
    "generate_head_mr_ct_dataset",
    "load_checked_datalist",
    "load_colin27_brain",
    "load_colin27_t1",
    "sample_with_latent_meta",
    "UnpairedDataset",
    "unpaired_datalist",
]
