"""Sample-quality measures of generative models: the Fréchet distance of features, and MS-SSIM diversity.

- :class:`FrechetDistance`: features of generated and real images from a feature network, then MONAI's
  :class:`monai.metrics.FIDMetric` (the Fréchet distance of two Gaussians, Heusel et al. 2017,
  https://arxiv.org/abs/1706.08500). The default network is the package's own
  :class:`~monai_genmed.networks.nets.BrainSliceEncoder` (no download), so values are *not* FIDs and carry the
  name of their feature network (:attr:`FrechetDistance.name`): compare only values with the same name, the
  same number of samples and the same preprocessing (FD is biased upwards at small sample sizes, Chong &
  Forsyth 2020, https://arxiv.org/abs/1911.07023).
- :func:`ms_ssim_diversity`: the mean MS-SSIM (Wang et al. 2003, https://doi.org/10.1109/ACSSC.2003.1292216)
  between random pairs of distinct samples, as in Odena et al. 2017 (AC-GAN, https://arxiv.org/abs/1610.09585,
  section 4.2): near 1 for a mode-collapsed generator; report it beside the same measure of real slices.

Layering: metrics do not depend on networks, except that the *default* feature network of
:class:`FrechetDistance` is imported from :mod:`monai_genmed.networks.nets.brain_encoder` when it is built
(lazily, only when no extractor is given).
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn as nn
from monai.metrics import FIDMetric, MultiScaleSSIMMetric

__all__ = [
    "FrechetDistance",
    "compute_frechet_distance",
    "load_feature_extractor",
    "ms_ssim_diversity",
    "MS_SSIM_64_WEIGHTS",
    "MS_SSIM_64_KERNEL_SIZE",
]

logger = logging.getLogger(__name__)

#: MS-SSIM scale weights for 64x64 images: Wang et al.'s first four (0.0448, 0.2856, 0.3001, 0.2363), rescaled to
#: sum to 1. MONAI requires ``size // (len(weights) - 1) ** 2 > kernel_size - 1``: with the five default weights a
#: 64-pixel image allows only a 3x3 kernel; with four, the 7x7 below (coarsest scale 8x8 pixels).
_WANG_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363)
MS_SSIM_64_WEIGHTS = tuple(w / sum(_WANG_WEIGHTS) for w in _WANG_WEIGHTS)
#: Gaussian window of the MS-SSIM diversity (sigma 1.5 as in Wang et al.; 7 instead of 11 pixels to fit 64x64)
MS_SSIM_64_KERNEL_SIZE = 7


def compute_frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> torch.Tensor:
    """Fréchet distance between Gaussians fitted to two feature sets, with MONAI's ``FIDMetric``.

    Args:
        features_a: ``(N_a, F)`` features (e.g. of generated images).
        features_b: ``(N_b, F)`` features (e.g. of real images).

    Returns:
        A float64 scalar tensor ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))``.
    """
    features_a, features_b = torch.as_tensor(features_a), torch.as_tensor(features_b)
    for name, f in (("features_a", features_a), ("features_b", features_b)):
        if f.dim() != 2 or f.shape[0] < 2:
            raise ValueError(
                f"{name} must be (number of samples >= 2, number of features), got shape {tuple(f.shape)}; pool "
                "spatial feature maps first (FrechetDistance does it)."
            )
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(
            f"feature lengths differ: features_a has {features_a.shape[1]}, features_b {features_b.shape[1]}; "
            "extract both with the same network."
        )
    return FIDMetric()(features_a.detach().cpu(), features_b.detach().cpu())


def _file_kind(path: Path) -> str:
    """'torchscript', 'torch' (a ``torch.save`` zip) or 'other' from the archive's entries."""
    if not zipfile.is_zipfile(path):
        return "other"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if any(n.endswith("/constants.pkl") or n == "constants.pkl" for n in names):
        return "torchscript"
    if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        return "torch"
    return "other"


