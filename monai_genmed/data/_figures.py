"""Draw the figures of ``docs/data.md``: ``python -m monai_genmed.data._figures docs/figures``."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from monai_genmed.data import synthesis as syn  # noqa: E402
from monai_genmed.data.head_mr_ct import synthesize_ct  # noqa: E402

SIZE = (256, 256)


def _subject(index: int, slices: int = 5, snr: float | None = 30.0) -> syn.Subject:
    return syn.synthesize_subject(0, "training", index, "axial", slices, SIZE, 1.0, 0.25, snr)


def _save(fig: plt.Figure, axes: np.ndarray, title: str, path: Path) -> None:
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def brain_mr_figure(path: Path) -> None:
    """Slices of four subjects at matching levels, noise-free and with Rician noise (SNR 30), plus a zoom."""
    subjects = [_subject(i) for i in range(4)]
    fig, axes = plt.subplots(3, 4, figsize=(13, 9.2), gridspec_kw={"height_ratios": [1, 1, 0.5]})
    for column, subject in enumerate(subjects):
        n = 1 + column % 3  # different levels for different subjects
        clean, noisy = subject.mr.clean[n], subject.mr.image[n]
        axes[0, column].imshow(clean, cmap="gray", vmin=0, vmax=1)
        axes[0, column].set_title(f"training-{column:03d}, axial {subject.positions[n]}\nnoise-free", fontsize=9)
        axes[1, column].imshow(noisy, cmap="gray", vmin=0, vmax=1)
        axes[1, column].set_title(f"Rician noise, WM SNR 30 (sigma {subject.mr.noise_sigma:.3f})", fontsize=9)
        zoom = (slice(80, 144), slice(96, 160))
        axes[2, column].imshow(np.hstack([clean[zoom], noisy[zoom]]), cmap="gray", vmin=0, vmax=1)
        axes[2, column].set_title("zoom: noise-free | noisy", fontsize=9)
    _save(fig, axes, "Synthetic brain MR (Colin27 deformed per subject, bias field, contrast; 256 x 256 at 1 mm)", path)


def head_mr_ct_figure(path: Path) -> None:
    """MR | CT head window | CT bone window | body mask for three levels, and a misaligned pair."""
    subject = _subject(0, slices=7)
    rng = lambda stream: syn.subject_rng(0, "training", 0, stream)  # noqa: E731
    ct, body = synthesize_ct(subject, rng(syn.Stream.CT_TEXTURE), rng(syn.Stream.MISALIGNMENT), 0.0, 12.0, 1.0)
    moved, _ = synthesize_ct(subject, rng(syn.Stream.CT_TEXTURE), rng(syn.Stream.MISALIGNMENT), 1.0, 12.0, 1.0)
    rows = [0, 3, 6]
    fig, axes = plt.subplots(len(rows) + 1, 4, figsize=(13, 13.6))
    for row, n in enumerate(rows):
        panels = [
            (subject.mr.image[n], dict(vmin=0, vmax=1), f"MR (T1), axial {subject.positions[n]}"),
            (ct[n], dict(vmin=0, vmax=80), "CT, brain window W80 L40"),
            (ct[n], dict(vmin=-500, vmax=1500), "CT, bone window W2000 L500"),
            (body[n], dict(vmin=0, vmax=1), "body mask"),
        ]
        for column, (image, window, title) in enumerate(panels):
            axes[row, column].imshow(image, cmap="gray", **window)
            axes[row, column].set_title(title, fontsize=9)
    n = rows[1]
    last = axes[len(rows)]
    last[0].imshow(subject.mr.image[n], cmap="gray", vmin=0, vmax=1)
    last[0].contour(ct[n] > 600, [0.5], colors="lime", linewidths=0.6)
    last[0].set_title("MR + bone of the aligned CT (green)", fontsize=9)
    last[1].imshow(subject.mr.image[n], cmap="gray", vmin=0, vmax=1)
    last[1].contour(moved[n] > 600, [0.5], colors="red", linewidths=0.6)
    last[1].set_title("MR + bone of the CT at misalignment=1 (red)", fontsize=9)
    last[2].imshow(moved[n], cmap="gray", vmin=-500, vmax=1500)
    last[2].set_title("CT at misalignment=1, bone window", fontsize=9)
    last[3].imshow(moved[n].astype(float) - ct[n], cmap="coolwarm", vmin=-1000, vmax=1000)
    last[3].set_title("CT(misalignment=1) - CT(0), HU", fontsize=9)
    _save(fig, axes, "Synthetic head MR / CT (HU from the head's tissues; misalignment moves the CT only)", path)


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/figures")
    folder.mkdir(parents=True, exist_ok=True)
    brain_mr_figure(folder / "data_brain_mr.png")
    head_mr_ct_figure(folder / "data_head_mr_ct.png")
