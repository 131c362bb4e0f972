"""Image grids (e.g. undersampled | reconstruction | target | error) as PNG files and TensorBoard images."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events

from monai_genmed.utils.io import atomic_path

__all__ = ["ImageGridSaver", "make_image_grid"]


def _as_batch(output: Any, keys: Sequence[str]) -> dict[str, np.ndarray]:
    """Batched numpy arrays for ``keys`` from a batched dict or a decollated list of dicts."""
    if (
        isinstance(output, Sequence)
        and not isinstance(output, (str, bytes))
        and output
        and isinstance(output[0], Mapping)
    ):
        batch = {k: np.stack([_numpy(item[k]) for item in output]) for k in keys}
    elif isinstance(output, Mapping):
        batch = {k: _numpy(output[k]) for k in keys}
    else:
        raise TypeError(
            f"ImageGridSaver expects the engine output as a dict or list of dicts, got {type(output).__name__}."
        )
    return batch


def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x)


def _slice2d(img: np.ndarray) -> np.ndarray:
    """First channel; the middle slice of a volume's last axis."""
    img = img[0] if img.ndim >= 3 else img
    while img.ndim > 2:
        img = img[..., img.shape[-1] // 2]
    return img


def make_image_grid(
    batch: Mapping[str, np.ndarray],
    columns: Sequence[str],
    error: tuple[str, str] | None,
    value_range: tuple[float, float],
    error_gain: float,
    max_samples: int,
    column_ranges: Mapping[str, Sequence[float]] | None = None,
) -> np.ndarray:
    """A ``rows x columns`` mosaic in [0, 1]: one row per sample, images clipped to ``value_range`` (or their
    own window in ``column_ranges``), the error column ``|a - b| * error_gain`` on ``value_range``'s scale."""
    n = min(max_samples, len(next(iter(batch.values()))))
    lo, hi = value_range
    windows = {k: tuple((column_ranges or {}).get(k, value_range)) for k in columns}
    rows = []
    for i in range(n):
        tiles = [
            np.clip((_slice2d(batch[k][i]) - windows[k][0]) / (windows[k][1] - windows[k][0]), 0, 1) for k in columns
        ]
        if error is not None:
            diff = np.abs(_slice2d(batch[error[0]][i]) - _slice2d(batch[error[1]][i]))
            tiles.append(np.clip(diff * error_gain / (hi - lo), 0, 1))
        rows.append(np.concatenate(tiles, axis=1))
    return np.concatenate(rows, axis=0)


class ImageGridSaver:
    """Write a grid of images from an engine's output: PNG files and, optionally, TensorBoard images.

    Attach it to a validator to see the first validation batch after every epoch (the step is the trainer's
    epoch, which MONAI's ``ValidationHandler`` passes to the validator), or to a trainer.

    Args:
        columns: output keys shown side by side, e.g. ``["image", "pred", "label"]`` for a MONAI evaluator
            (input, reconstruction, reference) or ``["input", "pred", "target"]`` for the generative trainer.
        titles: column titles in the PNG (default: the keys); the error column is titled ``|a - b| x gain``.
        error: ``(a, b)`` keys whose absolute difference forms the last column (None: no error column).
        error_gain: contrast gain of the error column (errors are small next to the images).
        output_dir: folder for ``{prefix}_{step:04d}.png`` (None: no PNG).
        log_dir: TensorBoard folder (ignored when ``summary_writer`` is given; None with no writer: no TensorBoard).
        summary_writer: a ``torch.utils.tensorboard.SummaryWriter`` to share with other handlers.
        tag: TensorBoard tag.
        value_range: intensity window of the images (magnitudes in [0, 1] by default) and of the error column.
        column_ranges: windows of columns in other units, e.g. ``{"image": (-1, 1)}`` for an MR input beside
            synthetic CT shown in HU.
        max_samples: rows of the grid.
        interval: write every this many epochs of the engine.
        output_transform: maps ``engine.state.output`` to the dict (or list of dicts) to read.
        prefix: PNG file-name prefix.
    """

    def __init__(
        self,
        columns: Sequence[str],
        titles: Sequence[str] | None = None,
        error: Sequence[str] | None = None,
        error_gain: float = 5.0,
        output_dir: str | None = None,
        log_dir: str | None = None,
        summary_writer: Any | None = None,
        tag: str = "images",
        value_range: Sequence[float] = (0.0, 1.0),
        column_ranges: Mapping[str, Sequence[float]] | None = None,
        max_samples: int = 4,
        interval: int = 1,
        output_transform: Callable[[Any], Any] = lambda x: x,
        prefix: str = "epoch",
    ) -> None:
        if not columns:
            raise ValueError("ImageGridSaver needs at least one column key.")
        if titles is not None and len(titles) != len(columns):
            raise ValueError(f"titles {list(titles)} must match columns {list(columns)} one to one.")
        if error is not None and len(error) != 2:
            raise ValueError(f"error must name two keys (a, b), got {error}.")
        if value_range[1] <= value_range[0]:
            raise ValueError(f"value_range must be (low, high) with low < high, got {value_range}.")
        self.columns = list(columns)
        self.titles = list(titles) if titles is not None else list(columns)
        self.error = tuple(error) if error is not None else None
        if self.error is not None:
            named = dict(zip(self.columns, self.titles))
            a, b = (named.get(k, k) for k in self.error)
            self.titles.append(f"|{a} - {b}| x {error_gain:g}")
        self.error_gain = error_gain
        self.output_dir = output_dir
        self.summary_writer = summary_writer
        self.log_dir = log_dir
        self.tag = tag
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.column_ranges = {k: (float(v[0]), float(v[1])) for k, v in (column_ranges or {}).items()}
        bad = {k: v for k, v in self.column_ranges.items() if v[1] <= v[0]}
        if bad:
            raise ValueError(f"column_ranges must be (low, high) with low < high, got {bad}.")
        self.max_samples = max_samples
        self.interval = interval
        self.output_transform = output_transform
        self.prefix = prefix
        self.written: list[str] = []

    def attach(self, engine: Engine) -> None:
        if self.summary_writer is None and self.log_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.summary_writer = SummaryWriter(log_dir=self.log_dir)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        epoch_length = engine.state.epoch_length or 1
        first_of_epoch = (engine.state.iteration - 1) % epoch_length == 0
        if not first_of_epoch or engine.state.epoch % self.interval:
            return
        keys = list(dict.fromkeys(self.columns + (list(self.error) if self.error else [])))
        batch = _as_batch(self.output_transform(engine.state.output), keys)
        grid = make_image_grid(
            batch, self.columns, self.error, self.value_range, self.error_gain, self.max_samples, self.column_ranges
        )
        step = engine.state.epoch
        if self.output_dir is not None:
            self.written.append(self._write_png(batch, step))
        if self.summary_writer is not None:
            self.summary_writer.add_image(self.tag, grid, step, dataformats="HW")
            self.summary_writer.flush()

    def _write_png(self, batch: Mapping[str, np.ndarray], step: int) -> str:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        n = min(self.max_samples, len(next(iter(batch.values()))))
        ncols = len(self.titles)
        fig, axes = plt.subplots(n, ncols, figsize=(2.6 * ncols, 2.6 * n), squeeze=False)
        lo, hi = self.value_range
        for i in range(n):
            for j, key in enumerate(self.columns):
                vmin, vmax = self.column_ranges.get(key, (lo, hi))
                axes[i, j].imshow(_slice2d(batch[key][i]), cmap="gray", vmin=vmin, vmax=vmax)
            if self.error is not None:
                diff = np.abs(_slice2d(batch[self.error[0]][i]) - _slice2d(batch[self.error[1]][i]))
                axes[i, -1].imshow(diff, cmap="inferno", vmin=0, vmax=(hi - lo) / self.error_gain)
            for j in range(ncols):
                axes[i, j].set_xticks([])
                axes[i, j].set_yticks([])
                if i == 0:
                    axes[i, j].set_title(self.titles[j], fontsize=9)
        fig.suptitle(f"{self.prefix} {step}", fontsize=10)
        fig.tight_layout()
        os.makedirs(self.output_dir, exist_ok=True)  # type: ignore[arg-type]
        path = os.path.join(self.output_dir, f"{self.prefix}_{step:04d}.png")  # type: ignore[arg-type]
        with atomic_path(path, ".png") as tmp:
            fig.savefig(tmp, dpi=80)
        plt.close(fig)
        return path
