"""MR contrast families for the brain MR generator's contrast randomisation, made from the head's tissue classes.

A contrast maps the native Colin27 T1 intensity and the tissue label (:class:`monai_genmed.data.HeadTissue`) of
each point to a signal. Brain tissue follows the T1 intensity continuously, through the tissue levels CSF ->
grey matter -> white matter (:data:`monai_genmed.data.colin27.COLIN27_T1_LEVELS`), so partial volume and the
cortex's folding carry over into every contrast; other tissues take their family's level, modulated by their
T1 texture. The families and their tissue levels (relative, before each subject's jitter and the scaling to
[0, 1]) follow the textbook weightings (e.g. Brown & Semelka, *MRI: Basic Principles and Applications*):

===============  ====  ====  ====  ====  ===========  ====  ======  ==========================================
family           CSF   GM    WM    fat   soft tissue  bone  marrow  what makes it
===============  ====  ====  ====  ====  ===========  ====  ======  ==========================================
``t1``           native Colin27 T1 with a contrast gamma (the default dataset's contrast)
``t2``           1.0   0.55  0.4   0.6   0.3          0.03  0.5     bright CSF, GM > WM
``pd``           0.85  0.75  0.6   0.8   0.5          0.05  0.6     flat, CSF slightly brightest
``flair``        0.06  0.7   0.5   0.55  0.35         0.03  0.45    dark CSF (inversion-nulled), GM > WM
``t2star_epi``   1.0   0.62  0.45  0.12  0.3          0.02  0.1     bright CSF, fat suppressed, dark bone
``monotone``     a random smooth monotone map (increasing or decreasing) of the T1 intensity in the head
``nonmonotone``  a random smooth non-monotone map of the T1 intensity in the head
===============  ====  ====  ====  ====  ===========  ====  ======  ==========================================

Air (outside and inside the head) is 0 in every family, as in magnitude images. Each subject's levels are
jittered by a factor in [0.9, 1.1] (small enough to keep each family's brain tissue order); the random maps
are monotone cubic (PCHIP) interpolants through 8 random knots of T1 / 170 (fat's level) clipped to [0, 1], so
they are smooth and stay in [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.interpolate import PchipInterpolator

from monai_genmed.data.colin27 import COLIN27_T1_LEVELS, HeadTissue

__all__ = ["CONTRAST_FAMILIES", "TISSUE_LEVELS", "TissueContrast"]

#: every contrast family, in the order the random draws index them
CONTRAST_FAMILIES = ("t1", "t2", "pd", "flair", "t2star_epi", "monotone", "nonmonotone")

_T = HeadTissue
#: relative signal of each tissue in the tissue-level families (see the module docstring)
TISSUE_LEVELS: dict[str, dict[HeadTissue, float]] = {
    "t2": {
        _T.CSF: 1.0,
        _T.GREY_MATTER: 0.55,
        _T.WHITE_MATTER: 0.4,
        _T.FAT: 0.6,
        _T.SOFT_TISSUE: 0.3,
        _T.CORTICAL_BONE: 0.03,
        _T.MARROW: 0.5,
    },
    "pd": {
        _T.CSF: 0.85,
        _T.GREY_MATTER: 0.75,
        _T.WHITE_MATTER: 0.6,
        _T.FAT: 0.8,
        _T.SOFT_TISSUE: 0.5,
        _T.CORTICAL_BONE: 0.05,
        _T.MARROW: 0.6,
    },
    "flair": {
        _T.CSF: 0.06,
        _T.GREY_MATTER: 0.7,
        _T.WHITE_MATTER: 0.5,
        _T.FAT: 0.55,
        _T.SOFT_TISSUE: 0.35,
        _T.CORTICAL_BONE: 0.03,
        _T.MARROW: 0.45,
    },
    "t2star_epi": {
        _T.CSF: 1.0,
        _T.GREY_MATTER: 0.62,
        _T.WHITE_MATTER: 0.45,
        _T.FAT: 0.12,
        _T.SOFT_TISSUE: 0.3,
        _T.CORTICAL_BONE: 0.02,
        _T.MARROW: 0.1,
    },
}
_BRAIN = (_T.CSF, _T.GREY_MATTER, _T.WHITE_MATTER)
_BRAIN_T1 = [COLIN27_T1_LEVELS["csf"], COLIN27_T1_LEVELS["grey_matter"], COLIN27_T1_LEVELS["white_matter"]]
# mean native T1 of the non-brain tissues (0-254 scale): their texture is T1 relative to it
_TISSUE_T1 = {_T.FAT: COLIN27_T1_LEVELS["fat"], _T.SOFT_TISSUE: 70.0, _T.CORTICAL_BONE: 25.0, _T.MARROW: 45.0}
_MAP_T1_SCALE = 170.0
_MAP_KNOTS = 8


class TissueContrast:
    """One subject's contrast: a family from :data:`CONTRAST_FAMILIES` with its randomly jittered levels or map.

    Args:
        family: name from :data:`CONTRAST_FAMILIES`.
        rng: the subject's contrast stream; draws the jitter (tissue families), the gamma (``t1``) or the map.

    ``gamma`` is applied by the caller after scaling to [0, 1] (1 for every family but ``t1``).
    """

    def __init__(self, family: str, rng: np.random.Generator):
        if family not in CONTRAST_FAMILIES:
            raise ValueError(f"unknown contrast family {family!r}; use one of {CONTRAST_FAMILIES}.")
        self.family = family
        self.gamma = 1.0
        self.levels: Mapping[HeadTissue, float] = {}
        self.map: PchipInterpolator | None = None
        if family == "t1":
            self.gamma = float(rng.uniform(0.85, 1.15))
        elif family in TISSUE_LEVELS:
            jitter = rng.uniform(0.9, 1.1, size=len(TISSUE_LEVELS[family]))
            self.levels = {t: v * j for (t, v), j in zip(TISSUE_LEVELS[family].items(), jitter)}
        else:
            knots = np.linspace(0.0, 1.0, _MAP_KNOTS)
            if family == "monotone":
                steps = rng.uniform(0.05, 1.0, size=_MAP_KNOTS - 1)
                values = np.r_[0.0, np.cumsum(steps)] / steps.sum()
                if rng.random() < 0.5:  # decreasing: bone and CSF bright, fat dark
                    values = 1.0 - values
                values = 0.05 + 0.95 * values
            else:
                values = rng.uniform(0.05, 1.0, size=_MAP_KNOTS)
            self.map = PchipInterpolator(knots, values)

    def __call__(self, t1: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Signal (float32, about [0, 1.2]) at points with native T1 ``t1`` (0-254 scale) and tissue ``labels``."""
        air = (labels == _T.AIR) | (labels == _T.INTERNAL_AIR)
        if self.family == "t1":
            signal = np.asarray(t1, dtype=np.float64)
        elif self.map is not None:
            signal = self.map(np.clip(t1 / _MAP_T1_SCALE, 0.0, 1.0))
        else:
            signal = np.zeros(t1.shape)
            brain = np.isin(labels, _BRAIN)
            signal[brain] = np.interp(t1[brain], _BRAIN_T1, [self.levels[t] for t in _BRAIN])
            for tissue, mean_t1 in _TISSUE_T1.items():
                where = labels == tissue
                texture = np.clip(1.0 + 0.5 * (t1[where] / mean_t1 - 1.0), 0.5, 1.5)
                signal[where] = self.levels[tissue] * texture
        return np.where(air, 0.0, np.maximum(signal, 0.0)).astype(np.float32)
