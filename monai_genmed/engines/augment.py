"""Differentiable augmentation of a discriminator's inputs, for GANs trained on little data.

Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training", NeurIPS 2020
(https://arxiv.org/abs/2006.10738): the same random, differentiable transformations are applied to real and
generated images every time the discriminator sees them, in its own step and in the generator's step, so D cannot
learn the few real images by heart and G's gradient passes through the augmentation. With augmentation on real
images only, G learns to make augmented images (the paper's section 3, "augment reals only" leaks); applied to both
but only in D's step, the two players optimise different games (their table 2). The paper's policy for
few-shot data is ``color, translation, cutout``; its translation shifts by up to 1/8 of the image with zero
padding (``translation_ratio = 0.125``) and its cutout zeroes a square of half the image's side at a random place
(``cutout_ratio = 0.5``). For single-channel magnitude images the "color" part is brightness and contrast only.

ADA (Karras et al. 2020, https://arxiv.org/abs/2006.06676) applies each augmentation with a probability ``p`` per
sample; ``probability`` here is that ``p`` (fixed; 1 is DiffAugment).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["DiffAugment"]

_POLICIES = ("translation", "cutout", "brightness", "contrast")


class DiffAugment:
    """Random differentiable batch augmentation for the images a discriminator sees (real and fake alike).

    Each sample of a batch gets its own draws, from the augmenter's own seeded ``torch.Generator`` (never torch's
    global one); :meth:`state_dict` holds its state, so an objective that checkpoints it resumes exactly.

    Args:
        policy: which augmentations, in order: any of ``"translation"`` (integer shift of up to
            ``translation_ratio`` of each side, zero padded), ``"cutout"`` (a zeroed square of ``cutout_ratio`` of
            each side, centre anywhere in the image), ``"brightness"`` (add U(-0.5, 0.5) x ``intensity_scale``),
            ``"contrast"`` (scale the deviation from the image mean by U(0.5, 1.5)).
        probability: per sample and augmentation, the chance that it is applied (ADA's ``p``), in [0, 1].
        translation_ratio: largest shift as a fraction of the side, in [0, 0.5].
        cutout_ratio: side of the cut-out square as a fraction of the image side, in [0, 1].
        intensity_scale: range of the images (brightness shifts are a fraction of it).
        seed: seed of the augmenter's generator.

    Works on ``(B, C, H, W)`` and ``(B, C, D, H, W)`` batches (translation and cutout on every spatial axis).
    """

    def __init__(
        self,
        policy: Sequence[str] = ("translation", "cutout"),
        probability: float = 1.0,
        translation_ratio: float = 0.125,
        cutout_ratio: float = 0.5,
        intensity_scale: float = 1.0,
        seed: int = 0,
    ) -> None:
        if isinstance(policy, str):
            policy = [p.strip() for p in policy.split(",") if p.strip()]
        unknown = [p for p in policy if p not in _POLICIES]
        if unknown:
            raise ValueError(f"augmentation policy {unknown} is unknown; choose from {list(_POLICIES)}.")
        for key, value, low, high in (
            ("augment_probability", probability, 0.0, 1.0),
            ("translation_ratio", translation_ratio, 0.0, 0.5),
            ("cutout_ratio", cutout_ratio, 0.0, 1.0),
        ):
            if not low <= float(value) <= high:
                raise ValueError(f"{key} must be in [{low}, {high}], got {value}.")
        self.policy = tuple(policy)
        self.probability = float(probability)
        self.translation_ratio, self.cutout_ratio = float(translation_ratio), float(cutout_ratio)
        self.intensity_scale = float(intensity_scale)
        self.generator = torch.Generator().manual_seed(int(seed))

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """The augmented batch (differentiable with respect to ``images``)."""
        if images.ndim < 3:
            raise ValueError(f"DiffAugment needs (B, C, *spatial) batches, got shape {tuple(images.shape)}.")
        for name in self.policy:
            images = getattr(self, f"_{name}")(images)
        return images

    # draws are made on the CPU, so the stream does not depend on the device
    def _rand(self, *shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=self.generator)

    def _applied(self, images: torch.Tensor) -> torch.Tensor:
        """Per-sample 0/1 of whether this augmentation applies, shaped to broadcast over the sample."""
        applied = (self._rand(images.shape[0]) < self.probability).to(images.dtype)
        return applied.view(-1, *([1] * (images.ndim - 1))).to(images.device)

    def _select(self, images: torch.Tensor, augmented: torch.Tensor) -> torch.Tensor:
        if self.probability >= 1.0:
            return augmented
        applied = self._applied(images)
        return applied * augmented + (1 - applied) * images

    def _translation(self, images: torch.Tensor) -> torch.Tensor:
        spatial = images.shape[2:]
        shifts = [int(size * self.translation_ratio + 0.5) for size in spatial]
        if not any(shifts):
            return images
        batch = images.shape[0]
        padded = F.pad(images, [s for s in reversed(shifts) for _ in range(2)])
        # per sample and axis, an integer shift in [-s, s]; output index i reads padded index i + s + shift
        index = []
        for axis, (size, s) in enumerate(zip(spatial, shifts)):
            shift = (self._rand(batch) * (2 * s + 1)).floor().long() - s
            view = [batch] + [1] * len(spatial)
            view[axis + 1] = size
            position = torch.arange(size).view(1, *view[1:]) + (shift + s).view(batch, *([1] * len(spatial)))
            index.append(position.expand(batch, *spatial).to(images.device))
        b = torch.arange(batch, device=images.device).view(batch, *([1] * len(spatial))).expand(batch, *spatial)
        moved = padded.movedim(1, -1)[(b, *index)].movedim(-1, 1)
        return self._select(images, moved)

    def _cutout(self, images: torch.Tensor) -> torch.Tensor:
        spatial = images.shape[2:]
        sizes = [int(size * self.cutout_ratio + 0.5) for size in spatial]
        if not all(sizes):
            return images
        batch = images.shape[0]
        keep = torch.ones(batch, *spatial)
        inside = torch.ones(batch, *spatial, dtype=torch.bool)
        for axis, (size, cut) in enumerate(zip(spatial, sizes)):
            centre = (self._rand(batch) * (size + 1 - cut % 2)).floor().long()
            view = [1] * (len(spatial) + 1)
            view[axis + 1] = size
            position = torch.arange(size).view(view)
            start = (centre - cut // 2).view(batch, *([1] * len(spatial)))
            inside = inside & (position >= start) & (position < start + cut)
        keep[inside] = 0.0
        keep = keep.unsqueeze(1).to(device=images.device, dtype=images.dtype)
        return self._select(images, images * keep)

    def _brightness(self, images: torch.Tensor) -> torch.Tensor:
        shift = (self._rand(images.shape[0]) - 0.5) * self.intensity_scale
        shift = shift.view(-1, *([1] * (images.ndim - 1))).to(device=images.device, dtype=images.dtype)
        return self._select(images, images + shift)

    def _contrast(self, images: torch.Tensor) -> torch.Tensor:
        factor = (self._rand(images.shape[0]) + 0.5).view(-1, *([1] * (images.ndim - 1)))
        factor = factor.to(device=images.device, dtype=images.dtype)
        mean = images.mean(dim=tuple(range(1, images.ndim)), keepdim=True)
        return self._select(images, (images - mean) * factor + mean)

    def state_dict(self) -> dict[str, Any]:
        """The state of the augmenter's generator."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.generator.set_state(torch.as_tensor(state_dict["generator"]).cpu())

    def __repr__(self) -> str:
        return f"DiffAugment(policy={list(self.policy)}, probability={self.probability})"
