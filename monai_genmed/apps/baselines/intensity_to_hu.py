"""The simplest synthetic CT a physicist would try: a per-pixel lookup from MR intensity to Hounsfield units.

No network, no neighbourhood: each MR intensity bin gets the median HU of the training CT pixels that had that
intensity (inside the head), and air outside the head. It is what a bulk-density assignment becomes when the
classes are fitted rather than chosen, and it fails where MR intensity does not determine density: cortical
bone and air cavities are both dark in T1, so the lookup gives them one mixed value. Learned synthesis must
beat it to be worth its cost (Wolterink et al. 2017 compare against atlas and patch methods; this is the
floor below those).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi

__all__ = ["head_mask_from_mr", "IntensityToHounsfieldMap", "fit_intensity_to_hu", "lookup_mae"]


def head_mask_from_mr(mr: np.ndarray, threshold: float = 0.08) -> np.ndarray:
    """The head in an MR slice (values scaled to about [0, 1]): above ``threshold``, holes filled, largest part.

    The CT's body mask is not available at inference, so the baseline finds the head from the MR alone.
    """
    mr = np.asarray(mr, dtype=np.float32)
    if mr.ndim != 2:
        raise ValueError(f"head_mask_from_mr takes a 2D slice, got shape {mr.shape}.")
    foreground = ndi.binary_opening(mr > threshold, iterations=1)
    labels, count = ndi.label(foreground)
    if count == 0:
        return np.zeros(mr.shape, dtype=bool)
    sizes = ndi.sum(foreground, labels, index=np.arange(1, count + 1))
    return ndi.binary_fill_holes(labels == (int(np.argmax(sizes)) + 1))


class IntensityToHounsfieldMap:
    """MR intensity -> HU lookup fitted on paired training slices; outside the head, air.

    Args:
        num_bins: intensity bins over ``intensity_range``.
        intensity_range: the MR values binned (the embedded data are scaled to [0, 1]); values outside are clipped.
        background_hu: HU outside the head (air).
        head_threshold: MR threshold of :func:`head_mask_from_mr`.

    Example::

        lookup = IntensityToHounsfieldMap().fit(train_mr, train_ct, train_body_masks)
        synthetic_ct = lookup(test_mr_slice)
    """

    def __init__(
        self,
        num_bins: int = 64,
        intensity_range: Sequence[float] = (0.0, 1.0),
        background_hu: float = -1000.0,
        head_threshold: float = 0.08,
    ) -> None:
        if num_bins < 2:
            raise ValueError(f"num_bins must be >= 2, got {num_bins}.")
        low, high = (float(v) for v in intensity_range)
        if not low < high:
            raise ValueError(f"intensity_range must be (low, high) with low < high, got {intensity_range}.")
        self.num_bins, self.intensity_range = int(num_bins), (low, high)
        self.background_hu, self.head_threshold = float(background_hu), float(head_threshold)
        self.bin_hu: np.ndarray | None = None

    @property
    def bin_centres(self) -> np.ndarray:
        low, high = self.intensity_range
        edges = np.linspace(low, high, self.num_bins + 1)
        return (edges[:-1] + edges[1:]) / 2

    def _bins(self, mr: np.ndarray) -> np.ndarray:
        low, high = self.intensity_range
        scaled = (np.clip(mr, low, high) - low) / (high - low)
        return np.minimum((scaled * self.num_bins).astype(np.int64), self.num_bins - 1)

    def fit(
        self,
        mr_slices: Iterable[np.ndarray],
        ct_slices: Iterable[np.ndarray],
        body_masks: Iterable[np.ndarray] | None = None,
    ) -> IntensityToHounsfieldMap:
        """Fit the lookup: the median HU per MR intensity bin over pixels in the head (and the CT's body mask).

        Bins without training pixels take the value of their nearest filled neighbours (linear interpolation).
        """
        values: list[list[np.ndarray]] = [[] for _ in range(self.num_bins)]
        count = 0
        masks = body_masks if body_masks is not None else itertools.repeat(None)
        for mr, ct, body in zip(mr_slices, ct_slices, masks):
            mr, ct = np.asarray(mr, np.float32).squeeze(), np.asarray(ct, np.float32).squeeze()
            if mr.shape != ct.shape:
                raise ValueError(f"an MR slice of shape {mr.shape} is paired with a CT slice of shape {ct.shape}.")
            inside = head_mask_from_mr(mr, self.head_threshold)
            if body is not None:
                inside &= np.asarray(body).squeeze() > 0
            bins = self._bins(mr[inside])
            hu = ct[inside]
            order = np.argsort(bins, kind="stable")
            bins, hu = bins[order], hu[order]
            splits = np.searchsorted(bins, np.arange(1, self.num_bins))
            for b, chunk in enumerate(np.split(hu, splits)):
                if chunk.size:
                    values[b].append(chunk)
            count += 1
        if count == 0:
            raise ValueError("IntensityToHounsfieldMap.fit got no training slices; pass the training MR/CT pairs.")
        filled = np.array([bool(v) for v in values])
        if not filled.any():
            raise ValueError(
                "no training pixel lies inside the head; check the MR scaling ([0, 1]) and the body masks."
            )
        medians = np.array([np.median(np.concatenate(v)) if v else np.nan for v in values])
        centres = self.bin_centres
        self.bin_hu = np.interp(centres, centres[filled], medians[filled]).astype(np.float32)
        return self

    def __call__(self, mr: np.ndarray) -> np.ndarray:
        """Synthetic CT in HU (float32) of a 2D MR slice ``(H, W)`` or ``(1, H, W)``, same shape."""
        if self.bin_hu is None:
            raise RuntimeError(
                "IntensityToHounsfieldMap is not fitted: call fit() on training pairs or load_state_dict()."
            )
        array = np.asarray(mr, np.float32)
        squeezed = array.squeeze()
        if squeezed.ndim != 2:
            raise ValueError(f"the lookup maps 2D MR slices, got shape {array.shape}.")
        if not np.isfinite(squeezed).all():
            raise ValueError("the MR slice holds NaN or inf values; fix the input before synthesising a CT.")
        hu = np.interp(np.clip(squeezed, *self.intensity_range), self.bin_centres, self.bin_hu).astype(np.float32)
        hu[~head_mask_from_mr(squeezed, self.head_threshold)] = self.background_hu
        return hu.reshape(array.shape)

    def state_dict(self) -> dict[str, Any]:
        return {
            "num_bins": self.num_bins,
            "intensity_range": list(self.intensity_range),
            "background_hu": self.background_hu,
            "head_threshold": self.head_threshold,
            "bin_hu": None if self.bin_hu is None else self.bin_hu.tolist(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.__init__(state["num_bins"], state["intensity_range"], state["background_hu"], state["head_threshold"])  # type: ignore[misc]
        self.bin_hu = None if state.get("bin_hu") is None else np.asarray(state["bin_hu"], np.float32)


def _load_slices(datalist: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> list[list[np.ndarray]]:
    from monai.transforms import LoadImage

    loader = LoadImage(image_only=True)
    return [[np.asarray(loader(item[key]), np.float32).squeeze() for item in datalist] for key in keys]


def fit_intensity_to_hu(
    datalist: Sequence[Mapping[str, Any]],
    mr_key: str = "mr",
    ct_key: str = "ct",
    mask_key: str | None = "body_mask",
    **kwargs: Any,
) -> IntensityToHounsfieldMap:
    """Fit :class:`IntensityToHounsfieldMap` on the paired files of a MONAI datalist (keyword arguments go to it)."""
    if not datalist:
        raise ValueError("fit_intensity_to_hu got an empty datalist; pass the training split of paired MR/CT files.")
    keys = [mr_key, ct_key] + ([mask_key] if mask_key else [])
    loaded = _load_slices(datalist, keys)
    return IntensityToHounsfieldMap(**kwargs).fit(loaded[0], loaded[1], loaded[2] if mask_key else None)


def lookup_mae(
    lookup: IntensityToHounsfieldMap,
    datalist: Sequence[Mapping[str, Any]],
    mr_key: str = "mr",
    ct_key: str = "ct",
    mask_key: str = "body_mask",
) -> float:
    """Mean over a datalist's slices of the MAE in HU inside each body mask, as the validation handler scores."""
    mr, ct, mask = _load_slices(datalist, [mr_key, ct_key, mask_key])
    return float(np.mean([np.abs(lookup(m) - c)[b > 0].mean() for m, c, b in zip(mr, ct, mask)]))
