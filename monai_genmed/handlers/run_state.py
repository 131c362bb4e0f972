"""What a checkpoint must carry besides weights: the settings that define the model, and every random state.

- :class:`RunFingerprint`: the settings that define a model (network widths, mask type and fraction, data
  scaling, HU window, ...), keyed by the bundle's config ids. Saved in every training checkpoint and model file,
  so resuming or loading with other settings is an error that lists the differences instead of a silent mix.
- :class:`RandomState`: torch's, numpy's and Python's global generators (and CUDA's), plus the generator of
  every MONAI random transform of the training data, so a resumed run draws the same shuffles, augmentations
  and dropout masks as an uninterrupted one.
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch

__all__ = ["RunFingerprint", "fingerprint_differences", "RandomState", "collect_random_generators"]


def _plain(value: Any) -> Any:
    """JSON-shaped copy (tuples become lists, numpy/torch scalars become numbers), so saved and configured compare."""
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def fingerprint_differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """One line per setting that differs between a saved and a current fingerprint (settings only one has count)."""
    saved, current = _plain(dict(saved)), _plain(dict(current))
    lines = []
    for key in sorted(set(saved) | set(current)):
        old, new = saved.get(key, "<not recorded>"), current.get(key, "<not set>")
        if old != new:
            lines.append(f"{key}: saved {old!r}, now {new!r}")
    return lines


class RunFingerprint:
    """The settings that define a model, checkpointable (``state_dict``/``load_state_dict``).

    Keys are the bundle's config ids (``generator_channels``, ``mask_type``, ``hu_window``, ...), so a message
    about a difference is also the command-line override that fixes it (``--mask_type gaussian1d``).

    Args:
        settings: ``{config_id: value}``; values must be JSON-like (numbers, strings, lists, dicts, None).
        strict: ``load_state_dict`` raises on a difference (for resuming). With ``False`` it only records the
            saved settings in :attr:`saved`.
    """

    def __init__(self, settings: Mapping[str, Any] | None = None, strict: bool = True) -> None:
        self.settings = _plain(dict(settings or {}))
        self.strict = strict
        self.saved: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return dict(self.settings)

    def differences(self, saved: Mapping[str, Any]) -> list[str]:
        return fingerprint_differences(saved, self.settings)

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.saved = _plain(dict(state_dict))
        if self.strict:
            diffs = self.differences(self.saved)
            if diffs:
                raise ValueError("the saved run used other settings:\n  " + "\n  ".join(diffs))


def collect_random_generators(root: Any, max_depth: int = 16) -> list[np.random.RandomState]:
    """Every distinct ``np.random.RandomState`` held as ``.R`` by MONAI random transforms reachable from ``root``.

    Walks a dataset (its ``transform``), ``Compose`` lists and transforms that wrap other transforms (a
    ``RandAffined`` holds a ``RandAffine`` with its own generator), in a fixed order, so the list lines up
    between the run that saves and the run that restores.
    """
    found: list[np.random.RandomState] = []
    seen: set[int] = set()
    queue: deque[tuple[Any, int]] = deque([(root, 0)])
    while queue:  # breadth first: a transform is reached by its shortest path whatever else refers to it
        obj, depth = queue.popleft()
        if (
            depth > max_depth
            or id(obj) in seen
            or obj is None
            or isinstance(obj, (str, bytes, int, float, torch.Tensor))
        ):
            continue
        seen.add(id(obj))
        generator = getattr(obj, "R", None) if not isinstance(obj, type) else None
        if isinstance(generator, np.random.RandomState) and all(g is not generator for g in found):
            found.append(generator)
        if isinstance(obj, (list, tuple)):
            queue.extend((item, depth + 1) for item in obj)
        elif not isinstance(obj, Mapping) and (type(obj).__module__ or "").startswith(("monai", "torch.utils.data")):
            # datalists and meta data (mappings) hold no transforms; neither do objects of other libraries
            attributes = sorted(vars(obj)) if hasattr(obj, "__dict__") else []
            queue.extend(
                (getattr(obj, name), depth + 1) for name in attributes if name != "R" and not name.startswith("__")
            )
    return found


def _numpy_state(state: tuple) -> list[Any]:
    kind, keys, pos, has_gauss, cached = state
    return [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached)]


def _numpy_tuple(state: list[Any]) -> tuple:
    kind, keys, pos, has_gauss, cached = state
    return (
        kind,
        np.asarray(keys.numpy() if isinstance(keys, torch.Tensor) else keys, dtype=np.uint32),
        pos,
        has_gauss,
        cached,
    )


class RandomState:
    """Global random generators and those of the training data's random transforms, checkpointable.

    Saved with the epoch's checkpoint (after validation) and restored before the next epoch starts, this makes a
    resumed run draw what the uninterrupted run drew: the sampler's shuffle and the workers' seeds (both from
    torch's global generator), augmentations in the main process (the transforms' own generators), dropout.

    Args:
        sources: objects whose random transforms to include (e.g. the training data loader or dataset).
    """

    def __init__(self, sources: Iterable[Any] = ()) -> None:
        self.sources = list(sources)

    def _transform_generators(self) -> list[np.random.RandomState]:
        return collect_random_generators(self.sources)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "torch": torch.get_rng_state(),
            "numpy": _numpy_state(np.random.get_state()),
            "python": _plain(random.getstate()),
            "transforms": [_numpy_state(g.get_state()) for g in self._transform_generators()],
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch"])
        np.random.set_state(_numpy_tuple(state_dict["numpy"]))
        version, internal, gauss = state_dict["python"]
        random.setstate((version, tuple(internal), gauss))
        generators = self._transform_generators()
        saved = state_dict.get("transforms", [])
        if len(saved) != len(generators):
            raise ValueError(
                f"the checkpoint holds {len(saved)} random-transform states, the training pipeline has "
                f"{len(generators)}: the transforms changed since it was written. Resume with the same pipeline "
                "or start afresh."
            )
        for generator, s in zip(generators, saved):
            generator.set_state(_numpy_tuple(s))
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])
