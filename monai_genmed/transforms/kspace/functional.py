"""Pure k-space maths: centred orthonormal FFTs, complex layouts, undersampling and data consistency.

The one home of the package's k-space conventions, as fastMRI's ``fftc.py`` is for fastMRI: the transforms, the
data-consistency layers of the networks, the flip ensemble and the classical baselines all call the functions here
(:func:`centred_fft`, :func:`mirror_index`, :func:`conjugate_symmetric_fill`, :func:`consistent_kspace`), so a
convention changes in one place.

Conventions (the same as :func:`monai.networks.blocks.fft_utils_t.fftn_centered_t`, which the tests check):

* k-space is the *centred*, *orthonormal* FFT of the image over its last ``spatial_dims`` axes
  (``fftshift(fftn(ifftshift(x), norm="ortho"))``), so the DC sample sits at index ``n // 2`` and
  Parseval holds: ``||x||_2 == ||k||_2``.
* Arrays are channel-first (``C, H, W[, D]``) or batch-first (``B, C, H, W[, D]``); the FFT runs over the
  trailing ``spatial_dims`` axes. For a 3D volume ``spatial_dims=2`` means in-plane 2D FFTs of each slice
  along the last axis, i.e. undersampling in-plane, which is what a 2D multi-slice acquisition does; pass
  ``spatial_dims=3`` for a full 3D FFT.
* Complex data are either native complex tensors (``layout="complex"``) or two real channels
  (``layout="channels"``): the channel axis holds all real parts first, then all imaginary parts, so one
  complex channel becomes ``[real, imag]``.

Everything here works on torch tensors (differentiably, on any device); numpy inputs are converted to
torch and back, keeping their type.
Values are not checked here: NaN and inf propagate (the array transforms refuse them); half precision and
empty tensors are refused with the fix.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from monai.config.type_definitions import NdarrayOrTensor
from monai.utils import convert_to_dst_type, convert_to_tensor

__all__ = [
    "ComplexLayout",
    "centred_fft",
    "conjugate_symmetric_fill",
    "conjugate_symmetric_fill_t",
    "consistent_kspace",
    "fft_dims",
    "mirror_index",
    "to_complex",
    "from_complex",
    "image_to_kspace",
    "kspace_to_image",
    "apply_mask",
    "zero_filled",
    "data_consistency",
]

ComplexLayout = Literal["complex", "channels"]


def fft_dims(ndim: int, spatial_dims: int, kspace_spatial_dims: int | None = None) -> tuple[int, ...]:
    """Axes over which the FFT runs, counted from the end.

    Args:
        ndim: number of axes of the array.
        spatial_dims: number of spatial axes of the array (2 for ``C,H,W``, 3 for ``C,H,W,D``).
        kspace_spatial_dims: how many of the *first* spatial axes are Fourier encoded; defaults to
            ``spatial_dims``. With ``spatial_dims=3`` and ``kspace_spatial_dims=2`` a volume is treated
            as a stack of 2D slices along its last axis.

    Returns:
        Negative axis indices of the encoded axes.
    """
    k = spatial_dims if kspace_spatial_dims is None else kspace_spatial_dims
    if spatial_dims < 1 or ndim < spatial_dims + 1:
        raise ValueError(
            f"an array with {ndim} axes cannot hold a channel axis plus {spatial_dims} spatial axes; "
            "give channel-first data (C, H, W[, D]) or fix spatial_dims."
        )
    if not 1 <= k <= spatial_dims:
        raise ValueError(f"kspace_spatial_dims must be in [1, {spatial_dims}], got {k}.")
    return tuple(range(-spatial_dims, -spatial_dims + k))


def to_complex(x: torch.Tensor, layout: str, channel_dim: int) -> torch.Tensor:
    """Turn real, complex or two-channel real/imaginary data into a complex tensor.

    Args:
        x: the data.
        layout: ``"complex"`` for native complex (real tensors are promoted, with zero imaginary part),
            ``"channels"`` for ``[real..., imag...]`` stacked on ``channel_dim`` (a :data:`ComplexLayout`, annotated
            ``str`` here and in :func:`from_complex` because TorchScript, which compiles the data-consistency layers
            that call both, has no ``Literal``).
        channel_dim: index of the channel axis (0 for ``C,H,W``, 1 for batches).
    """
    if layout == "complex":
        if torch.is_complex(x):
            return x
        x = x if x.is_floating_point() else x.float()
        return torch.complex(x, torch.zeros_like(x))
    if layout == "channels":
        if torch.is_complex(x):
            raise TypeError("layout='channels' expects real data with [real, imag] channels, got a complex tensor.")
        n = x.shape[channel_dim]
        if n % 2:
            raise ValueError(
                f"layout='channels' needs an even number of channels ([real..., imag...]), "
                f"got {n} on axis {channel_dim}."
            )
        x = x if x.is_floating_point() else x.float()
        real, imag = torch.split(x, n // 2, dim=channel_dim)
        return torch.complex(real, imag)
    if not torch.jit.is_scripting():
        raise ValueError(_unknown_layout(layout))
    raise ValueError("unknown complex layout; use 'complex' or 'channels'.")


def _unknown_layout(layout: Any) -> str:
    # outside TorchScript's syntax (repr), so only called in eager mode: the scripted networks raise a plain message
    return f"unknown complex layout {layout!r}; use 'complex' or 'channels'."


def from_complex(z: torch.Tensor, layout: str, channel_dim: int) -> torch.Tensor:
    """Inverse of :func:`to_complex`: complex tensor to the requested layout."""
    if layout == "complex":
        return z
    if layout == "channels":
        return torch.cat([z.real, z.imag], dim=channel_dim)
    if not torch.jit.is_scripting():
        raise ValueError(_unknown_layout(layout))
    raise ValueError("unknown complex layout; use 'complex' or 'channels'.")


def _check_fft_input(x: torch.Tensor, dims: tuple[int, ...]) -> None:
    """Refuse half precision and empty axes with the fix (torch's own errors name MKL or cuFFT internals). NaN and
    inf are not checked: they propagate through the FFT (the array transforms refuse them before calling it)."""
    if x.dtype in (torch.float16, torch.bfloat16, torch.complex32):
        raise TypeError(
            f"the k-space FFT got a {x.dtype} tensor; half precision has no FFT kernels on CPU (and only powers of two "
            "on CUDA). Convert to float32 first (x.float()), or run the FFT outside torch.autocast."
        )
    if x.numel() == 0:
        empty = [d % x.ndim for d in range(x.ndim) if x.shape[d] == 0]
        raise ValueError(
            f"the k-space FFT got an empty tensor of shape {tuple(x.shape)} (axis {empty[0]} has size 0); check the "
            "crop, mask or slice selection that made it."
        )


def centred_fft(z: torch.Tensor, dims: list[int], inverse: bool = False) -> torch.Tensor:
    """The package's FFT: centred and orthonormal, ``fftshift(fftn(ifftshift(z), norm="ortho"))`` over ``dims``.

    The DC sample sits at index ``n // 2`` of each axis, and Parseval holds. Equal to MONAI's
    :func:`monai.networks.blocks.fft_utils_t.fftn_centered_t` (on complex tensors instead of a trailing real/imag
    axis). No checks, for the networks' inner loops; :func:`image_to_kspace` and :func:`kspace_to_image` check.

    Args:
        z: a complex tensor (a real one is transformed as complex).
        dims: the axes to transform (a list, which TorchScript compiles; in eager mode any sequence of ints).
        inverse: the inverse transform.
    """
    dims = list(dims)
    z = torch.fft.ifftshift(z, dim=dims)
    z = torch.fft.ifftn(z, dim=dims, norm="ortho") if inverse else torch.fft.fftn(z, dim=dims, norm="ortho")
    return torch.fft.fftshift(z, dim=dims)


def mirror_index(n: int, device: torch.device | None = None) -> torch.Tensor:  # no str: TorchScript compiles it
    """Index of frequency ``-k`` for each index of a centred FFT axis of length ``n`` (DC at ``n // 2``), odd or even
    ``n``: ``(2 (n // 2) - i) mod n``. Indexing k-space with it along an axis mirrors the image along that axis."""
    return (2 * (n // 2) - torch.arange(n, device=device)) % n


def conjugate_symmetric_fill(kspace: NdarrayOrTensor, mask: NdarrayOrTensor, spatial_dims: int = 2) -> tuple[Any, Any]:
    """Add the samples that a real object's conjugate symmetry ``X(-k) = conj(X(k))`` implies.

    A location whose mirror (:func:`mirror_index` on every encoded axis) was measured gets the conjugate of that
    measurement; measured samples are kept. This is the real-valued prior of the classical baselines and of the
    networks' data-consistency layers.

    Args:
        kspace: complex k-space, zero off the mask, the encoded axes last (``H, W`` or ``B, C, H, W``).
        mask: 1 where measured, broadcastable against ``kspace`` and with its encoded shape.
        spatial_dims: number of trailing Fourier-encoded axes.

    Returns:
        the filled k-space and the union of the mask and its mirror (broadcast to ``kspace``'s leading axes), each
        in the container type of its input (numpy in, numpy out).
    """
    filled, m = conjugate_symmetric_fill_t(
        convert_to_tensor(kspace, track_meta=False), convert_to_tensor(mask, track_meta=False), spatial_dims
    )
    return _like(filled, kspace), _like(m, mask)


def conjugate_symmetric_fill_t(
    kspace: torch.Tensor, mask: torch.Tensor, spatial_dims: int = 2
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`conjugate_symmetric_fill` on tensors only (the ``_t`` of MONAI's ``fftn_centered_t``), which TorchScript
    compiles: the data-consistency layers call it, so an exported network keeps the one implementation."""
    k = kspace
    m = torch.broadcast_to(mask, list(k.shape[: k.ndim - spatial_dims]) + list(mask.shape[mask.ndim - spatial_dims :]))
    mirrored_k, mirrored_m = k, m
    for axis in range(-spatial_dims, 0):
        index = mirror_index(k.shape[axis], k.device)
        mirrored_k, mirrored_m = mirrored_k.index_select(axis, index), mirrored_m.index_select(axis, index)
    filled = torch.where(m > 0, k, torch.conj(mirrored_k) * mirrored_m)
    return filled, torch.maximum(m, mirrored_m)


def consistent_kspace(
    kspace: torch.Tensor, measured: torch.Tensor, mask: torch.Tensor, noise_lambda: float | torch.Tensor | None = None
) -> torch.Tensor:
    """Data consistency in k-space: ``k + m * w * (y - k)``, with ``w = 1`` (hard) or ``lambda / (1 + lambda)``.

    Schlemper et al. 2018 (https://arxiv.org/abs/1703.00555), eq. 9: at measured locations
    ``(k + lambda * y) / (1 + lambda)``, elsewhere ``k``; ``noise_lambda=None`` is the noise-free limit, where the
    measured samples replace the prediction's exactly.

    Args:
        kspace: the prediction's k-space.
        measured: the measured k-space ``y`` (zeros off the mask).
        mask: 1 where measured, broadcastable against ``kspace``, real.
        noise_lambda: ``lambda`` (a number or a tensor, e.g. a learnt parameter), or ``None`` for hard consistency.
    """
    if noise_lambda is None:
        return kspace + mask * (measured - kspace)
    if isinstance(noise_lambda, torch.Tensor):  # the same formula twice: TorchScript types a tensor and a float apart
        return kspace + mask * (noise_lambda / (1 + noise_lambda)) * (measured - kspace)
    return kspace + mask * (noise_lambda / (1 + noise_lambda)) * (measured - kspace)


def image_to_kspace(
    img: NdarrayOrTensor,
    spatial_dims: int = 2,
    kspace_spatial_dims: int | None = None,
    layout: ComplexLayout = "complex",
    input_layout: ComplexLayout = "complex",
    channel_dim: int = 0,
) -> NdarrayOrTensor:
    """Centred orthonormal FFT of an image.

    Args:
        img: real magnitude image, complex image, or ``[real, imag]`` channels (``input_layout="channels"``).
        spatial_dims: number of spatial axes.
        kspace_spatial_dims: number of leading spatial axes to transform (default: all).
        layout: layout of the returned k-space.
        input_layout: layout of ``img``.
        channel_dim: index of the channel axis.

    Returns:
        k-space of the same container type as ``img`` (numpy in, numpy out).
    """
    x = convert_to_tensor(img, track_meta=False)
    dims = fft_dims(x.ndim, spatial_dims, kspace_spatial_dims)
    _check_fft_input(x, dims)
    k = from_complex(centred_fft(to_complex(x, input_layout, channel_dim), dims, inverse=False), layout, channel_dim)
    return _like(k, img)


def kspace_to_image(
    kspace: NdarrayOrTensor,
    spatial_dims: int = 2,
    kspace_spatial_dims: int | None = None,
    layout: ComplexLayout = "complex",
    output: Literal["magnitude", "complex", "channels", "real"] = "magnitude",
    channel_dim: int = 0,
) -> NdarrayOrTensor:
    """Centred orthonormal inverse FFT of k-space.

    Args:
        kspace: complex k-space or ``[real, imag]`` channels (``layout="channels"``).
        spatial_dims: number of spatial axes.
        kspace_spatial_dims: number of leading spatial axes to transform (default: all).
        layout: layout of ``kspace``.
        output: ``"magnitude"`` (what a magnitude image reconstruction shows), ``"real"``, ``"complex"``
            or ``"channels"``.
        channel_dim: index of the channel axis.
    """
    k = convert_to_tensor(kspace, track_meta=False)
    dims = fft_dims(k.ndim, spatial_dims, kspace_spatial_dims)
    _check_fft_input(k, dims)
    z = centred_fft(to_complex(k, layout, channel_dim), dims, inverse=True)
    if output == "magnitude":
        out = z.abs()
    elif output == "real":
        out = z.real
    elif output in ("complex", "channels"):
        out = from_complex(z, output, channel_dim)  # type: ignore[arg-type]
    else:
        raise ValueError(f"unknown output {output!r}; use 'magnitude', 'real', 'complex' or 'channels'.")
    return _like(out, kspace)


def _broadcast_mask(mask: torch.Tensor, kspace: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """View a mask so that it broadcasts against ``kspace``.

    The mask's trailing axes are the encoded axes (``H, W``); leading axes, if any, broadcast against
    k-space's leading axes, so ``(H, W)``, ``(1, H, W)`` and a per-sample batch ``(B, 1, H, W)`` all work.
    Spatial axes after the encoded ones (the slices of a volume) get singleton axes.
    """
    enc_shape = tuple(kspace.shape[d] for d in dims)
    trailing = -dims[-1] - 1  # spatial axes after the encoded ones
    if mask.ndim < len(enc_shape) or tuple(mask.shape[mask.ndim - len(enc_shape) :]) != enc_shape:
        raise ValueError(
            f"undersampling mask of shape {tuple(mask.shape)} does not match the k-space's encoded axes {enc_shape}; "
            "make the mask for this image size (pad or crop the image, or generate the mask for its shape)."
        )
    if mask.ndim + trailing > kspace.ndim:
        raise ValueError(
            f"undersampling mask of shape {tuple(mask.shape)} has more axes than k-space of shape "
            f"{tuple(kspace.shape)} allows."
        )
    return mask.reshape(tuple(mask.shape) + (1,) * trailing)


def apply_mask(kspace: torch.Tensor, mask: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """Keep the sampled k-space locations (``mask == 1``) and zero the rest."""
    m = _broadcast_mask(mask.to(device=kspace.device), kspace, dims)
    return kspace * m.to(dtype=kspace.real.dtype if torch.is_complex(kspace) else kspace.dtype)


def zero_filled(
    kspace_masked: NdarrayOrTensor,
    spatial_dims: int = 2,
    kspace_spatial_dims: int | None = None,
    layout: ComplexLayout = "complex",
    output: Literal["magnitude", "complex", "channels", "real"] = "magnitude",
    channel_dim: int = 0,
) -> NdarrayOrTensor:
    """Zero-filled reconstruction: the inverse FFT of undersampled k-space with unmeasured samples at zero."""
    return kspace_to_image(kspace_masked, spatial_dims, kspace_spatial_dims, layout, output, channel_dim)


def data_consistency(
    image: NdarrayOrTensor,
    kspace_measured: NdarrayOrTensor,
    mask: NdarrayOrTensor,
    spatial_dims: int = 2,
    kspace_spatial_dims: int | None = None,
    layout: ComplexLayout = "complex",
    noise_level: float | None = None,
    output: Literal["magnitude", "complex", "channels", "real"] = "magnitude",
    channel_dim: int = 0,
) -> NdarrayOrTensor:
    """Put measured k-space samples back into a reconstruction.

    ``k = (1 - m) * F(x) + m * (F(x) + lam * y) / (1 + lam)`` with ``lam = 1 / noise_level`` (Schlemper et
    al. 2018, https://arxiv.org/abs/1703.00555); ``noise_level=None`` (or 0) is the noise-free limit, where
    measured samples replace the prediction's exactly (``k = (1 - m) F(x) + m y``).

    Args:
        image: the reconstruction (real magnitude, complex, or ``[real, imag]`` channels matching ``layout``
            when it is not a real single-layout image).
        kspace_measured: undersampled k-space (zeros where not measured), in ``layout``.
        mask: sampling mask over the encoded axes, 1 where measured.
        spatial_dims: number of spatial axes.
        kspace_spatial_dims: number of leading spatial axes that are Fourier encoded.
        layout: layout of ``kspace_measured`` (and of ``image`` if it is not a plain real image).
        noise_level: ``None`` for hard replacement, else the weight of the prediction at measured samples.
        output: what to return, as in :func:`kspace_to_image`.
        channel_dim: index of the channel axis.
    """
    x = convert_to_tensor(image, track_meta=False)
    y = to_complex(convert_to_tensor(kspace_measured, track_meta=False), layout, channel_dim)
    m = convert_to_tensor(mask, track_meta=False)
    if layout == "channels" and not torch.is_complex(x) and x.shape[channel_dim] == y.shape[channel_dim] * 2:
        x = to_complex(x, "channels", channel_dim)
    xc = to_complex(x, "complex", channel_dim)
    dims = fft_dims(xc.ndim, spatial_dims, kspace_spatial_dims)
    if xc.shape != y.shape:
        raise ValueError(
            f"reconstruction of shape {tuple(xc.shape)} and measured k-space of shape {tuple(y.shape)} differ; "
            "pass the k-space measured for this image."
        )
    k = centred_fft(xc, dims, inverse=False)
    mb = _broadcast_mask(m.to(device=k.device), k, dims).to(k.real.dtype)
    k_dc = consistent_kspace(k, y, mb, 1.0 / float(noise_level) if noise_level else None)
    z = centred_fft(k_dc, dims, inverse=True)
    if output == "magnitude":
        out = z.abs()
    elif output == "real":
        out = z.real
    else:
        out = from_complex(z, output, channel_dim)  # type: ignore[arg-type]
    return _like(out, image)


def _like(out: torch.Tensor, ref: NdarrayOrTensor) -> NdarrayOrTensor:
    """Return ``out`` in the container type of ``ref`` (numpy stays numpy), keeping ``out``'s dtype."""
    if isinstance(ref, np.ndarray):
        return out.detach().cpu().numpy()
    if isinstance(ref, torch.Tensor):
        return convert_to_dst_type(out, ref, dtype=out.dtype)[0]
    return out
