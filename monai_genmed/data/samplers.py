"""Samplers that configs build."""

from __future__ import annotations

from typing import Any

from monai.data import DistributedSampler
from torch.utils.data import Dataset

from monai_genmed.utils.distributed import process_rank

__all__ = ["distributed_sampler"]


def distributed_sampler(dataset: Dataset, backend: str | None = None, **kwargs: Any) -> DistributedSampler:
    """MONAI's ``DistributedSampler`` over ``dataset``, starting the process group first if none runs.

    The sampler is the first part of a training config that needs the group, so a multi-process overlay needs
    no ``initialize`` step of its own (see :mod:`monai_genmed.utils.distributed`).

    Args:
        dataset: the training dataset, split between the processes.
        backend: passed to :func:`~monai_genmed.utils.process_rank`.
        kwargs: ``DistributedSampler``'s (``shuffle``, ``even_divisible``, ...).
    """
    process_rank(backend)
    return DistributedSampler(dataset, **kwargs)
