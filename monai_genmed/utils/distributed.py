"""The process group of a ``torchrun`` launch, started where a config first needs it.

A bundle's multi-GPU overlay (``configs/multi_gpu_train.json``) layers on its unchanged ``train.json``: the
data sampler and the choice of rank-0-only handlers start the process group the first time either is built
(:func:`process_rank`), and ``+finalize`` ends it (:func:`end_process_group`), so the overlay never copies a
bundle's ``initialize`` list.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

__all__ = ["end_process_group", "is_main_process", "process_rank"]


def process_rank(backend: str | None = None) -> int:
    """This process's rank, starting the default process group from ``torchrun``'s environment if none runs.

    On a CUDA machine the process first selects its GPU (``LOCAL_RANK``), as NCCL needs.

    Args:
        backend: ``"nccl"``, ``"gloo"``, ...; ``None``: NCCL where CUDA is available, gloo elsewhere.
    """
    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend=backend or ("nccl" if torch.cuda.is_available() else "gloo"))
    return dist.get_rank()


def is_main_process() -> bool:
    """Whether this process writes a run's shared files: rank 0 of a running process group, or a process without one.

    Unlike :func:`process_rank` it starts no process group.
    """
    return not dist.is_initialized() or dist.get_rank() == 0


def end_process_group() -> None:
    """Destroy the default process group if one runs (a no-op otherwise)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
