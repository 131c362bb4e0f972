"""Shipped weights: a checkpoint's reconstruction PSNR on a few slices, and the manifest that records it.

A bundle that ships trained weights records, for each file, its sha256, the command that made it and the PSNR it
reaches on a few validation slices (:func:`score_checkpoint`). :func:`verify_shipped` recomputes both on the
user's machine, so a corrupted download, a changed network definition or a changed data generator is caught
before anyone reads a table built on them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from monai_genmed.handlers.model_loader import load_model_weights
from monai_genmed.metrics import compute_psnr
from monai_genmed.utils import write_json_atomic

from .methods import LearnedMethod, predict
from .slices import ComparisonSlices, undersample

__all__ = [
    "methods_per_setting",
    "one_method_per_file",
    "record_shipped",
    "score_checkpoint",
    "sha256_of",
    "shipped_checkpoint",
    "verify_manifest",
    "verify_shipped",
    "write_manifest_entry",
]


def sha256_of(path: str | os.PathLike) -> str:
    """The file's sha256 as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shipped_checkpoint(
    models_dir: str | os.PathLike, prefix: str, mask_type: str, sampling_fraction: float, required: bool = True
) -> str:
    """The path of a shipped file, ``<models_dir>/<prefix>_<mask_type>_<percent>/model.pt`` (e.g.
    ``cascade_wide_poisson2d_20``): the folder names that ``models/manifest.json`` records.

    Args:
        required: raise when that file is not there, naming the settings that have one (an inference config's
            default ``ckpt_path``); False for a list of methods whose files may be made later (evaluation).

    Raises:
        FileNotFoundError: ``required`` and no file of that name; the message lists the shipped settings of
            ``prefix``, the other shipped models and ``--ckpt_path``.
    """
    name = f"{prefix}_{mask_type}_{round(100 * float(sampling_fraction))}"
    path = os.path.join(str(models_dir), name, "model.pt")
    if not required or os.path.isfile(path):
        return path
    folders = os.listdir(models_dir) if os.path.isdir(models_dir) else []
    folders = sorted(f for f in folders if os.path.isfile(os.path.join(models_dir, f, "model.pt")))
    settings = [f.rsplit("_", 2) for f in folders if f.count("_") >= 2]
    same = [
        f"--mask_type {m} --sampling_fraction {int(p) / 100:g}"
        for head, m, p in settings
        if head == prefix and p.isdigit()
    ]
    others = [f for f in folders if f.rsplit("_", 2)[0] != prefix]
    raise FileNotFoundError(
        f"no shipped {prefix!r} model for mask_type={mask_type!r}, sampling_fraction={sampling_fraction} ({path} "
        f"does not exist). Shipped {prefix!r} settings: {'; '.join(same) or 'none'}"
        + (f"; other shipped models in {models_dir}: {', '.join(others)}" if others else "")
        + ". Or pass a model file with --ckpt_path (your own training's models/model.pt, or one of those)."
    )


