"""Array k-space transforms: FFTs, undersampling, zero-filled reconstruction and data consistency.

They take channel-first data (``C, H, W`` or ``C, H, W, D``) as numpy arrays, torch tensors or MetaTensors
and return the same type (a MetaTensor keeps its meta). See :mod:`.functional` for the conventions
(centred orthonormal FFT; complex or ``[real, imag]`` channel layout; in-plane undersampling of volumes).
"""

from __future__ import annotations

import os
from typing import Literal

import torch
from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms import RandomizableTransform, Transform
from monai.utils import TransformBackends, convert_to_dst_type, convert_to_tensor

from . import functional as F
from .masks import UndersamplingMaskFunc, load_undersampling_mask

__all__ = [
    "ImageToKspace",
    "KspaceToImage",
    "Undersample",
    "RandUndersample",
    "ZeroFilledReconstruction",
    "DataConsistency",
]

Domain = Literal["image", "kspace"]
ImageOutput = Literal["magnitude", "complex", "channels", "real"]


class _KspaceTransform(Transform):
    """Holds the geometry arguments shared by every k-space transform."""

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self, spatial_dims: int = 2, kspace_spatial_dims: int | None = None, layout: F.ComplexLayout = "complex"
    ):
        if layout not in ("complex", "channels"):
            raise ValueError(f"layout must be 'complex' or 'channels', got {layout!r}.")
        self.spatial_dims = spatial_dims
        self.kspace_spatial_dims = kspace_spatial_dims
        self.layout = layout

    def _check(self, data: NdarrayOrTensor, name: str) -> None:
        if data.ndim != self.spatial_dims + 1:
            raise ValueError(
                f"{type(self).__name__} expects channel-first {name} with {self.spatial_dims} spatial axes "
                f"(C, {', '.join('HWD'[: self.spatial_dims])}), got shape {tuple(data.shape)}; add a channel axis "
                "(e.g. EnsureChannelFirst) or set spatial_dims."
            )
        values = convert_to_tensor(data, track_meta=False)
        if not torch.isfinite(values).all():
            raise ValueError(
                f"{type(self).__name__} got non-finite values (NaN or inf) in {name}; clean the input first."
            )

    def _check_mask(self, mask: NdarrayOrTensor) -> None:
        """A sampling mask holds 1 where k-space was measured and 0 elsewhere, nothing else: a soft or scaled mask
        (0/255 from an image file, a probability map) would scale the measured samples instead of selecting them."""
        values = convert_to_tensor(mask, track_meta=False)
        if not torch.isfinite(values).all():
            raise ValueError(f"{type(self).__name__} got non-finite values (NaN or inf) in the sampling mask.")
        if not ((values == 0) | (values == 1)).all():
            found = torch.unique(values.float())[:5].tolist()
            raise ValueError(
                f"{type(self).__name__} needs a binary sampling mask (1 = measured, 0 = not), "
                f"got values such as {found}; binarise it (mask > 0) or pass the mask the data were sampled with."
            )

    def _dims(self, data: NdarrayOrTensor) -> tuple[int, ...]:
        return F.fft_dims(data.ndim, self.spatial_dims, self.kspace_spatial_dims)


class ImageToKspace(_KspaceTransform):
    """Centred orthonormal FFT: image -> k-space.

    Args:
        spatial_dims: number of spatial axes of the input.
        kspace_spatial_dims: leading spatial axes to transform (2 for in-plane FFTs of a volume).
        layout: layout of the output k-space: ``"complex"`` or ``"channels"`` (``[real, imag]``).
        input_layout: ``"complex"`` for real or complex images, ``"channels"`` for ``[real, imag]`` images.
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        kspace_spatial_dims: int | None = None,
        layout: F.ComplexLayout = "complex",
        input_layout: F.ComplexLayout = "complex",
    ) -> None:
        super().__init__(spatial_dims, kspace_spatial_dims, layout)
        self.input_layout = input_layout

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        self._check(img, "image")
        return F.image_to_kspace(img, self.spatial_dims, self.kspace_spatial_dims, self.layout, self.input_layout)


class KspaceToImage(_KspaceTransform):
    """Centred orthonormal inverse FFT: k-space -> image (magnitude by default).

    Args:
        spatial_dims, kspace_spatial_dims, layout: as :class:`ImageToKspace` (``layout`` is the input's).
        output: ``"magnitude"``, ``"real"``, ``"complex"`` or ``"channels"``.
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        kspace_spatial_dims: int | None = None,
        layout: F.ComplexLayout = "complex",
        output: ImageOutput = "magnitude",
    ) -> None:
        super().__init__(spatial_dims, kspace_spatial_dims, layout)
        self.output = output

    def __call__(self, kspace: NdarrayOrTensor) -> NdarrayOrTensor:
        self._check(kspace, "k-space")
        return F.kspace_to_image(kspace, self.spatial_dims, self.kspace_spatial_dims, self.layout, self.output)


