"""A MONAI datalist from a folder of your own images: NIfTI, MetaImage, NRRD or DICOM series; a datalist's first
subjects (:func:`first_subjects`).

MONAI's :class:`monai.transforms.LoadImaged` reads every format listed here (nibabel for NIfTI, ITK for the
others, a folder of DICOM files as one series), so the returned list goes straight into a
:class:`monai.data.Dataset` or into a bundle's ``datalist`` override.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .checks import check_datalist, check_image_file, check_kspace_file

__all__ = ["IMAGE_SUFFIXES", "check_input_file", "datalist_from_folder", "first_subjects"]

#: file name endings read as one image each (a folder holding ``.dcm`` files is one DICOM series)
IMAGE_SUFFIXES = (".nii", ".nii.gz", ".mha", ".mhd", ".nrrd", ".nhdr", ".dcm")


def _is_image_file(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(IMAGE_SUFFIXES)


def _is_dicom_series(path: Path) -> bool:
    return path.is_dir() and any(p.is_file() and p.suffix.lower() == ".dcm" for p in path.iterdir())


def _stem(path: Path) -> str:
    """The name that pairs images across key folders: the file name without its image suffix."""
    name = path.name
    for suffix in sorted(IMAGE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _images(folder: Path, pattern: str | None) -> dict[str, Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist; pass an existing folder of images.")
    entries = sorted(
        p
        for p in folder.iterdir()
        if (_is_image_file(p) or _is_dicom_series(p)) and (pattern is None or fnmatch.fnmatch(p.name, pattern))
    )
    if not entries:
        what = f"matching {pattern!r}" if pattern else f"ending in {', '.join(IMAGE_SUFFIXES)} (or DICOM folders)"
        raise ValueError(f"image folder {folder} holds no image {what}; add images or change pattern.")
    images: dict[str, Path] = {}
    for path in entries:
        stem = _stem(path)
        if stem in images:
            raise ValueError(f"{images[stem]} and {path} in {folder} are both named {stem!r}; rename one.")
        images[stem] = path
    return images


def datalist_from_folder(
    folder: str | Path,
    keys: Sequence[str] = ("image",),
    pattern: str | None = None,
    check: bool = True,
) -> list[dict[str, str]]:
    """Build a MONAI datalist (a list of ``{key: path}`` dicts) from a folder of images.

    With one key, every image in ``folder`` is one item. With several keys (e.g. ``("mr", "ct")``) the folder
    must hold one sub-folder per key, and images are paired by name across them: ``mr/case01.nii.gz`` with
    ``ct/case01.mha``. An image is a file ending in one of :data:`IMAGE_SUFFIXES` or a folder of ``.dcm``
    files (one DICOM series).

    Args:
        folder: the folder to scan (not recursive beyond the key sub-folders).
        keys: the datalist keys; one key scans ``folder`` itself, several scan ``folder/<key>``.
        pattern: optional :mod:`fnmatch` pattern on file names, e.g. ``"*_t1.nii.gz"``.
        check: read every image completely (see :func:`~monai_genmed.data.checks.check_datalist`) and raise
            ``ValueError`` naming each file that is unreadable, truncated, empty or holds NaN/inf values.

    Returns:
        Items sorted by name, with absolute paths.

    Raises:
        FileNotFoundError: ``folder`` or a key sub-folder is missing.
        ValueError: no images, images without a partner in another key folder, or a bad image.
    """
    if isinstance(keys, str) or not keys or not all(isinstance(k, str) and k for k in keys):
        raise ValueError(f"keys must be a non-empty sequence of key names such as ('image',), got {keys!r}.")
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"folder {root} does not exist; pass the folder that holds your images.")
    if len(keys) == 1:
        per_key = {keys[0]: _images(root, pattern)}
    else:
        per_key = {key: _images(root / key, pattern) for key in keys}
        names = set.union(*(set(images) for images in per_key.values()))
        for key, images in per_key.items():
            missing = sorted(names - set(images))
            if missing:
                raise ValueError(
                    f"{root / key} has no image named {', '.join(missing[:5])}"
                    f"{' ...' if len(missing) > 5 else ''} that the other key folders have; every key folder "
                    "must hold the same image names."
                )
    names = sorted(next(iter(per_key.values())))
    datalist = [{key: str(per_key[key][name]) for key in keys} for name in names]
    if check:
        check_datalist(datalist, keys, name=f"image folder {root}")
    return datalist


def first_subjects(datalist: Sequence[dict[str, Any]], count: int, key: str = "subject") -> list[dict[str, Any]]:
    """The items of the first ``count`` subjects of ``datalist``, subject ids sorted, in the datalist's order.

    Every slice of a subject is kept or dropped together, e.g. a reference set of whole subjects for a
    Fréchet distance (``fd_reference_subjects`` of ``gan_mri``).

    Args:
        datalist: items that each name their subject under ``key``.
        count: how many subjects; more than the datalist holds keeps all.
        key: the item key of the subject id.
    """
    kept = set(sorted({item[key] for item in datalist})[:count])
    return [item for item in datalist if item[key] in kept]


def check_input_file(
    path: str | Path, name: str = "input_path", what: str = "the input image", **image_checks: Any
) -> str:
    """Check a user-supplied input before a long run starts: it must be given, exist and be readable in full.

    Images (NIfTI; DICOM folders, MHA, NRRD via ITK) are read completely, so truncated files and NaN/inf voxels
    are found here; ``.npz``/``.npy`` k-space files are loaded and checked (complex, 2D or 3D, finite). Returns
    the path; raises ``ValueError``/``FileNotFoundError`` naming ``name`` and what to pass.

    Args:
        path: the file (or DICOM folder) the user passed.
        name: its config key.
        what: what to pass, in words, for the messages.
        image_checks: what the model needs of an image, passed to :func:`~monai_genmed.data.checks.check_image_file`
            (``spatial_dims``, ``value_range``, ``range_hint``, ``nonconstant``, ``modality``, ``squeeze_singleton``).
    """
    if not str(path):
        raise ValueError(f"{name} is empty: pass {what}, e.g. --{name} /path/to/file")
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{name}={str(path)!r} does not exist; pass {what}.")
    if p.name.lower().endswith((".npz", ".npy")):
        check_kspace_file(p, name=f"{name}={str(path)!r}")
        return str(p)
    if not (_is_image_file(p) or _is_dicom_series(p)):
        raise ValueError(
            f"{name}={str(path)!r} is not an image this package reads; pass {what} as a file ending in "
            f"{', '.join(IMAGE_SUFFIXES)}, a folder of .dcm files, or k-space as .npz/.npy."
        )
    check_image_file(p, name=f"{name}", **image_checks)
    return str(p)
