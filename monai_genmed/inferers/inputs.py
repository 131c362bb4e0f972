"""What a reconstruction's inference reads: one file, or every file of a folder, in one process.

A process start costs seconds (imports, the network, its weights); a folder of scans is reconstructed in one run
with ``--input_dir`` instead of one process per file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from monai_genmed.data.folder import IMAGE_SUFFIXES

__all__ = ["KSPACE_SUFFIXES", "check_reconstruction_inputs", "input_kind", "reconstruction_inputs"]

KSPACE_SUFFIXES = (".npz", ".npy")


def reconstruction_inputs(input_path: str | os.PathLike = "", input_dir: str | os.PathLike = "") -> list[str]:
    """The files to reconstruct: ``[input_path]``, or the k-space/image files of ``input_dir`` in name order.

    Raises:
        ValueError: both or neither given, a folder without readable inputs, or a folder mixing k-space and images.
    """
    input_path, input_dir = str(input_path or ""), str(input_dir or "")
    if input_path and input_dir:
        raise ValueError(f"give input_path ({input_path!r}) or input_dir ({input_dir!r}), not both.")
    if not input_dir:
        return [input_path]
    if not os.path.isdir(input_dir):
        raise ValueError(
            f"input_dir {input_dir!r} is not a folder; pass the folder that holds the files to reconstruct."
        )
    names = sorted(n for n in os.listdir(input_dir) if n.lower().endswith(KSPACE_SUFFIXES + IMAGE_SUFFIXES))
    if not names:
        raise ValueError(f"input_dir {input_dir!r} holds no k-space (.npz, .npy) or image (.nii.gz, .mha, .nrrd) "
                         "files; pass the folder of the scans, or one file with --input_path.")  # fmt: skip
    paths = [str(Path(input_dir) / n) for n in names]
    input_kind(paths, "input_dir")
    return paths


def input_kind(paths: Sequence[str], name: str = "input_path") -> str:
    """``"kspace"`` when every file is ``.npz``/``.npy``, ``"image"`` when none is; a mix is refused (one run uses
    one network input)."""
    kspace = [str(p).lower().endswith(KSPACE_SUFFIXES) for p in paths]
    if any(kspace) and not all(kspace):
        raise ValueError(f"{name} mixes k-space files (.npz/.npy) and images; reconstruct each kind in its own run "
                         "(k-space with the cascade, zero-filled images with DAGAN).")  # fmt: skip
    return "kspace" if kspace and all(kspace) else "image"


def check_reconstruction_inputs(paths: Sequence[str], extra_keys: Sequence[str], method_name: str,
                                spatial_size: Sequence[int], range_hint: str = "") -> None:  # fmt: skip
    """Check every input before the first is reconstructed: readable, 2D or 3D, a magnitude (few negative values),
    not constant, k-space where the network needs it, and slices of the size the model was trained on."""
    from monai_genmed.data import check_input_file, check_slice_size

    from .kspace_slice import check_kspace_input

    for path in paths:
        check_input_file(path, "input_path", "the zero-filled NIfTI image or the k-space .npz to reconstruct",
                         spatial_dims=[2, 3], squeeze_singleton=True, negative_fraction=0.05, range_hint=range_hint,
                         nonconstant=True)  # fmt: skip
        check_kspace_input(path, input_kind([path]), extra_keys, method_name)
        check_slice_size(path, spatial_size, "input_path")
