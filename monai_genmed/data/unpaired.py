"""Unpaired datasets: samples that join an image of domain A with a randomly drawn image of domain B.

CycleGAN (Zhu et al. 2017, https://arxiv.org/abs/1703.10593) learns from two unaligned image sets; its
``UnalignedDataset`` draws the B image of every sample at random. Wolterink et al., "Deep MR to CT Synthesis
using Unpaired Data", 2017, https://arxiv.org/abs/1708.01155, train on MR and CT slices drawn that way from
the same patients, so that the network never relies on the alignment of an MR with its CT.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from monai.transforms import Randomizable, apply_transform
from torch.utils.data import Dataset

__all__ = ["UnpairedDataset", "unpaired_datalist"]


def _all_keys(data: Sequence[Mapping], name: str) -> set[Hashable]:
    keys: set[Hashable] = set()
    for i, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise TypeError(f"{name}[{i}] must be a dict (a MONAI datalist item), got {type(item).__name__}.")
        keys.update(item.keys())
    return keys


class UnpairedDataset(Dataset, Randomizable):
    """Item ``i`` is ``{**data_a[i], **data_b[j]}``, with ``j`` drawn at random for every item and epoch.

    The partners ``j`` are drawn uniformly, independently for each ``i`` (with replacement, as CycleGAN's
    ``UnalignedDataset``), but never ``j = i`` when ``data_b`` has another item to offer: the A and B images of
    a sample come from different positions. So a paired datalist split with :func:`unpaired_datalist` (two lists
    of the same length, whose natural pairing is by index) never gives back an aligned pair.

    The draw depends only on ``seed`` and the epoch: :meth:`set_epoch` (call it before each epoch, as for
    ``torch.utils.data.DistributedSampler``) re-seeds :attr:`R` from ``(seed, epoch)`` and draws that epoch's
    partners, so a resumed run that sets the same epoch sees the same samples, in every process. Workers receive
    copies of the dataset when an epoch starts, so use ``persistent_workers=False`` (the default): persistent
    workers would keep the first epoch's partners. :meth:`set_random_state`, which MONAI's ``DataLoader`` calls
    on the dataset in each worker, seeds ``transform`` as it would for a MONAI ``Dataset`` and leaves the drawn
    partners alone. The length is ``len(data_a)``: an epoch visits every A image once.

    Args:
        data_a: datalist of domain A, e.g. ``[{"mr": "mr_0.nii.gz"}, ...]``.
        data_b: datalist of domain B, e.g. ``[{"ct": "ct_0.nii.gz"}, ...]``; its keys must differ from
            ``data_a``'s (the two dicts are merged).
        transform: applied to the merged dict, e.g. ``LoadImaged(["mr", "ct"])`` and the rest.
        seed: seed of the pairing.

    Raises:
        ValueError: for an empty list or keys that ``data_a`` and ``data_b`` share (named in the message).

    Example::

        mr_list, ct_list = unpaired_datalist(datalist, "mr", "ct")
        dataset = UnpairedDataset(mr_list, ct_list, transform=LoadImaged(["mr", "ct"]), seed=0)
        for epoch in range(epochs):
            dataset.set_epoch(epoch)
            for batch in DataLoader(dataset, batch_size=1, shuffle=True):
                ...
    """

    def __init__(
        self,
        data_a: Sequence[Mapping],
        data_b: Sequence[Mapping],
        transform: Callable | None = None,
        seed: int = 0,
    ) -> None:
        if len(data_a) == 0 or len(data_b) == 0:
            raise ValueError(f"data_a and data_b need at least one item each, got {len(data_a)} and {len(data_b)}.")
        shared = _all_keys(data_a, "data_a") & _all_keys(data_b, "data_b")
        if shared:
            raise ValueError(
                f"data_a and data_b share the keys {sorted(map(str, shared))}: the merged sample would keep only "
                "data_b's values. Rename them on one side, e.g. with unpaired_datalist(..., keys_a={'subject': "
                "'mr_subject'})."
            )
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}.")
        self.data_a = list(data_a)
        self.data_b = list(data_b)
        self.transform = transform
        self.seed = int(seed)
        self.epoch = 0
        self.partners = np.zeros(len(self.data_a), dtype=np.int64)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Draw the partners of ``epoch``: the same ones for the same ``(seed, epoch)``, new ones for a new epoch."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"epoch must be an integer >= 0, got {epoch!r}.")
        self.epoch = int(epoch)
        epoch_seed = int(np.random.SeedSequence([self.seed, self.epoch]).generate_state(1)[0])
        super().set_random_state(seed=epoch_seed)
        self.randomize()

    def randomize(self, data: Any = None) -> None:
        """Draw a partner index into ``data_b`` for every item of ``data_a``, never its own index (see the class)."""
        n_a, n_b = len(self.data_a), len(self.data_b)
        index = np.arange(n_a)
        exclude_own = (index < n_b) & (n_b > 1)
        draw = np.floor(self.R.random_sample(n_a) * np.where(exclude_own, n_b - 1, n_b)).astype(np.int64)
        self.partners = np.where(exclude_own & (draw >= index), draw + 1, draw)  # skip index i itself

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> UnpairedDataset:
        """Seed :attr:`R` and ``transform``; the drawn partners stay (they depend on ``seed`` and the epoch only)."""
        super().set_random_state(seed=seed, state=state)
        if hasattr(self.transform, "set_random_state"):
            self.transform.set_random_state(seed=seed, state=state)  # type: ignore[union-attr]
        return self

    def __len__(self) -> int:
        return len(self.data_a)

    def __getitem__(self, index: int) -> Any:
        i = operator.index(index)
        merged = {**self.data_a[i], **self.data_b[int(self.partners[i])]}
        return apply_transform(self.transform, merged) if self.transform is not None else merged


def _side_keys(keys: Sequence[str] | Mapping[str, str], name: str) -> dict[str, str]:
    if isinstance(keys, str):
        raise TypeError(f"{name} must be a list of keys or a {{key: new_key}} dict, not the string {keys!r}.")
    return dict(keys) if isinstance(keys, Mapping) else {k: k for k in keys}


def unpaired_datalist(
    datalist: Sequence[Mapping],
    key_a: str,
    key_b: str,
    keys_a: Sequence[str] | Mapping[str, str] = (),
    keys_b: Sequence[str] | Mapping[str, str] = (),
) -> tuple[list[dict], list[dict]]:
    """Split a paired datalist ``[{key_a: ..., key_b: ..., ...}]`` into the two lists of :class:`UnpairedDataset`.

    Args:
        datalist: paired items, e.g. those of :func:`~monai_genmed.data.generate_head_mr_ct_dataset`.
        key_a: the image of domain A (e.g. ``"mr"``).
        key_b: the image of domain B (e.g. ``"ct"``).
        keys_a: other keys that go with the A image (e.g. ``["mr_noise_sigma"]``), or a ``{key: new_key}`` dict
            that renames them, e.g. ``{"subject": "mr_subject"}`` when both sides keep the subject.
        keys_b: the same for the B side (e.g. ``["body_mask"]``, which lies in the CT's frame).

    Returns:
        ``(data_a, data_b)``: lists of the same length as ``datalist``, item ``i`` of each from ``datalist[i]``.

    Raises:
        ValueError: when the two sides would share an output key, or an item lacks a requested key.
    """
    side_a = {key_a: key_a, **_side_keys(keys_a, "keys_a")}
    side_b = {key_b: key_b, **_side_keys(keys_b, "keys_b")}
    shared = set(side_a.values()) & set(side_b.values())
    if shared:
        raise ValueError(
            f"the A and B items would share the keys {sorted(shared)}; rename one side with a dict, "
            "e.g. keys_a={'subject': 'mr_subject'}."
        )
    data_a, data_b = [], []
    for i, item in enumerate(datalist):
        missing = [k for k in (*side_a, *side_b) if k not in item]
        if missing:
            raise ValueError(f"datalist[{i}] has no {missing}; its keys are {sorted(map(str, item))}.")
        data_a.append({new: item[old] for old, new in side_a.items()})
        data_b.append({new: item[old] for old, new in side_b.items()})
    return data_a, data_b
