"""The Fréchet distance of everything an evaluator generated in a run, as an Ignite metric.

A GAN's validator runs the generator on fixed latents (:class:`~monai_genmed.data.LatentDataset`) every epoch;
with :class:`FrechetDistanceHandler` as its key metric, MONAI's machinery (``BestModelSaver``, early stopping,
``MetricsCSVWriter``, TensorBoard) keeps the model with the lowest FD, i.e. "the best checkpoint by FD". The
distance is :class:`~monai_genmed.metrics.FrechetDistance` (Heusel et al. 2017, https://arxiv.org/abs/1706.08500,
on the features of the package's brain encoder by default): compare values only at the same number of samples.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from ignite.metrics import Metric

from monai_genmed.metrics.generative import FrechetDistance

__all__ = ["FrechetDistanceHandler"]


def _pred(output: Any) -> Any:
    return output["pred"] if isinstance(output, dict) else output


class FrechetDistanceHandler(Metric):
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
        self._images: list[torch.Tensor] = []
        super().__init__(output_transform=output_transform)

    def reset(self) -> None:
        self._images = []

    def update(self, output: Any) -> None:
        images = output.as_tensor() if hasattr(output, "as_tensor") else torch.as_tensor(output)
        if images.dim() < 4:
            raise ValueError(f"FrechetDistanceHandler takes (B, C, H, W) images, got shape {tuple(images.shape)}.")
        self._images.append(images.detach().float().cpu())

    def compute(self) -> float:
        if not self._images:
            raise RuntimeError("FrechetDistanceHandler saw no images in this run.")
        if self.frechet_distance.reference_features is None:
            if self.real_images is None:
                raise ValueError("FrechetDistanceHandler needs real_images, or a FrechetDistance with a reference set.")
            self.frechet_distance.set_reference(self.real_images)
        return float(self.frechet_distance(torch.cat(self._images)))
