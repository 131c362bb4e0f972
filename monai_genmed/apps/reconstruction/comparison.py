"""The compressed-sensing comparison table: zero-filled, classical CS (tuned on validation) and learned methods.

One fixed mask per setting (mask type x sampling fraction), the same for every method; the classical
regularisation is tuned by grid search on validation slices only; the learned methods are a list from the
config (name, network, weights, whether the network takes k-space, whether it uses the real-valued prior);
every method is scored on the same test slices with :mod:`monai_genmed.metrics`, over the whole slice and inside
the head mask. The table says the data, their SNR, the masks and what each method was tuned on; what the
numbers mean for a bundle is that bundle's docs.
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import os
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from filelock import FileLock
from tqdm import tqdm
from monai.data import load_decathlon_datalist
from monai.inferers import Inferer, SimpleInferer
from monai.transforms import LoadImage

from monai_genmed.handlers.model_loader import load_model_weights
from monai_genmed.metrics import compute_high_frequency_scores, compute_nmse, compute_psnr, compute_ssim
from monai_genmed.transforms.kspace.functional import data_consistency, image_to_kspace, zero_filled
from monai_genmed.utils import ensure_bool
from monai_genmed.utils.io import atomic_path, write_csv_atomic, write_json_atomic

__all__ = ["ReconstructionComparison", "CLASSICAL_METHODS", "LearnedMethod"]

logger = logging.getLogger(__name__)


def _classical_methods() -> dict[str, tuple[str, Callable[..., Any], str]]:
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


CLASSICAL_METHODS = ("tv", "tv_noise", "l1_wavelet", "bm3d", "bm3d_noise")
NOISE_LEVEL_METHODS = ("tv_noise", "bm3d_noise")  # told each slice's noise_sigma by the datalist
SLOW_METHODS = ("bm3d", "bm3d_noise")  # minutes per 256x256 slice on a 2-core CPU
METRICS = ("nmse", "psnr", "ssim", "hfen", "hf_ratio")  # per-slice scores; each also "_head" where a head mask is given


def _spread(items: list, count: int | None) -> list:
    """``count`` items spread evenly over ``items`` (all when ``count`` is None or not smaller)."""
    if count is None or count >= len(items):
        return items
    return [items[i] for i in np.linspace(0, len(items) - 1, count).round().astype(int)]


class LearnedMethod:
    """One learned row of the table, from a config entry.

    Args:
        name: the row's name (``"DAGAN"``); the checkpoint's file name is added to it.
        network: the network (a bundle's ``network_def``); its weights are loaded from ``checkpoint`` before it is
            scored, so two methods may share one network object.
        checkpoint: a state dict, or MONAI's nested checkpoint with the weights under ``"model"``, trained for
            the setting's mask (its stored ``mask_type``/``sampling_fraction`` are checked).
        real_valued_prior: whether the method assumes a real, non-negative image (said in the table).
        extra_keys: the inputs the network takes beside the zero-filled image, by keyword: ``"kspace_masked"``
            (the measured k-space, complex) and ``"mask"`` (``(B, 1, H, W)``), as for a network with data
            consistency inside (:class:`monai_genmed.networks.nets.DataConsistentCascade`).
        data_consistency: also score the network's output with the measured k-space put back (a "+ data
            consistency" row).
        mask_type, sampling_fraction: score only in this setting (default: every setting).
    """

    def __init__(
        self,
        name: str,
        network: torch.nn.Module,
        checkpoint: str,
        real_valued_prior: bool = True,
        extra_keys: Sequence[str] = (),
        data_consistency: bool = False,
        mask_type: str | None = None,
        sampling_fraction: float | None = None,
    ) -> None:
        if not isinstance(network, torch.nn.Module):
            raise TypeError(f"learned method {name!r}: network must be a torch module (a network_def), got {type(network)}.")
        unknown = set(extra_keys) - {"kspace_masked", "mask"}
        if unknown:
            raise ValueError(f"learned method {name!r}: unknown extra_keys {sorted(unknown)}; use 'kspace_masked', 'mask'.")
        self.name, self.network, self.checkpoint = name, network, str(checkpoint)
        self.real_valued_prior, self.extra_keys, self.data_consistency = bool(real_valued_prior), tuple(extra_keys), data_consistency
        self.mask_type, self.sampling_fraction = mask_type, sampling_fraction

    def applies_to(self, setting: Mapping[str, Any]) -> bool:
        return all(v is None or v == setting[k] for k, v in (("mask_type", self.mask_type),
                                                            ("sampling_fraction", self.sampling_fraction)))  # fmt: skip


def _unscored(value: Any) -> bool:
    """A per-slice cell an earlier run left without a score (column added later, or reused unscored)."""
    return value is None or value == "" or (isinstance(value, str) and value.lower() == "nan")


def _display_path(path: str) -> str:
    """``path`` relative to the working directory when it lies below it (tables stay readable and portable)."""
    rel = os.path.relpath(os.path.abspath(path))
    return path if rel.startswith("..") else rel


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
            raise FileNotFoundError(f"datalist {datalist!r} does not exist; generate the data or pass your own datalist.")
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
            raise ValueError(f"test_split {test_split!r} would score methods on data they were tuned or trained on; use 'test' or 'test_ood'.")
        self.test_split = test_split
        self.tuning_cache = tuning_cache
        self.zero_background_test = ensure_bool(zero_background_test, "zero_background_test")
        self.rescore_missing = ensure_bool(rescore_missing, "rescore_missing")
        if isinstance(reuse_from, (str, os.PathLike)):
            reuse_from = [reuse_from]
        self.reuse_from = []
        for path in reuse_from:
            path = os.path.join(path, "per_slice.csv") if os.path.isdir(path) else str(path)
            if not os.path.isfile(path):
                raise FileNotFoundError(
                    f"reuse_from {path!r} does not exist; give the per_slice.csv (or its folder) of an earlier "
                    "comparison run of the same test split, or drop it."
                )
            self.reuse_from.append(path)
        self.examples: dict[tuple[str, float], dict[str, Any]] = {}
        self._example_slice: str | None = None
        self.rows: list[dict[str, Any]] = []
        self.per_slice: list[dict[str, Any]] = []
        self._previous: dict[tuple, dict[str, str]] = {}  # this output_dir's earlier rows
        self._sources: list[tuple[str, dict[tuple, dict[str, str]]]] = []  # (path, rows): output_dir's, then reuse_from
        self._rejected: set[tuple[str, str, str]] = set()  # (path, mask_type, fraction) whose data differ from this run's
        self._noise_sigma: dict[str, float | None] = {}  # file name -> the datalist's noise_sigma

    # data -------------------------------------------------------------------------------------------------
    def _load_split(self, split: str, count: int | None) -> list[tuple[np.ndarray, np.ndarray | None, str]]:
        items = load_decathlon_datalist(self.datalist, data_list_key=split)
        if not items:
            raise ValueError(f"the {split!r} list of {self.datalist!r} is empty.")
        items = _spread(items, count)  # spread over the split: different subjects and levels
        loader = LoadImage(image_only=True)
        out = []
        for item in items:
            image = np.asarray(loader(item["image"]), dtype=np.float32)
            if image.ndim != 2:
                raise ValueError(f"{item['image']} is not a 2D slice (shape {image.shape}); the comparison is slice-wise.")
            head = item.get(self.head_mask_key)
            region = None if head is None else np.asarray(loader(head)) > 0
            if self.zero_background_test and split == self.test_split:
                if region is None:
                    raise ValueError(
                        f"zero_background_test needs a head mask for every test slice, but {item['image']} has no "
                        f"{self.head_mask_key!r}; add head masks to the datalist or set zero_background_test=False."
                    )
                image = np.where(region, image, 0).astype(np.float32)
            out.append((image, region, os.path.basename(str(item["image"]))))
            self._noise_sigma[out[-1][2]] = item.get("noise_sigma")
        return out

    @staticmethod
    def _undersample(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kspace = np.asarray(image_to_kspace(image[None]))[0] * mask  # as the training pipeline's Undersample
        return kspace.astype(np.complex64), np.asarray(zero_filled(kspace[None]))[0].astype(np.float32)

    @staticmethod
    def _snr(datalist: str) -> Any:
        import json

        with open(datalist) as f:
            return json.load(f).get("snr", "unknown")

    @staticmethod
    def _data_text(datalist: str, split: str) -> str:
        """The noise and contrasts of ``datalist`` in words (plain T1 data or the varied training data)."""
        import json

        with open(datalist) as f:
            meta = json.load(f)
        snr = meta.get("snr", "unknown")
        if "contrasts" not in meta:
            return f"Rician noise at white-matter SNR {snr}"
        families = meta.get("ood_contrast") if split == "test_ood" else ", ".join(meta["contrasts"])
        return (f"contrast families {families} ({'held out of training' if split == 'test_ood' else 'as in training'}), "
                f"Rician noise at brain SNR drawn per subject from {snr}, some slices noise-free")  # fmt: skip

    # scoring ----------------------------------------------------------------------------------------------
    @staticmethod
    def _scores(recon: np.ndarray, target: np.ndarray, region: np.ndarray | None) -> dict[str, float]:
        p, t = recon[None, None].astype(np.float64), target[None, None].astype(np.float64)
        scores = {"nmse": float(compute_nmse(p, t)[0]), "psnr": float(compute_psnr(p, t, data_range=1.0)[0]),
                  "ssim": float(compute_ssim(p, t, data_range=1.0)[0])}  # fmt: skip
        scores.update({k: float(v[0]) for k, v in compute_high_frequency_scores(p, t).items()})
        if region is not None:
            m = region[None, None]
            scores["nmse_head"] = float(compute_nmse(p * m, t * m)[0])
            scores["psnr_head"] = float(compute_psnr(p, t, data_range=1.0, mask=m)[0])
            scores["ssim_head"] = float(compute_ssim(p, t, data_range=1.0, mask=m)[0])
            scores.update({f"{k}_head": float(v[0]) for k, v in compute_high_frequency_scores(p, t, mask=m).items()})
        return scores

    @staticmethod
    def _metric_keys(masked: bool) -> list[str]:
        """The score columns of one slice (as :py:meth:`_scores` writes them)."""
        return [f"{m}{suffix}" for suffix in ("", "_head")[: 1 + masked] for m in METRICS]

    def _add_row(
        self, setting: Mapping, method: str, params: str, tuned_on: str, scores: list[dict], seconds: float,
        real_valued_prior: bool | None = None,
    ) -> None:
        if real_valued_prior is None:  # a classical method says it in its settings
            real_valued_prior = "real_valued=True" in params if params != "-" else None
        row: dict[str, Any] = {
            "mask_type": setting["mask_type"],
            "sampling_fraction": setting["sampling_fraction"],
            "method": method,
            "real_valued_prior": "-" if real_valued_prior is None else ("yes" if real_valued_prior else "no"),
            "settings": params,
            "tuned_on": tuned_on,
            "n_test_slices": len(scores),
            "seconds_per_slice": round(seconds, 4),
        }
        for key in scores[0]:
            values = np.array([s[key] for s in scores])
            row[key], row[f"{key}_sd"] = float(values.mean()), float(values.std(ddof=1) if len(values) > 1 else 0.0)
        self.rows.append(row)
        logger.info(f"{setting['mask_type']} {setting['sampling_fraction']:.0%} {method}: PSNR {row['psnr']:.2f} dB, SSIM {row['ssim']:.4f}")

    def _record(self, setting, name, image, region, fname, recon, params: str = "-", seconds: float = 0.0,
                scores: Mapping[str, float] | None = None) -> dict[str, float]:  # fmt: skip
        """Score one reconstruction (or take ``scores`` of an earlier run), add it to the per-slice table, keep it
        when it is the figure's slice."""
        s = dict(scores) if scores is not None else self._scores(recon, image, region)
        self.per_slice.append({"mask_type": setting["mask_type"], "sampling_fraction": setting["sampling_fraction"],
                               "method": name, "slice": fname, "settings": params, "seconds": round(seconds, 4), **s})  # fmt: skip
        if fname == self._example_slice and recon is not None:
            examples = self.examples.setdefault((setting["mask_type"], setting["sampling_fraction"]), {"target": image})
            examples[name] = (np.asarray(recon, np.float32), s["psnr"])
        return s

    def _earlier(self, key: tuple) -> dict[str, str] | None:
        """An earlier run's scores of ``(mask_type, fraction, method, slice, settings)``, from a source whose data
        match this run's (see :py:meth:`_check_earlier`)."""
        for path, rows in self._sources:
            if key in rows and (path, key[0], key[1]) not in self._rejected:
                return rows[key]
        return None

    def _check_earlier(self, setting: Mapping[str, Any]) -> None:
        """Compare each earlier table's zero-filled scores of ``setting`` with this run's (just computed): a table
        of other data is set aside (this output_dir's: with a warning, it is overwritten) or refused (reuse_from)."""
        mask_type, fraction = setting["mask_type"], str(setting["sampling_fraction"])
        fresh = {p["slice"]: p["psnr"] for p in self.per_slice
                 if p["method"] == "zero-filled" and (p["mask_type"], str(p["sampling_fraction"])) == (mask_type, fraction)}  # fmt: skip
        for index, (path, rows) in enumerate(self._sources):
            mine = [r for r in rows.values() if (r["mask_type"], r["sampling_fraction"]) == (mask_type, fraction)]
            if not mine:
                continue
            zero_filled = {r["slice"]: float(r["psnr"]) for r in mine if r["method"] == "zero-filled"}
            shared = [name for name in zero_filled if name in fresh]
            differ = [name for name in shared if abs(zero_filled[name] - fresh[name]) > 1e-6]
            if shared and not differ:
                continue
            why = (f"its zero-filled PSNR of {differ[0]} is {zero_filled[differ[0]]:.4f} dB, this run's "
                   f"{fresh[differ[0]]:.4f} dB" if differ else "it holds no zero-filled score of this run's test slices")
            if index == 0:  # this output_dir's own table
                logger.warning(f"{path}: earlier scores of {mask_type} {setting['sampling_fraction']:.0%} are not reused, "
                               f"they were made on other data ({why}); those slices are scored again.")  # fmt: skip
                self._rejected.add((path, mask_type, fraction))
                continue
            raise ValueError(
                f"reuse_from {path!r} was scored on other data than this run for {mask_type} "
                f"{setting['sampling_fraction']:.0%} ({why}); give the per_slice.csv of a run of the same datalist, "
                "test split and zero_background_test, or drop it from reuse_from."
            )

    def _score_method(self, setting, name, recon_fn, test, undersampled, mask, params, tuned_on, reuse: bool = True) -> None:
        scores, seconds, reused = [], [], 0
        for image, region, fname in tqdm(test, desc=f"{setting['mask_type']} {setting['sampling_fraction']:.0%} {name}", unit="slice"):
            earlier = self._earlier((setting["mask_type"], str(setting["sampling_fraction"]), name, fname, params)) if reuse else None
            needed = self._metric_keys(region is not None)
            if earlier is not None and self.rescore_missing and any(_unscored(earlier.get(k)) for k in needed):
                earlier = None  # scored before a metric was added (HFEN): score it again rather than leave a gap
            if earlier is not None and fname != self._example_slice:  # the figure's slice is reconstructed again
                seconds.append(float(earlier["seconds"]))
                metrics = {k: float("nan") if _unscored(earlier.get(k)) else float(earlier[k]) for k in needed}
                scores.append(self._record(setting, name, image, region, fname, None, params, seconds[-1], metrics))
                reused += 1
                continue
            kspace, zf = undersampled[fname]
            start = time.perf_counter()
            recon = recon_fn(kspace, mask, zf, fname)
            seconds.append(time.perf_counter() - start)
            scores.append(self._record(setting, name, image, region, fname, recon, params, seconds[-1]))
        if reused:
            logger.info(f"{name}: {reused} of {len(test)} slices scored by an earlier run with the same settings (per_slice.csv)")
        self._add_row(setting, name, params, tuned_on, scores, float(np.mean(seconds)))
        self._write_tables()

    def _predict(self, method: LearnedMethod, inputs: list[tuple[np.ndarray, np.ndarray]], mask: np.ndarray) -> np.ndarray:
        """The network's reconstructions of ``inputs`` (``(kspace_masked, zero_filled)`` pairs), batched."""
        preds = []
        with torch.no_grad():
            for i in range(0, len(inputs), self.batch_size):
                chunk = inputs[i : i + self.batch_size]
                batch = torch.from_numpy(np.stack([zf for _, zf in chunk])[:, None]).to(self.device)
                if not method.extra_keys:
                    preds.append(self.inferer(batch, method.network).float().cpu().numpy()[:, 0])
                    continue
                extra = {"kspace_masked": torch.from_numpy(np.stack([k for k, _ in chunk])[:, None]).to(self.device),
                         "mask": torch.from_numpy(mask)[None, None].expand(len(chunk), 1, *mask.shape).to(self.device)}
                out = method.network(batch, **{k: extra[k] for k in method.extra_keys})  # fmt: skip
                preds.append(out.float().cpu().numpy()[:, 0])
        return np.concatenate(preds)

    def _learned(self, method: LearnedMethod, setting, test, undersampled, mask) -> None:
        ckpt = method.checkpoint
        if not os.path.isfile(ckpt):
            raise FileNotFoundError(
                f"checkpoint {ckpt!r} of learned method {method.name!r} for {setting} does not exist; train it "
                "(see the bundle's docs) or drop it from learned_methods."
            )
        stored = load_model_weights(method.network, ckpt, map_location=self.device, name="checkpoint")
        trained_for = {k: stored.get(k) for k in ("mask_type", "sampling_fraction") if k in stored} if stored else {}
        if trained_for and any(trained_for[k] != setting.get(k) for k in trained_for):
            raise ValueError(
                f"checkpoint {ckpt!r} of {method.name!r} was trained for {trained_for}, but the evaluation setting asks "
                f"{ {k: setting.get(k) for k in trained_for} }; give the method mask_type and sampling_fraction, "
                "paired with the model trained for them."
            )
        method.network.to(self.device).eval()
        inputs = [undersampled[fname] for _, _, fname in test]
        start = time.perf_counter()
        pred = self._predict(method, inputs, mask)
        per_slice_s = (time.perf_counter() - start) / len(inputs)
        name = f"{method.name} ({os.path.basename(ckpt)})"
        # scored from the batched predictions: the time per slice is the batched network time
        self._score_precomputed(setting, name, test, list(pred), per_slice_s, method.real_valued_prior)
        if method.data_consistency:
            start = time.perf_counter()
            dc = [np.asarray(data_consistency(p[None], k[None], mask))[0] for p, (k, _) in zip(pred, inputs)]
            dc_s = per_slice_s + (time.perf_counter() - start) / len(inputs)
            dc_name = f"{method.name} + data consistency ({os.path.basename(ckpt)})"
            self._score_precomputed(setting, dc_name, test, dc, dc_s, method.real_valued_prior)

    def _score_precomputed(self, setting, name, test, recons, seconds, real_valued_prior: bool) -> None:
        params = "trained on the training split; checkpoint by validation NMSE"
        scores = [self._record(setting, name, image, region, fname, recon, params, seconds)
                  for (image, region, fname), recon in zip(test, recons)]  # fmt: skip
        self._add_row(setting, name, params, "training/validation", scores, seconds, real_valued_prior)
        self._write_tables()

    # the run ----------------------------------------------------------------------------------------------
    def run(self) -> list[dict[str, Any]]:
        """Run every setting and method; write the tables; return the summary rows."""
        from monai_genmed.apps.baselines import DEFAULT_GRIDS, tune_cs_method

        self._previous = self._load_previous(os.path.join(self.output_dir, "per_slice.csv"))
        self._sources = [(os.path.join(self.output_dir, "per_slice.csv"), self._previous)]
        self._sources += [(path, self._load_previous(path, required=True)) for path in self.reuse_from]
        self._rejected = set()
        validation = self._load_split("validation", self.tune_slices)
        test = self._load_split(self.test_split, self.test_slices)
        shape = test[0][0].shape
        self._check_noise_levels(self.classical)
        slow_subset = _spread(test, self.slow_method_slices)
        self._example_slice = slow_subset[len(slow_subset) // 2][2]  # a slice every method reconstructs
        methods = _classical_methods() if self.classical else {}
        for setting in self.settings:
            mask = np.asarray(self.mask_fn(setting["mask_type"], setting["sampling_fraction"], shape), dtype=np.float32)
            undersampled = {fname: self._undersample(image, mask) for image, _, fname in test}  # once per setting
            # always computed (cheap): earlier scores are reused only where they were made on the same data
            self._score_method(setting, "zero-filled", lambda k, m, zf, fname: zf, test, undersampled, mask, "-", "-", reuse=False)
            self._check_earlier(setting)
            for key in self.classical:
                display, factory, grid_key = methods[key]
                fixed = self.fixed_params.get(key, {})
                make = functools.partial(factory, **fixed)
                grid = self.grids.get(key, DEFAULT_GRIDS[grid_key])
                slow = key in SLOW_METHODS
                tuning, names = self._tuning_slices(key, validation, mask)
                key_fields = {"datalist": os.path.abspath(self.datalist), "setting": setting, "method": key, "fixed": fixed,
                              "grid": {k: list(v) for k, v in grid.items()}, "metric": "psnr", "slices": names}  # fmt: skip
                best = self._cached_tuning(key_fields)
                if best is None:
                    start = time.perf_counter()
                    best, _ = tune_cs_method(make, grid, tuning, metric="psnr")
                    logger.info(f"{display}: tuned {best} on {len(tuning)} validation slices in {time.perf_counter() - start:.0f} s")
                    self._store_tuning(key_fields, best)
                else:
                    logger.info(f"{display}: tuned settings {best} taken from {self.tuning_cache}")
                reconstructor = make(**best)
                subset = _spread(test, self.slow_method_slices if slow else None)
                params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in reconstructor.params.items())
                tuned = f"validation ({len(tuning)} slices, grid {dict(grid)}, best PSNR)"
                recon_fn = lambda k, m, zf, fname: reconstructor(k, m, self._slice_noise(fname))  # noqa: E731 (ignored unless used)
                self._score_method(setting, display, recon_fn, subset, undersampled, mask, params, tuned)
            for method in self.learned:
                if method.applies_to(setting):
                    self._learned(method, setting, test, undersampled, mask)
        self._write(shape, len(test), len(validation))
        return self.rows

    def tuning_table(self, method: str, setting: Mapping[str, Any], grid: Mapping[str, Sequence[Any]]) -> tuple[dict, list[dict], list[str]]:
        """Score ``grid`` of the classical ``method`` (``"tv"``, ``"bm3d"``...) on the validation slices :py:meth:`run`
        tunes it on for ``setting``, with the same fixed settings; the tuning cache and the tables are not touched.
        For checking a tuned value on a finer grid or past the grid's end.

        Returns:
            ``(best, table, slice names)`` as :func:`monai_genmed.apps.baselines.tune_cs_method` gives them.
        """
        from monai_genmed.apps.baselines import tune_cs_method

        if method not in _classical_methods():
            raise ValueError(f"unknown classical method {method!r}; choose from {CLASSICAL_METHODS}.")
        validation = self._load_split("validation", self.tune_slices)
        self._check_noise_levels([method])
        mask = np.asarray(self.mask_fn(setting["mask_type"], setting["sampling_fraction"], validation[0][0].shape), dtype=np.float32)
        slices, names = self._tuning_slices(method, validation, mask)
        make = functools.partial(_classical_methods()[method][1], **self.fixed_params.get(method, {}))
        best, table = tune_cs_method(make, grid, slices, metric="psnr")
        return best, table, names

    def _tuning_slices(self, method: str, validation: list, mask: np.ndarray) -> tuple[list[tuple], list[str]]:
        """The ``(kspace_masked, mask, target, None)`` tuning inputs of ``method`` and their file names: every
        validation slice, or an even spread of ``slow_method_tune_slices`` for a slow method."""
        cap = self.slow_method_tune_slices
        if isinstance(cap, Mapping):
            cap = cap.get(method, 2)
        chosen = _spread(validation, cap if method in SLOW_METHODS else None)
        slices = [(self._undersample(image, mask)[0], mask, image, None, self._slice_noise(name)) for image, _, name in chosen]
        return slices, [name for _, _, name in chosen]

    def _slice_noise(self, fname: str) -> float | None:
        """The datalist's ``noise_sigma`` of a loaded slice (None where it has none or one that is not a number >= 0)."""
        try:
            value = float(self._noise_sigma.get(fname))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        return value if np.isfinite(value) and value >= 0 else None

    def _check_noise_levels(self, methods: Sequence[str]) -> None:
        """Every loaded slice has a usable noise level where one of ``methods`` is told it (``tv_noise``...)."""
        needs_noise = [key for key in methods if key in NOISE_LEVEL_METHODS]
        bad = [name for name in self._noise_sigma if self._slice_noise(name) is None] if needs_noise else []
        if bad:
            raise ValueError(
                f"classical methods {needs_noise} need each slice's noise level, but {len(bad)} slices of "
                f"{self.datalist!r} (e.g. {bad[0]}: {self._noise_sigma[bad[0]]!r}) have no 'noise_sigma' entry or one that "
                "is not a number >= 0; set it in the datalist (the noise standard deviation on the image's scale, e.g. "
                "from a noise pre-scan; 0 for noise-free data) or drop those methods."
            )

    @staticmethod
    def _tuning_key(fields: Mapping[str, Any]) -> str:
        return json.dumps(fields, sort_keys=True, default=str)

    def _cached_tuning(self, fields: Mapping[str, Any]) -> dict[str, Any] | None:
        if not self.tuning_cache or not os.path.isfile(self.tuning_cache):
            return None
        with open(self.tuning_cache) as f:
            entries = json.load(f)
        hit = entries.get(self._tuning_key(fields))
        return None if hit is None else dict(hit["best"])

    def _store_tuning(self, fields: Mapping[str, Any], best: Mapping[str, Any]) -> None:
        if not self.tuning_cache:
            return
        # runs in parallel (one per mask) may share the cache: read, add and write under a lock, so that no entry
        # another run stored in between is lost; the atomic write leaves the old cache if a run is killed
        with FileLock(self.tuning_cache + ".lock"):
            entries = {}
            if os.path.isfile(self.tuning_cache):
                with open(self.tuning_cache) as f:
                    entries = json.load(f)
            entries[self._tuning_key(fields)] = {"best": dict(best), **fields}
            write_json_atomic(self.tuning_cache, entries, indent=1, default=str)

    @staticmethod
    def _load_previous(path: str, required: bool = False) -> dict[tuple, dict[str, str]]:
        """Per-slice scores of an earlier run (this ``output_dir``'s, kept when a run stops part-way, or one of
        ``reuse_from``, where ``required``: a file that cannot be matched is then an error, not skipped)."""
        if not os.path.isfile(path):
            return {}
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows or "settings" not in rows[0]:
            if required:
                raise ValueError(f"reuse_from {path!r} has no rows with a 'settings' column (empty, or written by an "
                                 "older version); run that comparison again or drop it from reuse_from.")
            return {}  # written before the settings were recorded per slice: nothing can be matched safely
        short = [i + 2 for i, r in enumerate(rows) if None in r or None in r.values()]  # csv fills a cut line with None
        if short:
            if required:
                raise ValueError(f"reuse_from {path!r} is damaged: line {short[0]} has {'more' if None in rows[short[0] - 2] else 'fewer'} "
                                 "fields than its header (a truncated or edited file); run that comparison again or drop it.")  # fmt: skip
            rows = [r for i, r in enumerate(rows) if i + 2 not in short]
        return {(r["mask_type"], r["sampling_fraction"], r["method"], r["slice"], r["settings"]): r for r in rows}

    def _write_tables(self, final: bool = False) -> None:
        """results.csv and per_slice.csv as they stand, atomically (after every method: nothing finished is lost).

        Until the run ends, per_slice.csv also keeps the earlier run's rows of every method and setting this run
        has not reached yet, so a run stopped part-way does not throw away scores it would have reused.
        """
        per_slice = self.per_slice
        if not final:
            reached = {(p["mask_type"], str(p["sampling_fraction"]), p["method"]) for p in self.per_slice}
            per_slice = per_slice + [r for r in self._previous.values() if (r["mask_type"], r["sampling_fraction"], r["method"]) not in reached]
        for name, rows in (("results.csv", self.rows), ("per_slice.csv", per_slice)):
            write_csv_atomic(os.path.join(self.output_dir, name), rows)

    def _write(self, shape, n_test: int, n_val: int) -> None:
        self._write_tables(final=True)
        with atomic_path(os.path.join(self.output_dir, "results.md")) as tmp, open(tmp, "w", encoding="utf-8") as f:
            f.write(self.markdown(shape, n_test, n_val))
        for (mask_type, fraction), examples in self.examples.items():
            self.figure(examples, os.path.join(self.output_dir, f"example_{mask_type}_{round(fraction * 100)}.png"),
                        f"{mask_type} {fraction:.0%}, test slice {os.path.basename(self._example_slice)}")  # fmt: skip

    @staticmethod
    def figure(examples: Mapping[str, Any], path: str, title: str, error_gain: float = 5.0) -> None:
        """Reference and every method's reconstruction of one slice (top) and their errors (bottom), as a PNG."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        target = examples["target"]
        methods = [k for k in examples if k != "target"]
        fig, axes = plt.subplots(2, len(methods) + 1, figsize=(2.4 * (len(methods) + 1), 5.2), squeeze=False)
        axes[0, 0].imshow(target, cmap="gray", vmin=0, vmax=1)
        axes[0, 0].set_title("fully sampled", fontsize=8)
        for j, name in enumerate(methods, start=1):
            recon, psnr = examples[name]
            axes[0, j].imshow(recon, cmap="gray", vmin=0, vmax=1)
            axes[0, j].set_title(f"{textwrap.fill(name.rsplit(' (', 1)[0], 24)}\n{psnr:.2f} dB", fontsize=8)  # drop "(model.pt)"
            axes[1, j].imshow(np.abs(recon - target), cmap="inferno", vmin=0, vmax=1 / error_gain)
        axes[1, 0].text(0.5, 0.5, f"|error| x {error_gain:g}", ha="center", va="center", fontsize=9)
        for ax in axes.ravel():
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_frame_on(ax is not axes[1, 0])
        fig.suptitle(title, fontsize=9)
        fig.tight_layout()
        with atomic_path(path, ".png") as tmp:
            fig.savefig(tmp, dpi=90)
        plt.close(fig)

    def markdown(self, shape, n_test: int, n_val: int) -> str:
        """The table as Markdown, with the facts a reader needs to judge it."""
        fmt = lambda r, k, d: f"{r[k]:.{d}f} ± {r[k + '_sd']:.{d}f}" if k in r and np.isfinite(r[k]) else "-"  # noqa: E731
        lines = [
            "# Compressed-sensing MRI reconstruction: test-set comparison",
            "",
            f"- Data: `{_display_path(self.datalist)}`, split `{self.test_split}`: {n_test} slices ({shape[0]}x{shape[1]}), "
            f"{self._data_text(self.datalist, self.test_split)}; images are magnitudes in [0, 1], PSNR/SSIM with data range 1."
            + (" Background set to exactly 0 outside the head mask on every test slice (the same slices as the plain "
               "table; tuning on the validation slices as they are)." if self.zero_background_test else ""),
            "- Masks: one fixed mask per setting (monai_genmed's shipped DAGAN grid), the same for every method.",
            f"- Classical methods: regularisation tuned by grid search on {n_val} validation slices (best PSNR); "
            "never on test slices. Learned methods: trained on the training split, checkpoint chosen on validation.",
            "- Prior column: whether a method assumes a real, non-negative image (the real-valued prior).",
            "- Slow methods are tuned on fewer validation slices and scored on a subset of test slices (column n).",
            "- NMSE = ||x - y||² / ||y||² (fastMRI). HFEN = ||LoG(x) - LoG(y)|| / ||LoG(y)|| (Ravishankar and Bresler 2011, "
            "15x15 LoG, sigma 1.5): error in edges and fine texture, lower is better. HF ratio = ||LoG(x)|| / ||LoG(y)||: "
            "below 1 blurrier than the reference, above 1 busier. 'head' columns: inside the head mask.",
            "- Values: mean ± SD over test slices; seconds per slice on this machine (learned: batched network time).",
            "",
            "| mask | fraction | method | prior | NMSE | PSNR (dB) | SSIM | HFEN | HF ratio | PSNR head | SSIM head | HFEN head | s/slice | n | settings |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in self.rows:
            lines.append(
                f"| {r['mask_type']} | {r['sampling_fraction']:.0%} | {r['method']} | {r['real_valued_prior']} | {fmt(r, 'nmse', 4)} | "
                f"{fmt(r, 'psnr', 2)} | {fmt(r, 'ssim', 4)} | {fmt(r, 'hfen', 3)} | {fmt(r, 'hf_ratio', 3)} | {fmt(r, 'psnr_head', 2)} | "
                f"{fmt(r, 'ssim_head', 4)} | {fmt(r, 'hfen_head', 3)} | {r['seconds_per_slice']:.3g} | {r['n_test_slices']} | {r['settings']} |"
            )
        lines += self._subset_table()
        return "\n".join(lines) + "\n"

    def _subset_table(self) -> list[str]:
        """Every method's means on the test slices a slow method was scored on, so its row compares like with like."""
        lines: list[str] = []
        for mask_type, fraction in dict.fromkeys((r["mask_type"], r["sampling_fraction"]) for r in self.rows):
            rows = [r for r in self.rows if (r["mask_type"], r["sampling_fraction"]) == (mask_type, fraction)]
            per_slice = [p for p in self.per_slice if (p["mask_type"], p["sampling_fraction"]) == (mask_type, fraction)]
            smallest = min(rows, key=lambda r: r["n_test_slices"])
            if smallest["n_test_slices"] == max(r["n_test_slices"] for r in rows):
                continue
            subset = {p["slice"] for p in per_slice if p["method"] == smallest["method"]}
            if not lines:
                lines = ["", f"On the same test slices as {smallest['method']} (n = {len(subset)}), every method:", "",
                         "| mask | fraction | method | PSNR (dB) | SSIM | HFEN | PSNR head | SSIM head | HFEN head |",
                         "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
            for r in rows:
                scores = [p for p in per_slice if p["method"] == r["method"] and p["slice"] in subset]
                mean = {k: float(np.mean([float(p[k]) for p in scores])) if scores and k in scores[0] else float("nan")
                        for k in ("psnr", "ssim", "hfen", "psnr_head", "ssim_head", "hfen_head")}  # fmt: skip
                cell = lambda k, d: f"{mean[k]:.{d}f}" if np.isfinite(mean[k]) else "-"  # noqa: E731
                lines.append(
                    f"| {mask_type} | {fraction:.0%} | {r['method']} | {cell('psnr', 2)} | {cell('ssim', 4)} | {cell('hfen', 3)} | "
                    f"{cell('psnr_head', 2)} | {cell('ssim_head', 4)} | {cell('hfen_head', 3)} |"
                )
        return lines