class ZeroFilledReconstruction(KspaceToImage):
    """Zero-filled reconstruction of undersampled k-space: the inverse FFT with unmeasured samples at zero.

    The baseline every compressed-sensing method is compared with (its aliasing is what DAGAN learns to remove).
    """


class Undersample(_KspaceTransform):
    """Undersample an image (or k-space) with a fixed mask.

    Returns ``(kspace_masked, mask, zero_filled)``: the measured k-space (zeros where not sampled), the mask
    as a channel-first float array ``(1, H, W)`` (it travels with the sample, to the frequency loss and to
    data consistency), and the zero-filled magnitude image.

    Args:
        mask: the sampling mask ``(H, W)`` (1 = measured), or a path to a mask file (see
            :func:`~monai_genmed.transforms.kspace.masks.load_undersampling_mask`).
        spatial_dims, kspace_spatial_dims, layout: geometry and the layout of the returned k-space.
        input_domain: ``"image"`` (the input is an image and is Fourier transformed first) or ``"kspace"``
            (the input is fully sampled k-space in ``layout``).
        zero_filled_output: what the zero-filled image is (``"magnitude"`` by default).
    """

    def __init__(
        self,
        mask: NdarrayOrTensor | str | os.PathLike | None = None,
        spatial_dims: int = 2,
        kspace_spatial_dims: int | None = None,
        layout: F.ComplexLayout = "complex",
        input_domain: Domain = "image",
        zero_filled_output: ImageOutput = "magnitude",
    ) -> None:
        super().__init__(spatial_dims, kspace_spatial_dims, layout)
        if input_domain not in ("image", "kspace"):
            raise ValueError(f"input_domain must be 'image' or 'kspace', got {input_domain!r}.")
        self.input_domain = input_domain
        self.zero_filled_output = zero_filled_output
        if isinstance(mask, (str, os.PathLike)):
            mask = load_undersampling_mask(mask)
        self.mask = None if mask is None else convert_to_tensor(mask, dtype=torch.float32, track_meta=False)

    def _encoded_shape(self, data: NdarrayOrTensor) -> tuple[int, ...]:
        return tuple(data.shape[d] for d in self._dims(data))

    def _undersample(
        self, data: NdarrayOrTensor, mask: torch.Tensor
    ) -> tuple[NdarrayOrTensor, NdarrayOrTensor, NdarrayOrTensor]:
        self._check(data, self.input_domain)
        self._check_mask(mask)
        enc_shape = self._encoded_shape(data)
        mask_2d = mask.reshape(mask.shape[-len(enc_shape) :]) if mask.ndim > len(enc_shape) else mask
        if tuple(mask_2d.shape) != enc_shape:
            raise ValueError(
                f"undersampling mask of shape {tuple(mask_2d.shape)} does not fit an input of shape "
                f"{tuple(data.shape)} (encoded axes {enc_shape}); make the mask for this size, "
                f"or pad/crop the image to {tuple(mask_2d.shape)}."
            )
        x = convert_to_tensor(data, track_meta=False)
        dims = self._dims(data)
        if self.input_domain == "image":
            kspace = F.image_to_kspace(x, self.spatial_dims, self.kspace_spatial_dims)
        else:
            kspace = F.to_complex(x, self.layout, 0)
        kspace_masked = F.apply_mask(kspace, mask_2d, dims)
        zero_filled = F.kspace_to_image(
            kspace_masked, self.spatial_dims, self.kspace_spatial_dims, "complex", self.zero_filled_output
        )
        kspace_out = F.from_complex(kspace_masked, self.layout, 0)
        mask_out = mask_2d[None].to(dtype=torch.float32)
        zero_filled = convert_to_dst_type(zero_filled, data, dtype=zero_filled.dtype)[0]
        kspace_out = convert_to_dst_type(kspace_out, data, dtype=kspace_out.dtype)[0]
        mask_out = convert_to_dst_type(mask_out, data, dtype=torch.float32)[0]
        return kspace_out, mask_out, zero_filled

    def __call__(
        self, data: NdarrayOrTensor, mask: NdarrayOrTensor | None = None
    ) -> tuple[NdarrayOrTensor, NdarrayOrTensor, NdarrayOrTensor]:
        """
        Args:
            data: channel-first image (or k-space when ``input_domain="kspace"``).
            mask: overrides the constructor's mask for this call.
        """
        m = self.mask if mask is None else convert_to_tensor(mask, dtype=torch.float32, track_meta=False)
        if m is None:
            raise ValueError("Undersample needs a mask: pass mask=... to the constructor or to the call.")
        return self._undersample(data, m)


