"""The compressed-sensing comparison table: zero-filled, classical CS (tuned on validation) and learned methods.

One fixed mask per setting (mask type x sampling fraction), the same for every method; the classical
regularisation is tuned by grid search on validation slices only; the learned methods are a list from the
config (name, network, weights, whether the network takes k-space, whether it uses the real-valued prior);
every method is scored on the same test slices with :mod:`monai_genmed.metrics`, over the whole slice and inside
the head mask. The table says the data, their SNR, the masks and what each method was tuned on; what the
numbers mean for a bundle is that bundle's docs.

The parts: :mod:`.methods` (the rows, one :class:`~.methods.Reconstructor` interface), :mod:`.slices` (the data),
:mod:`.tuning` (the classical grid search and its cache), :mod:`.results` (scores, resume and reuse) and
:mod:`.report` (the Markdown table and the figure, through :class:`monai_genmed.apps.report.ReportWriter`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.inferers import Inferer, SimpleInferer

from monai_genmed.apps.report import ReportWriter
from monai_genmed.utils import ensure_bool

from .methods import LearnedMethod, Reconstructor, UndersampledSlice, ZeroFilledReconstructor
from .report import example_figure, results_markdown
from .results import ResultsStore, metric_keys, slice_scores, unscored
from .slices import ComparisonSlices, spread, undersample
from .tuning import (
    CLASSICAL_METHODS,
    NOISE_LEVEL_METHODS,
    SLOW_METHODS,
    ClassicalTuning,
    TuningCache,
    classical_methods,
)

__all__ = ["ReconstructionComparison", "CLASSICAL_METHODS", "LearnedMethod"]

logger = logging.getLogger(__name__)


class ReconstructionComparison:
    """Score reconstructions of the test split and write ``results.csv``, ``results.md`` and ``per_slice.csv``.

    A run into an ``output_dir`` that holds an earlier run's ``per_slice.csv`` takes the scores of every slice a
    classical method already reconstructed there with the same settings (the tables are written after every method,
    so a stopped run loses at most the method it was in); the example figure's slice is reconstructed again.
    ``reuse_from`` takes scores from other runs' tables the same way, e.g. of runs that scored one mask each in
    parallel. Earlier scores are used only where the earlier run's zero-filled scores of the same slices equal this
    run's (zero filling is recomputed every run): scores of other data (a regenerated dataset, the zero-background
    test) are never taken.

    Args:
        datalist: MONAI datalist JSON with ``validation`` and ``test`` lists of ``{"image", "head_mask"}`` (as
            :func:`monai_genmed.data.generate_brain_mr_dataset` writes; its ``snr`` is reported).
        output_dir: where the tables go.
        settings: one dict per setting: ``mask_type`` and ``sampling_fraction``.
        learned: the learned methods, :class:`LearnedMethod` or dicts of its arguments (a config's list).
        mask_fn: ``(mask_type, fraction, shape) -> mask``, default the shipped fixed masks.
        classical: which classical methods to run (``tv``, ``tv_noise``, ``l1_wavelet``, ``bm3d``, ``bm3d_noise``).
            ``tv_noise`` and ``bm3d_noise`` are told each slice's noise level (the datalist's ``noise_sigma``, as a
            scanner's noise pre-scan gives it), so one tuned setting serves clean and noisy scans alike; the datalist
            must have it.
        grids: per method name (``tv``...), the grid of settings to tune; default the baselines' DEFAULT_GRIDS.
        fixed_params: per method name, settings that are not tuned (e.g. iterations).
        tune_slices: how many validation slices (spread over the split) to tune on.
        test_slices: how many test slices to score (None: all).
        slow_method_slices: cap on test slices for methods slower than ~5 s per slice (BM3D), stated in the table.
        slow_method_tune_slices: cap on the validation slices that slow methods (BM3D) are tuned on; one number, or
            a number per slow method (``{"bm3d": 2, "bm3d_noise": 3}``: a noise-adaptive method should see every
            noise level of the validation split).
        device: device of the networks.
        inferer: MONAI inferer for networks that take the zero-filled image alone (default SimpleInferer), e.g. an
            accelerated one; networks with ``extra_keys`` are called directly.
        batch_size: slices per network call.
        head_mask_key: datalist key of the head mask used for the masked scores.
        test_split: the datalist list that is scored, ``"test"`` or e.g. ``"test_ood"`` (the out-of-distribution
            contrast of :func:`monai_genmed.data.generate_brain_mr_dataset`); tuning always uses ``"validation"``.
        tuning_cache: a JSON file that keeps each classical method's tuned settings, keyed by everything the tuning
            depends on (datalist, mask, method, fixed settings, grid, the names of the validation slices). Runs that
            share it (the ``test`` and ``test_ood`` tables, a run restarted after a crash) tune each method once;
            a changed grid, slice list or datalist never reuses a stale entry. None: always tune.
        zero_background_test: score the test slices with everything outside the head mask set to exactly 0 (as
            scanners that mask the background deliver them): the same anatomy and contrast as the plain run, so the
            two tables isolate the background. Tuning still uses the validation slices as they are.
        rescore_missing: a slice an earlier run scored before a metric existed (HFEN) is reconstructed again to score
            it (default). False reuses its other scores and leaves the new metric unscored ("-" in the tables), for
            adding a method to a table whose slow classical rows (BM3D, about a minute per slice) predate the metric.
        reuse_from: ``per_slice.csv`` files (or folders holding one) of other runs of the same test split whose
            scores are taken like those of an earlier run into ``output_dir``; for the slow classical rows of
            runs made in parallel, one per mask, each into its own folder (with one shared ``tuning_cache``).
            A file of other data is a named error.
    """

    def __init__(
        self,
        datalist: str,
        output_dir: str,
        settings: Sequence[Mapping[str, Any]],
        learned: Sequence[LearnedMethod | Mapping[str, Any]] = (),
        mask_fn: Callable[[str, float, Sequence[int]], np.ndarray] | None = None,
        classical: Sequence[str] = CLASSICAL_METHODS,
        grids: Mapping[str, Mapping[str, Sequence[Any]]] | None = None,
        fixed_params: Mapping[str, Mapping[str, Any]] | None = None,
        tune_slices: int = 8,
        test_slices: int | None = None,
        slow_method_slices: int | None = 12,
        slow_method_tune_slices: int | None | Mapping[str, int | None] = 2,
        device: str | torch.device = "cpu",
        inferer: Inferer | None = None,
        batch_size: int = 8,
        head_mask_key: str = "head_mask",
        test_split: str = "test",
        tuning_cache: str | None = None,
        zero_background_test: bool = False,
        rescore_missing: bool = True,
        reuse_from: Sequence[str] = (),
    ) -> None:
        if not os.path.isfile(datalist):
            raise FileNotFoundError(
                f"datalist {datalist!r} does not exist; generate the data or pass your own datalist."
            )
        if not settings:
            raise ValueError("settings is empty: give at least one {'mask_type': ..., 'sampling_fraction': ...}.")
        unknown = set(classical) - set(CLASSICAL_METHODS)
        if unknown:
            raise ValueError(f"unknown classical methods {sorted(unknown)}; choose from {CLASSICAL_METHODS}.")
        if tune_slices < 1:
            raise ValueError(f"tune_slices must be >= 1, got {tune_slices}.")
        self.datalist, self.output_dir = datalist, output_dir
        self.settings = [dict(s) for s in settings]
        for s in self.settings:
            if "mask_type" not in s or "sampling_fraction" not in s:
                raise ValueError(f"each setting needs mask_type and sampling_fraction, got {s}.")
            if "checkpoint" in s:
                raise ValueError(
                    f"setting {s} names a checkpoint; list each model under learned_methods instead, e.g. "
                    "{'name': 'DAGAN', 'network': '@dagan_generator_def', 'checkpoint': 'models/model.pt'}."
                )
        self.learned = [m if isinstance(m, LearnedMethod) else LearnedMethod(**m) for m in learned]
        if mask_fn is None:
            from monai_genmed.data.masks import default_undersampling_mask

            mask_fn = default_undersampling_mask
        self.mask_fn = mask_fn
        self.classical = list(classical)
        self.grids = dict(grids or {})
        self.fixed_params = {k: dict(v) for k, v in (fixed_params or {}).items()}
        self.tune_slices, self.test_slices, self.slow_method_slices = tune_slices, test_slices, slow_method_slices
        self.slow_method_tune_slices = slow_method_tune_slices
        self.device = torch.device(device)
        self.inferer = inferer or SimpleInferer()
        self.batch_size = batch_size
        self.head_mask_key = head_mask_key
        if test_split == "validation" or test_split == "training":
            raise ValueError(
                f"test_split {test_split!r} would score methods on data they were tuned or trained on; "
                "use 'test' or 'test_ood'."
            )
        self.test_split = test_split
        self.tuning_cache = tuning_cache
        self.zero_background_test = ensure_bool(zero_background_test, "zero_background_test")
        self.rescore_missing = ensure_bool(rescore_missing, "rescore_missing")
        if isinstance(reuse_from, (str, os.PathLike)):
            reuse_from = [reuse_from]
        self.reuse_from: list[str] = []
        for path in reuse_from:
            path = os.path.join(path, "per_slice.csv") if os.path.isdir(path) else str(path)
            if not os.path.isfile(path):
                raise FileNotFoundError(
                    f"reuse_from {path!r} does not exist; give the per_slice.csv (or its folder) of an earlier "
                    "comparison run of the same test split, or drop it."
                )
            self.reuse_from.append(path)
        self.slices = ComparisonSlices(datalist, head_mask_key, test_split if self.zero_background_test else None)
        self.tuning = ClassicalTuning(
            self.slices, self.grids, self.fixed_params, slow_method_tune_slices, TuningCache(tuning_cache)
        )
        self.results = ResultsStore(output_dir, self.reuse_from)
        self.examples: dict[tuple[str, float], dict[str, Any]] = {}
        self.example_slice: str | None = None

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The summary rows (``results.csv``)."""
        return self.results.rows

    @property
    def per_slice(self) -> list[dict[str, Any]]:
        """The per-slice scores (``per_slice.csv``)."""
        return self.results.per_slice

    def run(self) -> list[dict[str, Any]]:
        """Run every setting and method; write the tables; return the summary rows."""
        self.results.open()
        validation = self.slices.load("validation", self.tune_slices)
        test = self.slices.load(self.test_split, self.test_slices)
        shape = test[0][0].shape
        self.slices.check_noise_levels([key for key in self.classical if key in NOISE_LEVEL_METHODS])
        slow_subset = spread(test, self.slow_method_slices)
        self.example_slice = slow_subset[len(slow_subset) // 2][2]  # a slice every method reconstructs
        for setting in self.settings:
            mask = np.asarray(self.mask_fn(setting["mask_type"], setting["sampling_fraction"], shape), dtype=np.float32)
            undersampled = {name: UndersampledSlice(name, *undersample(image, mask), self.slices.noise_level(name))
                            for image, _, name in test}  # once per setting  # fmt: skip
            # always computed (cheap): earlier scores are reused only where they were made on the same data
            self._score(setting, ZeroFilledReconstructor(), test, undersampled, mask)
            self.results.check_earlier(setting)
            for key in self.classical:
                reconstructor = self.tuning.tuned(key, setting, validation, mask)
                subset = spread(test, self.slow_method_slices if key in SLOW_METHODS else None)
                self._score(setting, reconstructor, subset, undersampled, mask)
            for method in self.learned:
                if method.applies_to(setting):
                    for reconstructor in method.reconstructors(setting, self.device, self.inferer, self.batch_size):
                        self._score(setting, reconstructor, test, undersampled, mask)
        self._write(shape, len(test), len(validation))
        return self.rows

    def tuning_table(
        self, method: str, setting: Mapping[str, Any], grid: Mapping[str, Sequence[Any]]
    ) -> tuple[dict, list[dict], list[str]]:
        """Score ``grid`` of the classical ``method`` (``"tv"``, ``"bm3d"``...) on the validation slices :py:meth:`run`
        tunes it on for ``setting``, with the same fixed settings; the tuning cache and the tables are not touched.
        For checking a tuned value on a finer grid or past the grid's end.

        Returns:
            ``(best, table, slice names)`` as :func:`monai_genmed.apps.baselines.tune_cs_method` gives them.
        """
        if method not in classical_methods():
            raise ValueError(f"unknown classical method {method!r}; choose from {CLASSICAL_METHODS}.")
        validation = self.slices.load("validation", self.tune_slices)
        self.slices.check_noise_levels([method] if method in NOISE_LEVEL_METHODS else [])
        mask = np.asarray(
            self.mask_fn(setting["mask_type"], setting["sampling_fraction"], validation[0][0].shape), dtype=np.float32
        )
        return self.tuning.table(method, grid, validation, mask)

    def _score(
        self,
        setting: Mapping[str, Any],
        method: Reconstructor,
        test: list,
        undersampled: Mapping[str, UndersampledSlice],
        mask: np.ndarray,
    ) -> None:
        """Score ``method`` on ``test``, taking an earlier run's scores of a slice where the method allows it (not
        for the figure's slice, which is reconstructed again); then write the tables."""
        earlier: dict[str, dict[str, float]] = {}
        for _, region, name in test:
            found = None
            if method.reuses_earlier_scores and name != self.example_slice:
                found = self.results.earlier(
                    (setting["mask_type"], str(setting["sampling_fraction"]), method.name, name, method.settings)
                )
            needed = metric_keys(region is not None)
            if found is not None and self.rescore_missing and any(unscored(found.get(k)) for k in needed):
                found = None  # scored before a metric was added (HFEN): score it again rather than leave a gap
            if found is not None:
                earlier[name] = {
                    "seconds": float(found["seconds"]),
                    **{k: float("nan") if unscored(found.get(k)) else float(found[k]) for k in needed},
                }
        todo = [undersampled[name] for _, _, name in test if name not in earlier]
        fresh = dict(zip([s.name for s in todo], method.reconstruct(todo, mask))) if todo else {}
        scores, seconds = [], []
        for image, region, name in test:
            if name in earlier:
                recon, scored = None, dict(earlier[name])
                seconds.append(scored.pop("seconds"))
            else:
                (recon, spent), scored = fresh[name], None
                seconds.append(spent)
            scores.append(
                self._record(setting, method.name, image, region, name, recon, method.settings, seconds[-1], scored)
            )
        if earlier:
            logger.info(
                f"{method.name}: {len(earlier)} of {len(test)} slices scored by an earlier run with the same settings "
                "(per_slice.csv)"
            )
        self.results.add_row(
            setting,
            method.name,
            method.settings,
            method.tuned_on,
            scores,
            float(np.mean(seconds)),
            method.real_valued_prior,
        )
        self.results.write_tables()

    def _record(self, setting, name, image, region, fname, recon, params: str = "-", seconds: float = 0.0,
                scores: Mapping[str, float] | None = None) -> dict[str, float]:  # fmt: skip
        """Score one reconstruction (or take ``scores`` of an earlier run), add it to the per-slice table, keep it
        when it is the figure's slice."""
        s = dict(scores) if scores is not None else slice_scores(recon, image, region)
        self.results.add_slice(setting, name, fname, params, seconds, s)
        if fname == self.example_slice and recon is not None:
            examples = self.examples.setdefault((setting["mask_type"], setting["sampling_fraction"]), {"target": image})
            examples[name] = (np.asarray(recon, np.float32), s["psnr"])
        return s

    def _write(self, shape, n_test: int, n_val: int) -> None:
        self.results.write_tables(final=True)
        writer = ReportWriter(self.output_dir)
        writer.write_markdown("results.md", [self.markdown(shape, n_test, n_val).rstrip("\n")])
        for (mask_type, fraction), examples in self.examples.items():
            self.figure(examples, writer.path(f"example_{mask_type}_{round(fraction * 100)}.png"),
                        f"{mask_type} {fraction:.0%}, test slice {os.path.basename(self.example_slice)}")  # fmt: skip

    @staticmethod
    def figure(examples: Mapping[str, Any], path: str, title: str, error_gain: float = 5.0) -> None:
        """Reference and every method's reconstruction of one slice (top) and their errors (bottom), as a PNG."""
        ReportWriter(os.path.dirname(path)).save_figure(
            example_figure(examples, title, error_gain), os.path.basename(path), dpi=90
        )

    def markdown(self, shape, n_test: int, n_val: int) -> str:
        """The table as Markdown, with the facts a reader needs to judge it."""
        return results_markdown(
            self.rows, self.per_slice, self.datalist, self.test_split, shape, n_test, n_val, self.zero_background_test
        )
