"""The comparison's scores: per slice and per row, kept as CSV tables that a stopped run resumes from and other
runs reuse."""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from monai_genmed.metrics import compute_high_frequency_scores, compute_nmse, compute_psnr, compute_ssim
from monai_genmed.utils.io import write_csv_atomic

__all__ = ["METRICS", "ResultsStore", "metric_keys", "slice_scores", "unscored"]

logger = logging.getLogger(__name__)

METRICS = ("nmse", "psnr", "ssim", "hfen", "hf_ratio")  # per-slice scores; each also "_head" where a head mask is given


def slice_scores(recon: np.ndarray, target: np.ndarray, region: np.ndarray | None) -> dict[str, float]:
    """Every metric of one reconstruction, over the slice and (with ``region``) inside the head mask."""
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


def metric_keys(masked: bool) -> list[str]:
    """The score columns of one slice (as :func:`slice_scores` writes them)."""
    return [f"{m}{suffix}" for suffix in ("", "_head")[: 1 + masked] for m in METRICS]


def unscored(value: Any) -> bool:
    """A per-slice cell an earlier run left without a score (column added later, or reused unscored)."""
    return value is None or value == "" or (isinstance(value, str) and value.lower() == "nan")


class ResultsStore:
    """The rows (``results.csv``) and per-slice scores (``per_slice.csv``) of a comparison, and the earlier runs'
    scores it may reuse.

    An earlier ``per_slice.csv`` in ``output_dir`` (a stopped run's) and those of ``reuse_from`` are read by
    :meth:`open`; :meth:`earlier` gives a slice's earlier scores only from a table whose zero-filled scores of the
    setting equal this run's (:meth:`check_earlier`), so scores of other data are never taken.

    Args:
        output_dir: where the tables go.
        reuse_from: other runs' ``per_slice.csv`` files (checked to exist by the caller).
    """

    def __init__(self, output_dir: str, reuse_from: Sequence[str] = ()) -> None:
        self.output_dir, self.reuse_from = output_dir, list(reuse_from)
        self.rows: list[dict[str, Any]] = []
        self.per_slice: list[dict[str, Any]] = []
        self.previous: dict[tuple, dict[str, str]] = {}  # this output_dir's earlier rows
        self.sources: list[tuple[str, dict[tuple, dict[str, str]]]] = []  # (path, rows): output_dir's, then reuse_from
        self.rejected: set[tuple[str, str, str]] = (
            set()
        )  # (path, mask_type, fraction) whose data differ from this run's

    def open(self) -> None:
        """Read the earlier tables (this ``output_dir``'s and ``reuse_from``)."""
        own = os.path.join(self.output_dir, "per_slice.csv")
        self.previous = self.load_previous(own)
        self.sources = [(own, self.previous)] + [
            (path, self.load_previous(path, required=True)) for path in self.reuse_from
        ]
        self.rejected = set()

    @staticmethod
    def load_previous(path: str, required: bool = False) -> dict[tuple, dict[str, str]]:
        """Per-slice scores of an earlier run (this ``output_dir``'s, kept when a run stops part-way, or one of
        ``reuse_from``, where ``required``: a file that cannot be matched is then an error, not skipped)."""
        if not os.path.isfile(path):
            return {}
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows or "settings" not in rows[0]:
            if required:
                raise ValueError(f"reuse_from {path!r} has no rows with a 'settings' column (empty, or written by an "
                                 "older version); run that comparison again or drop it from reuse_from.")  # fmt: skip
            return {}  # written before the settings were recorded per slice: nothing can be matched safely
        short = [i + 2 for i, r in enumerate(rows) if None in r or None in r.values()]  # csv fills a cut line with None
        if short:
            if required:
                raise ValueError(
                    f"reuse_from {path!r} is damaged: line {short[0]} has "
                    f"{'more' if None in rows[short[0] - 2] else 'fewer'} fields than its header (a truncated or "
                    "edited file); run that comparison again or drop it."
                )
            rows = [r for i, r in enumerate(rows) if i + 2 not in short]
        return {(r["mask_type"], r["sampling_fraction"], r["method"], r["slice"], r["settings"]): r for r in rows}

    def earlier(self, key: tuple) -> dict[str, str] | None:
        """An earlier run's scores of ``(mask_type, fraction, method, slice, settings)``, from a source whose data
        match this run's (see :meth:`check_earlier`)."""
        for path, rows in self.sources:
            if key in rows and (path, key[0], key[1]) not in self.rejected:
                return rows[key]
        return None

    def check_earlier(self, setting: Mapping[str, Any]) -> None:
        """Compare each earlier table's zero-filled scores of ``setting`` with this run's (just computed): a table
        of other data is set aside (this output_dir's: with a warning, it is overwritten) or refused (reuse_from)."""
        mask_type, fraction = setting["mask_type"], str(setting["sampling_fraction"])
        fresh = {
            p["slice"]: p["psnr"]
            for p in self.per_slice
            if p["method"] == "zero-filled" and (p["mask_type"], str(p["sampling_fraction"])) == (mask_type, fraction)
        }
        for index, (path, rows) in enumerate(self.sources):
            mine = [r for r in rows.values() if (r["mask_type"], r["sampling_fraction"]) == (mask_type, fraction)]
            if not mine:
                continue
            zero_filled = {r["slice"]: float(r["psnr"]) for r in mine if r["method"] == "zero-filled"}
            shared = [name for name in zero_filled if name in fresh]
            differ = [name for name in shared if abs(zero_filled[name] - fresh[name]) > 1e-6]
            if shared and not differ:
                continue
            why = (
                f"its zero-filled PSNR of {differ[0]} is {zero_filled[differ[0]]:.4f} dB, this run's "
                f"{fresh[differ[0]]:.4f} dB"
                if differ
                else "it holds no zero-filled score of this run's test slices"
            )
            if index == 0:  # this output_dir's own table
                logger.warning(
                    f"{path}: earlier scores of {mask_type} {setting['sampling_fraction']:.0%} are not reused, "
                    f"they were made on other data ({why}); those slices are scored again."
                )
                self.rejected.add((path, mask_type, fraction))
                continue
            raise ValueError(
                f"reuse_from {path!r} was scored on other data than this run for {mask_type} "
                f"{setting['sampling_fraction']:.0%} ({why}); give the per_slice.csv of a run of the same datalist, "
                "test split and zero_background_test, or drop it from reuse_from."
            )

    def add_slice(
        self,
        setting: Mapping[str, Any],
        method: str,
        name: str,
        settings: str,
        seconds: float,
        scores: Mapping[str, float],
    ) -> None:
        """One slice's scores of ``method``."""
        self.per_slice.append(
            {
                "mask_type": setting["mask_type"],
                "sampling_fraction": setting["sampling_fraction"],
                "method": method,
                "slice": name,
                "settings": settings,
                "seconds": round(seconds, 4),
                **scores,
            }
        )

    def add_row(
        self, setting: Mapping, method: str, params: str, tuned_on: str, scores: list[dict], seconds: float,
        real_valued_prior: bool | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """The summary row of ``method`` in ``setting``: the mean and SD of every score over its slices."""
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
        logger.info(
            f"{setting['mask_type']} {setting['sampling_fraction']:.0%} {method}: "
            f"PSNR {row['psnr']:.2f} dB, SSIM {row['ssim']:.4f}"
        )
        return row

    def write_tables(self, final: bool = False) -> None:
        """results.csv and per_slice.csv as they stand, atomically (after every method: nothing finished is lost).

        Until the run ends, per_slice.csv also keeps the earlier run's rows of every method and setting this run
        has not reached yet, so a run stopped part-way does not throw away scores it would have reused.
        """
        per_slice = self.per_slice
        if not final:
            reached = {(p["mask_type"], str(p["sampling_fraction"]), p["method"]) for p in self.per_slice}
            per_slice = per_slice + [
                r
                for r in self.previous.values()
                if (r["mask_type"], r["sampling_fraction"], r["method"]) not in reached
            ]
        for name, rows in (("results.csv", self.rows), ("per_slice.csv", per_slice)):
            write_csv_atomic(os.path.join(self.output_dir, name), rows)
