"""Dictionary versions of the k-space transforms, for MONAI ``Compose`` pipelines.

A typical compressed-sensing pipeline::

    Compose([
        LoadImaged("image"), EnsureChannelFirstd("image"), ScaleIntensityd("image"),
        RandUndersampled("image", mask_func=GaussianMask1D(0.3)),   # adds kspace_masked, mask, zero_filled
    ])

The undersampling mask is kept in the data dictionary (``KspaceKeys.MASK``), so it reaches the frequency loss
and the data-consistency step together with the sample it was applied to.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping

from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms import MapTransform, RandomizableTransform

from monai_genmed.utils.enums import KspaceKeys

from . import functional as F
from .array import (
    DataConsistency,
    Domain,
    ImageOutput,
    ImageToKspace,
    KspaceToImage,
    RandUndersample,
    Undersample,
    ZeroFilledReconstruction,
)
from .masks import UndersamplingMaskFunc

__all__ = [
    "ImageToKspaced",
    "ImageToKspaceD",
    "ImageToKspaceDict",
    "KspaceToImaged",
    "KspaceToImageD",
    "KspaceToImageDict",
    "ZeroFilledReconstructiond",
    "ZeroFilledReconstructionD",
    "ZeroFilledReconstructionDict",
    "Undersampled",
    "UndersampledD",
    "UndersampledDict",
    "RandUndersampled",
    "RandUndersampledD",
    "RandUndersampledDict",
    "DataConsistencyd",
    "DataConsistencyD",
    "DataConsistencyDict",
]


class _ElementwiseKspaced(MapTransform):
    """Applies an array transform to each key, writing to ``output_keys`` (default: in place)."""

    transform: ImageToKspace | KspaceToImage

    def __init__(self, keys: KeysCollection, output_keys: KeysCollection | None, allow_missing_keys: bool) -> None:
        super().__init__(keys, allow_missing_keys)
        self.output_keys = (
            self.keys if output_keys is None else tuple([output_keys] if isinstance(output_keys, str) else output_keys)
        )
        if len(self.output_keys) != len(self.keys):
            raise ValueError(f"output_keys {self.output_keys} must match keys {self.keys} one to one.")
        self.backend = self.transform.backend

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key, out_key in self.key_iterator(d, self.output_keys):
            d[out_key] = self.transform(d[key])
        return d


class ImageToKspaced(_ElementwiseKspaced):
    """Dictionary version of :class:`ImageToKspace`; ``output_keys`` default to ``keys`` (in place)."""

    def __init__(
        self,
        keys: KeysCollection,
        spatial_dims: int = 2,
        kspace_spatial_dims: int | None = None,
        layout: F.ComplexLayout = "complex",
        input_layout: F.ComplexLayout = "complex",
        output_keys: KeysCollection | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        self.transform = ImageToKspace(spatial_dims, kspace_spatial_dims, layout, input_layout)
        super().__init__(keys, output_keys, allow_missing_keys)


class KspaceToImaged(_ElementwiseKspaced):
    """Dictionary version of :class:`KspaceToImage`; ``output_keys`` default to ``keys`` (in place)."""

    def __init__(
        self,
        keys: KeysCollection,
        spatial_dims: int = 2,
        kspace_spatial_dims: int | None = None,
        layout: F.ComplexLayout = "complex",
        output: ImageOutput = "magnitude",
        output_keys: KeysCollection | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        self.transform = KspaceToImage(spatial_dims, kspace_spatial_dims, layout, output)
        super().__init__(keys, output_keys, allow_missing_keys)


class ZeroFilledReconstructiond(_ElementwiseKspaced):
    """Dictionary version of :class:`ZeroFilledReconstruction`; reads ``KspaceKeys.KSPACE_MASKED`` and writes
    ``KspaceKeys.ZERO_FILLED`` by default."""

    def __init__(
        self,
        keys: KeysCollection = KspaceKeys.KSPACE_MASKED,
        spatial_dims: int = 2,
        kspace_spatial_dims: int | None = None,
        layout: F.ComplexLayout = "complex",
        output: ImageOutput = "magnitude",
        output_keys: KeysCollection | None = KspaceKeys.ZERO_FILLED,
        allow_missing_keys: bool = False,
    ) -> None:
        self.transform = ZeroFilledReconstruction(spatial_dims, kspace_spatial_dims, layout, output)
        super().__init__(keys, output_keys, allow_missing_keys)


class Undersampled(MapTransform):
    """Dictionary version of :class:`Undersample`: reads one image key, adds measured k-space, mask and zero-filled
    image.

    Args:
        keys: the single key of the image (or fully sampled k-space) to undersample.
        mask: fixed mask or mask file, see :class:`Undersample`.
        kspace_key, mask_key, zero_filled_key: where the outputs go.
        spatial_dims, kspace_spatial_dims, layout, input_domain, zero_filled_output: see :class:`Undersample`.
        allow_missing_keys: don't raise if the key is missing.
    """

    backend = Undersample.backend

    def __init__(
        self,
        keys: KeysCollection,
        mask: NdarrayOrTensor | str | os.PathLike | None = None,
        kspace_key: str = KspaceKeys.KSPACE_MASKED,
        mask_key: str = KspaceKeys.MASK,
        zero_filled_key: str = KspaceKeys.ZERO_FILLED,
        spatial_dims: int = 2,
        kspace_spatial_dims: int | None = None,
        layout: F.ComplexLayout = "complex",
        input_domain: Domain = "image",
        zero_filled_output: ImageOutput = "magnitude",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        if len(self.keys) != 1:
            raise ValueError(f"{type(self).__name__} undersamples one key at a time, got keys {self.keys}.")
        self.output_keys = (kspace_key, mask_key, zero_filled_key)
        self.undersample = self._make(mask, spatial_dims, kspace_spatial_dims, layout, input_domain, zero_filled_output)

    def _make(self, mask, spatial_dims, kspace_spatial_dims, layout, input_domain, zero_filled_output) -> Undersample:
        return Undersample(mask, spatial_dims, kspace_spatial_dims, layout, input_domain, zero_filled_output)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            outputs = self.undersample(d[key])
            d.update(zip(self.output_keys, outputs))
        return d


class RandUndersampled(RandomizableTransform, Undersampled):
    """Dictionary version of :class:`RandUndersample`: a new mask per sample, drawn from ``mask_func``.

    ``set_random_state`` seeds the wrapped array transform, which draws every mask seed.
    """

    backend = RandUndersample.backend

    def __init__(
        self,
        keys: KeysCollection,
        mask_func: UndersamplingMaskFunc,
        prob: float = 1.0,
        kspace_key: str = KspaceKeys.KSPACE_MASKED,
        mask_key: str = KspaceKeys.MASK,
        zero_filled_key: str = KspaceKeys.ZERO_FILLED,
        spatial_dims: int = 2,
        kspace_spatial_dims: int | None = None,
        layout: F.ComplexLayout = "complex",
        input_domain: Domain = "image",
        zero_filled_output: ImageOutput = "magnitude",
        allow_missing_keys: bool = False,
    ) -> None:
        RandomizableTransform.__init__(self, prob)
        self.mask_func = mask_func
        Undersampled.__init__(
            self,
            keys,
            None,
            kspace_key,
            mask_key,
            zero_filled_key,
            spatial_dims,
            kspace_spatial_dims,
            layout,
            input_domain,
            zero_filled_output,
            allow_missing_keys,
        )

    def _make(
        self, mask, spatial_dims, kspace_spatial_dims, layout, input_domain, zero_filled_output
    ) -> RandUndersample:
        return RandUndersample(
            self.mask_func, 1.0, spatial_dims, kspace_spatial_dims, layout, input_domain, zero_filled_output
        )

    def set_random_state(self, seed: int | None = None, state=None) -> RandUndersampled:
        super().set_random_state(seed, state)
        self.undersample.set_random_state(seed, state)  # type: ignore[union-attr]
        return self

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        self.randomize(None)
        rand = self.undersample
        assert isinstance(rand, RandUndersample)
        rand.randomize()
        rand._do_transform = self._do_transform
        for key in self.key_iterator(d):
            d.update(zip(self.output_keys, rand(d[key], randomize=False)))
        return d


class DataConsistencyd(MapTransform):
    """Dictionary version of :class:`DataConsistency`: corrects the reconstructions in ``keys`` in place
    (or into ``output_keys``) with the measured k-space and mask found in the same dictionary."""

    backend = DataConsistency.backend

    def __init__(
        self,
        keys: KeysCollection,
        kspace_key: str = KspaceKeys.KSPACE_MASKED,
        mask_key: str = KspaceKeys.MASK,
        noise_level: float | None = None,
        spatial_dims: int = 2,
        kspace_spatial_dims: int | None = None,
        layout: F.ComplexLayout = "complex",
        output: ImageOutput = "magnitude",
        output_keys: KeysCollection | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.kspace_key, self.mask_key = kspace_key, mask_key
        self.output_keys = (
            self.keys if output_keys is None else tuple([output_keys] if isinstance(output_keys, str) else output_keys)
        )
        if len(self.output_keys) != len(self.keys):
            raise ValueError(f"output_keys {self.output_keys} must match keys {self.keys} one to one.")
        self.dc = DataConsistency(noise_level, spatial_dims, kspace_spatial_dims, layout, output)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for name in (self.kspace_key, self.mask_key):
            if name not in d:
                raise KeyError(f"DataConsistencyd needs {name!r} in the data; undersample with Undersampled first.")
        for key, out_key in self.key_iterator(d, self.output_keys):
            d[out_key] = self.dc(d[key], d[self.kspace_key], d[self.mask_key])
        return d


ImageToKspaceD = ImageToKspaceDict = ImageToKspaced
KspaceToImageD = KspaceToImageDict = KspaceToImaged
ZeroFilledReconstructionD = ZeroFilledReconstructionDict = ZeroFilledReconstructiond
UndersampledD = UndersampledDict = Undersampled
RandUndersampledD = RandUndersampledDict = RandUndersampled
DataConsistencyD = DataConsistencyDict = DataConsistencyd
