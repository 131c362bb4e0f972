"""What every classical reconstruction shares: the input contract, its checks, and the zero-filled baseline.

A reconstructor takes single-coil Cartesian data in this package's convention: ``kspace_masked`` is
``mask * FFT(image)`` with the centred orthonormal FFT of :mod:`monai_genmed.transforms.kspace.functional`
(an ``H, W`` complex array) and ``mask`` the ``H, W`` {0, 1} undersampling mask; it returns the magnitude of
its reconstruction as an ``H, W`` float32 array, the image that PSNR/SSIM against the fully sampled magnitude
image are computed on.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from monai_genmed.transforms.kspace.functional import conjugate_symmetric_fill, kspace_to_image

__all__ = [
    "check_cs_inputs",
    "check_positive",
    "check_iterations",
    "zero_filled_image",
    "conjugate_symmetric_fill",
    "CSReconstructor",
    "ZeroFilledRecon",
]


def check_cs_inputs(kspace_masked: Any, mask: Any) -> tuple[np.ndarray, np.ndarray]:
    """Check and normalise the measured k-space and its mask.

    Args:
        kspace_masked: ``H, W`` complex k-space, ``mask * image_to_kspace(image)``. Values where ``mask == 0``
            are ignored (set to zero), so passing fully sampled k-space with its mask is also correct.
        mask: ``H, W`` undersampling mask holding only 0 and 1 (bool, integer or float).

    Returns:
        ``(kspace, mask)`` as complex64 (zero off the mask) and float32 arrays.

    Raises:
        TypeError: when ``kspace_masked`` is not complex (a real array is most likely an image) or ``mask`` is.
        ValueError: on a shape mismatch, a non-2D input, a mask with values other than 0/1 or with no sample,
            or non-finite k-space.
    """
    kspace = np.asarray(kspace_masked)
    m = np.asarray(mask)
    if not np.iscomplexobj(kspace):
        raise TypeError(
            f"kspace_masked must be complex k-space (mask * image_to_kspace(image)), got dtype {kspace.dtype}; "
            "if this is an image, transform it with monai_genmed.transforms.kspace.functional.image_to_kspace first."
        )
    if np.iscomplexobj(m) or not (m.dtype == bool or np.issubdtype(m.dtype, np.number)):
        raise TypeError(f"mask must be a real (bool, integer or float) array of 0 and 1, got dtype {m.dtype}.")
    if kspace.ndim != 2 or m.ndim != 2:
        raise ValueError(
            f"the classical reconstructions take one 2D single-coil slice: kspace_masked and mask must both be H, W, "
            f"got shapes {kspace.shape} and {m.shape}; squeeze channel axes or loop over slices."
        )
    if kspace.shape != m.shape:
        raise ValueError(
            f"kspace_masked of shape {kspace.shape} and mask of shape {m.shape} differ; "
            "generate the mask for this k-space's size."
        )
    if not np.all(np.isfinite(kspace)):
        raise ValueError("kspace_masked holds NaN or Inf values; check the data before reconstructing.")
    m = m.astype(np.float32)
    if not np.all((m == 0) | (m == 1)):
        raise ValueError(
            f"mask must hold only 0 and 1, found values like {np.unique(m)[:5]}; "
            "binarise it (mask > 0) or pass the sampling pattern, not a density."
        )
    if not m.any():
        raise ValueError("mask samples no k-space location; nothing can be reconstructed from it.")
    return (kspace * m).astype(np.complex64), m


def zero_filled_image(kspace: np.ndarray, complex_output: bool = True) -> np.ndarray:
    """Inverse centred orthonormal FFT of ``H, W`` k-space (complex, or its magnitude as float32)."""
    out = kspace_to_image(kspace[None], output="complex" if complex_output else "magnitude")[0]
    return out if complex_output else out.astype(np.float32)


def check_positive(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a positive number, got {value!r}.")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and positive, got {value!r}.")
    return float(value)


def check_iterations(value: int, name: str = "max_iter") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


class CSReconstructor:
    """Base class: checks inputs, calls :meth:`reconstruct`, returns the magnitude.

    Subclasses set :attr:`name` and implement :meth:`reconstruct` on checked inputs. :attr:`params` lists the
    settings a subclass was built with, so a results table can say exactly what was run.

    Args:
        real_valued: use the prior that the object is real and non-negative, which holds when magnitude images
            are undersampled retrospectively (DAGAN's setting, and this package's simulated data) but not for
            scanner k-space, whose images carry a phase. Its k-space is then conjugate symmetric, so the
            mirror of every measured sample is known too (:func:`conjugate_symmetric_fill`), and the output is
            the non-negative part of the real part instead of the magnitude. A learned model that maps
            zero-filled magnitude images to real images uses this prior implicitly; switch it on to compare
            like with like, and say which was used.
    """

    name: str = "reconstruction"
    #: whether :meth:`__call__` needs the slice's ``noise_sigma`` (a noise-adaptive setting)
    uses_noise_level: bool = False

    def __init__(self, real_valued: bool = False) -> None:
        self.real_valued = bool(real_valued)

    @property
    def params(self) -> dict[str, Any]:
        """The settings of this reconstruction (regularisation weight, iterations, steps)."""
        return {"real_valued": self.real_valued}

    def reconstruct(self, kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Complex ``H, W`` image from checked complex64 ``kspace`` (zero off the mask) and float32 ``mask``.

        This is the reconstruction proper, before the magnitude (or real part) is taken; with ``real_valued``
        :meth:`__call__` passes the conjugate-symmetric filled k-space and mask.
        """
        raise NotImplementedError

    def __call__(self, kspace_masked: np.ndarray, mask: np.ndarray, noise_sigma: float | None = None) -> np.ndarray:
        """Reconstruct one slice.

        Args:
            kspace_masked: ``H, W`` complex measured k-space (see :func:`check_cs_inputs`).
            mask: ``H, W`` {0, 1} undersampling mask.
            noise_sigma: the slice's noise standard deviation (per real or imaginary component, image scale);
                required where :attr:`uses_noise_level`, ignored elsewhere.

        Returns:
            ``H, W`` float32 magnitude image (non-negative real part with ``real_valued``).
        """
        kspace, m = check_cs_inputs(kspace_masked, mask)
        extra = {}
        if self.uses_noise_level:
            if noise_sigma is None or not (math.isfinite(float(noise_sigma)) and float(noise_sigma) >= 0):
                raise ValueError(
                    f"{type(self).__name__} adapts to the noise level, so each slice needs noise_sigma >= 0 (the noise "
                    "standard deviation, e.g. from a noise pre-scan or the datalist's 'noise_sigma'), "
                    f"got {noise_sigma!r}."
                )
            extra = {"noise_sigma": float(noise_sigma)}
        if self.real_valued:
            kspace, m = conjugate_symmetric_fill(kspace, m)
            return np.maximum(self.reconstruct(kspace, m, **extra).real, 0).astype(np.float32)
        return np.abs(self.reconstruct(kspace, m, **extra)).astype(np.float32)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


class ZeroFilledRecon(CSReconstructor):
    """The zero-filled reconstruction, the inverse FFT of the measured samples: the floor every method must beat.

    With ``real_valued`` the mirrored samples are filled in too (the real-object counterpart of zero filling).
    """

    name = "zero-filled"

    def reconstruct(self, kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return zero_filled_image(kspace)
