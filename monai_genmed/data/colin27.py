"""The embedded Colin27 head: loaders for the vendored T1 volume, its masks and a tissue segmentation.

Colin27 is one healthy volunteer scanned 27 times with a T1-weighted sequence and averaged at the Montreal
Neurological Institute (Holmes et al., "Enhancement of MR images using registration for signal averaging",
J Comput Assist Tomogr 1998;22:324-333, https://doi.org/10.1097/00004728-199803000-00032). The files come
byte for byte from the Debian package ``mricron-data`` (see ``resources/colin27/SOURCE.md`` and ``LICENSE``):

* ``ch2.nii.gz``: the whole head (scalp, skull, face, brain), 181 x 217 x 181 voxels at 1 mm, RAS, uint8;
  air is exactly 0.
* ``ch2bet.nii.gz``: the same volume brain-extracted; ``> 0`` is the brain.

Everything here is computed once per process and cached; the returned arrays are read-only so that no
caller can change the cache by accident (copy them to modify).
"""

from __future__ import annotations

import hashlib
from enum import IntEnum
from functools import cache
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "COLIN27_DIR",
    "COLIN27_FILES",
    "COLIN27_T1_LEVELS",
    "HeadTissue",
    "load_colin27_t1",
    "load_colin27_brain",
    "colin27_brain_mask",
    "colin27_head_mask",
    "colin27_tissue_labels",
]

COLIN27_DIR = Path(__file__).resolve().parent / "resources" / "colin27"

#: file name and SHA-256 of each vendored volume (checked on load)
COLIN27_FILES: dict[str, tuple[str, str]] = {
    "t1": ("ch2.nii.gz", "a009051127f64dc3dd554d5f5b589870ea72106d9642c21b4e7093e478cfc309"),
    "brain": ("ch2bet.nii.gz", "592a2d20abdf36eefcb540ca8958428040edffc1bc1a18ba1dcfbabac77c5dd1"),
}

#: Mean T1 intensity of each tissue on ch2's 0-254 scale, measured on the vendored file: 3-class k-means
#: inside the brain mask (CSF is the ventricle value; the k-means CSF class, 52, mixes in partial volume),
#: scalp fat along rays through the vault. Thresholds below sit between these levels.
COLIN27_T1_LEVELS: dict[str, float] = {
    "csf": 29.0,
    "grey_matter": 84.0,
    "white_matter": 109.0,
    "fat": 150.0,
}

# Below this, non-brain tissue is bone, air or CSF (skull tables read 9-35, diploe 35-50, muscle 80-95).
_DARK_T1 = 38.0
# Below this, a thick dark region inside the head is air (sinuses, mastoid cells), not bone.
_AIR_T1 = 14.0
# Above this, non-brain tissue outside the skull is fat (scalp and orbital fat read 130-170).
_FAT_T1 = 125.0
# Skin is never bone: the outer rim where T1 falls off into air is this thick (in voxels of 1 mm).
_SKIN_MM = 3


