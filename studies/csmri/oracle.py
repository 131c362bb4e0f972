"""How much a reconstruction could gain on noisy targets: the noise-free oracle.

On a noisy test image the unmeasured k-space holds noise that no method can predict. Margins between methods are
squeezed by it: where even a method that knew the noise-free image gains little over a baseline, no method can
beat that baseline by much. :func:`noise_free_oracle` is that reconstruction: the measured samples, and elsewhere
the k-space of the image the noise-free image is expected to become under the noise (the Rician mean of the
noise-free magnitude at the slice's sigma). It needs the noise-free twin of the test data
(``generate_brain_mr_dataset(..., write_clean=True)``). It is a reference, not a strict bound: a method may beat
it by a little on a slice (the noisy image is clipped to [0, 1], the noise of the magnitude is not independent
between k-space samples).

:func:`oracle_headroom` joins it with a comparison's ``per_slice.csv``: per slice, the oracle's PSNR, each
method's, and the share of the oracle's lead over a reference method that each method takes.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from monai.data import load_decathlon_datalist
from monai.transforms import LoadImage
from scipy.special import i0e, i1e

from monai_genmed.apps.baselines import conjugate_symmetric_fill
from monai_genmed.apps.report import ReportWriter, markdown_table
from monai_genmed.data.masks import default_undersampling_mask
from monai_genmed.transforms.kspace.functional import image_to_kspace, kspace_to_image

from .slice_classes import _find

__all__ = ["rician_mean", "noise_free_oracle", "oracle_headroom"]


def rician_mean(amplitude: np.ndarray, sigma: float) -> np.ndarray:
    """``E|a + n|`` for complex Gaussian ``n`` with ``sigma`` per component:
    ``sigma sqrt(pi/2) L_1/2(-a^2 / 2 sigma^2)``."""
    a = np.asarray(amplitude, dtype=np.float64)
    if sigma < 0 or not math.isfinite(sigma):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}.")
    if sigma == 0:
        return a.copy()
    x = a * a / (2.0 * sigma * sigma)  # i0e(x / 2) = exp(-x / 2) I0(x / 2): stable for large x
    return sigma * np.sqrt(np.pi / 2.0) * ((1.0 + x) * i0e(x / 2.0) + x * i1e(x / 2.0))


def noise_free_oracle(
    kspace_masked: np.ndarray, mask: np.ndarray, clean: np.ndarray, noise_sigma: float,
    zero_outside: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """The measured samples, and elsewhere the k-space of the expected noisy image of ``clean``.

    The target is a real magnitude image, so a measured sample also gives its conjugate-symmetric partner (the
    real-valued prior): those are filled from the measurement too, and the result is real.

    Args:
        kspace_masked: the measured k-space ``(H, W)`` (centred, orthonormal, as :func:`image_to_kspace`).
        mask: ``(H, W)``, 1 where measured.
        clean: the noise-free magnitude image ``(H, W)`` on the target's scale.
        noise_sigma: SD of each component of the complex noise (the datalist's ``noise_sigma``; 0: noise-free).
        zero_outside: a boolean region outside which the target is exactly 0 (a zero-background image), or None.
    """
    if kspace_masked.shape != clean.shape or mask.shape != clean.shape:
        raise ValueError(
            f"kspace_masked {kspace_masked.shape}, mask {mask.shape} and clean {clean.shape} must have one shape."
        )
    expected = np.clip(rician_mean(clean, float(noise_sigma)), 0.0, 1.0)
    if zero_outside is not None:
        expected = np.where(zero_outside, expected, 0.0)
    known, known_mask = conjugate_symmetric_fill(kspace_masked * mask, np.asarray(mask, np.float32))
    guess = np.asarray(image_to_kspace(expected[None].astype(np.float32)))[0]
    k = np.where(known_mask > 0, known, guess)
    return np.asarray(kspace_to_image(k[None], output="real"))[0].astype(np.float32)


def _psnr(recon: np.ndarray, target: np.ndarray, region: np.ndarray | None = None) -> float:
    err = (recon.astype(np.float64) - target) ** 2
    mse = float(err[region].mean() if region is not None else err.mean())
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def oracle_headroom(
    per_slice_csv: str | os.PathLike,
    datalist: str | os.PathLike,
    twin_datalist: str | os.PathLike,
    split: str,
    reference: str,
    methods: Sequence[str],
    output_path: str | os.PathLike | None = None,
) -> list[dict[str, Any]]:
    """Per slice and mask setting of ``per_slice_csv``: the oracle's PSNR (whole and head) beside ``reference`` and
    ``methods``, on the slices ``reference`` was scored on.

    Args:
        per_slice_csv: a comparison's ``per_slice.csv`` (its ``mask_type``/``sampling_fraction`` give the masks,
            the package's fixed ones for the image size).
        datalist: the datalist it scored (the noisy targets, ``noise_sigma``, ``zero_background``, head masks).
        twin_datalist: the same data made again with ``write_clean=True`` (its images must equal ``datalist``'s).
        split: the scored list.
        reference: the method the headroom is measured from (``"BM3D-MRI"``).
        methods: other methods to report (names as in the table, or their start before `` (``).
        output_path: a Markdown table (None: not written).

    Returns:
        one row per slice and setting with ``oracle_psnr``, ``oracle_psnr_head`` and ``<name>_psnr[_head]``.
    """
    with open(per_slice_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{per_slice_csv!r} has no rows.")
    items = {os.path.basename(str(i["image"])): i for i in load_decathlon_datalist(str(datalist), data_list_key=split)}
    twins = {
        os.path.basename(str(i["image"])): i for i in load_decathlon_datalist(str(twin_datalist), data_list_key=split)
    }
    load = LoadImage(image_only=True)
    out: list[dict[str, Any]] = []
    cache: dict[str, tuple] = {}
    for setting in dict.fromkeys((r["mask_type"], r["sampling_fraction"]) for r in rows):
        in_setting = [r for r in rows if (r["mask_type"], r["sampling_fraction"]) == setting]
        names = {r["method"] for r in in_setting}
        found = [_find(names, m, str(per_slice_csv)) for m in (reference, *methods)]
        scores = {m: {r["slice"]: r for r in in_setting if r["method"] == m} for m in found}
        for name in scores[found[0]]:
            if name not in items or name not in twins or "clean" not in twins[name]:
                raise ValueError(f"slice {name!r} of {per_slice_csv!r} has no noise-free twin in {twin_datalist!r}; "
                                 "make it with generate_brain_mr_dataset(..., write_clean=True) and the same "
                                 "arguments.")  # fmt: skip
            if name not in cache:
                item, twin = items[name], twins[name]
                target = np.asarray(load(item["image"]), np.float32)
                if not np.array_equal(target, np.asarray(load(twin["image"]), np.float32)):
                    raise ValueError(f"the twin of {name!r} in {twin_datalist!r} differs from the scored image; "
                                     "make the twin with exactly the arguments (and package version) of the "
                                     "scored data.")  # fmt: skip
                head = np.asarray(load(item["head_mask"])) > 0 if item.get("head_mask") else None
                clean = np.asarray(load(twin["clean"]), np.float32)
                sigma = float(item.get("noise_sigma") or 0.0)
                if not (math.isfinite(sigma) and sigma >= 0):
                    raise ValueError(f"slice {name!r} of {datalist!r} has noise_sigma {item.get('noise_sigma')!r}; "
                                     "it must be a finite number >= 0 (0 for a noise-free slice).")  # fmt: skip
                cache[name] = (target, clean, head, sigma, bool(item.get("zero_background")))
            target, clean, head, sigma, zero_bg = cache[name]
            mask = np.asarray(default_undersampling_mask(setting[0], float(setting[1]), target.shape), np.float32)
            kspace = np.asarray(image_to_kspace(target[None]))[0] * mask
            oracle = noise_free_oracle(kspace, mask, clean, sigma, head if zero_bg else None)
            row: dict[str, Any] = {"mask_type": setting[0], "sampling_fraction": float(setting[1]), "slice": name,
                                   "noise_sigma": sigma, "oracle_psnr": _psnr(oracle, target),
                                   "oracle_psnr_head": _psnr(oracle, target, head)}  # fmt: skip
            for label, m in zip((reference, *methods), found):
                if name in scores[m]:
                    row[f"{label}_psnr"] = float(scores[m][name]["psnr"])
                    row[f"{label}_psnr_head"] = float(scores[m][name]["psnr_head"])
            out.append(row)
    if output_path is not None:
        _write_table(out, reference, list(methods), split, output_path)
    return out


def _write_table(
    rows: list[dict[str, Any]], reference: str, methods: list[str], split: str, path: str | os.PathLike
) -> None:
    labels = [reference, *methods]
    lines = [f"Noise-free oracle against `{reference}` and the learned methods, split `{split}`: "
             f"PSNR whole / head (dB). Headroom: oracle - {reference}; share: (method - {reference}) / headroom, "
             "whole slice, over the noisy slices (a noise-free slice's oracle is exact, infinite PSNR).",
             ""]  # fmt: skip
    lines += markdown_table(["mask", "slice", "noise sigma", "oracle", *labels, f"headroom over {reference}"], [
        (f"{r['mask_type']} {r['sampling_fraction']:.0%}", r["slice"], f"{r['noise_sigma']:.4f}",
         f"{r['oracle_psnr']:.2f} / {r['oracle_psnr_head']:.2f}",
         *(f"{r.get(f'{m}_psnr', math.nan):.2f} / {r.get(f'{m}_psnr_head', math.nan):.2f}" for m in labels),
         f"{r['oracle_psnr'] - r[f'{reference}_psnr']:+.2f}")
        for r in rows
    ])  # fmt: skip
    means = []
    for setting in dict.fromkeys((r["mask_type"], r["sampling_fraction"]) for r in rows):
        noisy = [r for r in rows if (r["mask_type"], r["sampling_fraction"]) == setting and r["noise_sigma"] > 0]
        if not noisy:
            continue

        def mean(key: str, subset: list[dict[str, Any]] = noisy) -> float:
            return float(np.mean([r.get(key, math.nan) for r in subset]))

        room, room_head = (
            mean("oracle_psnr") - mean(f"{reference}_psnr"),
            mean("oracle_psnr_head") - mean(f"{reference}_psnr_head"),
        )
        shares = [f"{(mean(f'{m}_psnr') - mean(f'{reference}_psnr')) / room:.2f} / "
                  f"{(mean(f'{m}_psnr_head') - mean(f'{reference}_psnr_head')) / room_head:.2f}"
                  for m in methods]  # fmt: skip
        tight = sum(r["oracle_psnr"] - r[f"{reference}_psnr"] < 1.0 for r in noisy)
        means.append((f"{setting[0]} {float(setting[1]):.0%}", len(noisy),
                      f"{mean('oracle_psnr'):.2f} / {mean('oracle_psnr_head'):.2f}",
                      *(f"{mean(f'{m}_psnr'):.2f} / {mean(f'{m}_psnr_head'):.2f}" for m in labels),
                      f"{room:+.2f} / {room_head:+.2f}", *shares, tight))  # fmt: skip
    lines += ["", "Means over the noisy slices (whole / head):", ""]
    lines += markdown_table(["mask", "n", "oracle", *labels, f"headroom over {reference}",
                             *(f"share of {m}" for m in methods), "slices with headroom < 1 dB"], means)  # fmt: skip
    ReportWriter(os.path.dirname(os.path.abspath(path))).write_markdown(os.path.basename(path), lines)