class RandUndersample(RandomizableTransform, Undersample):
    """Undersample with a new random mask for each sample, drawn from ``mask_func``.

    The mask's seed comes from this transform's own RandomState (``self.R``), so ``set_random_state`` makes
    a pipeline reproducible and the global RNGs stay untouched.

    Args:
        mask_func: an :class:`~monai_genmed.transforms.kspace.masks.UndersamplingMaskFunc`.
        prob: probability of undersampling; otherwise the sample passes fully sampled (mask of ones).
        spatial_dims, kspace_spatial_dims, layout, input_domain, zero_filled_output: see :class:`Undersample`.
    """

    def __init__(
        self,
        mask_func: UndersamplingMaskFunc,
        prob: float = 1.0,
        spatial_dims: int = 2,
        kspace_spatial_dims: int | None = None,
        layout: F.ComplexLayout = "complex",
        input_domain: Domain = "image",
        zero_filled_output: ImageOutput = "magnitude",
    ) -> None:
        RandomizableTransform.__init__(self, prob)
        Undersample.__init__(self, None, spatial_dims, kspace_spatial_dims, layout, input_domain, zero_filled_output)
        self.mask_func = mask_func
        self._seed = 0

    def randomize(self, data: NdarrayOrTensor | None = None) -> None:
        super().randomize(None)
        self._seed = int(self.R.randint(0, 2**31 - 1))

    def __call__(  # type: ignore[override]
        self, data: NdarrayOrTensor, randomize: bool = True
    ) -> tuple[NdarrayOrTensor, NdarrayOrTensor, NdarrayOrTensor]:
        if randomize:
            self.randomize()
        self._check(data, self.input_domain)
        shape = self._encoded_shape(data)
        if len(shape) != 2:
            raise ValueError(
                f"RandUndersample draws in-plane 2D masks; set kspace_spatial_dims=2 (encoded axes {shape})."
            )
        if self._do_transform:
            mask = torch.from_numpy(self.mask_func(shape, seed=self._seed))
        else:
            mask = torch.ones(shape)
        return self._undersample(data, mask)


class DataConsistency(_KspaceTransform):
    """Put measured k-space back into a reconstruction (hard replacement, or weighted by ``noise_level``).

    ``k = (1 - m) F(x) + m (F(x) + y / sigma) / (1 + 1 / sigma)`` (Schlemper et al. 2018); ``noise_level=None``
    replaces measured samples exactly. DAGAN's network does not enforce this; applying it afterwards can only
    move the result towards the measurements.

    Args:
        noise_level: ``None`` for hard replacement, or a positive weight.
        spatial_dims, kspace_spatial_dims, layout: geometry and the layout of the measured k-space.
        output: what the returned image is (``"magnitude"`` by default).
    """

    def __init__(
        self,
        noise_level: float | None = None,
        spatial_dims: int = 2,
        kspace_spatial_dims: int | None = None,
        layout: F.ComplexLayout = "complex",
        output: ImageOutput = "magnitude",
    ) -> None:
        super().__init__(spatial_dims, kspace_spatial_dims, layout)
        if noise_level is not None and noise_level < 0:
            raise ValueError(f"noise_level must be None or non-negative, got {noise_level}.")
        self.noise_level = noise_level
        self.output = output

    def __call__(self, img: NdarrayOrTensor, kspace: NdarrayOrTensor, mask: NdarrayOrTensor) -> NdarrayOrTensor:
        """
        Args:
            img: the reconstruction, channel-first.
            kspace: the measured (undersampled) k-space, channel-first, in ``layout``.
            mask: sampling mask ``(H, W)`` or ``(1, H, W)``.
        """
        self._check(img, "reconstruction")
        if not torch.isfinite(convert_to_tensor(kspace, track_meta=False)).all():
            raise ValueError(f"{type(self).__name__} got non-finite values (NaN or inf) in the measured k-space.")
        self._check_mask(mask)
        return F.data_consistency(
            img, kspace, mask, self.spatial_dims, self.kspace_spatial_dims, self.layout, self.noise_level, self.output
        )
