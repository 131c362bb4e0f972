"""Reading and writing measured k-space files (``.npz``/``.npy``) for inference on raw acquisitions."""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends

from monai_genmed.utils.enums import KspaceKeys
from monai_genmed.utils.io import atomic_path

__all__ = ["save_kspace", "LoadKspace", "LoadKspaced", "LoadKspaceD", "LoadKspaceDict"]


def save_kspace(
    path: str | os.PathLike, kspace: np.ndarray, mask: np.ndarray | None = None, affine: np.ndarray | None = None
) -> str:
    """Save measured k-space as ``.npz``: ``kspace`` (complex, ``H, W`` or ``H, W, D``, centred, zeros where not
    measured), optional ``mask`` (``H, W``) and ``affine`` (4 x 4, for the reconstructed NIfTI). Written atomically."""
    path = os.fspath(path)
    if not path.endswith(".npz"):
        raise ValueError(f"save_kspace writes .npz files, got {path!r}.")
    arrays: dict[str, Any] = {"kspace": np.asarray(kspace)}
    if mask is not None:
        arrays["mask"] = np.asarray(mask, dtype=np.uint8)
    if affine is not None:
        arrays["affine"] = np.asarray(affine, dtype=np.float64)
    with atomic_path(path, ".npz") as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    return path


class LoadKspace(Transform):
    """Load measured k-space from ``.npz`` (keys ``kspace``, optional ``mask`` and ``affine``) or ``.npy``.

    Returns ``(kspace, mask)`` as MetaTensors: k-space channel-first complex ``(1, H, W, D)`` (a 2D slice gets
    ``D = 1``, so 2D and 3D inputs share one pipeline), the mask ``(1, H, W)``. Without a stored mask, the
    sampled locations are where any slice has a non-zero sample. The affine (identity if absent) goes into the
    meta data, so the reconstruction is written with it.
    """

    backend = [TransformBackends.TORCH]

    def __call__(self, path: str | os.PathLike) -> tuple[MetaTensor, MetaTensor]:
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"k-space file {path!r} does not exist.")
        try:
            if path.endswith(".npz"):
                with np.load(path) as data:
                    if "kspace" not in data:
                        raise KeyError(f"{path!r} has no 'kspace' array (it holds {sorted(data)}); see save_kspace.")
                    kspace, mask, affine = data["kspace"], data.get("mask"), data.get("affine")
            elif path.endswith(".npy"):
                kspace, mask, affine = np.load(path), None, None
            else:
                raise ValueError(f"unsupported k-space file {path!r}: use .npz (see save_kspace) or .npy.")
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
            if "unsupported k-space file" in str(e):
                raise
            raise ValueError(
                f"could not read k-space file {path!r} ({type(e).__name__}: {e}); it may be truncated or not a k-space "
                "file: copy or export it again (save_kspace writes it)."
            ) from e
        if not np.iscomplexobj(kspace):
            raise ValueError(f"k-space in {path!r} is real ({kspace.dtype}); store the complex measurements.")
        if kspace.ndim not in (2, 3):
            raise ValueError(f"k-space in {path!r} must be (H, W) or (H, W, D), got shape {kspace.shape}.")
        if not np.all(np.isfinite(kspace)):
            raise ValueError(f"k-space in {path!r} holds NaN or inf samples.")
        if kspace.ndim == 2:
            kspace = kspace[..., None]
        if mask is None:
            mask = np.any(kspace != 0, axis=-1)
        mask = np.asarray(mask)
        if mask.shape != kspace.shape[:2]:
            raise ValueError(
                f"mask of shape {mask.shape} does not match k-space of shape {kspace.shape} in {path!r}: the mask must "
                f"say, for each of the {kspace.shape[0]}x{kspace.shape[1]} k-space locations, whether it was measured. "
                "Store the mask the k-space was acquired with (same H x W), or leave it out (save_kspace(path, "
                "kspace)) to take it from the non-zero samples."
            )
        if not np.isin(mask, (0, 1)).all() and mask.dtype != bool:
            raise ValueError(
                f"mask in {path!r} is not binary (values such as {np.unique(mask)[:5].tolist()}); "
                "store 1 where k-space was measured and 0 elsewhere (e.g. mask > 0)."
            )
        if not mask.any() or not np.any(kspace != 0):
            raise ValueError(
                f"{path!r} holds no measured sample "
                f"({'the mask is all zero' if not mask.any() else 'the k-space is all zero'}, "
                "a sampling fraction of 0): there is nothing to reconstruct. Check the export of the acquisition."
            )
        affine = torch.as_tensor(np.eye(4) if affine is None else affine, dtype=torch.float64)
        meta = {
            "filename_or_obj": path,
            "affine": affine,
            "original_affine": affine.clone(),
            # what image writers expect from a loader (as LoadImage + EnsureChannelFirst would leave it)
            "spatial_shape": np.asarray(kspace.shape),
            "original_channel_dim": "no_channel",
        }
        kspace_t = MetaTensor(torch.from_numpy(kspace.astype(np.complex64))[None], meta=dict(meta))
        mask_t = MetaTensor(torch.from_numpy((mask != 0).astype(np.float32))[None], meta=dict(meta))
        return kspace_t, mask_t


class LoadKspaced(MapTransform):
    """Dictionary version of :class:`LoadKspace`: reads the path under ``keys`` and writes k-space and mask."""

    backend = LoadKspace.backend

    def __init__(
        self,
        keys: KeysCollection,
        kspace_key: str = KspaceKeys.KSPACE_MASKED,
        mask_key: str = KspaceKeys.MASK,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        if len(self.keys) != 1:
            raise ValueError(f"LoadKspaced reads one file key, got {self.keys}.")
        self.kspace_key, self.mask_key = kspace_key, mask_key
        self.loader = LoadKspace()

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[self.kspace_key], d[self.mask_key] = self.loader(d[key])
        return d


LoadKspaceD = LoadKspaceDict = LoadKspaced
