from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import DataLoader
from monai.transforms import Compose, Lambdad, RandomizableTransform

from monai_genmed.data import UnpairedDataset, unpaired_datalist

PAIRED = [
    {"mr": f"mr_{i}.nii.gz", "ct": f"ct_{i}.nii.gz", "body_mask": f"mask_{i}.nii.gz", "subject": f"s{i // 4}"}
    for i in range(12)
]


def _partners(dataset: UnpairedDataset) -> list[int]:
    return [int(item["ct"][3:].split(".")[0]) for item in dataset]


def test_split_keeps_each_sides_keys_and_renames():
    mr, ct = unpaired_datalist(PAIRED, "mr", "ct", keys_a={"subject": "mr_subject"}, keys_b=["body_mask", "subject"])
    assert mr[5] == {"mr": "mr_5.nii.gz", "mr_subject": "s1"}
    assert ct[5] == {"ct": "ct_5.nii.gz", "body_mask": "mask_5.nii.gz", "subject": "s1"}
    with pytest.raises(ValueError, match="share the keys \\['subject'\\]"):
        unpaired_datalist(PAIRED, "mr", "ct", keys_a=["subject"], keys_b=["subject"])
    with pytest.raises(ValueError, match=r"datalist\[0\] has no \['age'\]"):
        unpaired_datalist(PAIRED, "mr", "ct", keys_a=["age"])


def test_item_merges_a_with_a_drawn_b_and_never_the_natural_pair():
    mr, ct = unpaired_datalist(PAIRED, "mr", "ct")
    dataset = UnpairedDataset(mr, ct, seed=3)
    assert len(dataset) == 12
    for epoch in range(20):
        dataset.set_epoch(epoch)
        for i, item in enumerate(dataset):
            assert set(item) == {"mr", "ct"} and item["mr"] == f"mr_{i}.nii.gz"
            assert item["ct"] != f"ct_{i}.nii.gz"
    # ... which excludes nothing else: over many epochs every other CT turns up for mr_0
    seen = set()
    for epoch in range(200):
        dataset.set_epoch(epoch)
        seen.add(_partners(dataset)[0])
    assert seen == set(range(1, 12))


def test_two_items_with_equal_lengths_swap():
    dataset = UnpairedDataset([{"a": 0}, {"a": 1}], [{"b": 0}, {"b": 1}])
    assert [item["b"] for item in dataset] == [1, 0]


def test_reproducible_from_seed_and_epoch_and_new_each_epoch():
    mr, ct = unpaired_datalist(PAIRED, "mr", "ct")
    first, again, other_seed = (UnpairedDataset(mr, ct, seed=s) for s in (0, 0, 1))
    epochs = [(first.set_epoch(e), _partners(first))[1] for e in range(4)]
    assert len({tuple(p) for p in epochs}) == 4  # a new pairing every epoch
    again.set_epoch(2)  # a resumed run jumps straight to its epoch
    assert _partners(again) == epochs[2]
    assert _partners(other_seed) != epochs[0]
    # the draw touches neither numpy's nor torch's global random state, and a worker's re-seed keeps it
    np_state, torch_state = np.random.get_state()[1].copy(), torch.get_rng_state()
    first.set_epoch(3)
    first.set_random_state(seed=1234)
    assert _partners(first) == epochs[3]
    assert np.array_equal(np.random.get_state()[1], np_state) and torch.equal(torch.get_rng_state(), torch_state)


def test_unequal_lengths_draw_from_all_of_b():
    data_a = [{"mr": i} for i in range(50)]
    data_b = [{"ct": j} for j in range(7)]
    dataset = UnpairedDataset(data_a, data_b, seed=5)
    assert len(dataset) == 50
    partners = [item["ct"] for item in dataset]
    assert set(partners) == set(range(7))
    assert all(j != i for i, j in enumerate(partners[:7]))
    single = UnpairedDataset(data_a[:3], data_b[:1])  # one B image: every sample gets it
    assert [item["ct"] for item in single] == [0, 0, 0]


def test_overlapping_keys_and_bad_arguments_raise():
    with pytest.raises(ValueError, match=r"share the keys \['meta', 'subject'\]"):
        UnpairedDataset([{"mr": 1, "subject": "a", "meta": 0}], [{"ct": 2, "subject": "a"}, {"ct": 3, "meta": 1}])
    with pytest.raises(ValueError, match="at least one item"):
        UnpairedDataset([], [{"ct": 1}])
    with pytest.raises(TypeError, match=r"data_b\[0\] must be a dict"):
        UnpairedDataset([{"mr": 1}], ["ct.nii.gz"])
    with pytest.raises(ValueError, match="epoch"):
        UnpairedDataset([{"mr": 1}], [{"ct": 1}]).set_epoch(-1)


class _AddNoised(RandomizableTransform):
    def __call__(self, data):
        return {**data, "noise": self.R.random_sample()}


def test_transform_on_the_merged_dict_and_seeded_by_monai_dataloader():
    mr, ct = unpaired_datalist(PAIRED, "mr", "ct")
    transform = Compose([Lambdad("mr", lambda name: name.upper()), _AddNoised()])
    dataset = UnpairedDataset(mr, ct, transform=transform)
    item = dataset[4]
    assert item["mr"] == "MR_4.NII.GZ" and item["ct"].startswith("ct_")

    # MONAI's DataLoader seeds the dataset (with num_workers=0 here, in each worker otherwise): the seed must
    # reach the random transform, as it does for a MONAI Dataset, so that runs repeat
    def noise(seed):
        torch.manual_seed(seed)
        return [float(n) for batch in DataLoader(dataset, batch_size=4) for n in batch["noise"]]

    assert noise(0) == noise(0) != noise(1)
