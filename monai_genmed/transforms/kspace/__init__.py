"""k-space transforms for any MONAI pipeline: centred FFTs, undersampling masks, zero filling, data consistency."""

from __future__ import annotations

from .array import DataConsistency, ImageToKspace, KspaceToImage, RandUndersample, Undersample, ZeroFilledReconstruction
from .dictionary import (
    DataConsistencyD,
    DataConsistencyd,
    DataConsistencyDict,
    ImageToKspaceD,
    ImageToKspaced,
    ImageToKspaceDict,
    KspaceToImageD,
    KspaceToImaged,
    KspaceToImageDict,
    RandUndersampled,
    RandUndersampledD,
    RandUndersampledDict,
    Undersampled,
    UndersampledD,
    UndersampledDict,
    ZeroFilledReconstructionD,
    ZeroFilledReconstructiond,
    ZeroFilledReconstructionDict,
)
from .functional import data_consistency, image_to_kspace, kspace_to_image, zero_filled
from .io import LoadKspace, LoadKspaceD, LoadKspaced, LoadKspaceDict, save_kspace
from .masks import (
    MASK_TYPES,
    EquispacedMask1D,
    GaussianMask1D,
    GaussianMask2D,
    LineMaskFunc,
    PointMaskFunc,
    PoissonDiscMask2D,
    RandomMask1D,
    UndersamplingMaskFunc,
    get_mask_func,
    load_undersampling_mask,
    sampled_fraction,
    save_undersampling_mask,
)

__all__ = [
    "ImageToKspace", "ImageToKspaced", "ImageToKspaceD", "ImageToKspaceDict",
    "KspaceToImage", "KspaceToImaged", "KspaceToImageD", "KspaceToImageDict",
    "ZeroFilledReconstruction", "ZeroFilledReconstructiond", "ZeroFilledReconstructionD",
    "ZeroFilledReconstructionDict",
    "Undersample", "Undersampled", "UndersampledD", "UndersampledDict",
    "RandUndersample", "RandUndersampled", "RandUndersampledD", "RandUndersampledDict",
    "DataConsistency", "DataConsistencyd", "DataConsistencyD", "DataConsistencyDict",
    "LoadKspace", "LoadKspaced", "LoadKspaceD", "LoadKspaceDict", "save_kspace",
    "image_to_kspace", "kspace_to_image", "zero_filled", "data_consistency",
    "UndersamplingMaskFunc", "LineMaskFunc", "PointMaskFunc",
    "GaussianMask1D", "GaussianMask2D", "PoissonDiscMask2D", "RandomMask1D", "EquispacedMask1D",
    "MASK_TYPES", "get_mask_func", "load_undersampling_mask", "save_undersampling_mask", "sampled_fraction",
]  # fmt: skip
