"""Train :class:`~monai_genmed.networks.nets.BrainSliceEncoder`, the feature network of the offline Fréchet distance.

Command (writes the shipped weights; generates its data first, about a minute)::

    python -m monai_genmed.apps.feature_encoder --output monai_genmed/networks/weights/brain_encoder_64.pt

Why this training task. A Fréchet distance can only see what its features vary with. Features of a network
trained to tell real images apart by anatomy alone would ignore blur and noise; features trained only to spot
corruptions would ignore whether a generator covers every anatomical level. So the encoder learns four tasks
at once, from heads on its features (the FD features are their common input, the penultimate layer):

1. **Anatomical level** (regression): where the slice lies between the lowest and the highest brain slice of
   its subject (the slice's rank in the datalist's ``slice_index``, scaled to [0, 1]). Features then follow the
   anatomy's content, so a generator that produces only some levels, or anatomy that matches no level, moves the
   feature distribution (the mean and the covariance of the FD).
2. **Subject** (classification over the training subjects): subjects differ in pose, size, shape, bias field and
   contrast, so this keeps the between-subject variability in the features; a mode-collapsed sample set then
   has a far smaller feature covariance than real data.
3. **Corruption type** (self-supervised, 6 classes): each training slice is either a realistic augmentation of a
   real slice (small affine, left-right flip, contrast gamma: the variability real scans have) or that slice
   with one of five defects that generators make or MR acquisitions show: Gaussian blur (an autoencoder's or
   VAE's over-smoothing), extra Rician noise, motion ghosting (phase errors on a random set of k-space lines),
   k-space truncation (ringing and blur) and anatomy mixed from two slices (a split at a random row or column:
   globally implausible anatomy with locally real texture). Features must separate these from the realistic
   variability, so FD grows with them, and they stay invariant to what real data vary in.
4. **Severity** (regression) of the first four defects, their drawn parameter rescaled to [0, 1] (blur sigma
   0.3-3 px, noise sigma 0.01-0.1, 5-40 % of k-space lines moved, 70-25 % of k-space kept). A classifier alone
   puts every blurred slice in one cluster, so FD would stop growing once a defect is recognised; the severity
   keeps the features, and with them FD, monotonic in how strong the defect is.

The level and subject heads see the realistic slices only. Two artefact families are deliberately kept out of
training, so that ``benchmarks/fd_sanity.py`` can check that FD also reacts to defects the encoder never saw:
checkerboard patterns (transposed-convolution upsampling artefacts, Odena et al. 2016,
https://distill.pub/2016/deconv-checkerboard/) and strong elastic warps of the anatomy.

The data are the embedded synthetic brain MR slices (:func:`monai_genmed.data.generate_brain_mr_dataset`) made
with ``seed=1``, so that none of the subjects of the bundles' default data (``seed=0``) is seen in training: FD
against those data then uses a feature network that never saw them. Slices are downsampled to 64x64 with MONAI's
``Resized`` in its default ``area`` mode, as the 64x64 bundles do; feed the encoder slices prepared the same way.
Training is seeded (weights, batches, augmentations); runs with another ``--threads`` may differ in the last bits.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from monai_genmed.data import generate_brain_mr_dataset
from monai_genmed.networks.nets.brain_encoder import BrainSliceEncoder

__all__ = [
    "CORRUPTIONS",
    "load_slices",
    "augment",
    "gaussian_blur",
    "rician_noise",
    "motion_ghosting",
    "kspace_truncation",
    "mix_anatomy",
    "checkerboard",
    "elastic_warp",
    "train_feature_encoder",
    "main",
]

logger = logging.getLogger(__name__)

#: the corruption classes of the self-supervised head, in label order (0 is a realistic slice)
CORRUPTIONS = ("realistic", "blur", "noise", "ghosting", "truncation", "mixed_anatomy")

_DEFAULT_DATA_DIR = "./data_cache/brain_mr_encoder64"


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def load_slices(
    datalist: str | Path, split: str, spatial_size: int = 64
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Load one split of a brain MR datalist as 64x64 slices (MONAI ``Resized``, default ``area`` mode).

    Args:
        datalist: ``datalist.json`` of :func:`monai_genmed.data.generate_brain_mr_dataset`.
        split: "training", "validation" or "test".
        spatial_size: side of the resized slices.

    Returns:
        ``(images (N, 1, S, S) in [0, 1], level (N,) in [0, 1], subject name of each slice)``; the level is the
        slice's rank among its subject's slices (by ``slice_index``), scaled to [0, 1].
    """
    from monai.data import load_decathlon_datalist
    from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, Resized
    from monai.utils import convert_to_tensor

    items = load_decathlon_datalist(str(datalist), data_list_key=split)
    if not items:
        raise ValueError(f"{datalist} has no {split!r} slices; regenerate the data with subjects in that split.")
    load = Compose(
        [
            LoadImaged(keys="image", image_only=True),
            EnsureChannelFirstd(keys="image"),
            Resized(keys="image", spatial_size=(spatial_size, spatial_size)),
        ]
    )
    # plain tensors: MetaTensor metadata would follow every augmentation step for nothing
    images = torch.stack([convert_to_tensor(load(dict(item))["image"], track_meta=False).float() for item in items])
    by_subject: dict[str, list[int]] = defaultdict(list)
    for item in items:
        by_subject[item["subject"]].append(int(item["slice_index"]))
    level = []
    for item in items:
        positions = sorted(by_subject[item["subject"]])
        rank = positions.index(int(item["slice_index"]))
        level.append(rank / max(len(positions) - 1, 1))
    return images.clamp(0.0, 1.0), torch.tensor(level), [item["subject"] for item in items]


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Realistic variability: rotation up to 8 degrees, scale 0.93-1.07, shift up to 3 % of the field of view,
    left-right flip, contrast gamma 0.85-1.15 (the synthetic subjects' own gamma range)."""
    n = images.shape[0]
    angle = _uniform(n, -8.0, 8.0, generator) * math.pi / 180
    scale = _uniform(n, 0.93, 1.07, generator)
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    shift = _uniform(2 * n, -0.06, 0.06, generator).view(n, 2)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    gamma = _uniform(n, 0.85, 1.15, generator).view(n, 1, 1, 1)
    return warped.clamp(0.0, 1.0).pow(gamma)


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """Blur each image with its own Gaussian ``sigma`` (pixels), reflecting at the borders."""
    n, c = images.shape[:2]
    sigma = torch.as_tensor(sigma, dtype=images.dtype).expand(n).clamp_min(1e-3)
    radius = max(1, int(math.ceil(3 * float(sigma.max()))))
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype)
    kernel = torch.exp(-0.5 * (offsets[None] / sigma[:, None]) ** 2)
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (n * c, k)
    flat = images.reshape(1, n * c, *images.shape[2:])
    flat = F.pad(flat, (radius, radius, radius, radius), mode="reflect")
    flat = F.conv2d(flat, kernel[:, None, None, :], groups=n * c)
    flat = F.conv2d(flat, kernel[:, None, :, None], groups=n * c)
    return flat.reshape(images.shape)


