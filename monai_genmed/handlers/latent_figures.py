"""Pictures of a latent-variable model: reconstructions, the latent space, samples and interpolations.

What separates an autoencoder from a VAE (Kingma and Welling 2014, https://arxiv.org/abs/1312.6114) is visible
in four pictures: both reconstruct; only the VAE's codes fill the prior ``N(0, I)``, so only its decoded prior
samples look like the data, while an autoencoder's codes sit wherever training put them (decoding ``N(0, I)``
then gives garbage, decoding a Gaussian fitted to the codes does better); and a VAE's decoder is smooth between
codes (an interpolation between two encoded slices passes through plausible slices). :class:`LatentFigures`
writes them when training completes; :class:`SampleGridSaver` writes a grid of whatever an engine generated
(a GAN's samples from fixed latents every epoch, or an inference run's samples).

The network is reached through ``encode_forward`` (its first output: the code, or a VAE's posterior mean) and
``decode_forward``, the methods of MONAI's ``VarAutoEncoder`` and of
:class:`~monai_genmed.networks.nets.ConvAutoEncoder`; other networks pass ``encode_fn``/``decode_fn``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events

from monai_genmed.data.latent import LatentDataset
from monai_genmed.utils.io import atomic_path

__all__ = [
    "LatentFigures",
    "SampleGridSaver",
    "encode_images",
    "fit_gaussian",
    "image_grid",
    "latent_pca",
    "save_image_grid",
]

logger = logging.getLogger(__name__)


# ---- pure helpers ------------------------------------------------------------------------------------------------
def image_grid(
    images: torch.Tensor | np.ndarray, ncols: int = 8, pad: int = 2, value_range: Sequence[float] = (0.0, 1.0)
) -> np.ndarray:
    """``(N, C, H, W)`` images (first channel shown) as one ``(rows * (H + pad) - pad, ...)`` mosaic in [0, 1]."""
    if isinstance(images, torch.Tensor):
        images = images.detach().float().cpu().numpy()
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"image_grid takes (N, C, H, W) images, got shape {images.shape}.")
    lo, hi = float(value_range[0]), float(value_range[1])
    n, _, h, w = images.shape
    ncols = max(1, min(int(ncols), n))
    nrows = math.ceil(n / ncols)
    grid = np.ones((nrows * (h + pad) - pad, ncols * (w + pad) - pad), dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, ncols)
        tile = np.clip((images[i, 0] - lo) / (hi - lo), 0, 1)
        grid[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = tile
    return grid


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # a bare Figure renders with Agg and leaves pyplot's backend alone

    return Figure(figsize=(width, height))


def _save(fig: Any, path: str, dpi: int = 100) -> str:
    with atomic_path(path, ".png") as tmp:  # a reader never sees half a file
        fig.savefig(tmp, dpi=dpi)
    return path


def save_image_grid(
    images: torch.Tensor | np.ndarray,
    path: str,
    ncols: int = 8,
    title: str | None = None,
    row_titles: Sequence[str] | None = None,
    value_range: Sequence[float] = (0.0, 1.0),
) -> str:
    """Write ``images`` as a grid PNG with an optional title and one label per row; returns ``path``."""
    grid = image_grid(images, ncols=ncols, value_range=value_range)
    n = len(images)
    ncols = max(1, min(int(ncols), n))
    nrows = math.ceil(n / ncols)
    scale = 1.1
    fig = _figure(max(3.0, scale * ncols + (1.2 if row_titles else 0.2)), scale * nrows + (0.5 if title else 0.1))
    ax = fig.add_axes((0.12 if row_titles else 0.01, 0.01, 0.87 if row_titles else 0.98, 0.86 if title else 0.98))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    if row_titles:
        height = grid.shape[0] / nrows
        ax.set_yticks([height * (r + 0.5) for r in range(len(row_titles))], list(row_titles), fontsize=8)
    else:
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)


@torch.no_grad()
def encode_images(
    encode: Callable[[torch.Tensor], Any],
    data_loader: Any,
    image_key: str = "image",
    keys: Sequence[str] = (),
    device: torch.device | str | None = None,
    max_items: int | None = None,
) -> dict[str, torch.Tensor]:
    """Codes of every image of ``data_loader`` (``encode``'s output, or its first element for a tuple such as a
    VAE's ``(mu, logvar)``), with the images and the batch values of ``keys`` (e.g. ``"slice_index"``).

    Returns:
        ``{"codes": (N, d), "images": (N, C, H, W), key: (N,) ...}`` on the CPU.
    """
    found: dict[str, list[torch.Tensor]] = {"codes": [], "images": [], **{k: [] for k in keys}}
    count = 0
    for batch in data_loader:
        images = _plain(batch[image_key])
        out = encode(images.to(device) if device is not None else images)
        codes = out[0] if isinstance(out, (list, tuple)) else out
        found["codes"].append(codes.detach().float().cpu().reshape(codes.shape[0], -1))
        found["images"].append(images)
        for k in keys:
            if k not in batch:
                raise KeyError(
                    f"the batches have no {k!r} (they hold {sorted(map(str, batch))}); keep it in the datalist."
                )
            found[k].append(torch.as_tensor(batch[k]).reshape(-1).float().cpu())
        count += images.shape[0]
        if max_items is not None and count >= max_items:
            break
    if not found["codes"]:
        raise ValueError("the data loader yielded no batch to encode.")
    result = {k: torch.cat(v) for k, v in found.items()}
    return {k: v[:max_items] for k, v in result.items()} if max_items is not None else result


def fit_gaussian(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(d,)`` and sample covariance ``(d, d)`` (float64) of ``(N, d)`` codes."""
    codes = torch.as_tensor(codes).double()
    if codes.dim() != 2 or codes.shape[0] < 2:
        raise ValueError(f"fit_gaussian needs (N >= 2, d) codes, got shape {tuple(codes.shape)}.")
    return codes.mean(0), torch.cov(codes.T).reshape(codes.shape[1], codes.shape[1])


def latent_pca(
    codes: torch.Tensor, components: int = 2
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Principal axes of ``(N, d)`` codes.

    Returns:
        ``(projected (N, k), axes (k, d), mean (d,), explained variance ratio (k,))``.
    """
    codes = torch.as_tensor(codes).double()
    mean = codes.mean(0)
    _, s, vh = torch.linalg.svd(codes - mean, full_matrices=False)
    k = min(components, vh.shape[0])
    variance = s**2
    ratio = variance[:k] / variance.sum().clamp_min(1e-30)
    axes = vh[:k]
    return (codes - mean) @ axes.T, axes, mean, ratio


# ---- handlers ----------------------------------------------------------------------------------------------------
class LatentFigures:
    """Write an autoencoder's or VAE's pictures when training completes (or when called).

    Figures (names of ``figures``), each a PNG in ``output_dir``:

    - ``"reconstructions"``: inputs above their reconstructions (``decode(encode(x))``; a VAE's posterior mean);
    - ``"latent_pca"``: the codes of ``data_loader`` on their first two principal axes, coloured by
      ``colour_key`` (the slice position), with ``N(0, I)`` draws projected on the same axes in grey: where the
      prior lies with respect to the codes;
    - ``"prior_samples"``: ``decode(z)``, ``z ~ N(0, I)``;
    - ``"fitted_samples"``: ``decode(z)``, ``z ~ N(mean, covariance)`` of the codes;
    - ``"interpolation"``: ``decode((1 - t) z_a + t z_b)`` between the codes of the two slices with the lowest
      and the highest ``colour_key``.

    Draws are :class:`~monai_genmed.data.LatentDataset` latents (seeds ``seed`` and ``seed + 1``); the network is
    put in eval mode for the figures and back.

    Args:
        network: the model (``encode_forward``/``decode_forward``, or see ``encode_fn``/``decode_fn``).
        data_loader: unshuffled images whose codes are plotted and fitted (the training slices, no augmentation).
        output_dir: folder of the PNGs.
        figures: which of the figures above.
        reconstruction_loader: the images to reconstruct (default ``data_loader``; validation slices are better).
        image_key: batch key of the images.
        colour_key: batch key of the colour of the latent plot (``"slice_index"`` of the brain datalist).
        colour_label: its label on the colour bar.
        num_samples: images per sample grid.
        num_reconstructions: images of the reconstruction figure.
        interpolation_steps: images of the interpolation, ends included.
        seed: seed of the draws.
        encode_fn: ``images -> codes`` (or a tuple whose first element is the code); default ``network.encode_forward``.
        decode_fn: ``codes -> images``; default ``network.decode_forward``.
        device: where the network runs (default: that of its first parameter).
        prefix: file-name prefix of the PNGs.
        summary_writer: a TensorBoard ``SummaryWriter`` for the image grids.
    """

    FIGURES = ("reconstructions", "latent_pca", "prior_samples", "fitted_samples", "interpolation")

    def __init__(
        self,
        network: torch.nn.Module,
        data_loader: Any,
        output_dir: str,
        figures: Sequence[str] = FIGURES,
        reconstruction_loader: Any | None = None,
        image_key: str = "image",
        colour_key: str | None = "slice_index",
        colour_label: str = "slice index",
        num_samples: int = 32,
        num_reconstructions: int = 8,
        interpolation_steps: int = 8,
        seed: int = 0,
        encode_fn: Callable[[torch.Tensor], Any] | None = None,
        decode_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
        device: torch.device | str | None = None,
        prefix: str = "",
        summary_writer: Any | None = None,
    ) -> None:
        unknown = [f for f in figures if f not in self.FIGURES]
        if unknown:
            raise ValueError(f"unknown figures {unknown}; choose from {list(self.FIGURES)}.")
        if interpolation_steps < 2 or num_samples < 1 or num_reconstructions < 1:
            raise ValueError("interpolation_steps must be >= 2, num_samples and num_reconstructions >= 1.")
        for name, fn in (("encode_fn", encode_fn), ("decode_fn", decode_fn)):
            method = "encode_forward" if name == "encode_fn" else "decode_forward"
            if fn is None and not hasattr(network, method):
                raise TypeError(f"{type(network).__name__} has no {method}(); pass {name}.")
        self.network, self.data_loader, self.output_dir = network, data_loader, output_dir
        self.figures = tuple(figures)
        self.reconstruction_loader = reconstruction_loader
        self.image_key, self.colour_key, self.colour_label = image_key, colour_key, colour_label
        self.num_samples, self.num_reconstructions = int(num_samples), int(num_reconstructions)
        self.interpolation_steps, self.seed = int(interpolation_steps), int(seed)
        self.encode_fn = encode_fn or (lambda x: network.encode_forward(x))
        self.decode_fn = decode_fn or (lambda z: network.decode_forward(z))
        self.device = device
        self.prefix = prefix
        self.summary_writer = summary_writer
        self.written: dict[str, str] = {}
        self.codes: dict[str, torch.Tensor] = {}

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.COMPLETED, self)

    def _device(self) -> torch.device:
        if self.device is not None:
            return torch.device(self.device)
        parameter = next(self.network.parameters(), None)
        return parameter.device if parameter is not None else torch.device("cpu")

    def _path(self, name: str) -> str:
        return os.path.join(self.output_dir, f"{self.prefix}{name}.png")

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode_fn(z.to(self._device())).detach().float().cpu()

    def __call__(self, engine: Engine | None = None) -> dict[str, str]:
        """Write the figures; returns ``{figure: path}``."""
        was_training = self.network.training
        self.network.eval()
        try:
            with torch.no_grad():
                self.written = self._write(engine)
        finally:
            self.network.train(was_training)
        logger.info("latent figures: " + ", ".join(f"{k} -> {v}" for k, v in self.written.items()))
        return self.written

    def _write(self, engine: Engine | None) -> dict[str, str]:
        device = self._device()
        keys = (self.colour_key,) if self.colour_key else ()
        self.codes = encode_images(self.encode_fn, self.data_loader, self.image_key, keys, device)
        codes = self.codes["codes"]
        dim = codes.shape[1]
        prior = LatentDataset(self.num_samples, dim, seed=self.seed).latents
        step = engine.state.epoch if engine is not None else 0
        written: dict[str, str] = {}
        if "reconstructions" in self.figures:
            loader = self.reconstruction_loader if self.reconstruction_loader is not None else self.data_loader
            images = _first_images(loader, self.image_key, self.num_reconstructions)
            recon = self._decode(_first(self.encode_fn(images.to(device))))
            written["reconstructions"] = save_image_grid(
                torch.cat([images, recon]), self._path("reconstructions"), ncols=len(images),
                row_titles=["input", "reconstruction"], title="reconstructions",
            )  # fmt: skip
        if "latent_pca" in self.figures:
            written["latent_pca"] = self._plot_pca(codes, prior)
        if "prior_samples" in self.figures:
            written["prior_samples"] = self._grid("prior_samples", self._decode(prior), "decoded z ~ N(0, I)", step)
        if "fitted_samples" in self.figures:
            mean, covariance = fit_gaussian(codes)
            fitted = LatentDataset(self.num_samples, dim, self.seed + 1, mean=mean.float(), covariance=covariance)
            fitted = fitted.latents
            title = "decoded z ~ N(mean, cov) fitted to the training codes"
            written["fitted_samples"] = self._grid("fitted_samples", self._decode(fitted), title, step)
        if "interpolation" in self.figures:
            written["interpolation"] = self._interpolation(codes)
        return written

    def _grid(self, name: str, images: torch.Tensor, title: str, step: int) -> str:
        if self.summary_writer is not None:
            self.summary_writer.add_image(f"{self.prefix}{name}", image_grid(images), step, dataformats="HW")
            self.summary_writer.flush()
        return save_image_grid(images, self._path(name), ncols=8, title=title)

    def _plot_pca(self, codes: torch.Tensor, prior: torch.Tensor) -> str:
        projected, axes, mean, ratio = latent_pca(codes)
        prior_projected = (prior.double() - mean) @ axes.T
        fig = _figure(5.2, 4.2)
        ax = fig.add_subplot(1, 1, 1)
        ax.scatter(prior_projected[:, 0], prior_projected[:, min(1, axes.shape[0] - 1)], s=10, c="0.75",
                   label="z ~ N(0, I), same axes")  # fmt: skip
        colours = self.codes.get(self.colour_key) if self.colour_key else None
        points = ax.scatter(projected[:, 0], projected[:, min(1, axes.shape[0] - 1)], s=12, cmap="viridis",
                            c=None if colours is None else colours.numpy(), label="codes of the slices")  # fmt: skip
        if colours is not None:
            fig.colorbar(points, ax=ax, label=self.colour_label)
        labels = [f"PC{i + 1} ({100 * float(r):.0f} % of the variance)" for i, r in enumerate(ratio)]
        ax.set_xlabel(labels[0], fontsize=8)
        ax.set_ylabel(labels[-1], fontsize=8)
        ax.set_title(f"latent codes (d = {codes.shape[1]}) on their first two principal axes", fontsize=9)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        return _save(fig, self._path("latent_pca"))

    def _interpolation(self, codes: torch.Tensor) -> str:
        colours = self.codes.get(self.colour_key) if self.colour_key else None
        if colours is not None:
            a, b = int(torch.argmin(colours)), int(torch.argmax(colours))
        else:
            a, b = 0, codes.shape[0] - 1
        t = torch.linspace(0, 1, self.interpolation_steps)[:, None]
        path = (1 - t) * codes[a] + t * codes[b]
        images = torch.cat([self.codes["images"][a : a + 1], self._decode(path), self.codes["images"][b : b + 1]])
        return save_image_grid(
            images, self._path("interpolation"), ncols=len(images),
            title="slice A | decoded (1 - t) z_A + t z_B, t = 0 ... 1 | slice B",
        )  # fmt: skip


def _plain(images: Any) -> torch.Tensor:
    """A plain float CPU tensor (a MetaTensor's meta is not needed for pictures)."""
    images = images.as_tensor() if hasattr(images, "as_tensor") else torch.as_tensor(images)
    return images.detach().float().cpu()


def _first_images(data_loader: Any, image_key: str, count: int) -> torch.Tensor:
    chunks, have = [], 0
    for batch in data_loader:
        chunks.append(_plain(batch[image_key]))
        have += len(chunks[-1])
        if have >= count:
            break
    if not chunks:
        raise ValueError("the reconstruction loader yielded no batch.")
    return torch.cat(chunks)[:count]


def _first(value: Any) -> torch.Tensor:
    return value[0] if isinstance(value, (list, tuple)) else value


class SampleGridSaver:
    """Collect the images an engine generates (its output's ``pred``) and write them as one grid at the end of
    each run: a GAN validator's samples from fixed latents every epoch, or the samples of an inference run.

    Args:
        output_dir: folder of the PNG.
        filename: a fixed file name (e.g. ``"samples.png"``); default ``{prefix}_{epoch:04d}.png`` (the epoch is
            the trainer's when MONAI's ``ValidationHandler`` runs the engine).
        prefix: file-name prefix of the default name.
        max_samples: images in the grid.
        ncols: images per row.
        title: title above the grid (``{epoch}`` is replaced by the epoch).
        output_transform: ``engine.state.output -> images (B, C, H, W)`` (default: ``output["pred"]``, or the
            ``"pred"`` of every item of a decollated list).
        value_range: intensity window.
        summary_writer: a TensorBoard ``SummaryWriter`` (tag ``tag``, step the epoch).
        tag: TensorBoard tag.
    """

    def __init__(
        self,
        output_dir: str,
        filename: str | None = None,
        prefix: str = "samples_epoch",
        max_samples: int = 32,
        ncols: int = 8,
        title: str | None = "samples, epoch {epoch}",
        output_transform: Callable[[Any], Any] | None = None,
        value_range: Sequence[float] = (0.0, 1.0),
        summary_writer: Any | None = None,
        tag: str = "samples",
    ) -> None:
        if max_samples < 1:
            raise ValueError(f"max_samples must be >= 1, got {max_samples}.")
        self.output_dir, self.filename, self.prefix = output_dir, filename, prefix
        self.max_samples, self.ncols, self.title = int(max_samples), int(ncols), title
        self.output_transform = output_transform or _pred
        self.value_range = tuple(value_range)
        self.summary_writer, self.tag = summary_writer, tag
        self._images: list[torch.Tensor] = []
        self.written: list[str] = []

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, lambda _: self._images.clear())
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.COMPLETED, self._write)

    def _collect(self, engine: Engine) -> None:
        have = sum(len(x) for x in self._images)
        if have < self.max_samples:
            images = _plain(self.output_transform(engine.state.output))
            self._images.append(images[: self.max_samples - have])

    def _write(self, engine: Engine) -> None:
        if not self._images:
            return
        images = torch.cat(self._images)
        epoch = engine.state.epoch
        name = self.filename or f"{self.prefix}_{epoch:04d}.png"
        title = self.title.format(epoch=epoch) if self.title else None
        path = os.path.join(self.output_dir, name)
        path = save_image_grid(images, path, self.ncols, title, value_range=self.value_range)
        self.written.append(path)
        if self.summary_writer is not None:
            grid = image_grid(images, self.ncols, value_range=self.value_range)
            self.summary_writer.add_image(self.tag, grid, epoch, dataformats="HW")
            self.summary_writer.flush()


def _pred(output: Any) -> torch.Tensor:
    if isinstance(output, Mapping):
        return output["pred"]
    if isinstance(output, Sequence) and output and isinstance(output[0], Mapping):
        return torch.stack([torch.as_tensor(item["pred"]) for item in output])
    raise TypeError(
        f"SampleGridSaver expects a dict output with 'pred' (or a list of them), got {type(output).__name__}."
    )
