"""Tuning the classical rows of the comparison on validation slices, with a cache that runs in parallel share."""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from filelock import FileLock

from monai_genmed.utils.io import write_json_atomic

from .methods import ClassicalReconstructor
from .slices import ComparisonSlices, spread, undersample

__all__ = [
    "CLASSICAL_METHODS",
    "NOISE_LEVEL_METHODS",
    "SLOW_METHODS",
    "ClassicalTuning",
    "TuningCache",
    "classical_methods",
]

logger = logging.getLogger(__name__)

CLASSICAL_METHODS = ("tv", "tv_noise", "l1_wavelet", "bm3d", "bm3d_noise")
NOISE_LEVEL_METHODS = ("tv_noise", "bm3d_noise")  # told each slice's noise_sigma by the datalist
SLOW_METHODS = ("bm3d", "bm3d_noise")  # minutes per 256x256 slice on a 2-core CPU


def classical_methods() -> dict[str, tuple[str, Callable[..., Any], str]]:
    """name -> (display name, factory, DEFAULT_GRIDS key); imported lazily: the ``classical`` extra is optional."""
    from monai_genmed.apps.baselines import BM3DCS, L1WaveletCS, TotalVariationCS

    return {
        "tv": ("TV-CS (SigPy TotalVariationRecon)", TotalVariationCS, "TotalVariationCS"),
        "tv_noise": (
            "TV-CS, noise level known (weight = lamda + factor x the slice's noise sigma)",
            functools.partial(TotalVariationCS, noise_factor=0.05),
            "TotalVariationCSNoise",
        ),
        "l1_wavelet": ("L1-wavelet CS (SigPy L1WaveletRecon, db4)", L1WaveletCS, "L1WaveletCS"),
        "bm3d": ("BM3D-MRI (plug-and-play BM3D + data consistency)", BM3DCS, "BM3DCS"),
        "bm3d_noise": (
            "BM3D-MRI, noise level known (last BM3D level = factor x the slice's noise sigma)",
            functools.partial(BM3DCS, noise_factor=1.0),
            "BM3DCSNoise",
        ),
    }


class TuningCache:
    """A JSON file of tuned settings, keyed by everything the tuning depends on (datalist, mask, method, fixed
    settings, grid, metric, the names of the validation slices), so a changed grid or slice list never reuses a
    stale entry. Runs in parallel (one per mask) may share it: an entry is stored under a file lock.

    Args:
        path: the JSON file; None keeps nothing (every run tunes).
    """

    def __init__(self, path: str | None) -> None:
        self.path = path

    @staticmethod
    def key(fields: Mapping[str, Any]) -> str:
        return json.dumps(fields, sort_keys=True, default=str)

    def get(self, fields: Mapping[str, Any]) -> dict[str, Any] | None:
        """The tuned settings stored for ``fields``, or None."""
        if not self.path or not os.path.isfile(self.path):
            return None
        with open(self.path) as f:
            entries = json.load(f)
        hit = entries.get(self.key(fields))
        return None if hit is None else dict(hit["best"])

    def store(self, fields: Mapping[str, Any], best: Mapping[str, Any]) -> None:
        """Add ``best`` for ``fields``, keeping every entry another run stored in the meantime."""
        if not self.path:
            return
        # read, add and write under a lock, so that no entry another run stored in between is lost; the atomic
        # write leaves the old cache if a run is killed
        with FileLock(self.path + ".lock"):
            entries = {}
            if os.path.isfile(self.path):
                with open(self.path) as f:
                    entries = json.load(f)
            entries[self.key(fields)] = {"best": dict(best), **fields}
            write_json_atomic(self.path, entries, indent=1, default=str)


class ClassicalTuning:
    """Grid search of the classical methods on validation slices (best PSNR), cached.

    Args:
        slices: the comparison's data (gives each validation slice's noise level).
        grids: per method name, the grid to tune; default the baselines' ``DEFAULT_GRIDS``.
        fixed_params: per method name, settings that are not tuned.
        slow_method_tune_slices: validation slices for the slow methods (BM3D): one cap, or a cap per method.
        cache: where tuned settings are kept between runs.
    """

    def __init__(
        self,
        slices: ComparisonSlices,
        grids: Mapping[str, Mapping[str, Sequence[Any]]],
        fixed_params: Mapping[str, Mapping[str, Any]],
        slow_method_tune_slices: int | None | Mapping[str, int | None],
        cache: TuningCache,
    ) -> None:
        self.slices, self.grids, self.fixed_params = slices, grids, fixed_params
        self.slow_method_tune_slices, self.cache = slow_method_tune_slices, cache

    def tuning_slices(self, method: str, validation: list, mask: np.ndarray) -> tuple[list[tuple], list[str]]:
        """The ``(kspace_masked, mask, target, None, noise_sigma)`` tuning inputs of ``method`` and their file names:
        every validation slice, or an even spread of ``slow_method_tune_slices`` for a slow method."""
        cap = self.slow_method_tune_slices
        if isinstance(cap, Mapping):
            cap = cap.get(method, 2)
        chosen = spread(validation, cap if method in SLOW_METHODS else None)
        inputs = [
            (undersample(image, mask)[0], mask, image, None, self.slices.noise_level(name)) for image, _, name in chosen
        ]
        return inputs, [name for _, _, name in chosen]

    def factory(self, method: str) -> Callable[..., Any]:
        return functools.partial(classical_methods()[method][1], **self.fixed_params.get(method, {}))

    def tuned(
        self, method: str, setting: Mapping[str, Any], validation: list, mask: np.ndarray
    ) -> ClassicalReconstructor:
        """``method`` with its best settings on the validation slices (from the cache when it holds them)."""
        from monai_genmed.apps.baselines import DEFAULT_GRIDS, tune_cs_method

        display, _, grid_key = classical_methods()[method]
        fixed = self.fixed_params.get(method, {})
        make = self.factory(method)
        grid = self.grids.get(method, DEFAULT_GRIDS[grid_key])
        tuning, names = self.tuning_slices(method, validation, mask)
        fields = {
            "datalist": os.path.abspath(self.slices.datalist),
            "setting": setting,
            "method": method,
            "fixed": fixed,
            "grid": {k: list(v) for k, v in grid.items()},
            "metric": "psnr",
            "slices": names,
        }
        best = self.cache.get(fields)
        if best is None:
            start = time.perf_counter()
            best, _ = tune_cs_method(make, grid, tuning, metric="psnr")
            logger.info(
                f"{display}: tuned {best} on {len(tuning)} validation slices in {time.perf_counter() - start:.0f} s"
            )
            self.cache.store(fields, best)
        else:
            logger.info(f"{display}: tuned settings {best} taken from {self.cache.path}")
        tuned_on = f"validation ({len(tuning)} slices, grid {dict(grid)}, best PSNR)"
        return ClassicalReconstructor(display, make(**best), tuned_on)

    def table(
        self, method: str, grid: Mapping[str, Sequence[Any]], validation: list, mask: np.ndarray
    ) -> tuple[dict, list[dict], list[str]]:
        """Score ``grid`` of ``method`` on the slices :meth:`tuned` tunes it on; the cache is not touched."""
        from monai_genmed.apps.baselines import tune_cs_method

        inputs, names = self.tuning_slices(method, validation, mask)
        best, table = tune_cs_method(self.factory(method), grid, inputs, metric="psnr")
        return best, table, names
