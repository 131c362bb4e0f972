"""The synthetic-CT comparison's figures: MAE against the training misalignment, an example slice, validation curves.

Each function returns a Matplotlib figure that :class:`monai_genmed.apps.report.ReportWriter` saves.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from monai_genmed.apps.report import ReportWriter

__all__ = ["BONE_HU", "LOOKUP_NAME", "curves_figure", "examples_figure", "misalignment_figure"]

#: CT voxels above this are counted as bone for the bone-only MAE
BONE_HU = 300.0
LOOKUP_NAME = "intensity-to-HU lookup"


def curves_figure(logs: Mapping[str, str], metric: str) -> Any:
    """``metric`` per epoch from each method's ``metrics.csv`` (``logs``: name -> path), beside the lookup's."""
    fig = ReportWriter.new_figure((5.5, 3.8))
    ax = fig.subplots()
    lookup = None
    for name, path in logs.items():
        with open(path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r.get(metric) not in (None, "")]
        if rows:
            ax.plot([int(r["epoch"]) for r in rows], [float(r[metric]) for r in rows], marker=".", label=name)
            lookup = lookup or rows[0].get("baseline_lookup_val_mae")
    if lookup:  # the training runs log the lookup's validation MAE beside their own
        ax.axhline(float(lookup), color="gray", linestyle=":", label=LOOKUP_NAME)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{metric} (validation)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def misalignment_figure(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Test MAE of the paired models against their training misalignment, the unpaired model and lookup as bands."""
    fig = ReportWriter.new_figure((5.5, 3.8))
    ax = fig.subplots()
    paired = sorted((r for r in rows if r["kind"] == "paired"), key=lambda r: r["misalignment"])
    if paired:
        ax.errorbar([r["misalignment"] for r in paired], [r["mae"] for r in paired], [r["mae_sd"] for r in paired],
                    marker="o", capsize=3, label="paired L1 (trained at that misalignment)")  # fmt: skip
    for r in rows:
        if r["kind"] in ("unpaired", "lookup"):
            style = "--" if r["kind"] == "unpaired" else ":"
            ax.axhline(r["mae"], linestyle=style, color="C1" if r["kind"] == "unpaired" else "gray", label=r["method"])
            ax.axhspan(
                r["mae"] - r["mae_sd"],
                r["mae"] + r["mae_sd"],
                alpha=0.12,
                color="C1" if r["kind"] == "unpaired" else "gray",
            )
    ax.set_xlabel("misalignment of the training pairs (generator's knob)")
    ax.set_ylabel("test MAE in the body (HU)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def examples_figure(slices: Sequence[Mapping[str, Any]], predictions: Mapping[str, Sequence[np.ndarray]]) -> Any:
    """MR, every method's synthetic CT and the CT of a slice with much bone, and each method's error."""
    index = int(np.argmax([s["mask"].sum() + (s["ct"] > BONE_HU).sum() for s in slices]))  # a slice with much bone
    s = slices[index]
    names = list(predictions)
    fig = ReportWriter.new_figure((2.6 * (len(names) + 2), 5.6))
    axes = fig.subplots(2, len(names) + 2, squeeze=False)
    axes[0, 0].imshow(s["mr"], cmap="gray", vmin=0, vmax=1)
    axes[0, 0].set_title("MR", fontsize=8)
    axes[0, -1].imshow(s["ct"], cmap="gray", vmin=-1000, vmax=1600)
    axes[0, -1].set_title("CT (aligned)", fontsize=8)
    error_image = None
    for j, name in enumerate(names, start=1):
        pred = predictions[name][index]
        axes[0, j].imshow(pred, cmap="gray", vmin=-1000, vmax=1600)
        axes[0, j].set_title(name, fontsize=7)
        error = np.where(s["mask"], np.abs(pred - s["ct"]), 0)
        error_image = axes[1, j].imshow(error, cmap="inferno", vmin=0, vmax=500)
        axes[1, j].set_title(f"|error| MAE {np.abs(pred - s['ct'])[s['mask']].mean():.0f} HU", fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[1, 0].axis("off")
    axes[1, -1].axis("off")
    if error_image is not None:
        fig.colorbar(error_image, ax=axes[1, -1], fraction=0.9, label="|synthetic CT - CT| (HU)")
    fig.suptitle(f"{s['subject']} {s['file']}: MR | synthetic CT | CT, window -1000..1600 HU", fontsize=9)
    fig.tight_layout()
    return fig
