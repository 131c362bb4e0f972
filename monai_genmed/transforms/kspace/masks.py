"""Undersampling mask functions for Cartesian k-space, in the shape of fastMRI's ``subsample.py``.

Every mask function is a small template method::

    mask = mask_func(shape, seed)            # __call__: validate, make a local RNG
        -> sample_mask(shape, rng)           # centre part | acceleration part
            -> center_mask(shape)            # fully sampled low frequencies
            -> acceleration_mask(...)        # the pattern that defines the mask type

so a new mask type overrides one method. Masks are reproducible from ``seed`` and draw only from a local
``numpy.random.Generator``: the global numpy and torch RNGs are never touched.

Unlike fastMRI's Bernoulli draws, the number of sampled locations is exact: ``round(fraction * N)`` lines
for 1D masks (``N`` phase-encode lines) and ``round(fraction * H * W)`` points for 2D masks, so the kept
fraction never drifts from the one asked for (fastMRI's random mask varies by about
``sqrt(p (1 - p) / N)``, 3 percentage points at 256 lines).

Mask types:

* :class:`GaussianMask1D` -- DAGAN's 1D Gaussian mask (Yang et al. 2018, https://doi.org/10.1109/TMI.2017.2785879):
  phase-encode lines drawn with a Gaussian density around the k-space centre, plus a fully sampled centre.
* :class:`GaussianMask2D` -- DAGAN's 2D Gaussian mask: points drawn with a 2D Gaussian density.
* :class:`PoissonDiscMask2D` -- variable-density Poisson-disc sampling (Lustig et al. 2007, Vasanawala
  et al. 2011): points with a minimum distance that grows away from the centre.
* :class:`RandomMask1D`, :class:`EquispacedMask1D` -- fastMRI's random and equispaced line masks
  (Zbontar et al. 2018, https://arxiv.org/abs/1811.08839) with a centre fraction.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from monai_genmed.utils.io import atomic_path

__all__ = [
    "UndersamplingMaskFunc",
    "LineMaskFunc",
    "PointMaskFunc",
    "GaussianMask1D",
    "RandomMask1D",
    "EquispacedMask1D",
    "GaussianMask2D",
    "PoissonDiscMask2D",
    "MASK_TYPES",
    "get_mask_func",
    "save_undersampling_mask",
    "load_undersampling_mask",
    "sampled_fraction",
]


def _weighted_sample_without_replacement(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` items drawn without replacement with probability proportional to ``weights``.

    Efraimidis & Spirakis (2006): the ``n`` largest keys ``u ** (1 / w)`` form such a sample; computed in
    log space (``log(u) / w``) for stability, in one vectorised pass.
    """
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    keys = np.full(w.shape, -np.inf)
    positive = w > 0
    keys[positive] = np.log(rng.random(int(positive.sum()))) / w[positive]
    return np.argpartition(-keys, n - 1)[:n]