def rician_noise(images: torch.Tensor, sigma: torch.Tensor | float, generator: torch.Generator) -> torch.Tensor:
    """Magnitude of the image plus complex Gaussian noise of standard deviation ``sigma`` (per image)."""
    sigma = torch.as_tensor(sigma, dtype=images.dtype).expand(images.shape[0]).view(-1, 1, 1, 1)
    real = images + sigma * torch.randn(images.shape, generator=generator)
    imag = sigma * torch.randn(images.shape, generator=generator)
    return torch.sqrt(real**2 + imag**2)


def motion_ghosting(
    images: torch.Tensor, fraction: torch.Tensor | float, shift: torch.Tensor | float, generator: torch.Generator
) -> torch.Tensor:
    """Rigid motion during part of the acquisition: a random ``fraction`` of phase-encode lines (rows of
    k-space) is acquired with the object shifted by ``shift`` pixels along the phase-encode direction."""
    n, _, h, _ = images.shape
    fraction = torch.as_tensor(fraction, dtype=images.dtype).expand(n).view(n, 1, 1, 1)
    shift = torch.as_tensor(shift, dtype=images.dtype).expand(n).view(n, 1, 1, 1)
    kspace = torch.fft.fft2(images)
    ky = torch.fft.fftfreq(h, dtype=images.dtype).view(1, 1, h, 1)
    moved = torch.rand(n, 1, h, 1, generator=generator) < fraction
    phase = torch.exp(-2j * math.pi * ky * shift)
    kspace = torch.where(moved, kspace * phase, kspace)
    return torch.fft.ifft2(kspace).abs()


