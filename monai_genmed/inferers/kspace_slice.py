"""Slice-by-slice inference for 2D networks that take the measured k-space too (data consistency inside)."""

from __future__ import annotations

from typing import Any

import torch
from monai.data import MetaTensor
from monai.inferers import Inferer

__all__ = ["KspaceSliceInferer", "check_kspace_input"]


class KspaceSliceInferer(Inferer):
    """Run a 2D k-space network (e.g. :class:`monai_genmed.networks.nets.DataConsistentCascade`) on every slice of
    a volume, with each slice's measured k-space and the mask.

    MONAI's ``SliceInferer`` passes the same keyword arguments to every slice; a network with data consistency
    inside needs the k-space *of that slice*. Inputs are the zero-filled volume ``(B, C, H, W, D)``, the k-space
    ``kspace_masked`` ``(B, 1, H, W, D)`` (complex, as :class:`~monai_genmed.transforms.kspace.LoadKspaced`
    gives it) and ``mask`` ``(B, 1, H, W)`` (one mask for all slices) or ``(B, 1, H, W, D)``. 2D inputs
    ``(B, C, H, W)`` are passed through in one call.

    Args:
        sw_batch_size: slices per network call.

    Example::

        inferer = KspaceSliceInferer(sw_batch_size=8)
        recon = inferer(zero_filled, cascade, kspace_masked=kspace, mask=mask)  # (B, 1, H, W, D)
    """

    def __init__(self, sw_batch_size: int = 8) -> None:
        if sw_batch_size < 1:
            raise ValueError(f"sw_batch_size must be >= 1, got {sw_batch_size}.")
        self.sw_batch_size = sw_batch_size

    def __call__(self, inputs: torch.Tensor, network: Any, *args: Any, kspace_masked: torch.Tensor | None = None,
                 mask: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:  # fmt: skip
        if kspace_masked is None or mask is None:
            raise ValueError(
                "this network takes the measured k-space and its mask beside the zero-filled image; give a k-space "
                "file (.npz, see monai_genmed.transforms.kspace.save_kspace) as input_path, not an image."
            )
        meta_source = inputs if isinstance(inputs, MetaTensor) else None
        # slicing a batch of MetaTensors decollates their meta data per item: work on plain tensors, restore at the end
        inputs, kspace_masked, mask = (
            t.as_tensor() if isinstance(t, MetaTensor) else t for t in (inputs, kspace_masked, mask)
        )
        if inputs.ndim == 4:
            return self._with_meta(
                network(inputs, *args, kspace_masked=kspace_masked, mask=mask, **kwargs), meta_source
            )
        if inputs.ndim != 5:
            raise ValueError(
                "expected a zero-filled volume (B, C, H, W, D) or slices (B, C, H, W), "
                f"got shape {tuple(inputs.shape)}."
            )
        b, c, h, w, d = inputs.shape
        if tuple(kspace_masked.shape[-3:]) != (h, w, d) or kspace_masked.shape[0] != b:
            raise ValueError(
                f"kspace_masked of shape {tuple(kspace_masked.shape)} does not match the volume {tuple(inputs.shape)}."
            )
        per_slice_mask = mask.ndim == 5
        if tuple(mask.shape[-3 if per_slice_mask else -2 :]) != ((h, w, d) if per_slice_mask else (h, w)):
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not match the volume {tuple(inputs.shape)}.")

        def slices(t: torch.Tensor) -> torch.Tensor:  # (B, C, H, W, D) -> (B * D, C, H, W), slice-major per item
            return t.permute(0, 4, 1, 2, 3).reshape(b * d, t.shape[1], h, w)

        x, k = slices(inputs), slices(kspace_masked)
        m = (
            slices(mask)
            if per_slice_mask
            else mask[:, None].expand(b, d, *mask.shape[1:]).reshape(b * d, mask.shape[1], h, w)
        )
        outs = [network(x[i : i + self.sw_batch_size], *args, kspace_masked=k[i : i + self.sw_batch_size],
                        mask=m[i : i + self.sw_batch_size], **kwargs)
                for i in range(0, b * d, self.sw_batch_size)]  # fmt: skip
        out = torch.cat(outs)
        return self._with_meta(out.reshape(b, d, out.shape[1], h, w).permute(0, 2, 3, 4, 1), meta_source)

    @staticmethod
    def _with_meta(out: torch.Tensor, source: MetaTensor | None) -> torch.Tensor:
        """The output with the input's meta data (affine, file name), as MONAI's inferers return it."""
        if source is None:
            return out
        result = MetaTensor(out)
        result.copy_meta_from(source)
        return result


def check_kspace_input(input_path: str, input_type: str, extra_keys, method_name: str = "this network") -> None:
    """Raise a clear error when a network that takes k-space (``extra_keys``) is given an image to reconstruct."""
    if extra_keys and input_type != "kspace":
        raise ValueError(
            f"input_path {input_path!r} is an image, but {method_name} takes the measured k-space (data consistency "
            "inside the network): give the k-space as .npz (monai_genmed.transforms.kspace.save_kspace) or .npy, "
            "or use a network that takes the zero-filled image (the default DAGAN config)."
        )
