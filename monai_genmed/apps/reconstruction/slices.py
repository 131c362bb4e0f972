"""The comparison's data: 2D slices of a datalist's splits, their head masks and noise levels, and their
undersampling."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from monai.data import load_decathlon_datalist
from monai.transforms import LoadImage

from monai_genmed.transforms.kspace.functional import image_to_kspace, zero_filled

__all__ = ["ComparisonSlices", "data_text", "spread", "undersample"]


def spread(items: list, count: int | None) -> list:
    """``count`` items spread evenly over ``items`` (all when ``count`` is None or not smaller)."""
    if count is None or count >= len(items):
        return items
    return [items[i] for i in np.linspace(0, len(items) - 1, count).round().astype(int)]


def undersample(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(measured k-space, zero-filled image)`` of ``image`` under ``mask``, as the training pipeline's Undersample."""
    kspace = np.asarray(image_to_kspace(image[None]))[0] * mask
    return kspace.astype(np.complex64), np.asarray(zero_filled(kspace[None]))[0].astype(np.float32)


def data_text(datalist: str, split: str) -> str:
    """The noise and contrasts of ``datalist`` in words (plain T1 data or the varied training data)."""
    with open(datalist) as f:
        meta = json.load(f)
    snr = meta.get("snr", "unknown")
    if "contrasts" not in meta:
        return f"Rician noise at white-matter SNR {snr}"
    families = meta.get("ood_contrast") if split == "test_ood" else ", ".join(meta["contrasts"])
    return (f"contrast families {families} ({'held out of training' if split == 'test_ood' else 'as in training'}), "
            f"Rician noise at brain SNR drawn per subject from {snr}, some slices noise-free")  # fmt: skip


class ComparisonSlices:
    """Loads slices of a datalist's splits as ``(image, head region or None, file name)`` and keeps each slice's
    ``noise_sigma``.

    Args:
        datalist: MONAI datalist JSON of ``{"image", "head_mask", "noise_sigma"}`` items.
        head_mask_key: datalist key of the head mask.
        zero_background_split: a split whose images are set to exactly 0 outside the head mask (None: none).
    """

    def __init__(
        self, datalist: str, head_mask_key: str = "head_mask", zero_background_split: str | None = None
    ) -> None:
        self.datalist, self.head_mask_key, self.zero_background_split = datalist, head_mask_key, zero_background_split
        self.noise_sigma: dict[str, Any] = {}  # file name -> the datalist's noise_sigma

    def load(self, split: str, count: int | None) -> list[tuple[np.ndarray, np.ndarray | None, str]]:
        """``count`` slices spread over ``split`` (different subjects and levels; None: all)."""
        items = load_decathlon_datalist(self.datalist, data_list_key=split)
        if not items:
            raise ValueError(f"the {split!r} list of {self.datalist!r} is empty.")
        items = spread(items, count)
        loader = LoadImage(image_only=True)
        out = []
        for item in items:
            image = np.asarray(loader(item["image"]), dtype=np.float32)
            if image.ndim != 2:
                raise ValueError(
                    f"{item['image']} is not a 2D slice (shape {image.shape}); the comparison is slice-wise."
                )
            head = item.get(self.head_mask_key)
            region = None if head is None else np.asarray(loader(head)) > 0
            if split == self.zero_background_split:
                if region is None:
                    raise ValueError(
                        f"zero_background_test needs a head mask for every test slice, but {item['image']} has no "
                        f"{self.head_mask_key!r}; add head masks to the datalist or set zero_background_test=False."
                    )
                image = np.where(region, image, 0).astype(np.float32)
            out.append((image, region, os.path.basename(str(item["image"]))))
            self.noise_sigma[out[-1][2]] = item.get("noise_sigma")
        return out

    def noise_level(self, name: str) -> float | None:
        """The datalist's ``noise_sigma`` of a loaded slice (None where it has none or one that is not a
        number >= 0)."""
        try:
            value = float(self.noise_sigma.get(name))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        return value if np.isfinite(value) and value >= 0 else None

    def check_noise_levels(self, needs_noise: Sequence[str]) -> None:
        """Every loaded slice has a usable noise level when a method in ``needs_noise`` is told it (``tv_noise``...)."""
        bad = [name for name in self.noise_sigma if self.noise_level(name) is None] if needs_noise else []
        if bad:
            raise ValueError(
                f"classical methods {list(needs_noise)} need each slice's noise level, but {len(bad)} slices of "
                f"{self.datalist!r} (e.g. {bad[0]}: {self.noise_sigma[bad[0]]!r}) have no 'noise_sigma' entry "
                "or one that is not a number >= 0; set it in the datalist (the noise standard deviation on the "
                "image's scale, e.g. from a noise pre-scan; 0 for noise-free data) or drop those methods."
            )
