"""Single-coil data consistency as a network layer: put the measured k-space samples back into an image.

Schlemper et al. 2018, "A Deep Cascade of Convolutional Neural Networks for Dynamic MR Image Reconstruction",
https://arxiv.org/abs/1703.00555, eq. 9: with ``k = F(x)`` the k-space of the network's image, ``y`` the
measured samples and ``Omega`` the sampled locations,

    ``k_dc[j] = k[j]``                          for ``j`` not in ``Omega``,
    ``k_dc[j] = (k[j] + lambda * y[j]) / (1 + lambda)``  for ``j`` in ``Omega``,

and ``x_dc = F^-1(k_dc)``. ``lambda -> infinity`` (the noise-free case) replaces the measured samples exactly:
hard data consistency. A finite ``lambda`` moves each measured sample a fraction ``lambda / (1 + lambda)`` of the
way from the prediction to the measurement.

The FFT, the conjugate-symmetric fill and the consistency formula are the package's one implementation
(:mod:`monai_genmed.transforms.kspace.functional`: :func:`centred_fft`, :func:`conjugate_symmetric_fill`,
:func:`consistent_kspace`), which the transforms and the classical baselines call too. MONAI's own data-consistency
step lives inside its multi-coil VarNet (``monai.apps.reconstruction.networks.blocks.varnetblock.VarNetBlock``: a
learnt gradient step ``k - w * mask * (k - y)`` through coil sensitivity maps), so it is not reused here: this layer
is single-coil and takes Schlemper's closed form.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from monai_genmed.transforms.kspace.functional import (
    centred_fft,
    conjugate_symmetric_fill_t,
    consistent_kspace,
    from_complex,
    to_complex,
)
from monai_genmed.utils.flags import ensure_bool

__all__ = ["SingleCoilDataConsistency"]


def _misfit_message(kspace_shape: Sequence[int], image_shape: Sequence[int], real_valued: bool, expected: int) -> str:
    return (
        f"measured k-space of shape {tuple(kspace_shape)} does not fit images of shape "
        f"{tuple(image_shape)} (real_valued={real_valued}); pass the batch's kspace_masked, "
        f"(B, {expected}, *spatial) complex."
    )


class SingleCoilDataConsistency(nn.Module):
    """Data-consistency layer for single-coil Cartesian MRI, on channel-first image tensors.

    Two image layouts:

    * ``real_valued=True`` (the real-valued prior): real images ``(B, C, *spatial)``, e.g. the one-channel
      magnitude images that the DAGAN bundle feeds its networks (``zero_filled``). The measurement is completed
      with its conjugate-symmetric mirror
      (:func:`~monai_genmed.transforms.kspace.functional.conjugate_symmetric_fill`), the prior the classical baselines
      use with ``real_valued=True``, and the output is the real part of ``F^-1(k_dc)``. For measurements of a
      real image (conjugate symmetric where a sample and its mirror were both measured) hard data consistency
      then reproduces every measured sample exactly.
    * ``real_valued=False``: complex images as ``2C`` real channels ``[real..., imag...]`` (the ``"channels"``
      layout of :mod:`monai_genmed.transforms.kspace`); no prior, the output keeps its phase.

    Args:
        spatial_dims: number of Fourier-encoded spatial axes (2 for slices).
        real_valued: the image layout, see above.
        noise_lambda: Schlemper's ``lambda``; ``None`` (default) is hard data consistency (noise-free limit).
        learn_lambda: make ``lambda`` a trained parameter (kept positive as ``exp(log_lambda)``), initialised at
            ``noise_lambda``.

    Inputs of :meth:`forward`: ``image``; ``kspace_masked``, the measured k-space (zeros where not sampled) as a
    complex tensor ``(B, C, *spatial)`` or in the ``[real..., imag...]`` channel layout; ``mask``, 1 where
    measured, ``(*spatial)``, ``(1, *spatial)`` or ``(B, 1, *spatial)`` (what the bundle's ``Undersampled`` puts
    in a batch).
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        real_valued: bool = True,
        noise_lambda: float | None = None,
        learn_lambda: bool = False,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}.")
        if noise_lambda is not None and not noise_lambda > 0:
            raise ValueError(f"noise_lambda must be > 0 (or None for hard data consistency), got {noise_lambda}.")
        if learn_lambda and noise_lambda is None:
            raise ValueError("learn_lambda needs a starting noise_lambda (e.g. 10.0); None means hard consistency.")
        self.spatial_dims = spatial_dims
        self.real_valued = ensure_bool(real_valued, "real_valued")
        self.hard = noise_lambda is None
        log_lambda = torch.tensor(0.0 if noise_lambda is None else math.log(noise_lambda))
        if learn_lambda:
            self.log_lambda = nn.Parameter(log_lambda)
        else:
            self.register_buffer("log_lambda", log_lambda)

    @property
    def noise_lambda(self) -> float | None:
        """The current ``lambda`` (``None`` for hard data consistency)."""
        return None if self.hard else float(self.log_lambda.exp())

    def _fft(self, z: torch.Tensor, inverse: bool = False) -> torch.Tensor:
        return centred_fft(z, list(range(-self.spatial_dims, 0)), inverse=inverse)

    def _measured(self, kspace_masked: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        y = kspace_masked if torch.is_complex(kspace_masked) else to_complex(kspace_masked, "channels", 1)
        expected = image.shape[1] if self.real_valued else image.shape[1] // 2
        if y.ndim != image.ndim or y.shape[1] != expected or y.shape[2:] != image.shape[2:]:
            if not torch.jit.is_scripting():
                raise ValueError(_misfit_message(kspace_masked.shape, image.shape, self.real_valued, expected))
            raise ValueError(  # TorchScript prints the shapes as lists (it cannot build tuples of unknown length)
                f"measured k-space of shape {kspace_masked.shape} does not fit images of shape {image.shape} "
                f"(real_valued={self.real_valued}); pass the batch's kspace_masked, (B, {expected}, *spatial) complex."
            )
        return y.to(torch.complex64 if image.dtype != torch.float64 else torch.complex128)

    def forward(self, image: torch.Tensor, kspace_masked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return ``image`` with its k-space made consistent with ``kspace_masked`` on ``mask``."""
        if not self.real_valued and image.shape[1] % 2:
            raise ValueError(
                f"real_valued=False takes complex images as [real..., imag...] channels, got {image.shape[1]} "
                "channels; pass 2 channels per complex image or set real_valued=True."
            )
        y = self._measured(kspace_masked, image)
        # reduced-precision inputs (bf16 autocast) are promoted: torch's FFT needs float32 or float64
        real_dtype = torch.float64 if image.dtype == torch.float64 else torch.float32
        m = mask.to(device=image.device, dtype=real_dtype)
        if m.ndim < image.ndim:
            m = m.reshape([1] * (image.ndim - m.ndim) + list(m.shape))
        if self.real_valued:
            y, m = conjugate_symmetric_fill_t(y, m, self.spatial_dims)
            z = to_complex(image.to(real_dtype), "complex", 1)
        else:
            z = to_complex(image.to(real_dtype), "channels", 1)
        k = self._fft(z)
        k_dc = consistent_kspace(k, y, m, None if self.hard else self.log_lambda.exp())
        z = self._fft(k_dc, inverse=True)
        out = z.real if self.real_valued else from_complex(z, "channels", 1)
        return out.to(image.dtype)