def kspace_truncation(images: torch.Tensor, keep: torch.Tensor | float) -> torch.Tensor:
    """Keep only the central ``keep`` fraction of k-space along each axis: blur with Gibbs ringing."""
    n, _, h, w = images.shape
    keep = torch.as_tensor(keep, dtype=images.dtype).expand(n).view(n, 1, 1, 1)
    fy = torch.fft.fftfreq(h, dtype=images.dtype).abs().view(1, 1, h, 1)
    fx = torch.fft.fftfreq(w, dtype=images.dtype).abs().view(1, 1, 1, w)
    mask = (fy <= keep / 2) & (fx <= keep / 2)
    return torch.fft.ifft2(torch.fft.fft2(images) * mask).abs()


def mix_anatomy(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image's part above a random row (or left of a random column, for half the images), in the middle
    third, with the rest taken from another image of the batch, drawn at random (neighbours in a batch may be
    adjacent slices of one subject, whose mix would look real)."""
    n, _, h, w = images.shape
    order = torch.randperm(n, generator=generator)
    source = torch.empty_like(order)
    source[order] = order.roll(1)  # a random cycle: no image is its own partner
    other = images[source]
    split = _uniform(n, 0.33, 0.67, generator).view(n, 1, 1, 1)
    rows = torch.linspace(0, 1, h).view(1, 1, h, 1).expand(n, 1, h, w)
    cols = torch.linspace(0, 1, w).view(1, 1, 1, w).expand(n, 1, h, w)
    along_rows = (torch.rand(n, generator=generator) < 0.5).view(n, 1, 1, 1)
    first = torch.where(along_rows, rows, cols) < split
    return torch.where(first, images, other)


def checkerboard(images: torch.Tensor, amplitude: float, period: int = 2) -> torch.Tensor:
    """Add a checkerboard of ``amplitude`` and ``period`` pixels inside the head (held out of training)."""
    h, w = images.shape[2:]
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    pattern = (((yy // (period // 2 or 1)) + (xx // (period // 2 or 1))) % 2).to(images.dtype) * 2 - 1
    head = (gaussian_blur(images, 1.0) > 0.05).to(images.dtype)
    return (images + amplitude * pattern * head).clamp_min(0.0)


def elastic_warp(images: torch.Tensor, magnitude: float, generator: torch.Generator, grid: int = 4) -> torch.Tensor:
    """Warp by a smooth random displacement field (``grid`` x ``grid`` control points, bicubic, ``magnitude``
    in fractions of the field of view): anatomy deformed beyond what real subjects show (held out of training)."""
    n, _, h, w = images.shape
    coarse = magnitude * torch.randn(n, 2, grid, grid, generator=generator)
    displacement = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
    identity = F.affine_grid(torch.eye(2, 3).expand(n, 2, 3), [n, 1, h, w], align_corners=False)
    return F.grid_sample(images, identity + displacement, mode="bilinear", align_corners=False).clamp(0.0, 1.0)


def _corrupt(
    images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply corruption ``labels[i]`` (an index into :data:`CORRUPTIONS`) to image ``i`` at a random severity.

    Returns:
        The images and each one's severity in [0, 1] (the drawn parameter, rescaled over its range; NaN for
        realistic slices and for mixed anatomy, which has no severity).
    """
    out, severity = images.clone(), torch.full((images.shape[0],), math.nan)
    for label, name in enumerate(CORRUPTIONS):
        idx = (labels == label).nonzero().flatten()
        if name == "realistic" or idx.numel() == 0:
            continue
        x, k = images[idx], idx.numel()
        s = torch.rand(k, generator=generator)
        if name == "blur":
            y = gaussian_blur(x, 0.3 + 2.7 * s)  # sigma 0.3-3 px
        elif name == "noise":
            y = rician_noise(x, 0.01 + 0.09 * s, generator)  # sigma 0.01-0.1
        elif name == "ghosting":
            # phase encoding along the rows or the columns (square slices: transpose, ghost, transpose back)
            transpose = (torch.rand(k, generator=generator) < 0.5).view(k, 1, 1, 1)
            x = torch.where(transpose, x.transpose(2, 3), x)
            y = motion_ghosting(x, 0.05 + 0.35 * s, _uniform(k, 1.5, 6.0, generator), generator)  # 5-40 % of lines
            y = torch.where(transpose, y.transpose(2, 3), y)
        elif name == "truncation":
            y = kspace_truncation(x, 0.7 - 0.45 * s)  # keep 70-25 % of k-space per axis
        else:  # mixed_anatomy: the other part comes from another slice of the batch
            y = mix_anatomy(images, generator)[idx]
            s = torch.full((k,), math.nan)
        out[idx], severity[idx] = y, s
    return out.clamp(0.0, 1.5), severity


class _TrainingHeads(nn.Module):
    """The three training tasks on top of the encoder's features (not shipped)."""

    def __init__(self, encoder: BrainSliceEncoder, num_subjects: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.act = nn.LeakyReLU(0.2)
        self.corruption = nn.Linear(encoder.feature_dim, len(CORRUPTIONS))
        self.severity = nn.Linear(encoder.feature_dim, 1)
        self.level = nn.Linear(encoder.feature_dim, 1)
        self.subject = nn.Linear(encoder.feature_dim, num_subjects)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h = self.act(self.encoder(x))
        return self.corruption(h), self.severity(h).squeeze(1), self.level(h).squeeze(1), self.subject(h)


def _batch(
    images: torch.Tensor, level: torch.Tensor, subject: torch.Tensor, batch_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, ...]:
    idx = torch.randint(images.shape[0], (batch_size,), generator=generator)
    x = augment(images[idx], generator)
    # half the batch stays realistic: the level and subject heads learn on those
    labels = torch.where(
        torch.rand(batch_size, generator=generator) < 0.5,
        torch.zeros(batch_size, dtype=torch.long),
        torch.randint(1, len(CORRUPTIONS), (batch_size,), generator=generator),
    )
    corrupted, severity = _corrupt(x, labels, generator)
    return corrupted, labels, severity, level[idx], subject[idx]


@torch.no_grad()
def _evaluate(model: _TrainingHeads, images: torch.Tensor, level: torch.Tensor, seed: int) -> dict[str, float]:
    """Held-out subjects: corruption accuracy (each class equally often) and the level's mean absolute error."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    correct, total = torch.zeros(len(CORRUPTIONS)), torch.zeros(len(CORRUPTIONS))
    level_errors = []
    for start in range(0, images.shape[0], 128):
        x = augment(images[start : start + 128], generator)
        for label in range(len(CORRUPTIONS)):
            labels = torch.full((x.shape[0],), label, dtype=torch.long)
            logits, _, level_pred, _ = model(_corrupt(x, labels, generator)[0])
            correct[label] += (logits.argmax(1) == label).sum()
            total[label] += x.shape[0]
            if label == 0:
                level_errors.append((level_pred - level[start : start + 128]).abs())
    model.train()
    accuracy = correct / total
    metrics = {f"accuracy_{name}": float(a) for name, a in zip(CORRUPTIONS, accuracy)}
    metrics["accuracy_corruption"] = float(accuracy.mean())
    metrics["level_mae"] = float(torch.cat(level_errors).mean())
    return metrics


def train_feature_encoder(
    output: str | Path,
    data_dir: str | Path = _DEFAULT_DATA_DIR,
    steps: int = 600,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    seed: int = 0,
    data_seed: int = 1,
    num_subjects: int = 16,
    slices_per_subject: int = 32,
    threads: int | None = 2,
    encoder_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Generate the data, train the encoder on the four tasks of the module docstring and save its weights.

    Args:
        output: weight file to write (``{"config", "state_dict", "training"}``, read by
            :func:`~monai_genmed.networks.nets.load_brain_encoder`).
        data_dir: cache folder of the generated slices (made if missing; reused when it holds the same data).
        steps: optimisation steps (AdamW, cosine learning-rate decay).
        batch_size: slices per step.
        learning_rate: peak learning rate.
        seed: seed of the weights, batches, augmentations and corruptions.
        data_seed: seed of the synthetic subjects (1: none of the bundles' default ``seed=0`` subjects).
        num_subjects: training subjects (4 more are generated for validation).
        slices_per_subject: slices per subject.
        threads: torch CPU threads (``None``: leave torch's setting).
        encoder_config: keyword arguments of :class:`BrainSliceEncoder` (default: its defaults).

    Returns:
        The training record saved with the weights: settings, held-out metrics, time, and the file's sha256.
    """
    if threads is not None:
        torch.set_num_threads(int(threads))
    start = time.perf_counter()
    datalist = generate_brain_mr_dataset(
        data_dir,
        num_subjects={"training": num_subjects, "validation": 4, "test": 1},
        slices_per_subject=slices_per_subject,
        spatial_size=[256, 256],
        snr=30,
        seed=data_seed,
    )
    config = {"in_channels": 1, "spatial_size": 64, "channels": (32, 64, 128, 256), "feature_dim": 128}
    config.update(encoder_config or {})
    images, level, subjects = load_slices(datalist, "training", config["spatial_size"])
    val_images, val_level, _ = load_slices(datalist, "validation", config["spatial_size"])
    names = sorted(set(subjects))
    subject = torch.tensor([names.index(s) for s in subjects])
    data_seconds = time.perf_counter() - start

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = _TrainingHeads(BrainSliceEncoder(**config), len(names))
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=steps, pct_start=0.1)
    model.train()
    train_start = time.perf_counter()
    for step in range(1, steps + 1):
        x, labels, severity, level_target, subject_target = _batch(images, level, subject, batch_size, generator)
        corruption_logits, severity_pred, level_pred, subject_logits = model(x)
        realistic, graded = labels == 0, torch.isfinite(severity)
        loss_corruption = F.cross_entropy(corruption_logits, labels)
        loss_severity = F.mse_loss(severity_pred[graded], severity[graded])
        loss_level = F.mse_loss(level_pred[realistic], level_target[realistic])
        loss_subject = F.cross_entropy(subject_logits[realistic], subject_target[realistic])
        loss = loss_corruption + 10.0 * loss_severity + 10.0 * loss_level + loss_subject
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 100 == 0 or step == steps:
            logger.info(
                f"step {step}/{steps}: corruption CE {loss_corruption.item():.3f}, severity MSE "
                f"{loss_severity.item():.4f}, level MSE {loss_level.item():.4f}, "
                f"subject CE {loss_subject.item():.3f} ({time.perf_counter() - train_start:.0f} s)"
            )
    train_seconds = time.perf_counter() - train_start
    metrics = _evaluate(model, val_images, val_level, seed)
    logger.info("held-out subjects: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))

    record = {
        "steps": steps,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": seed,
        "data_seed": data_seed,
        "num_subjects": num_subjects,
        "slices_per_subject": slices_per_subject,
        "threads": torch.get_num_threads(),
        "training_slices": int(images.shape[0]),
        "validation": metrics,
        "train_seconds": round(train_seconds, 1),
        "data_seconds": round(data_seconds, 1),
    }
    encoder = model.encoder.eval()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    state_dict = {k: v.detach().clone().contiguous() for k, v in encoder.state_dict().items()}
    torch.save({"config": config, "state_dict": state_dict, "training": record}, output)
    record["sha256"] = hashlib.sha256(output.read_bytes()).hexdigest()
    record["bytes"] = output.stat().st_size
    return record


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line of :func:`train_feature_encoder`; prints the training record as JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m monai_genmed.apps.feature_encoder", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--output", required=True, help="weight file to write, e.g. brain_encoder_64.pt")
    parser.add_argument("--data_dir", default=_DEFAULT_DATA_DIR, help="cache folder of the generated slices")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--learning_rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data_seed", type=int, default=1)
    parser.add_argument("--num_subjects", type=int, default=16)
    parser.add_argument("--slices_per_subject", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    settings = vars(args)
    record = train_feature_encoder(settings.pop("output"), **settings)
    print(json.dumps(record, indent=2))
    return record


if __name__ == "__main__":
    main()
