from __future__ import annotations

import os
import stat

import pytest
import torch
from ignite.engine import Engine, Events

from monai_genmed.handlers import AtomicDiskSaver, BestModelSaver


def test_atomic_saver_writes_readable_whole_files(tmp_path):
    saver = AtomicDiskSaver(str(tmp_path))
    saver({"w": torch.arange(3)}, "ckpt.pt")
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]
    mode = stat.S_IMODE(os.stat(tmp_path / "ckpt.pt").st_mode)
    assert mode & stat.S_IRGRP  # readable by colleagues, unlike ignite's 0600 temporary file
    assert torch.equal(torch.load(tmp_path / "ckpt.pt")["w"], torch.arange(3))


def test_best_model_saver_keeps_the_best_weights_as_a_bare_state_dict(tmp_path):
    net = torch.nn.Linear(2, 1)
    nmse_per_validation = iter([0.5, 0.3, 0.4])
    validator = Engine(lambda e, b: None)
    saver = BestModelSaver(net, str(tmp_path), metric_name="val_nmse", mode="min")
    saver.attach(validator)
    runs = []

    @validator.on(Events.EPOCH_COMPLETED)
    def set_metric_and_perturb(engine):
        runs.append(len(runs) + 1)
        engine.state.metrics["val_nmse"] = next(nmse_per_validation)
        with torch.no_grad():
            net.weight.fill_(float(len(runs)))  # weights of validation run k are all k

    for _ in range(3):  # as ValidationHandler does: one validator run per trainer epoch
        validator.run([0], max_epochs=1)
    state = torch.load(tmp_path / "model.pt")
    assert set(state) == {"weight", "bias"}  # loadable with net.load_state_dict
    torch.testing.assert_close(state["weight"], torch.full((1, 2), 2.0))  # run 2 had the lowest NMSE
    assert saver.best_score == pytest.approx(0.3)
    assert os.listdir(tmp_path) == ["model.pt"]


def test_best_model_saver_names_a_missing_metric(tmp_path):
    validator = Engine(lambda e, b: None)
    BestModelSaver(torch.nn.Linear(1, 1), str(tmp_path), metric_name="val_nmse").attach(validator)
    with pytest.raises(KeyError, match="val_nmse"):
        validator.run([0])