def load_feature_extractor(
    path: str | os.PathLike, network: nn.Module | None = None, map_location: str | torch.device = "cpu"
) -> nn.Module:
    """Load a user-supplied feature network for :class:`FrechetDistance`, in eval mode.

    Args:
        path: a TorchScript file (``torch.jit.save(torch.jit.script(net), path)``), or a state-dict file
            (``torch.save(net.state_dict(), path)``, optionally as ``{"state_dict": ...}``) with ``network``.
        network: the module a state-dict file belongs to; must be ``None`` for a TorchScript file.
        map_location: where to load the weights.

    Returns:
        The feature network (``network`` itself, with the weights loaded, for a state dict).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is of another kind than ``network`` implies, or its weights do not fit ``network``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"feature extractor file {str(path)!r} does not exist; pass a TorchScript file "
            "(torch.jit.save(torch.jit.script(net), path)) or a state-dict file with network=<its module>."
        )
    kind = _file_kind(path)
    if network is None:
        if kind == "torchscript":
            return torch.jit.load(str(path), map_location=map_location).eval()
        if kind == "torch":
            raise ValueError(
                f"{str(path)!r} is a torch.save file (a state dict), not TorchScript; pass the network it belongs to "
                "(network=MyEncoder(...)), or export it with torch.jit.save(torch.jit.script(net), path)."
            )
        raise ValueError(
            f"{str(path)!r} is neither a TorchScript file nor a torch state dict; export your feature network with "
            "torch.jit.save(torch.jit.script(net), path), or save torch.save(net.state_dict(), path) and pass network=."
        )
    if kind == "torchscript":
        raise ValueError(
            f"{str(path)!r} is a TorchScript file, which holds its own network; drop network= to load it as it is."
        )
    if kind != "torch":
        raise ValueError(
            f"{str(path)!r} is not a torch state-dict file; save one with torch.save(net.state_dict(), path)."
        )
    content = torch.load(path, map_location=map_location, weights_only=True)
    if isinstance(content, Mapping) and isinstance(content.get("state_dict"), Mapping):
        content = content["state_dict"]
    if not isinstance(content, Mapping) or not all(isinstance(v, torch.Tensor) for v in content.values()):
        raise ValueError(
            f"{str(path)!r} holds a {type(content).__name__} that is not a state dict (names -> tensors); save one "
            "with torch.save(net.state_dict(), path)."
        )
    try:
        network.load_state_dict(content)
    except RuntimeError as err:
        raise ValueError(
            f"the weights in {str(path)!r} do not fit {type(network).__name__}: {err}. Pass the network class and "
            "arguments the file was saved from."
        ) from err
    return network.eval()


class FrechetDistance:
    """Fréchet distance of generated and real images in the feature space of a given network.

    Features are the network's output: ``(N, F)`` as is, spatial maps ``(N, F, ...)`` averaged over space (as
    FID does with Inception's pool layer), and the last element of a list or tuple. The distance itself is
    MONAI's :class:`~monai.metrics.FIDMetric`.

    Args:
        extractor: the feature network: a module, a TorchScript file, a state-dict file (with ``network``), or
            ``None`` for the shipped brain encoder (64x64 single-channel slices in [0, 1], prepared with
            ``monai.transforms.Resized(spatial_size=(64, 64))``).
        network: the module a state-dict ``extractor`` file belongs to.
        name: how reports call the value; default ``"FD (monai_genmed brain encoder)"``, ``"FD (<file name>)"``
            or ``"FD (<class name>)"``.
        batch_size: images per forward pass.
        device: where features are computed.
        value_range: the intensity range the network was trained on; inputs well outside it are logged as a
            warning once (a tanh generator's [-1, 1] output gives meaningless features for a [0, 1] network).

    Example::

        fd = FrechetDistance()  # the shipped encoder
        fd.set_reference(real_slices)  # (N, 1, 64, 64) in [0, 1], features cached
        print(fd.name, float(fd(generated_slices)))
    """

    def __init__(
        self,
        extractor: nn.Module | str | os.PathLike | None = None,
        network: nn.Module | None = None,
        name: str | None = None,
        batch_size: int = 64,
        device: str | torch.device = "cpu",
        value_range: tuple[float, float] | None = (0.0, 1.0),
    ) -> None:
        if extractor is None:
            if network is not None:
                raise ValueError("network= needs extractor=<state-dict file>; without a file, drop network=.")
            # the one upward import of this layer, and only for the default (see the module docstring)
            from monai_genmed.networks.nets.brain_encoder import load_brain_encoder

            module: nn.Module = load_brain_encoder()
            default_name = "FD (monai_genmed brain encoder)"
        elif isinstance(extractor, (str, os.PathLike)):
            module = load_feature_extractor(extractor, network=network)
            default_name = f"FD ({Path(extractor).name})"
        elif isinstance(extractor, nn.Module):
            if network is not None:
                raise ValueError("network= is for a state-dict extractor file; an extractor module needs none.")
            module = extractor
            default_name = f"FD ({type(extractor).__name__})"
        else:
            raise TypeError(
                f"extractor must be a torch module, a file path or None (the shipped encoder), got "
                f"{type(extractor).__name__}."
            )
        self.device = torch.device(device)
        self.extractor = module.to(self.device).eval()
        self._name = name or default_name
        self.batch_size = int(batch_size)
        self.value_range = value_range
        self._warned_range = False
        self.reference_features: torch.Tensor | None = None

    @property
    def name(self) -> str:
        """What the value is, for reports and logs, e.g. ``"FD (monai_genmed brain encoder)"``."""
        return self._name

    def _check_range(self, images: torch.Tensor) -> None:
        if self.value_range is None or self._warned_range:
            return
        low, high = self.value_range
        margin = 0.1 * (high - low)
        lo, hi = float(images.min()), float(images.max())
        if lo < low - margin or hi > high + margin:
            self._warned_range = True
            logger.warning(
                f"{self.name}: images span [{lo:.3g}, {hi:.3g}], the feature network expects [{low:g}, {high:g}]; "
                "rescale them first (e.g. (x + 1) / 2 for a tanh generator), or the distance measures the offset."
            )

    @torch.no_grad()
    def extract(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` images -> ``(N, F)`` float32 features on the CPU, in batches of ``batch_size``."""
        images = torch.as_tensor(images)
        if images.dim() < 3:
            raise ValueError(f"images must be (N, C, H, W[, D]), got shape {tuple(images.shape)}.")
        self._check_range(images)
        was_training = self.extractor.training
        self.extractor.eval()
        chunks = []
        try:
            for start in range(0, images.shape[0], self.batch_size):
                batch = images[start : start + self.batch_size].to(self.device, torch.float32)
                out = self.extractor(batch)
                if isinstance(out, (list, tuple)):
                    out = out[-1]
                if out.dim() > 2:
                    out = out.flatten(2).mean(2)
                chunks.append(out.float().cpu())
        finally:
            self.extractor.train(was_training)
        return torch.cat(chunks)

    def set_reference(self, images: torch.Tensor) -> torch.Tensor:
        """Extract and keep the features of the real images; returns them."""
        self.reference_features = self.extract(images)
        return self.reference_features

    def __call__(self, generated: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        """Fréchet distance of ``generated`` to ``real`` (or to the reference set by :meth:`set_reference`).

        Returns:
            A float64 scalar tensor.
        """
        if real is not None:
            reference = self.extract(real)
        elif self.reference_features is not None:
            reference = self.reference_features
        else:
            raise ValueError(f"{self.name}: give the real images, or call set_reference(real_images) first.")
        return compute_frechet_distance(self.extract(generated), reference)


def ms_ssim_diversity(
    images: torch.Tensor,
    num_pairs: int = 256,
    seed: int = 0,
    data_range: float = 1.0,
    kernel_size: int = MS_SSIM_64_KERNEL_SIZE,
    kernel_sigma: float = 1.5,
    weights: Sequence[float] = MS_SSIM_64_WEIGHTS,
    batch_size: int = 64,
) -> float:
    """Mean MS-SSIM between ``num_pairs`` random pairs of distinct samples: lower is more diverse.

    A mode-collapsed generator scores near 1; compare with the same measure (same ``num_pairs``, ``seed``,
    settings) on real images. The defaults fit 64x64 images (see :data:`MS_SSIM_64_WEIGHTS`).

    Args:
        images: ``(N, C, H, W)`` or ``(N, C, H, W, D)`` samples, ``N >= 2``, intensities in ``[0, data_range]``.
        num_pairs: pairs ``(i, j)``, ``i != j``, drawn uniformly with replacement.
        seed: seed of the pair draw (its own generator; the global RNG is untouched).
        data_range: intensity range of the images.
        kernel_size: Gaussian window size of MONAI's ``MultiScaleSSIMMetric``.
        kernel_sigma: its standard deviation.
        weights: one weight per scale.
        batch_size: pairs per MS-SSIM call.

    Returns:
        The mean MS-SSIM over the pairs.
    """
    images = torch.as_tensor(images).float()
    if images.dim() not in (4, 5) or images.shape[0] < 2:
        raise ValueError(f"images must be (N >= 2, C, H, W[, D]) samples, got shape {tuple(images.shape)}.")
    spatial_dims = images.dim() - 2
    smallest = min(images.shape[2:])
    if smallest // max(1, len(weights) - 1) ** 2 <= kernel_size - 1:
        raise ValueError(
            f"MS-SSIM with {len(weights)} scales and kernel_size {kernel_size} needs images larger than "
            f"{(kernel_size - 1) * max(1, len(weights) - 1) ** 2} pixels (MONAI's check), got {smallest}; pass fewer "
            "weights or a smaller kernel_size (for 32x32: weights=(0.3, 0.7), kernel_size=7)."
        )
    generator = torch.Generator().manual_seed(int(seed))
    n = images.shape[0]
    first = torch.randint(n, (num_pairs,), generator=generator)
    second = torch.randint(n - 1, (num_pairs,), generator=generator)
    second = second + (second >= first).long()  # uniform over the other n - 1 samples
    metric = MultiScaleSSIMMetric(
        spatial_dims=spatial_dims,
        data_range=data_range,
        kernel_size=kernel_size,
        kernel_sigma=kernel_sigma,
        weights=tuple(weights),
        reduction="none",
    )
    values = []
    for start in range(0, num_pairs, batch_size):
        a, b = first[start : start + batch_size], second[start : start + batch_size]
        values.append(metric(images[a], images[b]).flatten())
    return float(torch.cat(values).mean())
