"""Fixed latent vectors as a dataset, so MONAI evaluators can run a generator as they run any network.

A GAN's or VAE's decoder maps ``z`` to an image. Feeding it a :class:`LatentDataset` through a MONAI
``DataLoader`` and ``SupervisedEvaluator`` gives sample generation the whole MONAI toolbox: weight loading
handlers, post-processing with ``SaveImaged`` (each item carries a file name), metric handlers (e.g. a Fréchet
distance per epoch on the same latents, so the values of two epochs are comparable), image-grid handlers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from monai.data import MetaTensor
from torch.utils.data import Dataset

__all__ = ["LatentDataset", "sample_with_latent_meta"]


class LatentDataset(Dataset):
    """``num_samples`` latent vectors drawn once, from their own seeded generator, as ``{"latent": z, ...}`` items.

    The latents are ``N(0, I)`` (the prior of a VAE or GAN), or ``N(mean, covariance)`` when those are given
    (e.g. a Gaussian fitted to an autoencoder's codes). They are drawn at construction from
    ``torch.Generator().manual_seed(seed)`` (the global random state is untouched), so the same seed gives the
    same samples in every run. Each item also holds ``"<key>_meta_dict"`` with ``filename_or_obj`` =
    ``f"{prefix}_{i:04d}"``, the name MONAI's ``SaveImaged(meta_keys="latent_meta_dict")`` writes the decoded
    image under.

    Args:
        num_samples: how many latents.
        latent_dim: length of each latent, or its shape (e.g. ``(4, 8, 8)`` for a spatial latent).
        seed: seed of the draw.
        key: the item key of the latent.
        prefix: file-name prefix of the items.
        mean: mean of the Gaussian (default 0).
        covariance: ``(d, d)`` covariance of a flat latent (default I); its Cholesky factor colours the draws.

    Example::

        latents = LatentDataset(16, latent_dim=20, seed=0)
        samples = torch.stack([decoder(item["latent"][None])[0] for item in latents])
    """

    def __init__(
        self,
        num_samples: int,
        latent_dim: int | Sequence[int],
        seed: int = 0,
        key: str = "latent",
        prefix: str = "sample",
        mean: torch.Tensor | Sequence[float] | None = None,
        covariance: torch.Tensor | Sequence[Sequence[float]] | None = None,
    ) -> None:
        if int(num_samples) < 1:
            raise ValueError(f"num_samples must be a positive integer, got {num_samples}.")
        shape = (int(latent_dim),) if isinstance(latent_dim, int) else tuple(int(s) for s in latent_dim)
        self.key, self.prefix = key, prefix
        generator = torch.Generator().manual_seed(int(seed))
        latents = torch.randn((int(num_samples), *shape), generator=generator)
        if covariance is not None:
            covariance = torch.as_tensor(covariance, dtype=torch.float64)
            if len(shape) != 1 or covariance.shape != (shape[0], shape[0]):
                raise ValueError(
                    f"covariance must be ({shape[0]}, {shape[0]}) for flat latents of {shape}, got "
                    f"{tuple(covariance.shape)}."
                )
            # a tiny ridge: the codes' sample covariance may be singular (fewer codes than dimensions)
            ridge = 1e-6 * covariance.diagonal().mean().clamp_min(1e-12) * torch.eye(shape[0], dtype=torch.float64)
            latents = (latents.double() @ torch.linalg.cholesky(covariance + ridge).T).float()
        if mean is not None:
            latents = latents + torch.as_tensor(mean, dtype=torch.float32)
        self.latents = latents

    def __len__(self) -> int:
        return self.latents.shape[0]

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {
            self.key: self.latents[index],
            f"{self.key}_meta_dict": {"filename_or_obj": f"{self.prefix}_{index:04d}"},
        }


def sample_with_latent_meta(item: dict[str, Any], key: str = "pred", latent_key: str = "latent") -> dict[str, Any]:
    """``item`` with its decoded sample ``item[key]`` carrying the meta data of its latent (the file name).

    A post-processing step between a generator and MONAI's ``SaveImaged(keys="pred")``: the sample gets
    ``<latent_key>_meta_dict`` of its :class:`LatentDataset` item, and ``original_channel_dim="no_channel"``
    since a latent has no image channel axis to restore.

    Args:
        item: a decollated evaluator output (``{"pred": image, "latent_meta_dict": {...}, ...}``).
        key: the key of the sample.
        latent_key: the key of the latent, whose ``_meta_dict`` is given to the sample.
    """
    meta = dict(item[f"{latent_key}_meta_dict"], original_channel_dim="no_channel")
    return dict(item, **{key: MetaTensor(item[key], meta=meta)})
