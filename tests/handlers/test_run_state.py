"""Run fingerprints and random states in checkpoints: a changed setting never resumes, a resumed run redraws."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from ignite.engine import Engine, Events
from monai.data import DataLoader, Dataset
from monai.transforms import Compose, RandFlipd, RandGaussianNoised

from monai_genmed.handlers import (
    BestModelSaver,
    RandomState,
    RunFingerprint,
    TrainingCheckpointer,
    collect_random_generators,
    fingerprint_differences,
    load_model_weights,
)


def test_fingerprint_differences_compare_json_shapes():
    assert fingerprint_differences({"channels": (8, 16), "fraction": 0.3}, {"channels": [8, 16], "fraction": 0.3}) == []
    diffs = fingerprint_differences(
        {"mask_type": "gaussian1d", "fraction": 0.3}, {"mask_type": "poisson2d", "widths": [4]}
    )
    assert diffs == [
        "fraction: saved 0.3, now '<not set>'",
        "mask_type: saved 'gaussian1d', now 'poisson2d'",
        "widths: saved '<not recorded>', now [4]",
    ]
    with pytest.raises(ValueError, match="mask_type"):
        RunFingerprint({"mask_type": "a"}).load_state_dict({"mask_type": "b"})


def _pipeline():
    data = [{"image": np.full((1, 4, 4), float(i), np.float32)} for i in range(6)]
    transform = Compose([RandFlipd("image", prob=0.5, spatial_axis=0), RandGaussianNoised("image", prob=1.0, std=0.1)])
    return DataLoader(Dataset(data, transform), batch_size=2, shuffle=True, num_workers=0)


def test_random_state_finds_every_transform_generator_and_restores_the_draws():
    loader = _pipeline()
    generators = collect_random_generators([loader])
    # Compose, RandFlipd, RandGaussianNoised and the RandGaussianNoise inside it: each has its own generator
    assert len(generators) == 4 and len({id(g) for g in generators}) == 4
    state = RandomState([loader]).state_dict()
    first = [b["image"].clone() for b in loader], torch.rand(3), np.random.rand(2), random.random()
    RandomState([loader]).load_state_dict(state)
    again = [b["image"].clone() for b in loader], torch.rand(3), np.random.rand(2), random.random()
    for a, b in zip(first[0], again[0]):
        torch.testing.assert_close(a, b)  # same shuffle, flips and noise
    torch.testing.assert_close(first[1], again[1])
    assert np.array_equal(first[2], again[2]) and first[3] == again[3]


def _tiny_run(save_dir, fingerprint, epochs):
    net = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    loader = _pipeline()

    def step(engine, batch):
        opt.zero_grad()
        loss = (net(batch["image"].reshape(-1, 2)) ** 2).mean()
        loss.backward()
        opt.step()
        return loss.item()

    trainer = Engine(step)
    trainer.network, trainer.optimizer, trainer.data_loader = net, opt, loader
    TrainingCheckpointer(str(save_dir), fingerprint=fingerprint).attach(trainer)
    losses = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(e.state.output))
    trainer.run(loader, max_epochs=epochs)
    return losses, net


def test_resume_with_other_settings_lists_them_and_a_resumed_run_matches_an_uninterrupted_one(tmp_path):
    torch.manual_seed(0)
    straight, net_straight = _tiny_run(tmp_path / "a", {"mask_type": "gaussian1d"}, epochs=3)
    torch.manual_seed(0)
    first, _ = _tiny_run(tmp_path / "b", {"mask_type": "gaussian1d"}, epochs=1)
    torch.manual_seed(123)  # whatever happens between the two processes must not matter
    np.random.seed(5)
    rest, net_resumed = _tiny_run(tmp_path / "b", {"mask_type": "gaussian1d"}, epochs=3)
    assert first + rest == straight  # same shuffles and augmentations after the resume
    torch.testing.assert_close(net_straight.weight, net_resumed.weight)
    with pytest.raises(
        ValueError, match=r"(?s)other settings.*mask_type: saved 'gaussian1d', now 'poisson2d'.*--ckpt_dir"
    ):
        _tiny_run(tmp_path / "b", {"mask_type": "poisson2d"}, epochs=4)


def test_model_file_carries_the_fingerprint_and_loading_names_the_difference(tmp_path):
    net = torch.nn.Linear(2, 3)
    validator = Engine(lambda e, b: None)
    BestModelSaver(net, str(tmp_path), "val_psnr", mode="max", fingerprint={"width": 3}).attach(validator)
    validator.add_event_handler(Events.EPOCH_COMPLETED, lambda e: e.state.metrics.update(val_psnr=30.0))
    validator.run([0])
    saved = torch.load(tmp_path / "model.pt", weights_only=True)
    assert set(saved) == {"model", "run_fingerprint"} and saved["run_fingerprint"] == {"width": 3}
    other = torch.nn.Linear(2, 3)
    assert load_model_weights(other, tmp_path / "model.pt", fingerprint={"width": 3}) == {"width": 3}
    torch.testing.assert_close(other.weight, net.weight)
    with pytest.raises(ValueError, match=r"(?s)width: saved 3, now 4.*--width 3"):
        load_model_weights(torch.nn.Linear(2, 4), tmp_path / "model.pt", fingerprint={"width": 4})
