"""Shipped synthetic-CT weights: each file's sha256, the command that made it and its validation MAE in HU.

The synthesis twin of :mod:`monai_genmed.apps.reconstruction.shipped`: :func:`record_shipped_synthesis` writes a
manifest entry; :func:`verify_shipped_synthesis` recomputes hash and score on the user's machine, so a damaged
file, a changed network definition or a changed data generator is caught before a table or a patient's synthetic
CT rests on them. The score is the per-subject MAE inside the body (as the comparison table computes it), in
float32 on the CPU (no autocast), on the first ``subjects`` validation subjects.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from monai_genmed.apps.reconstruction.shipped import sha256_of, write_manifest_entry
from monai_genmed.handlers.model_loader import load_model_weights

from .comparison import SynthesisComparison

__all__ = ["record_shipped_synthesis", "score_synthesis_checkpoint", "verify_shipped_synthesis"]


def score_synthesis_checkpoint(network: torch.nn.Module, checkpoint: str, datalist: str, split: str = "validation",
                               subjects: int | None = 2, hu_window: Sequence[float] = (-1024.0, 3000.0),
                               network_range: Sequence[float] = (-1.0, 1.0)) -> dict[str, float]:  # fmt: skip
    """MAE in the body (HU) of ``checkpoint`` on the first ``subjects`` subjects of ``split``: ``{subject: mae}`` and
    ``"mean"``."""
    comparison = SynthesisComparison(datalist, methods=[], network=network, output_dir="", hu_window=hu_window,
                                     network_range=network_range, device="cpu", split=split)  # fmt: skip
    slices = comparison._load()
    if subjects is not None:
        keep = sorted({s["subject"] for s in slices})[:subjects]
        slices = [s for s in slices if s["subject"] in keep]
    load_model_weights(network, checkpoint, map_location="cpu", name="checkpoint")
    preds = comparison._network_predictions(slices)
    comparison._score("shipped", {"kind": "shipped"}, slices, preds, 1.0)
    scores = {row["subject"]: row["mae"] for row in comparison.per_subject}
    scores["mean"] = float(sum(scores.values()) / len(scores))
    return scores


def record_shipped_synthesis(manifest: str | os.PathLike, checkpoint: str, network: torch.nn.Module, datalist: str,
                             subjects: int = 2, **window: Any) -> dict[str, Any]:  # fmt: skip
    """Record ``checkpoint`` in ``manifest`` under its path relative to the manifest: sha256, size, ``command.txt``
    beside it, and :func:`score_synthesis_checkpoint` on the validation split."""
    command_file = os.path.join(os.path.dirname(checkpoint), "command.txt")
    entry = {
        "file": os.path.relpath(checkpoint, os.path.dirname(os.path.abspath(manifest))),
        "sha256": sha256_of(checkpoint),
        "bytes": os.path.getsize(checkpoint),
        "split": "validation",
        "subjects": subjects,
        "val_mae_hu": score_synthesis_checkpoint(network, checkpoint, datalist, "validation", subjects, **window),
        "command": Path(command_file).read_text().strip() if os.path.isfile(command_file) else None,
    }
    write_manifest_entry(manifest, entry["file"], entry)
    return entry


def verify_shipped_synthesis(manifest: str | os.PathLike, network: torch.nn.Module, datalist: str,
                             tolerance_hu: float = 0.5, **window: Any) -> dict[str, dict[str, float]]:  # fmt: skip
    """Check every file of ``manifest``: its sha256, and its validation MAE within ``tolerance_hu`` of the recorded one.

    Raises:
        ValueError: naming the file, both numbers and what to do.
    """
    with open(manifest) as f:
        entries: Mapping[str, Mapping[str, Any]] = json.load(f)
    root = os.path.dirname(os.path.abspath(manifest))
    results = {}
    for name, entry in sorted(entries.items()):
        path = os.path.join(root, entry["file"])
        if not os.path.isfile(path):
            raise ValueError(
                f"{path!r} of {manifest!r} is missing: restore it with `git checkout`, "
                "or retrain it with the manifest's command."
            )
        digest = sha256_of(path)
        if digest != entry["sha256"]:
            raise ValueError(
                f"{path!r} has sha256 {digest}, the manifest records {entry['sha256']}: the file is damaged or "
                "was replaced; restore it with `git checkout` or retrain it with the manifest's command."
            )
        scores = score_synthesis_checkpoint(network, path, datalist, entry["split"], entry["subjects"], **window)
        for subject, value in entry["val_mae_hu"].items():
            if subject not in scores or abs(scores[subject] - value) > tolerance_hu:
                raise ValueError(
                    f"{path} scores {scores.get(subject, float('nan')):.2f} HU MAE on {subject}, the manifest "
                    f"{value:.2f} HU (tolerance {tolerance_hu}): the network definition or the data generator changed."
                )
        results[name] = scores
    return results
