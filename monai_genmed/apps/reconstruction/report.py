"""The reconstruction comparison's report: the Markdown table with the facts a reader needs, and the example figure."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from monai_genmed.apps.report import ReportWriter, format_cell, markdown_table

from .slices import data_text

__all__ = ["example_figure", "results_markdown", "subset_table"]

MAIN_HEADER = ("mask", "fraction", "method", "prior", "NMSE", "PSNR (dB)", "SSIM", "HFEN", "HF ratio", "PSNR head",
               "SSIM head", "HFEN head", "s/slice", "n", "settings")  # fmt: skip
SUBSET_HEADER = ("mask", "fraction", "method", "PSNR (dB)", "SSIM", "HFEN", "PSNR head", "SSIM head", "HFEN head")
SUBSET_SCORES = (("psnr", 2), ("ssim", 4), ("hfen", 3), ("psnr_head", 2), ("ssim_head", 4), ("hfen_head", 3))


def _display_path(path: str) -> str:
    """``path`` relative to the working directory when it lies below it (tables stay readable and portable)."""
    rel = os.path.relpath(os.path.abspath(path))
    return path if rel.startswith("..") else rel


def _mean_sd(row: Mapping[str, Any], key: str, decimals: int) -> str:
    if key not in row or not np.isfinite(row[key]):
        return "-"
    return f"{row[key]:.{decimals}f} ± {row[key + '_sd']:.{decimals}f}"


def results_markdown(
    rows: Sequence[Mapping[str, Any]],
    per_slice: Sequence[Mapping[str, Any]],
    datalist: str,
    test_split: str,
    shape: Sequence[int],
    n_test: int,
    n_val: int,
    zero_background_test: bool = False,
) -> str:
    """The comparison's table as Markdown, with the facts a reader needs to judge it."""
    lines = [
        "# Compressed-sensing MRI reconstruction: test-set comparison",
        "",
        f"- Data: `{_display_path(datalist)}`, split `{test_split}`: {n_test} slices ({shape[0]}x{shape[1]}), "
        f"{data_text(datalist, test_split)}; images are magnitudes in [0, 1], PSNR/SSIM with data range 1."
        + (
            " Background set to exactly 0 outside the head mask on every test slice (the same slices as the plain "
            "table; tuning on the validation slices as they are)."
            if zero_background_test
            else ""
        ),
        "- Masks: one fixed mask per setting (monai_genmed's shipped DAGAN grid), the same for every method.",
        f"- Classical methods: regularisation tuned by grid search on {n_val} validation slices (best PSNR); "
        "never on test slices. Learned methods: trained on the training split, checkpoint chosen on validation.",
        "- Prior column: whether a method assumes a real, non-negative image (the real-valued prior).",
        "- Slow methods are tuned on fewer validation slices and scored on a subset of test slices (column n).",
        "- NMSE = ||x - y||² / ||y||² (fastMRI). HFEN = ||LoG(x) - LoG(y)|| / ||LoG(y)|| (Ravishankar and "
        "Bresler 2011, 15x15 LoG, sigma 1.5): error in edges and fine texture, lower is better. "
        "HF ratio = ||LoG(x)|| / ||LoG(y)||: below 1 blurrier than the reference, above 1 busier. "
        "'head' columns: inside the head mask.",
        "- Values: mean ± SD over test slices; seconds per slice on this machine (learned: batched network time).",
        "",
    ]
    lines += markdown_table(MAIN_HEADER, [
        (r["mask_type"], f"{r['sampling_fraction']:.0%}", r["method"], r["real_valued_prior"], _mean_sd(r, "nmse", 4),
         _mean_sd(r, "psnr", 2), _mean_sd(r, "ssim", 4), _mean_sd(r, "hfen", 3), _mean_sd(r, "hf_ratio", 3),
         _mean_sd(r, "psnr_head", 2), _mean_sd(r, "ssim_head", 4), _mean_sd(r, "hfen_head", 3),
         f"{r['seconds_per_slice']:.3g}", r["n_test_slices"], r["settings"])
        for r in rows
    ])  # fmt: skip
    lines += subset_table(rows, per_slice)
    return "\n".join(lines) + "\n"


def subset_table(rows: Sequence[Mapping[str, Any]], per_slice: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every method's means on the test slices a slow method was scored on, so its row compares like with like."""
    intro: list[str] = []
    cells: list[tuple] = []
    for mask_type, fraction in dict.fromkeys((r["mask_type"], r["sampling_fraction"]) for r in rows):
        in_setting = [r for r in rows if (r["mask_type"], r["sampling_fraction"]) == (mask_type, fraction)]
        slices = [p for p in per_slice if (p["mask_type"], p["sampling_fraction"]) == (mask_type, fraction)]
        smallest = min(in_setting, key=lambda r: r["n_test_slices"])
        if smallest["n_test_slices"] == max(r["n_test_slices"] for r in in_setting):
            continue
        subset = {p["slice"] for p in slices if p["method"] == smallest["method"]}
        if not intro:
            intro = ["", f"On the same test slices as {smallest['method']} (n = {len(subset)}), every method:", ""]
        for r in in_setting:
            scores = [p for p in slices if p["method"] == r["method"] and p["slice"] in subset]
            mean = {k: float(np.mean([float(p[k]) for p in scores])) if scores and k in scores[0] else float("nan")
                    for k, _ in SUBSET_SCORES}  # fmt: skip
            cells.append(
                (mask_type, f"{fraction:.0%}", r["method"], *(format_cell(mean[k], f".{d}f") for k, d in SUBSET_SCORES))
            )
    return intro + markdown_table(SUBSET_HEADER, cells) if intro else []


def example_figure(examples: Mapping[str, Any], title: str, error_gain: float = 5.0) -> Any:
    """Reference and every method's reconstruction of one slice (top) and their errors (bottom)."""
    target = examples["target"]
    methods = [k for k in examples if k != "target"]
    fig = ReportWriter.new_figure((2.4 * (len(methods) + 1), 5.2))
    axes = fig.subplots(2, len(methods) + 1, squeeze=False)
    axes[0, 0].imshow(target, cmap="gray", vmin=0, vmax=1)
    axes[0, 0].set_title("fully sampled", fontsize=8)
    for j, name in enumerate(methods, start=1):
        recon, psnr = examples[name]
        axes[0, j].imshow(recon, cmap="gray", vmin=0, vmax=1)
        axes[0, j].set_title(
            f"{textwrap.fill(name.rsplit(' (', 1)[0], 24)}\n{psnr:.2f} dB", fontsize=8
        )  # drop "(model.pt)"
        axes[1, j].imshow(np.abs(recon - target), cmap="inferno", vmin=0, vmax=1 / error_gain)
    axes[1, 0].text(0.5, 0.5, f"|error| x {error_gain:g}", ha="center", va="center", fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(ax is not axes[1, 0])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
