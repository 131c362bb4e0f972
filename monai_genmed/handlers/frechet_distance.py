"""The Fréchet distance of everything an evaluator generated in a run, as an Ignite metric.

A GAN's validator runs the generator on fixed latents (:class:`~monai_genmed.data.LatentDataset`) every epoch;
with :class:`FrechetDistanceHandler` as its key metric, MONAI's machinery (``BestModelSaver``, early stopping,
``MetricsCSVWriter``, TensorBoard) keeps the model with the lowest FD, i.e. "the best checkpoint by FD". The
distance is :class:`~monai_genmed.metrics.FrechetDistance` (Heusel et al. 2017, https://arxiv.org/abs/1706.08500,
on the features of the package's brain encoder by default): compare values only at the same number of samples.

FD alone rewards a generator that makes a few very good images; :class:`DiversityGapHandler` is the second
measure beside it (the samples' MS-SSIM diversity minus the real images'), so that a ``BestModelSaver`` can keep
the lowest FD among the epochs whose samples are nearly as diverse as the real ones (its ``limits``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from ignite.metrics import Metric

from monai_genmed.metrics.generative import FrechetDistance, ms_ssim_diversity

__all__ = ["FrechetDistanceHandler", "DiversityGapHandler"]


def _pred(output: Any) -> Any:
    return output["pred"] if isinstance(output, dict) else output


class _GeneratedImages(Metric):
    """Collects the images an engine produced in one run; subclasses measure them in ``compute``."""

    def reset(self) -> None:
        self._images: list[torch.Tensor] = []

    def update(self, output: Any) -> None:
        images = output.as_tensor() if hasattr(output, "as_tensor") else torch.as_tensor(output)
        if images.dim() < 4:
            raise ValueError(f"{type(self).__name__} takes (B, C, H, W) images, got shape {tuple(images.shape)}.")
        self._images.append(images.detach().float().cpu())

    def images(self) -> torch.Tensor:
        """Every image of the run, concatenated."""
        if not self._images:
            raise RuntimeError(f"{type(self).__name__} saw no images in this run.")
        return torch.cat(self._images)


class FrechetDistanceHandler(_GeneratedImages):
    """FD between the images an engine produced in one run (``output["pred"]``, all batches) and real images.

    Args:
        frechet_distance: the measure; default ``FrechetDistance()`` (the shipped brain encoder, 64x64 in [0, 1]).
        real_images: ``(N, C, H, W)`` reference images, set as the measure's reference at the first computation
            unless it has one already.
        output_transform: ``engine.state.output -> images (B, C, H, W)``; default ``output["pred"]``.

    Example (a GAN validator's key metric)::

        "key_val_metric": {"val_fd": {"_target_": "monai_genmed.handlers.FrechetDistanceHandler",
                                      "frechet_distance": "@frechet_distance", "real_images": "@train#images"}}
    """

    def __init__(
        self,
        frechet_distance: FrechetDistance | None = None,
        real_images: torch.Tensor | None = None,
        output_transform: Callable[[Any], Any] = _pred,
    ) -> None:
        self.frechet_distance = FrechetDistance() if frechet_distance is None else frechet_distance
        self.real_images = real_images
        super().__init__(output_transform=output_transform)

    def compute(self) -> float:
        images = self.images()
        if self.frechet_distance.reference_features is None:
            if self.real_images is None:
                raise ValueError("FrechetDistanceHandler needs real_images, or a FrechetDistance with a reference set.")
            self.frechet_distance.set_reference(self.real_images)
        return float(self.frechet_distance(images))


class DiversityGapHandler(_GeneratedImages):
    """MS-SSIM diversity of the images an engine produced in one run minus that of real images (lower is more diverse).

    0 means the samples are as diverse as the real images; a collapsed generator scores up to ``1 - real``. Both
    sides use :func:`~monai_genmed.metrics.ms_ssim_diversity` with the same pairs' seed, so the value is
    deterministic for given images; the global RNG is untouched (a training that adds this metric follows the
    same trajectory).

    Args:
        real_images: ``(N, C, H, W)`` real images in ``[0, 1]``; their diversity is computed once.
        num_pairs: random pairs on each side.
        seed: seed of the pairs' draw.
        output_transform: ``engine.state.output -> images (B, C, H, W)``; default ``output["pred"]``.

    Example (beside a GAN validator's FD)::

        "additional_metrics": {"val_diversity_gap": {"_target_": "monai_genmed.handlers.DiversityGapHandler",
                                                     "real_images": "@train#images"}}
    """

    def __init__(
        self,
        real_images: torch.Tensor,
        num_pairs: int = 256,
        seed: int = 0,
        output_transform: Callable[[Any], Any] = _pred,
    ) -> None:
        if real_images is None or torch.as_tensor(real_images).shape[0] < 2:
            raise ValueError("DiversityGapHandler needs at least 2 real_images (N, C, H, W) to compare with.")
        self.real_images, self.num_pairs, self.seed = real_images, int(num_pairs), int(seed)
        self.diversity_real: float | None = None
        super().__init__(output_transform=output_transform)

    def compute(self) -> float:
        images = self.images()
        if images.shape[0] < 2:
            raise ValueError("DiversityGapHandler needs at least 2 generated images in a run.")
        if self.diversity_real is None:
            self.diversity_real = ms_ssim_diversity(self.real_images, num_pairs=self.num_pairs, seed=self.seed)
        return ms_ssim_diversity(images, num_pairs=self.num_pairs, seed=self.seed) - self.diversity_real