class HeadTissue(IntEnum):
    """Tissue classes of :func:`colin27_tissue_labels`."""

    AIR = 0
    SOFT_TISSUE = 1
    FAT = 2
    CSF = 3
    GREY_MATTER = 4
    WHITE_MATTER = 5
    CORTICAL_BONE = 6
    MARROW = 7
    INTERNAL_AIR = 8


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _load(kind: str) -> nib.Nifti1Image:
    name, sha256 = COLIN27_FILES[kind]
    path = COLIN27_DIR / name
    if not path.is_file():
        raise FileNotFoundError(
            f"the embedded Colin27 file {path} is missing; reinstall monai_genmed with its package data "
            "(pip install monai_genmed, or pip install -e . from a full checkout)."
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise OSError(f"the embedded Colin27 file {path} is corrupt (sha256 {digest}, expected {sha256}); reinstall.")
    return nib.load(path)


@cache
def _volume(kind: str) -> tuple[np.ndarray, np.ndarray]:
    image = _load(kind)
    return _read_only(np.asarray(image.dataobj, dtype=np.float32)), _read_only(image.affine.astype(np.float64))


def load_colin27_t1() -> tuple[np.ndarray, np.ndarray]:
    """The Colin27 T1-weighted head.

    Returns:
        ``(volume, affine)``: float32 array of shape (181, 217, 181) with ch2's intensities (0-254, air 0),
        and the 4x4 voxel-to-RAS affine in mm (1 mm isotropic, MNI space).
    """
    return _volume("t1")


def load_colin27_brain() -> tuple[np.ndarray, np.ndarray]:
    """The brain-extracted Colin27 T1 (``ch2bet``), on the same grid as :func:`load_colin27_t1`.

    Returns:
        ``(volume, affine)``: float32 array, 0 outside the brain, and the 4x4 affine.
    """
    return _volume("brain")


# A ball of radius r is approximated by r steps of the 18-neighbourhood: several times faster than one
# step of a true ball for r >= 2, and close enough for millimetre morphology.
_STEP = ndi.generate_binary_structure(3, 2)


def _open(mask: np.ndarray, radius: int) -> np.ndarray:
    return ndi.binary_opening(mask, _STEP, iterations=radius)


def _close(mask: np.ndarray, radius: int) -> np.ndarray:
    # pad so that the closing does not stick to the volume border
    padded = ndi.binary_closing(np.pad(mask, radius), _STEP, iterations=radius)
    return padded[(slice(radius, -radius),) * 3]


def _largest_component(mask: np.ndarray) -> np.ndarray:
    labels, count = ndi.label(mask)
    if count <= 1:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == np.argmax(sizes)


@cache
def colin27_head_mask() -> np.ndarray:
    """Everything that is head, not air: the filled outline of the head (sinuses and airways included).

    Returns:
        bool array of shape (181, 217, 181).
    """
    t1, _ = load_colin27_t1()
    # the closing seals the ear canals and the nostrils, the filling closes the sinuses and airways
    return _read_only(ndi.binary_fill_holes(_largest_component(_close(t1 > 0, 2))))


@cache
def colin27_brain_mask() -> np.ndarray:
    """The brain (``ch2bet > 0``), with the thin strands the brain extraction left outside the brain removed.

    Returns:
        bool array of shape (181, 217, 181).
    """
    brain, _ = load_colin27_brain()
    mask = _open(brain > 0, 2)
    return _read_only(ndi.binary_fill_holes(_largest_component(mask)))


@cache
def colin27_tissue_labels() -> np.ndarray:
    """A tissue segmentation of the Colin27 head (:class:`HeadTissue` values), the basis of the synthetic CT.

    Inside the brain mask the classes follow T1 intensity (CSF < GM < WM). Outside it the skull comes from
    the head's own geometry: dark T1 between the intracranial space (the brain mask closed over its sulci)
    and the skin is cortical bone, and what the closing of that bone encloses is diploe marrow. Thick, very
    dark regions (sinuses, mastoid cells) are air; bright non-brain tissue outside the skull is fat; the rest
    (muscle, skin, eyes, extra-axial CSF and dura) is soft tissue or CSF. The skull vault is faithful; the
    skull base, face and cervical spine are approximate (T1 cannot tell bone from air reliably there).

    Returns:
        uint8 array of shape (181, 217, 181).
    """
    t1, _ = load_colin27_t1()
    head = colin27_head_mask()
    brain = colin27_brain_mask()
    intracranial = _close(brain, 4)
    near_brain = ndi.binary_dilation(brain, iterations=1)
    inside_skin = ndi.binary_erosion(head, _STEP, iterations=_SKIN_MM)

    internal_air = _open((t1 < _AIR_T1) & head, 2)
    internal_air = ndi.binary_dilation(internal_air, _STEP, iterations=2, mask=(t1 < _AIR_T1 + 8) & head)
    bone = (t1 < _DARK_T1) & inside_skin & ~intracranial & ~near_brain & ~internal_air
    bone_hull = _close(bone, 2) & ~intracranial & ~internal_air & ~brain
    marrow = bone_hull & ~bone
    fat = (t1 > _FAT_T1) & head & ~brain & ~bone_hull
    extra_axial = (intracranial | near_brain) & ~brain & ~bone_hull & ~internal_air & (t1 < _DARK_T1 + 20)

    levels = COLIN27_T1_LEVELS
    labels = np.full(t1.shape, HeadTissue.AIR, dtype=np.uint8)
    labels[head] = HeadTissue.SOFT_TISSUE
    labels[fat] = HeadTissue.FAT
    labels[extra_axial] = HeadTissue.CSF
    labels[brain] = HeadTissue.GREY_MATTER
    labels[brain & (t1 < (levels["csf"] + levels["grey_matter"]) / 2 + 4)] = HeadTissue.CSF
    labels[brain & (t1 >= (levels["grey_matter"] + levels["white_matter"]) / 2)] = HeadTissue.WHITE_MATTER
    labels[bone] = HeadTissue.CORTICAL_BONE
    labels[marrow] = HeadTissue.MARROW
    labels[internal_air] = HeadTissue.INTERNAL_AIR
    return _read_only(labels)
