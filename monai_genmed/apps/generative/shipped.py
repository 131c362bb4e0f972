"""Shipped weights of a generative model: the FD of its fixed-latent samples, recorded and checked.

A bundle that ships a generator (or a decoder) records, for its weights file, the sha256, the size, the command
that made it and the Fréchet distance of the samples of fixed latents to reference images
(:func:`record_shipped_sampler`); :func:`verify_shipped_sampler` recomputes both on the user's machine, so a damaged
file, a changed network definition, a changed data generator or a changed feature encoder is caught before anyone
samples from it. The reconstruction bundles do the same with PSNR (:mod:`monai_genmed.apps.reconstruction.shipped`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import torch

from monai_genmed.apps.reconstruction.shipped import sha256_of, write_manifest_entry
from monai_genmed.data import LatentDataset
from monai_genmed.handlers.model_loader import load_model_weights

__all__ = ["score_sampler", "record_shipped_sampler", "verify_shipped_sampler"]


def _decode(network: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    decode = getattr(network, "decode_forward", None)
    return decode(z) if callable(decode) else network(z)


def score_sampler(
    network: torch.nn.Module,
    checkpoint: str | os.PathLike,
    reference_images: torch.Tensor,
    frechet_distance: Callable[[torch.Tensor, torch.Tensor], Any],
    latent_dim: int,
    num_samples: int = 256,
    seed: int = 1234,
    fingerprint: Mapping[str, Any] | None = None,
    batch_size: int = 64,
) -> float:
    """FD of ``num_samples`` samples of the latents of ``seed`` (:class:`~monai_genmed.data.LatentDataset`, the
    latents the bundles validate with) to ``reference_images``, with the weights of ``checkpoint`` loaded into
    ``network`` (in eval mode, float32, on the CPU, so the number does not depend on the machine's fast path)."""
    load_model_weights(network, checkpoint, fingerprint=fingerprint, map_location="cpu", name="checkpoint")
    network = network.cpu().float().eval()
    latents = LatentDataset(num_samples, latent_dim=latent_dim, seed=seed).latents
    with torch.no_grad():
        samples = torch.cat([_decode(network, z) for z in latents.split(batch_size)])
    return float(frechet_distance(samples, reference_images.cpu().float()))


def record_shipped_sampler(
    manifest: str | os.PathLike,
    name: str,
    checkpoint: str | os.PathLike,
    val_fd: float,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Record ``checkpoint`` in ``manifest`` under ``name``: sha256, size, the FD it scores (``val_fd``, from
    :func:`score_sampler`), the settings of that score, and the command that made it (``command.txt`` beside the
    file, when there)."""
    command_file = os.path.join(os.path.dirname(os.path.abspath(checkpoint)), "command.txt")
    command = open(command_file).read().strip() if os.path.isfile(command_file) else None
    entry = {
        "file": os.path.relpath(checkpoint, os.path.dirname(os.path.abspath(manifest))),
        "sha256": sha256_of(checkpoint),
        "bytes": os.path.getsize(checkpoint),
        "val_fd": float(val_fd),
        "fd_settings": dict(settings or {}),
        "command": command,
    }
    write_manifest_entry(manifest, name, entry)
    return entry


def verify_shipped_sampler(
    manifest: str | os.PathLike,
    name: str,
    checkpoint: str | os.PathLike,
    score: Callable[[], float],
    tolerance: float = 0.01,
) -> dict[str, float]:
    """Check ``checkpoint`` against the manifest's entry ``name``: the sha256 first, then the FD that ``score()``
    recomputes (relative ``tolerance``).

    Raises:
        ValueError: when the manifest has no such entry, the file's sha256 differs (naming the file and how to restore
            it), or the FD moved by more than the tolerance (naming both numbers and what to check).
    """
    with open(manifest) as f:
        entries = json.load(f)
    if name not in entries:
        raise ValueError(f"{manifest!r} has no entry {name!r}; record it with the bundle's ship_weights config.")
    entry = entries[name]
    digest = sha256_of(checkpoint)
    if digest != entry["sha256"]:
        raise ValueError(
            f"{checkpoint!r} has sha256 {digest}, the manifest records {entry['sha256']}: the file is damaged or was "
            "replaced (a training run writes the same path); restore it with `git checkout` or retrain it with the "
            "manifest's command."
        )
    value = float(score())
    expected = float(entry["val_fd"])
    if abs(value - expected) > tolerance * max(abs(expected), 1.0):
        raise ValueError(
            f"{checkpoint!r} scores FD {value:.3f}, the manifest {expected:.3f} (relative tolerance {tolerance}): the "
            "network definition, the data generator or the FD encoder changed."
        )
    return {"val_fd": value, "manifest_val_fd": expected}
