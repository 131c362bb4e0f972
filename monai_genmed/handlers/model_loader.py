"""Load a network's weights with errors a user can act on: which file, what it holds, which config keys to set.

``torch.load`` + ``load_state_dict`` report a junk file with advice to unpickle it (``weights_only=False``: never
for a file of unknown origin), a training checkpoint as hundreds of missing keys, and weights of another width
as ``size mismatch for up.0.conv.weight`` with no file name. :func:`load_model_weights` tells these cases apart
first and, when the file carries a run fingerprint (:class:`~monai_genmed.handlers.BestModelSaver` writes one),
lists the settings that differ, named by the config ids to override.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from ignite.engine import Engine, Events

from .checkpoint import TrainingCheckpointer
from .run_state import fingerprint_differences

__all__ = ["load_model_weights", "ModelWeightsLoader"]

logger = logging.getLogger(__name__)

#: checkpoint key of a run's fingerprint (as TrainingCheckpointer and BestModelSaver write it)
_FINGERPRINT = TrainingCheckpointer.FINGERPRINT


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _fix(fingerprint: Mapping[str, Any] | None, network_keys: Sequence[str]) -> str:
    keys = list(fingerprint or {}) or list(network_keys)
    return (
        f"set the config keys that define the network ({', '.join(keys)}) to the values it was trained with"
        if keys
        else ("build the network with the settings it was trained with")
    )


def load_model_weights(
    network: torch.nn.Module,
    path: str | os.PathLike,
    key: str | None = "model",
    fingerprint: Mapping[str, Any] | None = None,
    map_location: str | torch.device | None = "cpu",
    name: str = "ckpt_path",
    network_keys: Sequence[str] = (),
) -> dict[str, Any] | None:
    """Load weights into ``network`` from a model file; raise errors that name the file and the fix.

    Accepts a bare ``state_dict`` or a nested checkpoint ``{key: state_dict, ...}`` (``model.pt`` of the bundles,
    or a training checkpoint with ``key="network_generator"``). Files are read with ``weights_only=True``.

    Args:
        network: the network built from the config.
        path: the weights file.
        key: the entry of a nested checkpoint holding the weights.
        fingerprint: the settings the config builds the network with (``{config_id: value}``); those the file's
            stored fingerprint also records are compared, differences listed with the override that fixes them.
        map_location: where to load tensors.
        name: the config key of ``path`` in messages (``ckpt_path``).
        network_keys: config ids that define the network, named in the fix when the file has no fingerprint.

    Returns:
        The file's stored fingerprint, or None when it has none.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a weights file, a training checkpoint without ``key``, other settings, or other shapes.
    """
    path = os.fspath(path)
    where = f"{name}={path!r}"
    if not path:
        raise ValueError(f"{name} is empty: pass the model file, e.g. --{name} models/model.pt")
    if os.path.isdir(path):
        found = sorted(f for f in os.listdir(path) if f.endswith((".pt", ".pth")))[:3]
        raise ValueError(
            f"{where} is a folder; pass the model file itself, e.g. --{name} "
            f"{os.path.join(path, found[0] if found else 'model.pt')}{f' (it holds {found})' if found else ''}."
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{where} does not exist; train the model first (train.json writes models/model.pt) or pass --{name}."
        )
    try:
        content = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(
            f"{where} is not a PyTorch weights file that can be loaded safely ({type(error).__name__}: {first[:160]}). "
            f"Pass the model.pt that train.json writes (--{name}); files that need unpickling are not loaded."
        ) from error
    if not isinstance(content, Mapping):
        raise ValueError(
            f"{where} holds a {type(content).__name__}, not a state_dict; pass the model.pt that train.json writes."
        )
    stored = content.get(_FINGERPRINT) if not _is_state_dict(content) else None
    if _is_state_dict(content) and (key is None or key not in content):
        state = content
    elif key is not None and key in content and _is_state_dict(content[key]):
        state = content[key]
    else:
        kinds = sorted(str(k) for k in content)
        training = "trainer" in content or any(str(k).startswith(("network_", "optimizer_")) for k in content)
        networks = [k for k in kinds if k.startswith("network_")]
        if training:
            # name only the entries this network can load (sorted names put a discriminator first)
            target = {n: tuple(t.shape) for n, t in network.state_dict().items()}
            fitting = [k for k in networks if _is_state_dict(content[k])
                       and {n: tuple(t.shape) for n, t in content[k].items()} == target]  # fmt: skip
            unknown = [k for k in networks if not _is_state_dict(content[k])]  # cannot be compared: may fit
            if fitting or unknown:
                pick = f"pick this network with --ckpt_key {' or --ckpt_key '.join(fitting or unknown[:1])}"
            elif networks:
                pick = (f"none of its networks ({', '.join(networks)}) has this network's layers and shapes: check the "
                        "network settings (e.g. the channels) against the training run's")  # fmt: skip
            else:
                pick = "pick one network with --ckpt_key network_<name>"
            raise ValueError(
                f"{where} is a training checkpoint (it holds {', '.join(kinds)}), not a model file. Pass the model "
                f"file train.json writes (models/model.pt), or {pick}."
            )
        raise ValueError(
            f"{where} holds no weights under {key!r} (its entries: {', '.join(kinds)}); set --ckpt_key to one of them."
        )
    if fingerprint is not None and stored is not None:
        # the file may record more (the mask a reconstruction model was trained for): compare what both name
        shared = sorted(set(stored) & set(fingerprint))
        diffs = fingerprint_differences({k: stored[k] for k in shared}, {k: fingerprint[k] for k in shared})
        if diffs:
            overrides = " ".join(
                f"--{k} {stored[k]!r}".replace("'", '"')
                for k in sorted(stored)
                if any(d.startswith(f"{k}:") for d in diffs)
            )
            raise ValueError(
                f"{where} was trained with other settings than this config builds:\n  "
                + "\n  ".join(diffs)
                + f"\nPass the file's settings ({overrides}) or the model file trained with these settings."
            )
    expected = network.state_dict()
    prefix = "module."  # weights saved from a DistributedDataParallel wrapper
    if state and all(k.startswith(prefix) for k in state) and not any(k.startswith(prefix) for k in expected):
        state = {k[len(prefix) :]: v for k, v in state.items()}
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        (k, tuple(state[k].shape), tuple(v.shape))
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    # names absent and most of the rest of other shapes: another architecture (a DCGAN discriminator shares its
    # layers' names with the generator, batch norm's included, so "no name in common" would miss it); all names
    # present with other shapes: other widths
    if missing and 2 * (len(missing) + len(shapes)) >= len(expected):
        raise ValueError(
            f"{where} holds weights of another network: {len(missing)} of this network's {len(expected)} parameter "
            f"names (e.g. {', '.join(missing[:3])}) are not among the file's {len(state)} (e.g. "
            f"{', '.join(list(state)[:3])}). Is it a discriminator's or another model's file? Pass the generator's "
            f"model file (--{name})."
        )
    if missing or unexpected or shapes:
        details = [f"{k}: file {a}, network {b}" for k, a, b in shapes[:3]]
        details += [f"missing in the file: {', '.join(missing[:3])}"] if missing else []
        details += [f"not in the network: {', '.join(unexpected[:3])}"] if unexpected else []
        stored_note = f" The file's settings: {stored}." if stored else ""
        raise ValueError(
            f"{where} does not fit the network built from the config ({len(shapes)} shape(s) differ, {len(missing)} "
            f"missing, {len(unexpected)} unexpected):\n  "
            + "\n  ".join(details)
            + f"\nIt was trained with other settings: {_fix(stored or fingerprint, network_keys)}.{stored_note}"
        )
    network.load_state_dict(state)
    return dict(stored) if stored is not None else None


class ModelWeightsLoader:
    """Ignite handler: :func:`load_model_weights` when the engine starts (for inference and evaluation configs).

    Takes the place of :class:`monai.handlers.CheckpointLoader` in a bundle's ``inference.json``, with the same
    nested ``{"model": ...}`` and bare state-dict files, and the errors of :func:`load_model_weights`.

    Args:
        load_path: the weights file.
        network: the network to load into.
        key, fingerprint, map_location, name, network_keys: as in :func:`load_model_weights`.
    """

    def __init__(
        self,
        load_path: str | os.PathLike,
        network: torch.nn.Module,
        key: str | None = "model",
        fingerprint: Mapping[str, Any] | None = None,
        map_location: str | torch.device | None = "cpu",
        name: str = "ckpt_path",
        network_keys: Sequence[str] = (),
    ) -> None:
        self.load_path, self.network, self.key, self.fingerprint = load_path, network, key, fingerprint
        self.map_location, self.name, self.network_keys = map_location, name, tuple(network_keys)
        self.stored_fingerprint: dict[str, Any] | None = None

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self)

    def __call__(self, engine: Engine | None = None) -> None:
        self.stored_fingerprint = load_model_weights(
            self.network, self.load_path, self.key, self.fingerprint, self.map_location, self.name, self.network_keys
        )
        logger.info(
            f"loaded {self.load_path}"
            + (f" (trained with {self.stored_fingerprint})" if self.stored_fingerprint else "")
        )