def methods_per_setting(settings: Sequence[Mapping[str, Any]], models: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """One learned method per undersampling setting and shipped model, each pointed at its shipped file.

    Args:
        settings: ``[{"mask_type": ..., "sampling_fraction": ...}, ...]``.
        models: ``[[prefix, models_dir, method], ...]``: the file's folder prefix (``"cascade_wide"``), the folder
            holding the shipped files, and the method's fields (``name``, ``network``, ...).

    Returns:
        ``method`` dicts with ``checkpoint``, ``mask_type`` and ``sampling_fraction`` set, setting by setting in
        the order of ``models``.
    """
    out = []
    for setting in settings:
        for entry in models:
            if len(entry) != 3 or not isinstance(entry[2], Mapping):
                raise ValueError(f"each shipped model is [prefix, models_dir, method], got {entry!r}.")
            prefix, models_dir, method = entry
            mask_type, fraction = setting["mask_type"], setting["sampling_fraction"]
            checkpoint = shipped_checkpoint(models_dir, prefix, mask_type, fraction, required=False)
            out.append(dict(method, checkpoint=checkpoint, mask_type=mask_type, sampling_fraction=fraction))
    return out


def score_checkpoint(
    method: LearnedMethod | Mapping[str, Any],
    datalist: str,
    setting: Mapping[str, Any],
    split: str = "validation",
    slices: int | Sequence[str] | None = 4,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """PSNR (dB, data range 1, whole slice) of a learned method on slices of ``split``.

    ``slices`` is a count (spread over the split) or the file names of the slices (as the returned dict names
    them), which find the same slices in a dataset generated with fewer subjects: every subject is drawn from its
    own seeded generator, so ``validation-000`` is the same whatever the other splits hold.

    The slices are undersampled with the setting's fixed mask exactly as the comparison table does, and the
    network runs in float32 (no autocast), so the numbers do not depend on the machine's fast path.

    Returns:
        ``{file name: psnr}`` per slice and ``"mean"``.
    """
    from monai_genmed.data.masks import default_undersampling_mask

    method = method if isinstance(method, LearnedMethod) else LearnedMethod(**method)
    if not os.path.isfile(datalist):
        raise FileNotFoundError(f"datalist {datalist!r} does not exist; generate the data or pass your own datalist.")
    device = torch.device(device)
    data = ComparisonSlices(datalist)
    if isinstance(slices, (int, type(None))):
        items = data.load(split, slices)
    else:
        wanted = list(slices)
        found = {os.path.basename(item[2]): item for item in data.load(split, None)}
        missing = [name for name in wanted if name not in found]
        if missing:
            raise ValueError(
                f"slices {missing} are not in the {split!r} list of {datalist!r}; generate the subjects they belong to."
            )
        items = [found[name] for name in wanted]
    mask = np.asarray(
        default_undersampling_mask(setting["mask_type"], setting["sampling_fraction"], items[0][0].shape), np.float32
    )
    stored = load_model_weights(method.network, method.checkpoint, map_location=device, name="checkpoint") or {}
    for key in ("mask_type", "sampling_fraction"):
        if key in stored and stored[key] != setting[key]:
            raise ValueError(
                f"{method.checkpoint!r} was trained for {key}={stored[key]!r}, the setting asks {setting[key]!r}."
            )
    method.network.to(device).eval()
    inputs = [undersample(image, mask) for image, _, _ in items]
    preds = predict(method, inputs, mask, device)
    scores = {}
    for (image, _, fname), pred in zip(items, preds):
        value = compute_psnr(pred[None, None].astype(np.float64), image[None, None].astype(np.float64), data_range=1.0)
        scores[os.path.basename(fname)] = float(np.asarray(value).reshape(-1)[0])
    scores["mean"] = float(np.mean(list(scores.values())))
    return scores


def verify_shipped(entry: Mapping[str, Any], method: LearnedMethod | Mapping[str, Any], datalist: str,
                   tolerance_db: float = 0.05) -> dict[str, float]:  # fmt: skip
    """Check a manifest ``entry`` (``sha256``, ``setting``, ``split``, ``val_psnr``) against its file and data.

    Raises:
        ValueError: when the file's sha256 differs (naming the file and the expected hash) or a slice's PSNR moves
            by more than ``tolerance_db`` (naming the slice, both numbers and what to check).
    """
    method = method if isinstance(method, LearnedMethod) else LearnedMethod(**method)
    digest = sha256_of(method.checkpoint)
    if digest != entry["sha256"]:
        raise ValueError(
            f"{method.checkpoint!r} has sha256 {digest}, the manifest records {entry['sha256']}: the file is damaged "
            "or was replaced; restore it with `git checkout` or retrain it with the manifest's command."
        )
    expected = entry["val_psnr"]
    names = [name for name in expected if name != "mean"]
    scores = score_checkpoint(method, datalist, entry["setting"], entry.get("split", "validation"), names)
    for name, value in expected.items():
        if name not in scores:
            raise ValueError(
                f"slice {name!r} of the manifest is not among the scored slices {sorted(scores)}; "
                "was the data generated with other arguments?"
            )
        if abs(scores[name] - value) > tolerance_db:
            raise ValueError(
                f"{method.name} ({method.checkpoint}) scores {scores[name]:.3f} dB on {name}, the manifest "
                f"{value:.3f} dB (tolerance {tolerance_db} dB): the network definition or the data generator changed."
            )
    return scores


def write_manifest_entry(manifest: str | os.PathLike, name: str, entry: Mapping[str, Any]) -> None:
    """Add or replace ``name`` in the JSON manifest (written atomically)."""
    data = {}
    if os.path.isfile(manifest):
        with open(manifest) as f:
            data = json.load(f)
    data[name] = dict(entry)
    write_json_atomic(manifest, data, indent=2, sort_keys=True)


def _entry_name(method: LearnedMethod) -> str:
    return os.path.basename(os.path.dirname(os.path.abspath(method.checkpoint)))


def record_shipped(manifest: str | os.PathLike, method: LearnedMethod | Mapping[str, Any], datalist: str,
                   slices: int = 4, device: str | torch.device = "cpu") -> dict[str, Any]:  # fmt: skip
    """Record a trained checkpoint in ``manifest`` under its folder's name: sha256, size, setting, the command
    that made it (``command.txt`` beside the file, when there) and its PSNR on ``slices`` slices of the first
    validation subject (so :func:`verify_shipped` can regenerate that subject alone)."""
    from monai.data import load_decathlon_datalist

    method = method if isinstance(method, LearnedMethod) else LearnedMethod(**method)
    if method.mask_type is None or method.sampling_fraction is None:
        raise ValueError(f"learned method {method.name!r} needs mask_type and sampling_fraction to be recorded.")
    setting = {"mask_type": method.mask_type, "sampling_fraction": method.sampling_fraction}
    items = load_decathlon_datalist(datalist, data_list_key="validation")
    first = [os.path.basename(i["image"]) for i in items if i.get("subject", "") == items[0].get("subject", "")]
    names = [first[i] for i in np.linspace(0, len(first) - 1, min(slices, len(first))).round().astype(int)]
    command_file = os.path.join(os.path.dirname(method.checkpoint), "command.txt")
    command = open(command_file).read().strip() if os.path.isfile(command_file) else None
    entry = {
        "method": method.name,
        "file": os.path.relpath(method.checkpoint, os.path.dirname(os.path.abspath(manifest))),
        "sha256": sha256_of(method.checkpoint),
        "bytes": os.path.getsize(method.checkpoint),
        "setting": setting,
        "split": "validation",
        "val_psnr": score_checkpoint(method, datalist, setting, "validation", names, device),
        "command": command,
    }
    write_manifest_entry(manifest, _entry_name(method), entry)
    return entry


def one_method_per_file(
    methods: Sequence[LearnedMethod | Mapping[str, Any]],
) -> list[LearnedMethod | Mapping[str, Any]]:
    """The first method that loads each checkpoint file: a file is recorded and checked once, as its plain network
    (a later method on the same file, e.g. in a :class:`~monai_genmed.networks.nets.FlipEnsemble`, scores
    differently by design)."""
    seen: set[str] = set()
    out = []
    for method in methods:
        path = os.path.abspath(method.checkpoint if isinstance(method, LearnedMethod) else method["checkpoint"])
        if path not in seen:
            seen.add(path)
            out.append(method)
    return out


def verify_manifest(
    manifest: str | os.PathLike, methods, datalist: str, tolerance_db: float = 0.05
) -> dict[str, dict[str, float]]:
    """:func:`verify_shipped` for every method whose checkpoint folder the manifest names; raises on a method
    the manifest does not hold (naming it and how to record it). Each file is checked once
    (:func:`one_method_per_file`)."""
    with open(manifest) as f:
        entries = json.load(f)
    results = {}
    for method in one_method_per_file(methods):
        method = method if isinstance(method, LearnedMethod) else LearnedMethod(**method)
        name = _entry_name(method)
        if name not in entries:
            raise ValueError(
                f"{manifest!r} has no entry {name!r} for {method.checkpoint!r}; record it with the ship_weights config."
            )
        results[name] = verify_shipped(entries[name], method, datalist, tolerance_db)
    return results
