"""Dataset folders: argument checks, NIfTI writing, the datalist, the parameter record and the lock.

A generator hands :func:`build_dataset` a ``write_subject(root, split, index)`` callback; the folder is reused
when it already holds the same dataset, redone when a run was interrupted, and guarded by a lock file so that
concurrent callers (DDP ranks, test workers) write it once.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nibabel as nib
import numpy as np
from tqdm import tqdm

from monai_genmed.data.synthesis.anatomy import OOD_SPLIT, SPLITS, subject_name
from monai_genmed.data.synthesis.slicing import SLICING, slice_stem

if TYPE_CHECKING:
    from monai_genmed.data.synthesis.subject import Subject

try:
    from filelock import FileLock
except ImportError:  # filelock comes with torch; without it, concurrent generation is the caller's business
    FileLock = None

__all__ = [
    "DEFAULT_NUM_SUBJECTS",
    "PARAMETERS_FILE",
    "DATALIST_FILE",
    "LOCK_FILE",
    "SOURCE",
    "FORMAT_VERSION",
    "check_common_arguments",
    "write_nifti",
    "prepare_output_dir",
    "write_record",
    "build_dataset",
    "write_slices",
    "common_metadata",
]

DEFAULT_NUM_SUBJECTS = {"training": 8, "validation": 2, "test": 2}
PARAMETERS_FILE = "generation_parameters.json"
DATALIST_FILE = "datalist.json"
LOCK_FILE = ".monai_genmed.lock"
SOURCE = "Colin27 (mricron-data)"
FORMAT_VERSION = 1


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
    if slicing not in SLICING:
        raise ValueError(f"slicing must be one of {sorted(SLICING)}, got {slicing!r}.")
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


def write_nifti(path: Path, array: np.ndarray, affine: np.ndarray) -> None:
    image = nib.Nifti1Image(array, affine)
    """Write a 2D or 3D ``array`` as gzip NIfTI with ``affine`` as both qform and sform (mm), making folders."""
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
        for name in (*SPLITS, OOD_SPLIT, DATALIST_FILE, PARAMETERS_FILE):
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
    for items in datalist.values():  # the split lists; metadata values are no lists of dicts
        for item in items if isinstance(items, list) else []:
            for value in item.values() if isinstance(item, dict) else []:
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
        # the standard splits, then any extra one a generator asks for (the brain MR's out-of-distribution test)
        items: dict[str, list[dict[str, Any]]] = {split: [] for split in (*SPLITS, *parameters["num_subjects"])}
        work = [(split, index) for split in items for index in range(parameters["num_subjects"].get(split, 0))]
        for split, index in tqdm(work, desc=f"writing {generator} subjects to {root}", unit="subject"):
            items[split].extend(write_subject(root, split, index))
        metadata = {**metadata, "numTraining": len(items["training"]), "numTest": len(items["test"])}
        path.write_text(json.dumps({**metadata, **items}, indent=2) + "\n")
        write_record(root, generator, parameters, complete=True)
    return str(path)


def write_slices(
    root: Path,
    split: str,
    index: int,
    slicing: str,
    subject: Subject,
    volumes: dict[str, tuple[str, np.ndarray]],
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