class UndersamplingMaskFunc(ABC):
    """Base class: a callable that returns a binary sampling mask for an in-plane k-space shape.

    Args:
        sampling_fraction: fraction of k-space kept (lines for 1D masks, points for 2D masks), in (0, 1].
            DAGAN used 10, 20, 30, 40 and 50 %.
        center_fraction: fraction fully sampled at the centre (of the lines for 1D masks, of the k-space
            area for 2D masks); ``None`` picks a third of ``sampling_fraction`` for 1D masks (fastMRI's
            4x/8 % and 8x/4 % settings keep about that share in the centre) and a tenth for 2D masks.
        seed: default seed when ``__call__`` gets none; ``None`` draws fresh entropy each call.
    """

    default_center_share: float = 1.0 / 3.0

    def __init__(self, sampling_fraction: float, center_fraction: float | None = None, seed: int | None = None) -> None:
        if not np.isfinite(sampling_fraction) or not 0.0 < sampling_fraction <= 1.0:
            raise ValueError(
                f"sampling_fraction must be in (0, 1], got {sampling_fraction}; e.g. 0.3 keeps 30 % of k-space."
            )
        if center_fraction is None:
            center_fraction = sampling_fraction * self.default_center_share
        if not 0.0 <= center_fraction <= 1.0:
            raise ValueError(f"center_fraction must be in [0, 1], got {center_fraction}.")
        if center_fraction > sampling_fraction:
            raise ValueError(
                f"center_fraction {center_fraction} is larger than sampling_fraction {sampling_fraction}: the fully "
                "sampled centre alone would exceed the sampling budget; lower center_fraction."
            )
        self.sampling_fraction = float(sampling_fraction)
        self.center_fraction = float(center_fraction)
        self.seed = seed

    def __call__(self, shape: Sequence[int], seed: int | None = None) -> np.ndarray:
        """Sample a mask.

        Args:
            shape: in-plane k-space shape ``(H, W)``.
            seed: seed of the local RNG; falls back to the constructor's ``seed``.

        Returns:
            float32 array of ``shape`` with 1 at sampled locations.
        """
        shape = tuple(int(s) for s in shape)
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"mask shape must be two positive in-plane sizes (H, W), got {shape}.")
        rng = np.random.default_rng(self.seed if seed is None else seed)
        mask = self.sample_mask(shape, rng)
        return mask.astype(np.float32)

    def sample_mask(self, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """Centre part | acceleration part, with exactly ``round(sampling_fraction * N)`` samples."""
        n_total = self.num_units(shape)
        n_target = int(round(self.sampling_fraction * n_total))
        center = self.center_mask(shape)
        n_center = int(center.sum())
        if n_target < 1:
            raise ValueError(
                f"sampling_fraction {self.sampling_fraction} keeps no sample of a k-space with {n_total} "
                f"{self.unit_name}s; raise the fraction or use a larger image."
            )
        if n_center > n_target:
            raise ValueError(
                f"the fully sampled centre ({n_center} {self.unit_name}s) exceeds the budget of {n_target} "
                f"{self.unit_name}s for shape {shape}; lower center_fraction."
            )
        accel = self.acceleration_mask(shape, center, n_target - n_center, rng)
        mask = center | accel
        return self.expand(mask, shape)

    @property
    @abstractmethod
    def unit_name(self) -> str:
        """What one sample is: a "line" or a "point"."""

    @abstractmethod
    def num_units(self, shape: tuple[int, int]) -> int:
        """Number of samplable units (lines or points) in ``shape``."""

    @abstractmethod
    def center_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """Boolean mask over the units of the fully sampled centre."""

    @abstractmethod
    def acceleration_mask(
        self, shape: tuple[int, int], center: np.ndarray, n_samples: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Boolean mask of ``n_samples`` further units outside ``center``: the part that defines a mask type."""

    def expand(self, mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """Turn a mask over units into a full in-plane mask of ``shape``."""
        return mask

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(sampling_fraction={self.sampling_fraction}, center_fraction={self.center_fraction})"
        )


class LineMaskFunc(UndersamplingMaskFunc):
    """1D (Cartesian line) masks: whole phase-encode lines are kept or skipped.

    Args:
        axis: in-plane axis along which lines are selected (``-1``: columns, as fastMRI; ``0``: rows). The
            mask is constant along the other (readout) axis.
    """

    unit_name = "line"

    def __init__(
        self, sampling_fraction: float, center_fraction: float | None = None, seed: int | None = None, axis: int = -1
    ) -> None:
        super().__init__(sampling_fraction, center_fraction, seed)
        if axis not in (0, 1, -1, -2):
            raise ValueError(f"axis must be an in-plane axis (0, 1, -1 or -2), got {axis}.")
        self.axis = axis

    def num_units(self, shape: tuple[int, int]) -> int:
        return shape[self.axis]

    def center_mask(self, shape: tuple[int, int]) -> np.ndarray:
        n = self.num_units(shape)
        n_low = int(round(n * self.center_fraction))
        mask = np.zeros(n, dtype=bool)
        start = n // 2 - n_low // 2  # the DC line (index n // 2) is always inside
        mask[start : start + n_low] = True
        return mask

    def expand(self, mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        if self.axis in (-1, 1):
            return np.broadcast_to(mask[None, :], shape).copy()
        return np.broadcast_to(mask[:, None], shape).copy()


class GaussianMask1D(LineMaskFunc):
    """DAGAN's 1D Gaussian mask: lines drawn without replacement with density ``exp(-k^2 / (2 sigma^2))``.

    Args:
        std_fraction: standard deviation of the Gaussian density as a fraction of the number of lines.
        sampling_fraction, center_fraction, seed, axis: see :class:`LineMaskFunc`.
    """

    def __init__(
        self,
        sampling_fraction: float,
        center_fraction: float | None = None,
        seed: int | None = None,
        axis: int = -1,
        std_fraction: float = 0.2,
    ) -> None:
        super().__init__(sampling_fraction, center_fraction, seed, axis)
        if std_fraction <= 0:
            raise ValueError(f"std_fraction must be positive, got {std_fraction}.")
        self.std_fraction = std_fraction

    def acceleration_mask(self, shape, center, n_samples, rng):
        n = center.size
        k = np.arange(n) - n // 2
        weights = np.exp(-0.5 * (k / (self.std_fraction * n)) ** 2)
        weights[center] = 0.0
        out = np.zeros(n, dtype=bool)
        out[_weighted_sample_without_replacement(weights, n_samples, rng)] = True
        return out


class RandomMask1D(LineMaskFunc):
    """fastMRI's random line mask: non-centre lines drawn uniformly, in an exact number."""

    def acceleration_mask(self, shape, center, n_samples, rng):
        out = np.zeros(center.size, dtype=bool)
        out[rng.choice(np.flatnonzero(~center), size=n_samples, replace=False)] = True
        return out


class EquispacedMask1D(LineMaskFunc):
    """fastMRI's equispaced line mask: non-centre lines at (nearly) equal spacing with a random offset."""

    def acceleration_mask(self, shape, center, n_samples, rng):
        out = np.zeros(center.size, dtype=bool)
        if n_samples == 0:
            return out
        outer = np.flatnonzero(~center)
        step = outer.size / n_samples
        positions = np.floor(rng.random() * step + step * np.arange(n_samples)).astype(int)
        out[outer[np.clip(positions, 0, outer.size - 1)]] = True
        return out


class PointMaskFunc(UndersamplingMaskFunc):
    """2D (point) masks: any k-space location may be kept; the centre is a fully sampled ellipse."""

    unit_name = "point"
    default_center_share = 0.1

    def num_units(self, shape: tuple[int, int]) -> int:
        return shape[0] * shape[1]

    def radius(self, shape: tuple[int, int]) -> np.ndarray:
        """Normalised distance of each location from the k-space centre (1 at the edge midpoints)."""
        ky = (np.arange(shape[0]) - shape[0] // 2) / (shape[0] / 2)
        kx = (np.arange(shape[1]) - shape[1] // 2) / (shape[1] / 2)
        return np.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)

    def center_mask(self, shape: tuple[int, int]) -> np.ndarray:
        n_center = int(round(self.center_fraction * self.num_units(shape)))
        r = self.radius(shape).ravel()
        mask = np.zeros(r.size, dtype=bool)
        if n_center:
            mask[np.argsort(r, kind="stable")[:n_center]] = True  # the n_center locations closest to the centre
        return mask.reshape(shape)


class GaussianMask2D(PointMaskFunc):
    """DAGAN's 2D Gaussian mask: points drawn without replacement with a 2D Gaussian density.

    Args:
        std_fraction: standard deviation of the density, as a fraction of each in-plane size.
        sampling_fraction, center_fraction, seed: see :class:`UndersamplingMaskFunc`.
    """

    def __init__(
        self,
        sampling_fraction: float,
        center_fraction: float | None = None,
        seed: int | None = None,
        std_fraction: float = 0.2,
    ) -> None:
        super().__init__(sampling_fraction, center_fraction, seed)
        if std_fraction <= 0:
            raise ValueError(f"std_fraction must be positive, got {std_fraction}.")
        self.std_fraction = std_fraction

    def acceleration_mask(self, shape, center, n_samples, rng):
        # radius() is normalised to half the size, so sigma = std_fraction * size is 2 * std_fraction there
        weights = np.exp(-0.5 * (self.radius(shape) / (2 * self.std_fraction)) ** 2)
        weights[center] = 0.0
        out = np.zeros(center.size, dtype=bool)
        out[_weighted_sample_without_replacement(weights.ravel(), n_samples, rng)] = True
        return out.reshape(shape)


class PoissonDiscMask2D(PointMaskFunc):
    """Variable-density Poisson-disc mask: no two samples closer than ``r(k) = r0 (1 + slope * |k|)``.

    Points are added in random order when no earlier point lies within the candidate's radius (random
    sequential adsorption on the Cartesian grid); ``r0`` is found by bisection so that the disc pattern
    holds at least the asked number of points, and the few extra points are then dropped at random, so the
    count is exact while the pattern keeps its blue-noise spacing.

    Args:
        slope: how fast the minimum distance grows from the centre (0: uniform density). The default makes
            the edge spacing three times the centre spacing.
        sampling_fraction, center_fraction, seed: see :class:`UndersamplingMaskFunc`.
    """

    def __init__(
        self,
        sampling_fraction: float,
        center_fraction: float | None = None,
        seed: int | None = None,
        slope: float = 2.0,
    ) -> None:
        super().__init__(sampling_fraction, center_fraction, seed)
        if slope < 0:
            raise ValueError(f"slope must be non-negative, got {slope}.")
        self.slope = slope

    def _disc_pattern(
        self, r0: float, shape: tuple[int, int], center: np.ndarray, order: np.ndarray, rel_radius: np.ndarray
    ) -> np.ndarray:
        h, w = shape
        # radii quantised to 1/8 pixel, so each candidate's disc is a precomputed stencil lookup
        radius_q = np.round(r0 * rel_radius * 8).astype(np.int64)
        reach = int(np.ceil(radius_q.max() / 8))
        oy, ox = np.mgrid[-reach : reach + 1, -reach : reach + 1]
        dist8 = np.sqrt(oy**2 + ox**2) * 8
        stencils = {int(q): dist8 < q for q in np.unique(radius_q)}
        padded = np.zeros((h + 2 * reach, w + 2 * reach), dtype=bool)
        padded[reach : reach + h, reach : reach + w] = center
        size = 2 * reach + 1
        flat_q = radius_q.ravel()
        for idx in order.tolist():
            y, x = divmod(idx, w)
            window = padded[y : y + size, x : x + size]
            if not window[stencils[flat_q[idx]]].any():
                padded[y + reach, x + reach] = True
        return padded[reach : reach + h, reach : reach + w]

    def acceleration_mask(self, shape, center, n_samples, rng):
        if n_samples == 0:
            return np.zeros(shape, dtype=bool)
        order = rng.permutation(np.flatnonzero(~center.ravel()))
        rel_radius = 1.0 + self.slope * self.radius(shape)
        n_target = n_samples + int(center.sum())
        tolerance = max(1, int(0.01 * n_target))
        # Random sequential adsorption of discs of radius r packs about 0.55 of the area with discs of
        # radius r / 2, i.e. ~0.7 / r^2 points per unit area: start there, then correct r0 by the
        # count's inverse-square law (a few passes) and fall back to bisection if that stalls.
        r0 = float(np.sqrt(0.7 * np.sum(1.0 / rel_radius**2) / n_target))
        lo, hi, best = 0.0, np.inf, None
        for _ in range(16):
            pattern = self._disc_pattern(r0, shape, center, order, rel_radius)
            count = int(pattern.sum())
            if count >= n_target:
                lo, best = max(lo, r0), pattern
                if count - n_target <= tolerance:
                    break
            else:
                hi = min(hi, r0)
            proposal = r0 * np.sqrt(count / (n_target + tolerance / 2)) if count else r0 / 2
            r0 = proposal if lo < proposal < hi else (0.5 * (lo + hi) if np.isfinite(hi) else 2 * r0)
        if best is None:  # r0 = 0 accepts every point
            best = self._disc_pattern(0.0, shape, center, order, rel_radius)
        out = best & ~center
        surplus = int(best.sum()) - n_target
        if surplus > 0:
            out.ravel()[rng.choice(np.flatnonzero(out.ravel()), size=surplus, replace=False)] = False
        return out


MASK_TYPES: dict[str, type[UndersamplingMaskFunc]] = {
    "gaussian1d": GaussianMask1D,
    "gaussian2d": GaussianMask2D,
    "poisson2d": PoissonDiscMask2D,
    "random1d": RandomMask1D,
    "equispaced1d": EquispacedMask1D,
}


def get_mask_func(mask_type: str, sampling_fraction: float, **kwargs: Any) -> UndersamplingMaskFunc:
    """Mask function by name, for configs: one of ``gaussian1d``, ``gaussian2d``, ``poisson2d``, ``random1d``,
    ``equispaced1d`` (case and ``_``/``-`` insensitive)."""
    key = mask_type.lower().replace("_", "").replace("-", "")
    if key not in MASK_TYPES:
        raise ValueError(f"unknown mask type {mask_type!r}; choose one of {sorted(MASK_TYPES)}.")
    return MASK_TYPES[key](sampling_fraction, **kwargs)


def sampled_fraction(mask: np.ndarray) -> float:
    """Fraction of k-space locations kept by ``mask``."""
    return float(np.count_nonzero(mask)) / float(np.size(mask))


def save_undersampling_mask(path: str | os.PathLike, mask: np.ndarray, **metadata: Any) -> str:
    """Save a fixed mask so that training and evaluation use the same one every time.

    ``.npz`` stores the mask under ``"mask"`` with ``metadata`` beside it; ``.npy`` the bare mask; ``.mat``
    a MATLAB file with the mask under ``"mask"`` (DAGAN ships its masks as ``.mat``); ``.nii``/``.nii.gz``
    a NIfTI image. The file is written to a temporary name and moved into place, so a crash never leaves a
    half-written mask.

    Returns:
        the path written.
    """
    path = os.fspath(path)
    mask = np.asarray(mask)
    _check_binary(mask, path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    lower = path.lower()
    suffix = ".nii.gz" if lower.endswith(".nii.gz") else os.path.splitext(lower)[1]
    if suffix not in (".npz", ".npy", ".mat", ".nii", ".nii.gz"):
        raise ValueError(f"cannot save a mask as {path!r}: use .npz, .npy, .mat, .nii or .nii.gz.")
    mask_u8 = mask.astype(np.uint8)
    with atomic_path(path, suffix) as tmp:
        if suffix == ".npz":
            meta = {k: np.asarray(v) for k, v in metadata.items()}
            with open(tmp, "wb") as f:
                np.savez_compressed(f, mask=mask_u8, **meta)
        elif suffix == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, mask_u8)
        elif suffix == ".mat":
            from scipy.io import savemat

            savemat(tmp, {"mask": mask_u8, **{k: v for k, v in metadata.items() if v is not None}})
        else:
            import nibabel as nib

            nib.save(nib.Nifti1Image(mask_u8, np.eye(4)), tmp)
    return path


def load_undersampling_mask(path: str | os.PathLike, key: str | None = None) -> np.ndarray:
    """Load a fixed mask saved by :func:`save_undersampling_mask`, by DAGAN (``.mat``) or as NIfTI/PNG.

    Args:
        path: ``.npz``, ``.npy``, ``.mat``, ``.nii``, ``.nii.gz`` or ``.png`` file.
        key: variable name inside ``.npz``/``.mat`` files; by default ``"mask"``, else the only 2D array
            (DAGAN's files hold e.g. ``maskRS1`` or ``maskRS2``).

    Returns:
        float32 array with 1 at sampled locations.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"undersampling mask file {path!r} does not exist; check the path or generate one.")
    lower = path.lower()
    try:
        if lower.endswith(".npz"):
            with np.load(path) as data:
                mask = _pick(dict(data.items()), key, path)
        elif lower.endswith(".npy"):
            mask = np.load(path)
        elif lower.endswith(".mat"):
            from scipy.io import loadmat

            data = {k: v for k, v in loadmat(path).items() if not k.startswith("__")}
            mask = _pick(data, key, path)
        elif lower.endswith((".nii", ".nii.gz")):
            import nibabel as nib

            mask = np.asarray(nib.load(path).dataobj)
        elif lower.endswith(".png"):
            from PIL import Image

            mask = np.asarray(Image.open(path).convert("L")) > 0
        else:
            raise ValueError(f"unsupported mask file {path!r}: use .npz, .npy, .mat, .nii, .nii.gz or .png.")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        if isinstance(e, ValueError) and str(e).startswith("unsupported mask file"):
            raise
        raise ValueError(
            f"could not read undersampling mask {path!r} ({type(e).__name__}: {e}); it may be truncated: copy or "
            "generate it again."
        ) from e
    mask = np.squeeze(np.asarray(mask))
    _check_binary(mask, path)
    return (mask != 0).astype(np.float32)


def _pick(data: dict[str, np.ndarray], key: str | None, path: str) -> np.ndarray:
    if key is not None:
        if key not in data:
            raise KeyError(f"no variable {key!r} in {path!r}; it holds {sorted(data)}")
        return data[key]
    if "mask" in data:
        return data["mask"]
    arrays = [k for k, v in data.items() if np.ndim(v) >= 2]
    if len(arrays) != 1:
        raise KeyError(f"cannot tell which variable of {path!r} is the mask ({sorted(data)}); pass key=...")
    return data[arrays[0]]


def _check_binary(mask: np.ndarray, name: str) -> None:
    if mask.ndim not in (2, 3):
        raise ValueError(f"undersampling mask {name!r} must be 2D (or 3D), got shape {mask.shape}.")
    values = np.unique(mask)
    if not np.all(np.isin(values, (0, 1))):
        raise ValueError(f"undersampling mask {name!r} must hold only 0 and 1, found values like {values[:5]}.")
